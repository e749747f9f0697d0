"""Judging generated SQL through ``evaluation`` only: EX on D_val and self-play rewards R.

R(y', x) = 1 when the opponent's SQL y' does not execute to the gold result (SPFT-SQL eq. 2),
0 when it does. Pairs whose gold SQL itself fails cannot be judged and get ``None``.

The training signals (VBI-FT's y+/y-, self-play's R) may be judged by a :class:`Judge` with
``--judge ts``: a prediction EX-correct on its database must also agree with the gold on every
database of a test suite built for the judged examples (:mod:`evaluation.suite_cache`). EX-wrong
predictions stay wrong without running the suite: the original database is the suite's first file.

A judged prediction is an :class:`evaluation.verdict.Verdict`, in the order of the examples; ``correct``
is None when the gold itself failed, and under ``--judge ts`` its ``extra`` holds ``ex_correct`` (what EX
alone said) and, for an EX-correct prediction the suite rejected, ``failed_on`` (the suite file).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evaluation.executor import Limits
from evaluation.suite_cache import check_judge
from evaluation.verdict import Verdict
from train.io import db_path_of

DEFAULT_LIMITS = Limits(timeout_s=5.0, max_rows=100_000)


@dataclass
class Judge:
    """Who decides correct / wrong for a training signal: ``ex`` (one database) or ``ts`` (a suite).

    Under ``ts`` it holds the suite cache and counts what judging cost and changed, for run logs.
    """

    name: str = "ex"
    suite_size: int = 20
    suite_cache: str | None = None
    verdicts: int = 0  # predictions judged
    ts_runs: int = 0  # EX-correct predictions that went on to the suite
    flips: int = 0  # EX-correct, TS-wrong
    ts_s: float = 0.0  # seconds spent on suites (build + verdicts)
    last_suites: tuple[str, ...] = ()  # suite folders (``<db_id>-<fingerprint[:16]>``) of the last judged call
    _cache: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_judge(self.name)
        if self.suite_size < 1:
            raise ValueError(f"suite_size must be >= 1, got {self.suite_size}")

    @property
    def is_ts(self) -> bool:
        return self.name == "ts"

    @property
    def cache(self) -> Any:
        """The :class:`evaluation.suite_cache.SuiteCache` (made on first use)."""
        if self._cache is None:
            from evaluation.suite import SuiteConfig
            from evaluation.suite_cache import SuiteCache

            self._cache = SuiteCache(self.suite_cache, SuiteConfig(size=self.suite_size))
        return self._cache

    def counters(self) -> dict[str, Any]:
        """A snapshot of the counts (differences of two snapshots = one stage's share)."""
        c = self._cache
        return {
            "verdicts": self.verdicts,
            "ts_runs": self.ts_runs,
            "flips": self.flips,
            "ts_s": round(self.ts_s, 3),
            "suites_built": c.builds if c else 0,
            "suites_reused": c.reuses if c else 0,
        }

    def summary(self, rows: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """For a run manifest: the judge, the cache, every suite used (folder -> fingerprint, size, kills).

        ``rows``: log rows with a ``judge`` record (also those of a run before a resume); their suites
        are listed and their counts summed into ``flips`` / ``ts_runs`` / ``verdicts``."""
        out: dict[str, Any] = {"judge": self.name}
        if self.is_ts:
            recs = [r["judge"] for r in rows if isinstance(r.get("judge"), dict)]
            names = sorted({n for rec in recs for n in rec.get("suites", ())})
            totals = {k: sum(rec.get(k, 0) for rec in recs) for k in ("verdicts", "ts_runs", "flips", "ts_s")}
            out.update(totals if recs else self.counters(), suite_size=self.suite_size, **self.cache.summary(names))
        return out


def make_judge(cfg: Any) -> Judge:
    """The :class:`Judge` of a config with ``judge`` / ``suite_size`` / ``suite_cache`` fields."""
    return Judge(cfg.judge, cfg.suite_size, cfg.suite_cache)


def judge_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What one stage added to a judge's counters (``after - before``), for a log row.

    >>> judge_delta({"verdicts": 2, "flips": 0, "ts_s": 1.0}, {"verdicts": 5, "flips": 1, "ts_s": 1.5})
    {'verdicts': 3, 'flips': 1, 'ts_s': 0.5}
    """
    return {k: round(after[k] - before[k], 3) if isinstance(after[k], float) else after[k] - before[k] for k in after}


def judge_predictions(
    examples: Sequence[dict[str, Any]],
    pred_sqls: Sequence[str],
    data_root: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    judge: Judge | None = None,
) -> list[Verdict]:
    """As :func:`evaluation.ex.exec_match` per pair, through :class:`evaluation.ex.GoldCache`: one
    connection per database file and each gold query run once per file (``k`` samples of a question,
    or a D_val scored for every pool model, would otherwise reopen the database and rerun the gold
    for every prediction).

    With a ``ts`` ``judge`` the EX-correct predictions are judged again on the suite of their database
    (:func:`_ts_rejudge`); ``None`` or ``ex``: EX alone, as before. One verdict per example, in order;
    ``correct`` is None when the gold failed (``reason`` ``gold_failed``)."""
    from evaluation.ex import GoldCache, prepare_item

    out = []
    with GoldCache(limits) as cache:
        for ex, sql in zip(examples, pred_sqls, strict=True):
            v = cache.verdict(db_path_of(ex, data_root), prepare_item(ex["sql"], sql or ""))
            out.append(_unjudged_if_gold_failed(v))
    if judge is not None:
        judge.verdicts += len(out)
        if judge.is_ts:
            out = _ts_rejudge(examples, pred_sqls, data_root, out, judge, limits)
    return out


def _ts_rejudge(
    examples: Sequence[dict[str, Any]],
    pred_sqls: Sequence[str],
    data_root: Path,
    ex: list[Verdict],
    judge: Judge,
    limits: Limits,
) -> list[Verdict]:
    """EX verdicts -> TS verdicts. A suite is built (or reused) per database for *all* the examples'
    golds of that database, so it does not depend on the predictions; only EX-correct ones are run on it.
    A gold that fails on a suite database leaves the item unjudged (``gold_failed``), as on the original."""
    from evaluation.suite_cache import TsItem, ts_verdicts

    t0 = time.perf_counter()
    golds: dict[str, list[str]] = {}
    for e in examples:
        golds.setdefault(_db_id(e, data_root), []).append(e["sql"])
    items = [
        TsItem(str(i), _db_id(e, data_root), db_path_of(e, data_root), e["sql"], sql or "")
        for i, (e, sql, j) in enumerate(zip(examples, pred_sqls, ex, strict=True))
        if j.correct
    ]
    verdicts, suites = ts_verdicts(items, judge.cache, golds=golds, limits=limits)
    judge.last_suites = tuple(sorted(s.folder.name for s in suites.values()))
    out = []
    for i, j in enumerate(ex):
        v = verdicts.get(str(i))
        if v is None:  # EX-wrong or unjudged: the original database is the suite's first file
            out.append(replace(j, extra={**j.extra, "ex_correct": j.correct}))
            continue
        v = _unjudged_if_gold_failed(v)
        out.append(replace(v, extra={**v.extra, "ex_correct": True}))
        judge.flips += v.correct is False
    judge.ts_runs += len(items)
    judge.ts_s += time.perf_counter() - t0
    return out


def _unjudged_if_gold_failed(v: Verdict) -> Verdict:
    """A training signal cannot be judged on a gold that does not run: ``correct`` None, not False."""
    return replace(v, correct=None if v.reason == "gold_failed" else bool(v.correct))


def _db_id(example: dict[str, Any], data_root: Path) -> str:
    """The example's ``db_id``, else its database file's stem (a suite is per database)."""
    return str(example.get("db_id") or db_path_of(example, data_root).stem)


def ex_accuracy(judged: Sequence[Verdict]) -> float:
    """Share of examples judged correct (gold failures count as wrong: the data is bad, not the model)."""
    return sum(1 for j in judged if j.correct) / len(judged) if judged else 0.0


def reward(j: Verdict) -> int | None:
    """SPFT-SQL eq. 2: 1 if the execution result differs from the gold one, else 0."""
    return None if j.correct is None else (0 if j.correct else 1)
