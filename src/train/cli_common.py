"""What the ``train`` command modules share: config-driven options and which options the user gave.

Command modules (:mod:`train.cli_vbi`, :mod:`train.cli_spft`, ...) import from here, never from
:mod:`train.cli`, the group that imports and registers them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar

import click

from evaluation.cli_options import config_options as _config_options
from evaluation.errors import SpftError
from train.extra import require_train_extra

if TYPE_CHECKING:
    from train.models.tiny import AppliedDefaults

F = TypeVar("F", bound=Callable[..., Any])

RENAMES = {"lam": "lambda"}


def config_options(cls: type):
    """Decorator adding one click option per field of a config dataclass (in field order)."""
    return _config_options(cls, renames=RENAMES)


def given_options(ctx: click.Context, kw: dict[str, Any]) -> set[str]:
    """Names of the options the user set (command line, environment, a default map), not click's defaults."""
    from click.core import ParameterSource

    return {name for name in kw if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)}


def needs_train_extra(fn: F) -> F:
    """Wrap a command's callback: without the train extra it ends in one ``Error:`` line naming the install
    command, before anything is written. Click runs callbacks after parsing, so ``--help`` needs no torch."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            require_train_extra(f"train {click.get_current_context().info_name}")
        except SpftError as e:
            raise click.ClickException(str(e)) from None
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def apply_model_defaults(
    ctx: click.Context, kw: dict[str, Any], command: str, skip: Collection[str] = ()
) -> AppliedDefaults | None:
    """Fill ``kw`` with the from-scratch defaults saved beside the ``train init-tiny`` models that
    ``command`` trains, for the options the user did not give nor ``skip`` (a preset's), and say which
    on stderr: one rule for ``train sft``, ``vbi``, ``spft`` and ``selfplay``."""
    from train.models.tiny import apply_training_defaults

    applied = apply_training_defaults(kw, given_options(ctx, kw) | set(skip), command)
    if applied:
        click.echo(applied.message(), err=True)
    return applied
