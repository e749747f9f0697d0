"""Benchmark examples -> prompt records: the library behind ``synth build-prompts``.

``train spft`` builds its real training pairs, its selection split and its test-like D_val with this
same function, so a prompt it trains or selects on is byte-identical to what ``synth build-prompts``
writes for the same db_id and question (SPFT-SQL's D_val must look like the test set: no gold items).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from evaluation.errors import InputError, UnknownNameError
from synth.prompt.builder import PromptBuilder, PromptConfig
from synth.prompt.serialize import PROMPT_FORMAT_VERSION
from synth.sources import Benchmark


def example_id(ex: dict) -> str:
    """``id`` / ``question_id`` of a benchmark entry, else its 0-based position in the file."""
    for key in ("id", "question_id"):
        if key in ex and ex[key] is not None:
            return str(ex[key])
    return str(ex["_index"] - 1)


def example_evidence(ex: dict, data_path: Path) -> str | None:
    """BIRD's ``evidence`` (external knowledge): a string, possibly empty; absent or null = none."""
    ev = ex.get("evidence")
    if ev is None:
        return None
    if not isinstance(ev, str):
        raise InputError(
            f"entry {ex['_index']}: 'evidence' must be a string, got {type(ev).__name__}",
            path=data_path,
            field="evidence",
        )
    return ev if ev.strip() else None


def build_prompt_records(
    bench: Benchmark,
    examples: list[dict],
    config: PromptConfig,
    cache_dir: Path | None,
    data_path: Path,
    progress: bool = False,
    use_evidence: bool = True,
    gold: bool = False,
) -> tuple[list[dict], Counter]:
    """Prompt records for benchmark examples; returns (records, skipped db ids with counts).

    An unknown db id is an :class:`InputError` naming the file, entry and field; a database listed
    in ``tables.json`` whose file is missing is skipped and counted. A non-empty ``evidence``
    (BIRD) goes into the prompt as external knowledge unless ``use_evidence`` is false, and is
    copied into the record. ``gold=True`` builds *training* prompts: the gold SQL's tables and
    columns are always kept (``PromptConfig.keep_sql_items``), as ``synth generate`` does for
    synthetic training data; the default builds test-like prompts from the question alone.
    """
    from evaluation.console import progress_bar

    builders: dict[str, PromptBuilder] = {}
    skipped: Counter = Counter()
    records = []
    for ex in progress_bar(examples, desc="prompts", unit="q", show=bool(progress)):
        db_id = ex["db_id"]
        try:
            schema = bench.schema(db_id)
        except UnknownNameError as e:
            raise InputError(f"entry {ex['_index']}: {e}", path=data_path, field="db_id") from None
        if schema.db_path is None:
            skipped[db_id] += 1
            continue
        if db_id not in builders:
            builders[db_id] = PromptBuilder(schema, config, cache_dir)
        question = ex.get("question")
        if not isinstance(question, str):
            raise InputError(f"entry {ex['_index']} lacks a string 'question'", path=data_path, field="question")
        evidence = example_evidence(ex, data_path) if use_evidence else None
        built = builders[db_id].build(question, ex["query"] if gold else None, evidence=evidence)
        record = {
            "id": example_id(ex),
            "db_id": db_id,
            "question": question,
            "sql": ex["query"],
            "prompt": built.text,
            "schema_prompt": built.schema_prompt,
            "db_path": bench.relative_db_path(db_id),
            "source": f"benchmark:{bench.name}",
            "prompt_format": PROMPT_FORMAT_VERSION,
            "matched_values": [[m.table, m.column, m.value] for m in built.matched_values],
        }
        if evidence is not None:
            record["evidence"] = evidence
        records.append(record)
    return records, skipped
