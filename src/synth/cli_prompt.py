"""``synth prompt`` (one question) and ``synth build-prompts`` (a benchmark file -> prompt JSONL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from evaluation.cli_errors import friendly_errors
from evaluation.errors import DataNotFoundError
from evaluation.fileio import write_jsonl
from synth.prompt import PromptBuilder, PromptConfig
from synth.prompt.records import build_prompt_records  # noqa: F401  - the library behind build-prompts
from synth.sources import Benchmark, load_examples, resolve_benchmark


@dataclass(frozen=True)
class PromptRun:
    """The options both commands share, travelling as one object."""

    db: str
    data_root: str | None
    cache_dir: Path | None
    config: PromptConfig

    def benchmark(self) -> Benchmark:
        return resolve_benchmark(self.db, self.data_root)


def prompt_options(fn):
    """``--db --data-root --cache-dir --k1 --k2 --full-schema --sample-values``."""
    defaults = PromptConfig()
    for opt in reversed(
        [
            click.option(
                "--db", default="spider", show_default=True, help="demo, spider, bird, or a folder in Spider layout."
            ),
            click.option(
                "--data-root",
                default=None,
                help="Folder holding benchmarks (default: $SPFT_DATA_ROOT or ~/.cache/spft-sql/data).",
            ),
            click.option(
                "--cache-dir",
                type=click.Path(path_type=Path),
                default=None,
                help="Value-index cache (default ~/.cache/spft-sql/values).",
            ),
            click.option(
                "--k1", type=int, default=defaults.k1, show_default=True, help="Tables kept by schema filtering."
            ),
            click.option(
                "--k2",
                type=int,
                default=defaults.k2,
                show_default=True,
                help="Columns kept per table (keys and value-matched columns come on top).",
            ),
            click.option("--full-schema", is_flag=True, help="Show every table and column (no filtering)."),
            click.option(
                "--sample-values",
                type=int,
                default=defaults.sample_values,
                show_default=True,
                help="Representative values shown per column (0-3).",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def _run(db, data_root, cache_dir, k1, k2, full_schema, sample_values) -> PromptRun:
    config = PromptConfig(k1=k1, k2=k2, full_schema=full_schema, sample_values=sample_values)
    return PromptRun(db, data_root, cache_dir, config)


@click.command(name="prompt")
@prompt_options
@click.option("--db-id", required=True, help="Database id, e.g. concert_singer.")
@click.option("--question", required=True, help="The natural-language question.")
@click.option(
    "--evidence",
    default=None,
    help="External knowledge for the question (BIRD's 'evidence'), shown in the prompt and searched for values.",
)
@friendly_errors
def prompt(db, data_root, cache_dir, k1, k2, full_schema, sample_values, db_id, question, evidence):
    """Print the text-to-SQL prompt for one question on stdout (pipeable); the values it matched go to stderr."""
    run = _run(db, data_root, cache_dir, k1, k2, full_schema, sample_values)
    bench = run.benchmark()
    schema = bench.schema(db_id)
    bench.db_path(db_id)  # clear error when the file is missing
    built = PromptBuilder(schema, run.config, run.cache_dir).build(question, evidence=evidence)
    click.echo(built.text, nl=False)
    click.echo(f"-- matched values ({len(built.matched_values)}):", err=True)
    for m in built.matched_values:
        click.echo(f"--   {m.table}.{m.column} = {m.value!r}  (score {m.score:.2f})", err=True)


@click.command(name="build-prompts")
@prompt_options
@click.option(
    "--data",
    "data",
    required=True,
    help="Benchmark file (Spider/BIRD JSON or JSONL); relative names are also looked up in the benchmark folder.",
)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output JSONL (written atomically).")
@click.option(
    "--evidence/--no-evidence",
    "use_evidence",
    default=True,
    show_default=True,
    help="Put each example's 'evidence' (BIRD external knowledge), when present, into its prompt.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Only the first N examples of --data (to try things on a subset; `evaluate --only-predicted` then scores just these).",
)
@friendly_errors
def build_prompts(db, data_root, cache_dir, k1, k2, full_schema, sample_values, data, out, use_evidence, limit):
    """Turn a benchmark file into prompt records (id, db_id, question, sql, prompt, schema_prompt, db_path)."""
    run = _run(db, data_root, cache_dir, k1, k2, full_schema, sample_values)
    bench = run.benchmark()
    data_path = Path(data)
    if not data_path.is_file():
        if (bench.root / data).is_file():
            data_path = bench.root / data
        else:
            raise DataNotFoundError(f"{data}: file not found (also looked for {bench.root / data})")
    examples = load_examples(data_path)
    if limit is not None and limit < len(examples):
        click.echo(f"--limit {limit}: the first {limit} of {len(examples)} examples in {data_path}", err=True)
        examples = examples[:limit]
    records, skipped = build_prompt_records(
        bench, examples, run.config, run.cache_dir, data_path, progress=True, use_evidence=use_evidence
    )
    write_jsonl(out, records)
    click.echo(f"wrote {len(records)} prompt records to {out}", err=True)
    if skipped:
        detail = ", ".join(f"{d} ({n})" for d, n in sorted(skipped.items()))
        click.echo(f"skipped {sum(skipped.values())} examples whose database file is missing: {detail}", err=True)
