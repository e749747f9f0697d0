"""The ``synth generate`` pipeline (SPFT-SQL §3.1.1): templates -> filled SQL -> verified SQL -> examples.

1. **Templates.** The benchmark's training SQL is normalised into templates
   (:func:`synth.templates.extract_templates`, cached on disk under ``cache_dir`` by
   :mod:`synth.templates.cache`); a template's frequency is how many training queries map to it,
   so sampling by frequency follows the training distribution.
2. **Candidates.** Attempt ``i`` draws a template (weighted by frequency) and a database (uniform
   over the available databases, or over ``db_ids``), fills the template
   (:func:`synth.fill.fill_template`) and executes the SQL read-only with a time limit and a row cap
   (:class:`evaluation.executor.ReadOnlyDatabase`, one connection per database, reused).
3. **Verification.** A candidate is kept only when it executes (status ``ok``), returns at least one
   row with a non-NULL value, and its normalised SQL (sqlglot tokens, per database) was not seen before.
   Every rejection is counted by reason in the manifest. Generation stops at ``n`` accepted
   examples, or fails with :class:`NotEnoughExamplesError` (how many could be made and why;
   nothing is written) when the attempt budget (``ceil(n * max_attempts_factor)``) is spent or
   :func:`out_of_reach` shows early that it cannot suffice.
4. **Questions and prompts.** Accepted SQL gets a question from the question writer
   (:func:`synth.questions.get_writer`) and a model input from the prompt builder
   (:class:`synth.prompt.PromptBuilder`, one per database).
5. **Split.** ``val_size`` examples (D_val) are drawn deterministically from the accepted set.

Determinism: attempt ``i`` uses its own ``random.Random`` seeded from ``(seed, i)`` and results are
classified in attempt order, so the same seed gives byte-identical ``train.jsonl`` / ``val.jsonl`` /
``templates.jsonl`` (the manifest differs only in ``timings`` and ``cache``, the facts of one
run), whatever the number of workers and whether template extraction came from the cache.
The one exception is a query that times out on one run and not on another (machine load):
keep ``timeout_s`` well above typical query times (the default 2 s is ~1000x Spider's median).

Modules, one concern each: :mod:`~synth.generation.config` (:class:`GenerateConfig`),
:mod:`~synth.generation.sampling` (drawing, filling and executing one attempt),
:mod:`~synth.generation.dedup` (:func:`normalize_sql`, :func:`collision_key`), :mod:`~synth.generation.attempts` (the
attempt loop and its budget), :mod:`~synth.generation.pool` (worker processes),
:mod:`~synth.generation.split` (D_val), :mod:`~synth.generation.output` (files and manifest),
:mod:`~synth.generation.extraction_report` (``synth templates``),
:mod:`~synth.generation.pipeline` (:func:`generate`, which ties them together). Import from here
(or from :mod:`synth`): the split into modules is not part of the API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synth.generation.attempts import CHECK_EVERY, WINDOW_CHECKS, out_of_reach
    from synth.generation.config import (
        DB_SAMPLING,
        GenerateConfig,
        NotEnoughExamplesError,
    )
    from synth.generation.dedup import collision_key, normalize_sql
    from synth.generation.extraction_report import TemplatesReport, templates_report
    from synth.generation.output import (
        MANIFEST_FORMAT,
        GenerateResult,
        hardness_report,
        write_outputs,
    )
    from synth.generation.pipeline import check_databases, generate, select_db_ids
    from synth.generation.sampling import (
        Candidate,
        CandidateSampler,
        template_sampling_weights,
    )
    from synth.generation.split import split_val

#: Public name -> the module of this package that defines it (imported on first use, so that
#: ``from synth.generation import GenerateConfig`` -- the CLI's option source -- loads no sqlglot).
_EXPORTS: dict[str, str] = {
    "CHECK_EVERY": "attempts",
    "WINDOW_CHECKS": "attempts",
    "out_of_reach": "attempts",
    "DB_SAMPLING": "config",
    "GenerateConfig": "config",
    "NotEnoughExamplesError": "config",
    "normalize_sql": "dedup",
    "collision_key": "dedup",
    "MANIFEST_FORMAT": "output",
    "GenerateResult": "output",
    "hardness_report": "output",
    "write_outputs": "output",
    "check_databases": "pipeline",
    "generate": "pipeline",
    "select_db_ids": "pipeline",
    "Candidate": "sampling",
    "CandidateSampler": "sampling",
    "template_sampling_weights": "sampling",
    "split_val": "split",
    "TemplatesReport": "extraction_report",
    "templates_report": "extraction_report",
}

__all__ = [
    "CHECK_EVERY",
    "DB_SAMPLING",
    "MANIFEST_FORMAT",
    "WINDOW_CHECKS",
    "Candidate",
    "CandidateSampler",
    "GenerateConfig",
    "GenerateResult",
    "NotEnoughExamplesError",
    "TemplatesReport",
    "check_databases",
    "collision_key",
    "generate",
    "hardness_report",
    "normalize_sql",
    "out_of_reach",
    "select_db_ids",
    "split_val",
    "template_sampling_weights",
    "templates_report",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth.generation' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"synth.generation.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
