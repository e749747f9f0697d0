"""``synth`` command line: a thin click layer over the library (errors become ``Error: ...``, exit 1)."""

from __future__ import annotations

import click

from synth import cli_generate, cli_prompt, cli_roles


@click.group(help="Synthesize verified text-to-SQL data and build prompts from SQLite databases.")
@click.version_option(package_name="spft-sql")
def main() -> None:
    pass


main.add_command(cli_generate.generate)
main.add_command(cli_generate.validate)
main.add_command(cli_generate.templates)
main.add_command(cli_prompt.prompt)
main.add_command(cli_prompt.build_prompts)
main.add_command(cli_roles.roles)

if __name__ == "__main__":  # `python -m synth.cli`
    main()
