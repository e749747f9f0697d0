"""``synth roles --db-id X``: the column roles that template filling uses for one database."""

from __future__ import annotations

import json

import click

from evaluation.cli_errors import friendly_errors
from synth.roles import ColumnProfile, format_roles, infer_roles
from synth.sources import resolve_benchmark


def database_roles(db: str, db_id: str, data_root: str | None = None) -> dict[tuple[str, str], ColumnProfile]:
    """Roles of every column of ``db_id`` in benchmark ``db``, read from its SQLite file.

    Unknown ids get a did-you-mean error and a missing file a clear one (from :mod:`synth.sources`).
    """
    bench = resolve_benchmark(db, data_root)
    schema = bench.schema(db_id)
    return infer_roles(schema, bench.db_path(db_id))


@click.command(name="roles")
@click.option("--db", default="spider", show_default=True, help="demo, spider, bird, or a folder in Spider layout.")
@click.option(
    "--data-root", default=None, help="Folder holding benchmarks (default: $SPFT_DATA_ROOT or ~/.cache/spft-sql/data)."
)
@click.option("--db-id", required=True, help="Database id, e.g. concert_singer.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per column instead of a table.")
@friendly_errors
def roles(db, data_root, db_id, as_json):
    """Print each column's role (key, measure, category, name, text, date, boolean, constant),
    the rule that gave it and the figures it read (see docs/synth.md, "Column roles")."""
    profiles = database_roles(db, db_id, data_root)
    if as_json:
        for p in profiles.values():
            click.echo(json.dumps(p.to_dict(), ensure_ascii=False))
    else:
        click.echo(format_roles(profiles))
