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
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from evaluation.errors import ConfigError, InputError, SpftError
from evaluation.executor import Limits, ReadOnlyDatabase
from synth import emit
from synth.schema import Schema
from synth.sources import Benchmark, resolve_benchmark

MANIFEST_FORMAT = emit.MANIFEST_FORMAT

_SQLITE = SQLite()

#: How databases are drawn per attempt (documented in docs/synth.md).
DB_SAMPLING = ("uniform", "tables")


class NotEnoughExamplesError(SpftError):
    """Fewer than ``n`` verified examples could be made within the attempt budget."""


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a ``synth generate`` run (recorded in the manifest's ``parameters``)."""

    db: str = "spider"
    """``demo``, ``spider`` (under the data root) or a path to a folder in Spider layout."""
    n: int = 3000
    """Verified examples to produce in total (train + val)."""
    seed: int = 0
    """Same seed, same inputs -> byte-identical outputs."""
    val_size: int | None = None
    """Examples split off as D_val (``val.jsonl``). Default: ``min(200, n // 10)``."""
    val_fraction: float | None = None
    """Alternative to ``val_size``: a fraction of ``n`` in [0, 1)."""
    data_root: Path | None = None
    """``--data-root``; else ``$SPFT_DATA_ROOT``; else ``~/.cache/spft-sql/data``."""
    db_ids: tuple[str, ...] = ()
    """Restrict to these databases (default: every database whose SQLite file is present)."""
    timeout_s: float = 2.0
    """Per-query execution time limit (a real interrupt); slower candidates are rejected."""
    max_rows: int = 10_000
    """Candidates returning more rows are rejected as ``too_large`` (poor training targets)."""
    max_attempts_factor: float = 20.0
    """Attempt budget = ``ceil(n * max_attempts_factor)`` candidates."""
    writer: str = "rule-based"
    """Question writer name for :func:`synth.questions.get_writer`."""
    writer_options: Mapping[str, Any] | None = None
    """Keyword arguments for the writer's factory, e.g. ``{"path": "ckpt/"}`` for ``train``'s
    ``"model"`` writer (a plugin needs more than a name). ``None`` = no arguments."""
    template_weights: Mapping[str, float] | None = None
    """Template id -> factor on its sampling weight (the training frequency); unlisted templates keep
    1, 0 leaves a template out. ``train vbi`` upweights the templates of the previous iteration's
    failures (SPFT-SQL §3.1.3). ``None`` = the training distribution."""
    prompts: bool = True
    """Build ``prompt`` / ``schema_prompt`` with the prompt builder (``False``: omit both fields)."""
    db_sampling: str = "uniform"
    """``uniform`` over databases, or ``tables``: weight a database by its number of tables."""
    workers: int = 1
    """Processes that fill and execute candidates (output does not depend on it)."""
    cache_dir: Path | None = None
    """Cache folder: template extraction results (``templates/``, see :mod:`synth.templates.cache`)
    and prompt-builder value indexes. ``None``: templates are not cached and the value indexes use
    the prompt builder's default (``~/.cache/spft-sql/values``). Never changes the output."""
    fill_config: Any = None
    """:class:`synth.fill.FillConfig`; ``None`` = its defaults."""
    prompt_config: Any = None
    """:class:`synth.prompt.PromptConfig`; ``None`` = its defaults."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"n must be >= 1, got {self.n}")
        if self.val_size is not None and self.val_fraction is not None:
            raise ConfigError("give either val_size (--val-size) or val_fraction (--val-fraction), not both")
        if self.val_size is not None and not 0 <= self.val_size < self.n:
            raise ConfigError(f"val_size (--val-size {self.val_size}) must be >= 0 and < n (--n {self.n})")
        if self.val_fraction is not None and not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction (--val-fraction {self.val_fraction}) must be in [0, 1)")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s (--timeout) must be > 0, got {self.timeout_s}")
        if self.max_rows < 1:
            raise ConfigError(f"max_rows must be >= 1, got {self.max_rows}")
        if not self.max_attempts_factor >= 1:
            raise ConfigError(
                f"max_attempts_factor (--max-attempts-factor) must be >= 1, got {self.max_attempts_factor}"
            )
        if self.db_sampling not in DB_SAMPLING:
            raise ConfigError(f"db_sampling must be one of {', '.join(DB_SAMPLING)}, got '{self.db_sampling}'")
        if self.workers < 1:
            raise ConfigError(f"workers (--workers) must be >= 1, got {self.workers}")
        if len(set(self.db_ids)) != len(self.db_ids):
            raise ConfigError(f"db_ids (--db-ids) lists a database twice: {', '.join(self.db_ids)}")
        if self.template_weights is not None:
            for tid, w in self.template_weights.items():
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < math.inf:
                    raise ConfigError(f"template_weights['{tid}'] must be a finite number >= 0, got {w!r}")
            # a sorted private copy: later changes to the caller's dict cannot change this run
            object.__setattr__(self, "template_weights", dict(sorted(self.template_weights.items())))
        if self.writer_options is not None:
            object.__setattr__(self, "writer_options", dict(self.writer_options))

    @property
    def effective_val_size(self) -> int:
        if self.val_size is not None:
            return self.val_size
        if self.val_fraction is not None:
            return int(round(self.n * self.val_fraction))
        return min(200, self.n // 10)

    @property
    def max_attempts(self) -> int:
        return math.ceil(self.n * self.max_attempts_factor)

    def to_dict(self) -> dict:
        """JSON-ready parameters for the manifest (paths as strings, nested configs as dicts)."""
        from synth.fill import FillConfig
        from synth.prompt import PromptConfig

        defaults = {"fill_config": FillConfig(), "prompt_config": PromptConfig()}
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in defaults:
                v = defaults[f.name]
            if f.name in ("data_root", "cache_dir", "db"):
                continue  # recorded (resolved) under manifest["inputs"]; cache does not change output
            if dataclasses.is_dataclass(v):
                v = _jsonable(dataclasses.asdict(v))
            elif isinstance(v, (tuple, Mapping)):
                v = _jsonable(v if isinstance(v, tuple) else dict(v))
            out[f.name] = v
        out["val_size"] = self.effective_val_size
        out["max_attempts"] = self.max_attempts
        return out


@dataclass(frozen=True)
class Candidate:
    """The outcome of one attempt, before de-duplication (which needs the attempts before it)."""

    index: int
    db_id: str
    template_id: str
    sql: str = ""
    tables: tuple[str, ...] = ()
    key: str = ""
    reason: str = ""  # "" = executed fine with a non-empty result; else the rejection reason
    message: str = ""
    probes: tuple[tuple[str, str], ...] = ()  # semantic probes (synth.fill.checks) to run after execution
    row_checks: tuple[str, ...] = ()
    hardness: str = ""


@dataclass(frozen=True)
class GenerateResult:
    """What a run produced, in memory; :func:`write_outputs` puts it on disk."""

    train: tuple[dict, ...]
    val: tuple[dict, ...]
    templates: tuple[dict, ...]
    manifest: dict

    def files(self) -> dict[str, bytes]:
        """File name -> bytes, manifest last (with the outputs' hashes and row counts filled in)."""
        data = {
            "templates.jsonl": emit.ndjson_bytes(self.templates),
            "train.jsonl": emit.ndjson_bytes(self.train, emit.EXAMPLE_SCHEMA),
            "val.jsonl": emit.ndjson_bytes(self.val, emit.EXAMPLE_SCHEMA),
        }
        manifest = dict(self.manifest, outputs=emit.output_info(data))
        data["manifest.json"] = emit.json_bytes(manifest)
        return data


# ---- sampling ---------------------------------------------------------------------------------


def normalize_sql(sql: str) -> str:
    """Canonical text for de-duplication, from sqlglot's SQLite tokenizer.

    Keywords and identifiers (quoted or not) are lower-cased, string literals kept as written,
    tokens joined by single spaces -- so spacing and identifier case never make two queries
    look different. Tokenizing is ~5x cheaper than a parse + generate round trip, and the
    candidates are already sqlglot-rendered, so the two give the same duplicates.
    """
    try:
        tokens = _SQLITE.tokenize(sql)
    except (SqlglotError, ValueError):
        return " ".join(sql.split()).lower()
    out = []
    for t in tokens:
        if t.token_type == TokenType.STRING:
            out.append("'" + t.text.replace("'", "''") + "'")
        elif t.token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            out.append('"' + t.text.lower() + '"')
        else:
            out.append(t.text.lower())
    return " ".join(out)


def _attempt_rng(seed: int, index: int) -> random.Random:
    # One generator per attempt: attempts are independent, so workers can run them in any order.
    return random.Random(f"spft-sql/generate/{seed}/{index}")


def _is_empty(rows: Sequence[tuple]) -> bool:
    """No rows, or only rows of NULLs (e.g. MAX() over nothing): not a useful answer."""
    return all(all(v is None for v in row) for row in rows)


class CandidateSampler:
    """Draws and checks candidates; holds one read-only connection and value sampler per database.

    Used in-process (``workers == 1``) or once per worker process.
    """

    def __init__(
        self,
        schemas: Mapping[str, Schema],
        db_paths: Mapping[str, Path],
        templates: Sequence[Any],
        db_ids: Sequence[str],
        config: GenerateConfig,
    ) -> None:
        from synth.fill import FillConfig

        self.schemas = schemas
        self.db_paths = db_paths
        self.templates = list(templates)
        self.db_ids = list(db_ids)
        self.seed = config.seed
        self.limits = Limits(timeout_s=config.timeout_s, max_rows=config.max_rows)
        self.fill_config = config.fill_config if config.fill_config is not None else FillConfig()
        self._cum_templates = _cumulative(template_sampling_weights(self.templates, config.template_weights))
        db_weights = (
            [len(schemas[d].tables) for d in self.db_ids]
            if config.db_sampling == "tables"
            else [1] * len(self.db_ids)
        )
        self._cum_dbs = _cumulative(db_weights)
        self._dbs: dict[str, ReadOnlyDatabase] = {}
        self._values: dict[str, Any] = {}
        self.seconds: Counter[str] = Counter()

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()
        self._values.clear()

    def __enter__(self) -> CandidateSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def database(self, db_id: str) -> ReadOnlyDatabase:
        if db_id not in self._dbs:
            self._dbs[db_id] = ReadOnlyDatabase(self.db_paths[db_id], self.limits)
        return self._dbs[db_id]

    def values(self, db_id: str) -> Any:
        from synth.fill import ValueSampler

        if db_id not in self._values:
            self._values[db_id] = ValueSampler(self.database(db_id))
        return self._values[db_id]

    def fill(self, index: int) -> Candidate:
        """Draw template + database for attempt ``index`` and fill it (no execution yet)."""
        from synth.fill import FillError, fill_template

        rng = _attempt_rng(self.seed, index)
        template = self.templates[_pick(self._cum_templates, rng)]
        db_id = self.db_ids[_pick(self._cum_dbs, rng)]
        t0 = time.perf_counter()
        try:
            filled = fill_template(template, self.schemas[db_id], self.values(db_id), rng, self.fill_config)
        except FillError as e:
            self.seconds["fill"] += time.perf_counter() - t0
            reason = getattr(e, "reason", None) or "unknown"
            reason = reason if reason.startswith("semantic:") else f"fill:{reason}"
            return Candidate(index, db_id, template.id, reason=reason, message=str(e))
        except Exception as e:  # noqa: BLE001 - a filler bug on one template must not sink the run
            # Counted under its own reason (and its first message kept in the manifest) so it is
            # visible, not silently skipped.
            self.seconds["fill"] += time.perf_counter() - t0
            msg = f"{type(e).__name__}: {e} (template {template.id} on {db_id})"
            return Candidate(index, db_id, template.id, reason="internal_error:fill", message=msg)
        self.seconds["fill"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        key = normalize_sql(filled.sql)
        self.seconds["normalize"] += time.perf_counter() - t0
        return Candidate(
            index,
            db_id,
            template.id,
            filled.sql,
            tuple(filled.tables),
            key,
            probes=filled.probes,
            row_checks=filled.row_checks,
            hardness=filled.hardness,
        )

    def execute(self, cand: Candidate) -> Candidate:
        """Run a filled candidate; set ``reason`` when it fails verification."""
        t0 = time.perf_counter()
        res = self.database(cand.db_id).execute(cand.sql)
        self.seconds["execute"] += time.perf_counter() - t0
        if not res.ok:
            return dataclasses.replace(cand, reason=f"exec:{res.status}", message=res.message)
        if _is_empty(res.rows):
            return dataclasses.replace(cand, reason="empty_result")
        return self._semantic(cand, res.rows)

    def _semantic(self, cand: Candidate, rows: Sequence[tuple]) -> Candidate:
        """Row checks, then probes (:mod:`synth.fill.checks`); the first failure rejects."""
        from synth.fill.checks import failed_row_check

        t0 = time.perf_counter()
        try:
            for name in cand.row_checks:
                if failed_row_check(name, rows):
                    return dataclasses.replace(cand, reason=f"semantic:{name}")
            db = self.database(cand.db_id)
            for name, sql in cand.probes:
                res = db.execute(sql)
                if res.ok and res.rows and res.rows[0][0]:
                    return dataclasses.replace(cand, reason=f"semantic:{name}", message=sql)
            return cand
        finally:
            self.seconds["semantic"] += time.perf_counter() - t0

    def run(self, index: int) -> Candidate:
        cand = self.fill(index)
        return cand if cand.reason else self.execute(cand)


def template_sampling_weights(templates: Sequence[Any], factors: Mapping[str, float] | None) -> list[float]:
    """Per template: its training frequency times its factor in ``factors`` (1 when unlisted).

    >>> from types import SimpleNamespace as T
    >>> template_sampling_weights([T(id="ta", frequency=3), T(id="tb", frequency=1)], {"tb": 4.0})
    [3.0, 4.0]
    """
    factors = factors or {}
    return [max(t.frequency, 0) * float(factors.get(t.id, 1.0)) for t in templates]


#: Attempts between two checks of :func:`out_of_reach` (and progress-bar updates).
CHECK_EVERY = 256
#: Checks in the window whose acceptance rate :func:`out_of_reach` projects (8 x 256 = 2048 attempts).
WINDOW_CHECKS = 8


def out_of_reach(checkpoints: Sequence[int], n: int, attempts: int, max_attempts: int) -> str:
    """Why ``n`` accepted examples cannot be reached within the budget, or ``""`` to go on.

    ``checkpoints[k]`` is the accepted count after ``k * CHECK_EVERY`` attempts. The acceptance
    rate of the last ``WINDOW_CHECKS * CHECK_EVERY`` attempts is projected over the remaining
    budget, generously: with ``r`` accepted in the window, the rate is taken as
    ``(r + 2 * sqrt(r) + 2) / window`` (about two standard deviations above the observed rate).
    The real rate only falls as the run goes on (more candidates turn out to be duplicates), so
    when even that cannot reach ``n`` the run is stopped now rather than after the whole budget
    (``--n`` far above what the templates can yield would otherwise spin for an hour). Depends only
    on attempt counts, so it is as deterministic as the rest of the run.
    """
    if len(checkpoints) <= WINDOW_CHECKS:
        return ""
    window = WINDOW_CHECKS * CHECK_EVERY
    accepted = checkpoints[-1]
    recent = accepted - checkpoints[-1 - WINDOW_CHECKS]
    remaining = max_attempts - attempts
    optimistic = (recent + 2 * math.sqrt(recent) + 2) / window
    if accepted + optimistic * remaining >= n:
        return ""
    return (
        f"the last {window} attempts gave {recent} new examples, so the remaining "
        f"{remaining} attempts would give about {round(recent / window * remaining)} more, "
        f"{n - accepted} short"
    )


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(cum: Sequence[float], rng: random.Random) -> int:
    return min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


# ---- worker processes -------------------------------------------------------------------------

_WORKER: CandidateSampler | None = None  # per worker process only (set by the pool initializer)


def _worker_init(args: tuple) -> None:
    global _WORKER
    _WORKER = CandidateSampler(*args)


def _worker_run(indices: Sequence[int]) -> list[Candidate]:
    assert _WORKER is not None
    return [_WORKER.run(i) for i in indices]


def _candidates_parallel(args: tuple, workers: int, limit: int, chunk: int = 64) -> Iterator[Candidate]:
    """Candidates ``0, 1, 2, ...`` in order, computed by a process pool (lazily, a few chunks ahead)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(args,)) as pool:
        pending: list[cf.Future] = []
        start = 0
        try:
            while True:
                while len(pending) < workers * 3 and start < limit:
                    pending.append(pool.submit(_worker_run, range(start, min(start + chunk, limit))))
                    start += chunk
                if not pending:
                    return
                yield from pending.pop(0).result()
        finally:
            for f in pending:
                f.cancel()


# ---- the pipeline ------------------------------------------------------------------------------


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
    accepted, counts, sampler_seconds = _sample(bench, schemas, templates, db_ids, config, progress)
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
        parse_failure_reasons=dict(sorted(Counter(_short_reason(f) for f in report.failures).items())),
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
    manifest = {
        "format": MANIFEST_FORMAT,
        "command": "synth generate",
        "inputs": {
            "benchmark": bench.name,
            "root": bench.root.resolve().as_posix(),
            "data_root": bench.data_root.resolve().as_posix(),
            "tables_json": emit.file_info(bench.tables_path if bench.tables_path.is_file() else None, bench.data_root),
            "train_file": emit.file_info(bench.train_path, bench.data_root),
            "db_ids": list(db_ids),
            "missing_db_ids": list(missing),
        },
        "parameters": config.to_dict(),
        "seed": config.seed,
        "versions": dict(
            emit.package_versions(), templates_code=template_cache.code_version(), **_component_versions(config)
        ),
        "counts": counts,
        # Facts of this run, not of its inputs: the only manifest fields that may differ between
        # two runs with the same inputs and seed.
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "cache": {
            "dir": Path(config.cache_dir).resolve().as_posix() if config.cache_dir is not None else None,
            "templates": cache_state,
            "templates_key": cache_key,
        },
    }
    return GenerateResult(tuple(train), tuple(val), tuple(t.to_dict() for t in templates), manifest)


def hardness_report(output: Mapping[str, int], training: Mapping[str, int]) -> dict:
    """Spider hardness counts and shares of the output next to the training SQL's (manifest)."""
    from evaluation.hardness import LEVELS

    def side(counts: Mapping[str, int]) -> dict:
        keys = [*LEVELS, *(["unknown"] if counts.get("unknown") else [])]
        total = sum(counts.get(k, 0) for k in keys) or 1
        return {
            "counts": {k: int(counts.get(k, 0)) for k in keys},
            "shares": {k: round(counts.get(k, 0) / total, 4) for k in keys},
        }

    return {"output": side(output), "training": side(training)}


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


def _sample(
    bench: Benchmark,
    schemas: Mapping[str, Schema],
    templates: Sequence[Any],
    db_ids: Sequence[str],
    config: GenerateConfig,
    progress: bool | None,
) -> tuple[list[Candidate], dict, Counter]:
    """Attempts in order until ``n`` are accepted or the budget is spent; counts every rejection."""
    from tqdm import tqdm

    db_paths = {d: bench.db_path(d) for d in db_ids}
    sub_schemas = {d: schemas[d] for d in db_ids}
    rejections: Counter[str] = Counter()
    first_message: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    accepted: list[Candidate] = []
    attempts = 0
    checkpoints = [0]  # accepted count after every CHECK_EVERY attempts
    stalled = ""
    bar = tqdm(
        total=config.n,
        desc="verified",
        unit="ex",
        file=sys.stderr,
        disable=None if progress is None else not progress,
        leave=False,
    )
    sampler = CandidateSampler(sub_schemas, db_paths, templates, db_ids, config)
    stream: Iterator[Candidate] = iter(())
    try:
        if config.workers > 1:
            stream = _candidates_parallel(
                (sub_schemas, db_paths, templates, db_ids, config), config.workers, config.max_attempts
            )
            execute_here = False
        else:
            stream = (sampler.fill(i) for i in range(config.max_attempts))
            execute_here = True
        for cand in stream:
            attempts += 1
            if cand.sql:  # filled; workers have also executed it (then ``reason`` may be exec/empty)
                # De-duplicate before looking at the execution verdict, as the in-process path
                # does before executing: every filled query counts once by its own verdict, and
                # later copies count as ``duplicate`` -- so counts match for any --workers.
                key = (cand.db_id, cand.key)
                if key in seen:
                    cand = dataclasses.replace(cand, reason="duplicate", message="")
                else:
                    seen.add(key)
                    if execute_here:
                        cand = sampler.execute(cand)
            if cand.reason:
                rejections[cand.reason] += 1
                first_message.setdefault(cand.reason, cand.message[:300])
            else:
                accepted.append(cand)
                bar.update(1)
                if len(accepted) >= config.n:
                    break
            if attempts % CHECK_EVERY == 0:
                bar.set_postfix(attempts=attempts, refresh=False)
                checkpoints.append(len(accepted))
                stalled = out_of_reach(checkpoints, config.n, attempts, config.max_attempts)
                if stalled:
                    break
    finally:
        # Close the candidate stream now: a break leaves the parallel generator suspended, and
        # only closing it cancels the pending chunks and joins the worker processes.
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        bar.close()
        sampler.close()
    counts = {
        "attempts": attempts,
        "max_attempts": config.max_attempts,
        "accepted": len(accepted),
        "acceptance_rate": round(len(accepted) / attempts, 6) if attempts else 0.0,
        "rejections": dict(sorted(rejections.items())),
        "rejected": sum(rejections.values()),
        "rejection_examples": dict(sorted(first_message.items())),
        "accepted_by_db": dict(sorted(Counter(c.db_id for c in accepted).items())),
    }
    if len(accepted) < config.n:
        top = ", ".join(f"{r} {c}" for r, c in rejections.most_common(6)) or "none"
        why = (
            f"stopped early: {stalled}"
            if stalled
            else f"budget: --n x --max-attempts-factor {config.max_attempts_factor:g}"
        )
        raise NotEnoughExamplesError(
            f"only {len(accepted)} of --n {config.n} verified examples could be made in "
            f"{attempts} attempts ({why}); rejections: {top}. The templates cannot yield that many "
            f"distinct verified queries on these databases: use more databases (--db-ids), more "
            f"training SQL, a larger --max-attempts-factor or a smaller --n. Nothing was written."
        )
    return accepted, counts, sampler.seconds


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
    from tqdm import tqdm

    return tqdm(
        items, desc=desc, unit=unit, file=sys.stderr, leave=False, disable=None if progress is None else not progress
    )


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


def _component_versions(config: GenerateConfig) -> dict[str, str]:
    out = {}
    if config.prompts:
        try:
            from synth.prompt import PROMPT_FORMAT_VERSION

            out["prompt_format"] = str(PROMPT_FORMAT_VERSION)
        except ImportError:  # pragma: no cover
            pass
    return out


def _short_reason(failure: Mapping) -> str:
    reason = str(failure.get("reason", "unknown"))
    return reason.split(":")[0].strip()[:60] or "unknown"


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return v.as_posix()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def split_val(records: Sequence[dict], val_size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Split off ``val_size`` records as D_val, chosen by a seeded shuffle; both parts keep id order."""
    if val_size <= 0:
        return list(records), []
    order = list(range(len(records)))
    random.Random(f"spft-sql/val-split/{seed}").shuffle(order)
    val_idx = set(order[:val_size])
    train = [r for i, r in enumerate(records) if i not in val_idx]
    val = [r for i, r in enumerate(records) if i in val_idx]
    return train, val


def write_outputs(result: GenerateResult, out_dir: str | Path) -> list[Path]:
    """Write ``templates.jsonl``, ``train.jsonl``, ``val.jsonl`` and (last) ``manifest.json`` atomically."""
    return emit.write_all(out_dir, result.files())


