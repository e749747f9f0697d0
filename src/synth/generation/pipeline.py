"""The pipeline: inputs -> templates -> verified candidates -> questions -> prompts -> split."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError, InputError, SpftError
from evaluation.executor import ReadOnlyDatabase
from evaluation.schema import Schema
from synth.generation.attempts import sample_accepted
from synth.generation.config import GenerateConfig, NotEnoughExamplesError
from synth.generation.extraction_report import failure_reasons
from synth.generation.output import GenerateResult, build_manifest, hardness_report
from synth.generation.sampling import Candidate, template_sampling_weights
from synth.generation.split import split_val
from synth.sources import Benchmark, resolve_benchmark


def select_db_ids(bench: Benchmark, db_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(databases to use, databases skipped because their SQLite file is missing).

    Named databases must exist (unknown id -> did-you-mean error, missing file -> clear error);
    without names every database with a SQLite file is used and the missing ones are reported.
    """
    if db_ids:
        for d in db_ids:
            bench.db_path(d)  # raises UnknownNameError / DataNotFoundError
        return list(db_ids), []
    return bench.available_db_ids, bench.missing_db_ids


def check_databases(db_paths: Mapping[str, Path]) -> None:
    """Open each database once, read-only: a damaged file is one clear error now, rather than
    thousands of failed candidates later."""
    import sqlite3

    for db_id, path in db_paths.items():
        try:
            ReadOnlyDatabase(path).close()
        except InputError as e:  # the executor's own "not a readable SQLite database (...)"
            raise InputError(f"{e.reason}; fix or remove it, or leave '{db_id}' out with --db-ids", path=path) from None
        except (sqlite3.Error, OSError) as e:
            raise InputError(
                f"not a readable SQLite database ({e}); fix or remove it, or leave '{db_id}' out with --db-ids",
                path=path,
            ) from None


