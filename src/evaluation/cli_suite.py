"""``evaluate build-suite`` — a thin click layer over :func:`evaluation.suite.build_suite`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evaluation.cli_errors import friendly_errors
from evaluation.cli_options import config_options
from evaluation.suite import SuiteConfig, build_suite, format_suite_table


@click.command(name="build-suite", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db-root",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of <db_id>/<db_id>.sqlite (e.g. spider/database).",
)
@click.option(
    "--gold",
    required=True,
    type=click.Path(path_type=Path),
    help="Gold queries (JSONL id/db_id/sql, Spider dev.json, or 'SQL<TAB>db_id' text).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Suite folder to write: OUT/<db_id>/*.sqlite + OUT/manifest.json (what --suite-dir reads).",
)
@config_options(SuiteConfig)  # --size .. --workers: help and defaults are the SuiteConfig fields
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@friendly_errors
def build_suite_command(db_root: Path, gold: Path, out: Path, no_progress: bool, **options: Any) -> None:
    """Build distilled test-suite databases for every db_id of the gold file (for --metric ts)."""
    config = SuiteConfig(**options)
    if no_progress:
        manifest = build_suite(db_root, gold, out, config)
    else:
        from tqdm import tqdm

        with tqdm(file=sys.stderr, unit="db", desc="build-suite") as bar:

            def tick(_db_id: str, total: int) -> None:
                bar.total = total
                bar.update(1)

            manifest = build_suite(db_root, gold, out, config, progress=tick)
    click.echo(format_suite_table(manifest))
