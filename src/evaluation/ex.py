"""Execution accuracy for one (gold, prediction) pair: run both, compare the results.

``exec_match`` is what ``train`` uses for self-play rewards and model selection; the batch runner
(:mod:`evaluation.runner`) uses :func:`prepare_pair` + :func:`judge` with cached gold results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evaluation.compare import MODES, order_matters, postprocess, remove_distinct, replace_cur_year, results_match
from evaluation.errors import UnknownNameError
from evaluation.executor import ExecResult, Limits, ReadOnlyDatabase


@dataclass(frozen=True)
class PreparedPair:
    """The SQL that is actually executed, after the official rewrites, and how to compare."""

    gold_sql: str
    pred_sql: str
    mode: str
    ordered: bool


@dataclass(frozen=True)
class PairVerdict:
    """Whether the prediction's result matches the gold result, with both results kept.

    ``reason`` is one of: ``match``, ``mismatch``, ``pred_error``, ``pred_timeout``,
    ``pred_too_large``, ``gold_failed`` (the gold itself did not run: never counted correct).
    """

    correct: bool
    gold: ExecResult
    pred: ExecResult
    reason: str


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UnknownNameError("comparison mode", mode, MODES)
    return mode


def prepare_pair(gold_sql: str, pred_sql: str, *, mode: str = "spider", keep_distinct: bool = False) -> PreparedPair:
    """Apply the official pre-execution rewrites of ``mode`` to both queries."""
    check_mode(mode)
    if mode == "spider":
        gold_sql, pred_sql = postprocess(gold_sql), postprocess(pred_sql)
        if not keep_distinct:
            gold_sql, pred_sql = remove_distinct(gold_sql), remove_distinct(pred_sql)
        ordered = order_matters(gold_sql)
        return PreparedPair(replace_cur_year(gold_sql), replace_cur_year(pred_sql), mode, ordered)
    return PreparedPair(gold_sql, pred_sql, mode, False)


def judge(gold: ExecResult, pred: ExecResult, *, mode: str, ordered: bool) -> PairVerdict:
    """Compare two finished executions."""
    if not gold.ok:
        return PairVerdict(False, gold, pred, "gold_failed")
    if not pred.ok:
        return PairVerdict(False, gold, pred, f"pred_{pred.status}")
    ok = results_match(gold.rows, pred.rows, mode=mode, ordered=ordered)
    return PairVerdict(ok, gold, pred, "match" if ok else "mismatch")


def exec_match(
    db_path: str | Path,
    gold_sql: str,
    pred_sql: str,
    *,
    mode: str = "spider",
    keep_distinct: bool = False,
    limits: Limits = Limits(),
) -> PairVerdict:
    """Run gold and prediction on one database (read-only, bounded) and compare the results.

    A missing ``db_path`` raises :class:`~evaluation.errors.DataNotFoundError`; SQL errors,
    timeouts and oversized results make the verdict incorrect (``reason`` says which).
    """
    pair = prepare_pair(gold_sql, pred_sql, mode=mode, keep_distinct=keep_distinct)
    with ReadOnlyDatabase(db_path, limits) as db:
        gold = db.execute(pair.gold_sql)
        pred = db.execute(pair.pred_sql)
    return judge(gold, pred, mode=pair.mode, ordered=pair.ordered)
