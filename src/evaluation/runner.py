"""Evaluate many pairs: EX, TS and VES over a process pool, gold results cached per (db, sql).

Work is split into tasks of items from one database (items with the same gold query stay in the
same task), so each worker opens each database file once and runs each gold query once per file.

* **EX** — one database: ``<db_root>/<db_id>/<db_id>.sqlite``. A missing file is a *counted skip*
  (Spider here lacks ``wta_1``), reported with the db ids; it never crashes the run.
* **TS** — test-suite accuracy: correct only if the prediction matches the gold on *every*
  ``<suite_dir>/<db_id>/*.sqlite``. A db id without suite files is reported as ``no_suite`` and left
  out of the TS denominator — never silently replaced by EX. TS work is split into tasks of
  (items of one database) x (a shard of its suite files), so a suite of 100+ databases for one
  db id runs on every worker; each task caches the gold result per suite file, and items with
  the same gold stay in one task, so a gold query runs once per suite file per evaluation.
* **VES** — see :mod:`evaluation.ves`; timed only for items that are EX-correct.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlglot import exp

from evaluation.ambiguity import ambiguity_flags
from evaluation.errors import ConfigError, DataNotFoundError, UnknownNameError
from evaluation.ex import MODES, GoldCache, check_mode, prepare_item
from evaluation.executor import Limits
from evaluation.hardness import hardness
from evaluation.inputs import Item
from evaluation.sql_analysis import try_parse
from evaluation.verdict import Verdict
from evaluation.ves import Timer, measure_ratio, rves_reward, ves_score, wall_timer

METRICS = ("ex", "ts", "ves")
#: ``pred_status`` of a blank prediction: it executes "ok" and matches every gold with an empty result
#: (the official verdict is kept), so it is marked, counted in the report and warned about.
EMPTY = "empty"


def is_empty_prediction(sql: str) -> bool:
    """True for ``""`` or whitespace only: a model that wrote nothing."""
    return not sql.strip()


_TASK_SIZE = 64


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"ex,ts"`` -> ``("ex", "ts")``; unknown names raise with a did-you-mean."""
    names = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    out = []
    for n in names:
        if not n:
            continue
        if n not in METRICS:
            raise UnknownNameError("metric", n, METRICS)
        if n not in out:
            out.append(n)
    if not out:
        raise ConfigError("--metric: give at least one of " + ", ".join(METRICS))
    return tuple(out)


#: ``EvalConfig.ves_timer`` names: wall-clock seconds (BIRD) or SQLite VM steps (:mod:`evaluation.steps`).
VES_TIMERS = ("wall", "steps")