def generate(config: GenerateConfig, *, progress: bool | None = False) -> GenerateResult:
    """Run the whole pipeline in memory. Raises :class:`SpftError` subclasses for user mistakes.

    ``progress``: ``True`` always shows a tqdm bar on stderr, ``None`` only when stderr is a
    terminal, ``False`` never.
    """
    from synth.questions import get_writer
    from synth.templates import cache as template_cache
    from synth.templates import extract_templates

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    writer = get_writer(config.writer, **(config.writer_options or {}))  # an unknown name fails now
    bench = resolve_benchmark(config.db, config.data_root)
    schemas = bench.schemas
    db_ids, missing = select_db_ids(bench, config.db_ids)
    if not db_ids:
        raise NotEnoughExamplesError(f"no database files found under {bench.database_dir}")
    check_databases({d: bench.db_path(d) for d in db_ids})
    examples = bench.train_examples()

    t0 = time.perf_counter()
    cache_key = template_cache.cache_key(examples, schemas)
    report = template_cache.load_report(config.cache_dir, cache_key)
    cache_state = "off" if config.cache_dir is None else ("hit" if report is not None else "miss")
    if report is None:
        report = extract_templates(_bar(examples, "templates", "sql", progress), schemas)
    timings["extract_templates_s"] = time.perf_counter() - t0
    templates = list(report.templates)
    if not templates:
        raise NotEnoughExamplesError(
            f"no SQL template could be extracted from {bench.train_path} "
            f"({report.total} queries, {len(report.failures)} failed to parse)"
        )
    _check_template_weights(config.template_weights, templates)

    t0 = time.perf_counter()
    facts: dict = {}
    accepted, counts, sampler_seconds = sample_accepted(bench, schemas, templates, db_ids, config, progress, facts)
    timings["sample_s"] = time.perf_counter() - t0
    timings.update({f"{k}_s": v for k, v in sorted(sampler_seconds.items())})

    t0 = time.perf_counter()
    questions, writer_name = _write_questions(accepted, schemas, writer)
    timings["questions_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    prompts = _build_prompts(accepted, questions, schemas, config, progress) if config.prompts else None
    timings["prompts_s"] = time.perf_counter() - t0
    if cache_state == "miss":  # only after a successful run: a failed one writes nothing
        template_cache.save_report(config.cache_dir, cache_key, report)

    rel_paths = {d: bench.relative_db_path(d) for d in db_ids}
    records = []
    for k, cand in enumerate(accepted):
        rec = {
            "id": f"syn-{k + 1:06d}",
            "db_id": cand.db_id,
            "question": questions[k],
            "sql": cand.sql,
        }
        if prompts is not None:
            rec["prompt"], rec["schema_prompt"] = prompts[k]
        rec.update(
            template_id=cand.template_id,
            tables=list(cand.tables),
            db_path=rel_paths[cand.db_id],
            source="synthetic",
            question_writer=writer_name,
        )
        records.append(rec)
    train, val = split_val(records, config.effective_val_size, config.seed)

    used = Counter(c.template_id for c in accepted)
    freq_total = sum(t.frequency for t in templates) or 1
    counts.update(
        training_sql_total=report.total,
        parse_failures=len(report.failures),
        parse_failure_reasons=dict(sorted(failure_reasons(report.failures).items())),
        templates_total=len(templates),
        templates_used=len(used),
        template_coverage=round(len(used) / len(templates), 6),
        template_coverage_weighted=round(sum(t.frequency for t in templates if t.id in used) / freq_total, 6),
        train=len(train),
        val=len(val),
        dbs_used=len({c.db_id for c in accepted}),
        hardness=hardness_report(Counter(c.hardness or "unknown" for c in accepted), report.hardness),
    )
    timings["total_s"] = time.perf_counter() - t_start
    manifest = build_manifest(
        config, bench, db_ids, missing, counts, timings, cache_state=cache_state, cache_key=cache_key, facts=facts
    )
    return GenerateResult(tuple(train), tuple(val), tuple(t.to_dict() for t in templates), manifest)


def _check_template_weights(factors: Mapping[str, float] | None, templates: Sequence[Any]) -> None:
    """Factors must name extracted templates (a typo would silently do nothing) and leave one to draw."""
    if factors is None:
        return
    known = {t.id for t in templates}
    unknown = sorted(set(factors) - known)
    if unknown:
        raise ConfigError(
            f"template_weights names {len(unknown)} template id(s) that the benchmark's training SQL does "
            f"not produce: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}"
        )
    if not any(w > 0 for w in template_sampling_weights(templates, factors)):
        raise ConfigError("template_weights leave no template with a positive sampling weight")


def _write_questions(
    accepted: Sequence[Candidate], schemas: Mapping[str, Schema], writer: Any
) -> tuple[list[str], str]:
    """Questions for the accepted SQL, and the writer's recorded name."""
    name = str(getattr(writer, "name", type(writer).__name__))
    questions = list(writer.write_batch([(c.sql, schemas[c.db_id]) for c in accepted]))
    if len(questions) != len(accepted):
        raise SpftError(f"question writer '{name}' returned {len(questions)} questions for {len(accepted)} SQL")
    return questions, name


def _bar(items: Sequence, desc: str, unit: str, progress: bool | None):
    """``items`` wrapped in a tqdm bar on stderr (``progress`` as in :func:`generate`)."""
    from evaluation.console import progress_bar

    return progress_bar(items, desc=desc, unit=unit, show=progress, leave=False)


def _build_prompts(
    accepted: Sequence[Candidate],
    questions: Sequence[str],
    schemas: Mapping[str, Schema],
    config: GenerateConfig,
    progress: bool | None = False,
) -> list[tuple[str, str]]:
    """(prompt, schema_prompt) per example; one builder per database, built on first use."""
    from synth.prompt import PromptBuilder, PromptConfig

    pconf = config.prompt_config if config.prompt_config is not None else PromptConfig()
    builders: dict[str, Any] = {}
    out = []
    for cand, question in _bar(list(zip(accepted, questions)), "prompts", "ex", progress):
        if cand.db_id not in builders:
            builders[cand.db_id] = PromptBuilder(schemas[cand.db_id], pconf, cache_dir=config.cache_dir)
        p = builders[cand.db_id].build(question, cand.sql)
        out.append((p.text, p.schema_prompt))
    return out
