"""``synth`` command line: a thin click layer over the library (errors become ``Error: ...``, exit 1)."""

from __future__ import annotations

import functools

import click

from evaluation.cli import abort_on_interrupt
from evaluation.errors import SpftError


def friendly_errors(fn):
    """Turn the project's own errors into ``click.ClickException`` at the CLI edge: no tracebacks.

    A Ctrl-C (:class:`KeyboardInterrupt`) ends the command with ``Aborted`` and exit status 130;
    outputs are written atomically, so nothing partial is left behind.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpftError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            abort_on_interrupt()

    return wrapper


@click.group(help="Synthesize verified text-to-SQL data and build prompts from SQLite databases.")
@click.version_option(package_name="spft-sql")
def main() -> None:
    pass


# Command modules register themselves on `main`; each owns its own concern. Imported last so that
# they can import `main` and `friendly_errors` from here.
from synth import cli_generate, cli_prompt, cli_roles  # noqa: E402,F401

if __name__ == "__main__":  # `python -m synth.cli`: run the canonical module's group, where commands registered
    from synth.cli import main as _main

    _main()