#: Seconds per query when scoring (``evaluate --timeout``'s default): gold queries of BIRD-size
#: databases may run long; synthesis and training signals use tighter limits of their own.
EVAL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class EvalConfig:
    """Everything that decides a verdict and what is scored; recorded in the report.

    The one config of :func:`evaluation.evaluate` and of the ``evaluate`` command: a field with a
    ``help`` text is an option (:mod:`evaluation.cli_options`), its help and default live here.
    ``metrics`` may be given as ``"ex,ts"``; it is kept as a tuple. ``ves_timer="steps"`` sets
    ``ves_repeats`` to 1: a step count does not vary between runs.
    """

    db_root: Path = field(metadata={"help": "Folder of <db_id>/<db_id>.sqlite (e.g. spider/database)."})
    metrics: tuple[str, ...] = field(
        default=("ex",), metadata={"help": "Comma-separated metrics: ex, ts, ves.", "option": "metric"}
    )
    compare: str = field(  # "spider" (test-suite result_eq) | "bird" (set equality)
        default="spider",
        metadata={
            "help": "spider: bag of rows, column permutations, order iff gold has ORDER BY; bird: set equality.",
            "choices": MODES,
        },
    )
    keep_distinct: bool = field(  # spider only: keep DISTINCT instead of stripping it from both
        default=False,
        metadata={"help": "Spider mode: do not strip DISTINCT before executing.", "flag": "keep-distinct"},
    )
    suite_dir: Path | None = field(  # TS: <suite_dir>/<db_id>/*.sqlite
        default=None, metadata={"help": "TS: folder of <db_id>/*.sqlite test-suite databases."}
    )
    ves_repeats: int = field(default=100, metadata={"help": "VES: timed runs per query."})
    #: ``--timeout`` is ``limits.timeout_s`` (its help is :class:`Limits`'s, its default this one)
    limits: Limits = field(default_factory=lambda: Limits(timeout_s=EVAL_TIMEOUT_S))
    workers: int = field(  # 0 = os.cpu_count(); 1 = in-process
        default=0, metadata={"help": "Processes (0 = all CPUs, 1 = in-process)."}
    )
    flag_ambiguous: bool = True
    ves_timer: str = field(
        default="wall",
        metadata={
            "help": "VES cost: wall-clock seconds (BIRD) or SQLite VM steps (same on every machine; one run).",
            "choices": VES_TIMERS,
        },
    )
    only_predicted: bool = field(
        default=False,
        metadata={
            "help": "Score only the gold ids present in the (JSONL) predictions, e.g. after `--limit N`; "
            "the report says how many gold items were left out.",
            "flag": "only-predicted",
        },
    )

    def __post_init__(self) -> None:
        check_mode(self.compare)
        object.__setattr__(self, "metrics", parse_metrics(self.metrics))
        if self.ves_timer not in VES_TIMERS:
            raise UnknownNameError("VES timer", self.ves_timer, VES_TIMERS)
        if self.ves_timer == "steps":
            object.__setattr__(self, "ves_repeats", 1)
        if "ts" in self.metrics and self.suite_dir is None:
            raise ConfigError("--metric ts needs --suite-dir (folder of <db_id>/*.sqlite test suites)")
        if self.ves_repeats < 1:
            raise ConfigError(f"--ves-repeats must be >= 1, got {self.ves_repeats}")
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0, got {self.workers}")

    def db_path(self, db_id: str) -> Path:
        return self.db_root / db_id / f"{db_id}.sqlite"

    def suite_paths(self, db_id: str) -> list[Path]:
        assert self.suite_dir is not None
        return sorted((self.suite_dir / db_id).glob("*.sqlite"))

    @property
    def timer(self) -> Timer:
        """The VES cost measure that :attr:`ves_timer` names."""
        if self.ves_timer == "steps":
            from evaluation.steps import steps_timer

            return steps_timer
        return wall_timer


@dataclass(frozen=True)
class ItemResult:
    """The record of one item over all metrics, not a verdict: a :class:`~evaluation.verdict.Verdict` per
    metric (each compares the gold's and the prediction's :class:`~evaluation.executor.ExecResult`),
    the gold's hardness and ambiguity flags, or why the item was skipped."""

    id: str
    db_id: str
    hardness: str
    verdicts: dict[str, Verdict]
    ambiguity: tuple[str, ...] = ()
    skipped: str = ""  # non-empty: why the item was not evaluated (missing database)

    def to_json(self) -> dict:
        d = {"id": self.id, "db_id": self.db_id, "hardness": self.hardness}
        for m, v in self.verdicts.items():
            d[m] = v.to_json()
        if self.ambiguity:
            d["ambiguous_gold"] = list(self.ambiguity)
        if self.skipped:
            d["skipped"] = self.skipped
        return d


def evaluate_task(items: Sequence[Item], config: EvalConfig, timer: Timer = wall_timer) -> list[ItemResult]:
    """Evaluate items (normally of one database) sequentially with one gold cache."""
    cache = GoldCache(config.limits)
    trees: dict[str, exp.Expression | None] = {}  # one sqlglot parse per gold text (hardness + flags)
    hard_cache: dict[str, str] = {}
    flag_cache: dict[str, tuple[str, ...]] = {}

    def tree(sql: str) -> exp.Expression | None:
        if sql not in trees:
            trees[sql] = try_parse(sql)
        return trees[sql]

    needs_main = _needs_main(config)
    out = []
    try:
        for it in items:
            if it.gold_sql not in hard_cache:
                hard_cache[it.gold_sql] = hardness(tree(it.gold_sql))
            level = hard_cache[it.gold_sql]
            db_path = config.db_path(it.db_id)
            if needs_main and not db_path.is_file():
                verdicts = {m: Verdict(None, "skipped") for m in config.metrics}
                out.append(ItemResult(it.id, it.db_id, level, verdicts, (), f"database file not found: {db_path}"))
                continue
            pair = prepare_item(it.gold_sql, it.pred_sql, mode=config.compare, keep_distinct=config.keep_distinct)
            verdicts: dict[str, Verdict] = {}
            flags: tuple[str, ...] = ()
            ex = None
            if needs_main:
                ex = cache.verdict(db_path, pair)
                if config.flag_ambiguous:
                    if pair.gold_sql not in flag_cache:
                        t = tree(pair.gold_sql) if pair.gold_sql == it.gold_sql else None
                        flag_cache[pair.gold_sql] = ambiguity_flags(pair.gold_sql, cache.db(db_path), t)
                    flags = flag_cache[pair.gold_sql]
            if "ex" in config.metrics:
                assert ex is not None
                verdicts["ex"] = ex
            if "ts" in config.metrics:
                verdicts["ts"] = Verdict(None, "no_suite")  # replaced by the TS tasks' outcome
            if "ves" in config.metrics:
                assert ex is not None
                if ex.correct:
                    ratio = measure_ratio(cache.db(db_path), pair.gold_sql, pair.pred_sql, config.ves_repeats, timer)
                else:
                    ratio = 0.0
                verdicts["ves"] = Verdict(
                    ex.correct,
                    ex.reason,
                    ex.pred_status,
                    ex.gold_status,
                    extra={
                        "time_ratio": ratio,
                        "score": ves_score(ratio, ex.correct),
                        "reward": rves_reward(ratio, ex.correct),
                    },
                )
            out.append(ItemResult(it.id, it.db_id, level, verdicts, flags))
    finally:
        cache.close()
    return out


