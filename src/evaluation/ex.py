"""Execution accuracy for one (gold, prediction) pair: run both, compare the results.

``exec_match`` judges a single pair; many pairs are judged through one :class:`GoldCache` (the batch
runner :mod:`evaluation.runner`, and ``train``'s D_val EX and self-play rewards), which keeps one
connection per database file and runs each gold query once per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from evaluation.compare import MODES, order_matters, postprocess, remove_distinct, replace_cur_year, results_match
from evaluation.errors import UnknownNameError
from evaluation.executor import ExecResult, Limits, ReadOnlyDatabase
from evaluation.verdict import Verdict


@dataclass(frozen=True)
class PreparedItem:
    """The SQL that is actually executed, after the official rewrites, and how to compare."""

    gold_sql: str
    pred_sql: str
    mode: str
    ordered: bool


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UnknownNameError("comparison mode", mode, MODES)
    return mode


def prepare_item(gold_sql: str, pred_sql: str, *, mode: str = "spider", keep_distinct: bool = False) -> PreparedItem:
    """Apply the official pre-execution rewrites of ``mode`` to both queries."""
    check_mode(mode)
    if mode == "spider":
        gold_sql, pred_sql = postprocess(gold_sql), postprocess(pred_sql)
        if not keep_distinct:
            gold_sql, pred_sql = remove_distinct(gold_sql), remove_distinct(pred_sql)
        ordered = order_matters(gold_sql)
        return PreparedItem(replace_cur_year(gold_sql), replace_cur_year(pred_sql), mode, ordered)
    return PreparedItem(gold_sql, pred_sql, mode, False)


def judge(gold: ExecResult, pred: ExecResult, *, mode: str, ordered: bool) -> Verdict:
    """Compare two finished executions: the EX :class:`~evaluation.verdict.Verdict`.

    ``reason`` is ``match``, ``mismatch``, ``pred_error``, ``pred_timeout``, ``pred_too_large`` or
    ``gold_failed`` (the gold itself did not run: never counted correct); both executor statuses and
    the first error message are kept, the rows are not.
    """
    message = (pred.message if not pred.ok else gold.message if not gold.ok else "")[:300]
    if not gold.ok:
        reason, correct = "gold_failed", False
    elif not pred.ok:
        reason, correct = f"pred_{pred.status}", False
    else:
        correct = results_match(gold.rows, pred.rows, mode=mode, ordered=ordered)
        reason = "match" if correct else "mismatch"
    return Verdict(correct, reason, pred.status, gold.status, message)


def exec_match(
    db_path: str | Path,
    gold_sql: str,
    pred_sql: str,
    *,
    mode: str = "spider",
    keep_distinct: bool = False,
    limits: Limits = Limits(),
) -> Verdict:
    """Run gold and prediction on one database (read-only, bounded) and compare the results.

    A missing ``db_path`` raises :class:`~evaluation.errors.DataNotFoundError`; SQL errors,
    timeouts and oversized results make the verdict incorrect (``reason`` says which).
    """
    pair = prepare_item(gold_sql, pred_sql, mode=mode, keep_distinct=keep_distinct)
    with ReadOnlyDatabase(db_path, limits) as db:
        gold = db.execute(pair.gold_sql)
        pred = db.execute(pair.pred_sql)
    return judge(gold, pred, mode=pair.mode, ordered=pair.ordered)


class GoldCache:
    """Gold results per (db file, prepared gold SQL), and one open connection per db file.

    The one gold-result cache of the project: ``k`` predictions of a question (or a D_val judged for
    every model) run the gold once per database file instead of once per prediction.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.dbs: dict[Path, ReadOnlyDatabase] = {}
        self.results: dict[tuple[Path, str], ExecResult] = {}

    def db(self, path: Path) -> ReadOnlyDatabase:
        """The open connection to ``path`` (opened on first use)."""
        if path not in self.dbs:
            self.dbs[path] = ReadOnlyDatabase(path, self.limits)
        return self.dbs[path]

    def gold(self, path: Path, sql: str) -> ExecResult:
        """The result of the (prepared) gold ``sql`` on ``path``, run on first use."""
        key = (path, sql)
        if key not in self.results:
            self.results[key] = self.db(path).execute(sql)
        return self.results[key]

    def verdict(self, path: Path, pair: PreparedItem) -> Verdict:
        """:func:`judge` of a prepared pair on ``path``: the gold from the cache, the prediction run now."""
        gold = self.gold(path, pair.gold_sql)
        pred = self.db(path).execute(pair.pred_sql)
        return judge(gold, pred, mode=pair.mode, ordered=pair.ordered)

    def close(self) -> None:
        for db in self.dbs.values():
            db.close()

    def __enter__(self) -> GoldCache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
