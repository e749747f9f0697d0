"""The one error translation of every CLI (``evaluate``, ``synth``, ``train``): no tracebacks at the edge.

It lives in the bottom layer so that ``synth`` and ``train`` share it without importing each other.
Library errors (:class:`~evaluation.errors.SpftError`) become ``Error: ...`` with exit status 1; a
Ctrl-C ends a command with ``Aborted`` and exit status 130 (outputs are written atomically, so
nothing partial is left behind).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from evaluation.errors import SpftError

__all__ = ["ABORTED_EXIT", "abort_on_interrupt", "friendly_errors"]

#: Exit status of a command the user interrupted (Ctrl-C): 128 + SIGINT, as shells report it.
ABORTED_EXIT = 130

F = TypeVar("F", bound=Callable[..., object])


def abort_on_interrupt() -> None:
    """Say ``Aborted`` and exit 130: a Ctrl-C ends a command; it is never a result or an error."""
    click.echo("\nAborted", err=True)
    sys.exit(ABORTED_EXIT)


def friendly_errors(fn: F) -> F:
    """Turn the project's own errors into ``click.ClickException`` at the CLI edge: no tracebacks.

    A Ctrl-C (:class:`KeyboardInterrupt`) ends the command with ``Aborted`` and exit status 130.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpftError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            abort_on_interrupt()

    return wrapper  # type: ignore[return-value]