def ts_task(items: Sequence[Item], suite: Sequence[Path], config: EvalConfig) -> dict[str, Verdict | None]:
    """TS on one shard of a suite: per item id, the first failing verdict (``None``: matched on all).

    Gold results are cached per (suite file, gold SQL) for the whole task.
    """
    cache = GoldCache(config.limits)
    out: dict[str, Verdict | None] = {}
    try:
        for it in items:
            pair = prepare_item(it.gold_sql, it.pred_sql, mode=config.compare, keep_distinct=config.keep_distinct)
            out[it.id] = None
            for path in suite:
                v = cache.verdict(path, pair)
                if not v.correct:
                    out[it.id] = replace(v, extra={"failed_on": path.name})
                    break
    finally:
        cache.close()
    return out


def merge_ts(db_id: str, suite_size: int, shard_outcomes: list[Verdict | None], config: EvalConfig) -> Verdict:
    """One TS verdict from the outcomes of the shards (in suite order): the first failure wins."""
    if suite_size == 0:
        assert config.suite_dir is not None
        return Verdict(None, "no_suite", message=f"no test suite: {config.suite_dir / db_id}/*.sqlite")
    for v in shard_outcomes:
        if v is not None:
            return replace(v, extra={"suite_size": suite_size, **v.extra})
    return Verdict(True, "match", "ok", "ok", "", {"suite_size": suite_size})


def split_tasks(pairs: Iterable[Item], size: int = _TASK_SIZE) -> list[list[Item]]:
    """Group by database, keep identical gold queries together, cut into tasks of about ``size``."""
    by_db: dict[str, list[Item]] = {}
    for p in pairs:
        by_db.setdefault(p.db_id, []).append(p)
    tasks: list[list[Item]] = []
    for db_id in sorted(by_db):
        items = sorted(by_db[db_id], key=lambda p: p.gold_sql)
        cur: list[Item] = []
        for p in items:
            if len(cur) >= size and cur[-1].gold_sql != p.gold_sql:
                tasks.append(cur)
                cur = []
            cur.append(p)
        if cur:
            tasks.append(cur)
    tasks.sort(key=len, reverse=True)  # big tasks first: better balance across workers
    return tasks


@dataclass(frozen=True)
class _Task:
    """Items of one database; ``suite`` non-empty: a TS task over that shard of the suite."""

    items: tuple[Item, ...]
    suite: tuple[Path, ...] = ()
    shard: int = 0

    @property
    def units(self) -> int:
        return len(self.items) * max(1, len(self.suite))


def _needs_main(config: EvalConfig) -> bool:
    return "ex" in config.metrics or "ves" in config.metrics


def _suites(pairs: Iterable[Item], config: EvalConfig) -> dict[str, list[Path]]:
    """Suite files per db id (empty list: no suite) — only when TS is asked for."""
    if "ts" not in config.metrics:
        return {}
    return {db_id: config.suite_paths(db_id) for db_id in sorted({p.db_id for p in pairs})}


