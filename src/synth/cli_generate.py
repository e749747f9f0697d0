"""``synth generate | validate | templates``: thin click commands over :mod:`synth.generation`,
:mod:`synth.validate` and :mod:`synth.templates`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from evaluation.cli_errors import friendly_errors
from evaluation.cli_options import config_options, field_option
from synth.generation import GenerateConfig

#: What only the command line needs on top of the GenerateConfig fields (help and defaults live there).
_DIR = click.Path(file_okay=False, path_type=Path)
_OVERRIDES: dict[str, dict] = {
    "data_root": {"type": _DIR},
    "db_ids": {"default": None, "show_default": False},
    "writer_options": {"type": str, "default": None, "multiple": True, "metavar": "KEY=VALUE"},
    "cache_dir": {"type": _DIR},
    "suite_cache": {"type": _DIR},
}
_db_option = field_option(GenerateConfig, "db")
_data_root_option = field_option(GenerateConfig, "data_root", **_OVERRIDES["data_root"])


@click.command(name="generate")
@config_options(GenerateConfig, fields=("db", "n"))
@click.option("--out", "out", type=_DIR, required=True, help="Output folder.")
@config_options(GenerateConfig, exclude=("db", "n"), overrides=_OVERRIDES)
@click.option(
    "--avoid",
    "avoid",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    metavar="FILE",
    help="JSONL of examples not to make again (db_id and sql per line, e.g. an earlier run's train.jsonl and "
    "val.jsonl; repeatable): a repeat -- its text, under --judge ts also its answer on test suites -- is replaced.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
@friendly_errors
def generate(out: Path, avoid: tuple[Path, ...], progress: bool | None, **options: Any) -> None:
    """Synthesize verified question/SQL examples from a benchmark's training SQL templates.

    Writes OUT/templates.jsonl, OUT/train.jsonl, OUT/val.jsonl and OUT/manifest.json — all or
    nothing: when fewer than --n examples can be verified, nothing is written and the exit code is 1.
    """
    from synth.emit import check_writable
    from synth.generation import generate as run_generate
    from synth.generation import write_outputs

    check_writable(out)
    options["writer_options"] = _parse_options(options["writer_options"]) or None
    if options["cache_dir"] is None:
        options["cache_dir"] = out / ".cache"
    config = GenerateConfig(**options, earlier=_read_avoid(avoid))
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


def _read_avoid(paths: tuple[Path, ...]) -> tuple[tuple[str, str], ...]:
    """``(db_id, sql)`` of every line of the ``--avoid`` files, in order; a line without them is an
    error naming the file, line and field (before anything is generated)."""
    from evaluation.errors import InputError
    from evaluation.fileio import iter_jsonl_objects

    pairs = []
    for path in paths:
        for lineno, obj in iter_jsonl_objects(path):
            for name in ("db_id", "sql"):
                if not isinstance(obj.get(name), str) or not obj[name]:
                    raise InputError("missing or not a non-empty string", path=path, line=lineno, field=name)
            pairs.append((obj["db_id"], obj["sql"]))
    return tuple(pairs)


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


@click.command(name="validate")
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


@click.command(name="templates")
@_db_option
@_data_root_option
@click.option("--top", type=int, default=20, show_default=True, help="Templates to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def templates(db, data_root, top, as_json) -> None:
    """Extract SQL templates from a benchmark's training SQL and print the extraction report."""
    from synth.generation.extraction_report import templates_report

    report = templates_report(db, data_root, top)
    if as_json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        click.echo()
        return
    for line in report.lines():
        click.echo(line)
