"""``evaluate build-suite`` — a thin click layer over :func:`evaluation.suite.build_suite`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evaluation.cli_errors import friendly_errors
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
@click.option(
    "--size",
    type=int,
    default=SuiteConfig.size,
    show_default=True,
    help="Most databases per suite, the original included.",
)
@click.option(
    "--candidates",
    type=int,
    default=SuiteConfig.candidates,
    show_default=True,
    help="Random databases generated per db_id before distillation.",
)
@click.option("--seed", type=int, default=SuiteConfig.seed, show_default=True, help="Same seed, same suite.")
@click.option(
    "--max-rows",
    type=int,
    default=SuiteConfig.max_rows,
    show_default=True,
    help="Rows per table of a generated database: 1..N.",
)
@click.option(
    "--max-neighbours",
    type=int,
    default=SuiteConfig.max_neighbours,
    show_default=True,
    help="Neighbour queries (mutations) per gold query.",
)
@click.option("--timeout", type=float, default=SuiteConfig.timeout_s, show_default=True, help="Seconds per query.")
@click.option(
    "--compare",
    type=click.Choice(["spider", "bird"]),
    default=SuiteConfig.compare,
    show_default=True,
    help="The comparison `evaluate` will use; a neighbour is killed when it is judged wrong.",
)
@click.option("--keep-distinct", is_flag=True, help="Spider mode: do not strip DISTINCT before executing.")
@click.option(
    "--workers",
    type=int,
    default=SuiteConfig.workers,
    show_default=True,
    help="Processes over databases (1 = in-process).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@friendly_errors
def build_suite_command(
    db_root,
    gold,
    out,
    size,
    candidates,
    seed,
    max_rows,
    max_neighbours,
    timeout,
    compare,
    keep_distinct,
    workers,
    no_progress,
) -> None:
    """Build distilled test-suite databases for every db_id of the gold file (for --metric ts)."""
    config = SuiteConfig(
        size=size,
        candidates=candidates,
        seed=seed,
        max_rows=max_rows,
        max_neighbours=max_neighbours,
        timeout_s=timeout,
        compare=compare,
        keep_distinct=keep_distinct,
        workers=workers,
    )
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
