"""``synth`` command line: a thin click layer over the library (errors become ``Error: ...``, exit 1)."""

from __future__ import annotations

import click


@click.group(help="Synthesize verified text-to-SQL data and build prompts from SQLite databases.")
@click.version_option(package_name="spft-sql")
def main() -> None:
    pass


# Command modules register themselves on `main`; each owns its own concern. Imported last so that
# they can import `main` from here.
from synth import cli_generate, cli_prompt, cli_roles  # noqa: E402,F401

if __name__ == "__main__":  # `python -m synth.cli`: run the canonical module's group, where commands registered
    from synth.cli import main as _main

    _main()
