"""``synth generate | validate | templates``: thin click commands over :mod:`synth.generate`,
:mod:`synth.validate` and :mod:`synth.templates`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from synth.cli import friendly_errors, main


def _split_ids(value: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (value or "").split(",") if x.strip())


_db_option = click.option(
    "--db",
    default="spider",
    show_default=True,
    help="'demo' (bundled), 'spider' (under the data root) or a folder in Spider layout.",
)
_data_root_option = click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding spider/ etc. Default: $SPFT_DATA_ROOT, else ~/.cache/spft-sql/data.",
)


@main.command()
@_db_option
@click.option("--n", "n", type=int, default=3000, show_default=True, help="Verified examples to make (train + val).")
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed => byte-identical files.")
@click.option("--val-size", type=int, default=None, help="Examples split off as D_val. Default: min(200, n/10).")
@click.option("--val-fraction", type=float, default=None, help="D_val as a fraction of --n (instead of --val-size).")
@_data_root_option
@click.option("--db-ids", default=None, help="Comma-separated databases to use (default: all present).")
@click.option("--timeout", "timeout_s", type=float, default=2.0, show_default=True, help="Per-query time limit (s).")
@click.option(
    "--max-rows", type=int, default=10_000, show_default=True, help="Reject candidates returning more rows."
)
@click.option(
    "--max-attempts-factor",
    type=float,
    default=20.0,
    show_default=True,
    help="Give up after n x this many candidates.",
)
@click.option(
    "--writer",
    default="rule-based",
    show_default=True,
    help="Question writer: 'rule-based' (offline default) or one an installed plugin provides, e.g. 'model' "
    "(train's SQL-to-Text model; needs --writer-option path=CKPT).",
)
@click.option(
    "--writer-option",
    "writer_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keyword argument for the writer (repeatable), e.g. path=ckpt/sql2text.",
)
@click.option(
    "--db-sampling",
    type=click.Choice(["uniform", "tables"]),
    default="uniform",
    show_default=True,
    help="Draw databases uniformly, or weighted by their number of tables.",
)
@click.option("--no-prompts", is_flag=True, help="Skip the prompt builder (no prompt / schema_prompt fields).")
@click.option("--workers", type=int, default=1, show_default=True, help="Processes for fill + execute.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Cache for template extraction and prompt-builder indexes (never changes the output). "
    "Default: <out>/.cache.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
@friendly_errors
def generate(
    db, n, out, seed, val_size, val_fraction, data_root, db_ids, timeout_s, max_rows, max_attempts_factor,
    writer, writer_option, db_sampling, no_prompts, workers, cache_dir, progress,
) -> None:
    """Synthesize verified question/SQL examples from a benchmark's training SQL templates.

    Writes OUT/templates.jsonl, OUT/train.jsonl, OUT/val.jsonl and OUT/manifest.json — all or
    nothing: when fewer than --n examples can be verified, nothing is written and the exit code is 1.
    """
    from synth.emit import check_writable
    from synth.generation import GenerateConfig, generate as run_generate, write_outputs

    check_writable(out)
    config = GenerateConfig(
        db=db,
        n=n,
        seed=seed,
        val_size=val_size,
        val_fraction=val_fraction,
        data_root=data_root,
        db_ids=_split_ids(db_ids),
        timeout_s=timeout_s,
        max_rows=max_rows,
        max_attempts_factor=max_attempts_factor,
        writer=writer,
        writer_options=_parse_options(writer_option) or None,
        prompts=not no_prompts,
        db_sampling=db_sampling,
        workers=workers,
        cache_dir=cache_dir if cache_dir is not None else out / ".cache",
    )
    result = run_generate(config, progress=progress)
    write_outputs(result, out)
    c = result.manifest["counts"]
    click.echo(
        f"wrote {c['train']} train + {c['val']} val examples to {out} "
        f"({c['accepted']} verified of {c['attempts']} attempts, "
        f"{c['templates_used']}/{c['templates_total']} templates, "
        f"{result.manifest['timings']['total_s']:.1f} s)"
    )
    missing = result.manifest.get("inputs", {}).get("missing_db_ids") or []
    if missing:
        click.echo(f"skipped {len(missing)} database(s) whose SQLite file is missing: {', '.join(missing)}", err=True)


def _parse_options(pairs: tuple[str, ...]) -> dict[str, object]:
    """``("path=ckpt", "batch_size=8")`` -> ``{"path": "ckpt", "batch_size": 8}`` (ints/floats parsed)."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--writer-option")
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--schema", default=None, help="Schema name to check against (default: chosen by file name).")
@click.option("--max-problems", type=int, default=50, show_default=True, help="Stop listing after this many.")
@friendly_errors
def validate(path, schema, max_problems) -> None:
    """Check a file, or every .jsonl/.json file in a folder, against data_schemas/.

    Problems are listed as FILE:LINE: field 'NAME': message; the exit code is 1 when any is found.
    """
    from synth.validate import validate_path

    report = validate_path(path, schema, max_problems=max_problems)
    for p in report.problems:
        click.echo(str(p), err=True)
    if report.truncated:
        click.echo(f"... (stopped after {max_problems} problems)", err=True)
    checked = ", ".join(f"{k} ({v})" for k, v in report.checked.items())
    if report.unchecked:
        click.echo(f"no schema for: {', '.join(report.unchecked)}", err=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.problems)} problem(s) in {path}")
    click.echo(f"ok: {checked}")


@main.command()
@_db_option
@_data_root_option
@click.option("--top", type=int, default=20, show_default=True, help="Templates to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def templates(db, data_root, top, as_json) -> None:
    """Extract SQL templates from a benchmark's training SQL and print the extraction report."""
    from synth.sources import resolve_benchmark
    from synth.templates import extract_templates

    bench = resolve_benchmark(db, data_root)
    report = extract_templates(bench.train_examples(), bench.schemas)
    reasons = Counter(str(f.get("reason", "unknown")).split(":")[0] for f in report.failures)
    total_freq = sum(t.frequency for t in report.templates)
    if as_json:
        json.dump(
            {
                "benchmark": bench.name,
                "train_file": str(bench.train_path),
                "total": report.total,
                "templates": len(report.templates),
                "parse_failures": len(report.failures),
                "failure_reasons": dict(reasons.most_common()),
                "top": [t.to_dict() for t in report.templates[:top]],
            },
            sys.stdout,
            indent=2,
        )
        click.echo()
        return
    click.echo(f"{bench.train_path}: {report.total} training SQL -> {len(report.templates)} templates")
    click.echo(f"parse failures: {len(report.failures)} (skipped)")
    for reason, count in reasons.most_common(8):
        click.echo(f"  {count:6d}  {reason}")
    click.echo(f"top {min(top, len(report.templates))} templates (frequency, share, id, text):")
    for t in report.templates[:top]:
        share = t.frequency / total_freq if total_freq else 0.0
        click.echo(f"  {t.frequency:6d}  {share:6.1%}  {t.id}  {t.text}")