def check_suites(pairs: Sequence[Item], config: EvalConfig) -> None:
    """TS with a suite folder that holds no suite for any evaluated database is a mistake (a wrong or
    empty ``--suite-dir``), not an all-``-`` report: raise, naming the folder and what was expected."""
    suites = _suites(pairs, config)
    if suites and not any(suites.values()):
        assert config.suite_dir is not None
        shown = ", ".join(sorted(suites)[:5]) + (", ..." if len(suites) > 5 else "")
        raise DataNotFoundError(
            f"--suite-dir {config.suite_dir}: no test-suite databases for any of the {len(suites)} database(s) "
            f"evaluated (expected {config.suite_dir}/<db_id>/*.sqlite for {shown})"
        )


def _ts_skipped(pair: Item, config: EvalConfig) -> bool:
    return _needs_main(config) and not config.db_path(pair.db_id).is_file()


def plan_tasks(pairs: Sequence[Item], config: EvalConfig, workers: int) -> list[_Task]:
    """Main tasks (hardness, EX, VES) and TS tasks, sharded over suite files when needed for balance."""
    chunks = split_tasks(pairs)
    tasks = [_Task(tuple(c)) for c in chunks]
    suites = _suites(pairs, config)
    ts_chunks = [c for c in chunks if suites.get(c[0].db_id)]
    if ts_chunks:
        shards_per_chunk = max(1, -(-2 * workers // len(ts_chunks)))  # about 2 tasks per worker at least
        for c in ts_chunks:
            items = tuple(p for p in c if not _ts_skipped(p, config))
            suite = suites[c[0].db_id]
            if not items:
                continue
            n = min(len(suite), shards_per_chunk)
            for k in range(n):  # n contiguous shards of near-equal size, in suite order
                tasks.append(_Task(items, tuple(suite[k * len(suite) // n : (k + 1) * len(suite) // n]), k))
    tasks.sort(key=lambda t: t.units, reverse=True)  # big tasks first: better balance across workers
    return tasks


def work_units(pairs: Sequence[Item], config: EvalConfig) -> int:
    """What ``progress`` counts up to: one per item, plus one per (item, suite file) for TS."""
    suites = _suites(pairs, config)
    return len(pairs) + sum(len(suites.get(p.db_id, ())) for p in pairs if not _ts_skipped(p, config))


def _run_task(task: _Task, config: EvalConfig, timer: Timer):
    if task.suite:
        return ts_task(task.items, task.suite, config)
    return evaluate_task(task.items, config, timer)


def evaluate_items(
    pairs: Sequence[Item],
    config: EvalConfig,
    *,
    timer: Timer | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ItemResult]:
    """Evaluate all pairs; results come back in the input order.

    ``timer``: the VES cost measure (default: the config's, :attr:`EvalConfig.timer`).
    ``progress(n)`` is called as tasks finish, with the work units done (see :func:`work_units`).
    """
    timer = timer or config.timer
    workers = config.workers or os.cpu_count() or 1
    check_suites(pairs, config)
    tasks = plan_tasks(pairs, config, workers)
    main: dict[str, ItemResult] = {}
    ts: dict[str, dict[int, Verdict | None]] = {}

    def collect(task: _Task, out) -> None:
        if task.suite:
            for item_id, v in out.items():
                ts.setdefault(item_id, {})[task.shard] = v
        else:
            for r in out:
                main[r.id] = r
        if progress:
            progress(task.units)

    if workers == 1 or len(tasks) <= 1:
        for t in tasks:
            collect(t, _run_task(t, config, timer))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futs = {pool.submit(_run_task, t, config, timer): t for t in tasks}
            try:
                for f in as_completed(futs):
                    collect(futs[f], f.result())
            except BaseException:  # Ctrl-C or a failed task: do not run the queued tasks first
                for f in futs:
                    f.cancel()
                raise
    if "ts" in config.metrics:
        suites = _suites(pairs, config)
        for item_id, r in list(main.items()):
            if r.skipped:
                continue
            shards = ts.get(item_id, {})
            v = merge_ts(r.db_id, len(suites[r.db_id]), [shards[k] for k in sorted(shards)], config)
            main[item_id] = replace(r, verdicts={**r.verdicts, "ts": v})
    for p in pairs:  # a blank prediction keeps its official verdict, but is marked (it "matches" empty golds)
        r = main[p.id]
        if not r.skipped and is_empty_prediction(p.pred_sql):
            main[p.id] = replace(r, verdicts={m: replace(v, pred_status=EMPTY) for m, v in r.verdicts.items()})
    return [main[p.id] for p in pairs]
