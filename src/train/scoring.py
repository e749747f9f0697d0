"""Judging generated SQL through ``evaluation`` only: EX on D_val and self-play rewards R.

R(y', x) = 1 when the opponent's SQL y' does not execute to the gold result (SPFT-SQL eq. 2),
0 when it does. Pairs whose gold SQL itself fails cannot be judged and get ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.executor import Limits
from train.io import db_path_of

DEFAULT_LIMITS = Limits(timeout_s=5.0, max_rows=100_000)


@dataclass(frozen=True)
class Judged:
    """One prediction judged against its gold: ``correct`` is None when the gold itself failed."""

    id: str
    correct: bool | None
    reason: str


def judge_predictions(
    examples: Sequence[dict[str, Any]],
    pred_sqls: Sequence[str],
    data_root: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Judged]:
    """As :func:`evaluation.ex.exec_match` per pair, with one connection per database file and each
    gold query run once per file (``k`` samples of a question, or a D_val scored for every pool
    model, would otherwise reopen the database and rerun the gold for every prediction)."""
    from evaluation.ex import judge, prepare_pair
    from evaluation.executor import ExecResult, ReadOnlyDatabase

    dbs: dict[Path, ReadOnlyDatabase] = {}
    golds: dict[tuple[Path, str], ExecResult] = {}
    out = []
    try:
        for ex, sql in zip(examples, pred_sqls, strict=True):
            path = db_path_of(ex, data_root)
            pair = prepare_pair(ex["sql"], sql or "")
            if path not in dbs:
                dbs[path] = ReadOnlyDatabase(path, limits)
            if (path, pair.gold_sql) not in golds:
                golds[path, pair.gold_sql] = dbs[path].execute(pair.gold_sql)
            v = judge(golds[path, pair.gold_sql], dbs[path].execute(pair.pred_sql), mode=pair.mode, ordered=pair.ordered)
            correct = None if v.reason == "gold_failed" else bool(v.correct)
            out.append(Judged(str(ex["id"]), correct, v.reason))
    finally:
        for db in dbs.values():
            db.close()
    return out


def ex_accuracy(judged: Sequence[Judged]) -> float:
    """Share of examples judged correct (gold failures count as wrong: the data is bad, not the model)."""
    return sum(1 for j in judged if j.correct) / len(judged) if judged else 0.0


def reward(j: Judged) -> int | None:
    """SPFT-SQL eq. 2: 1 if the execution result differs from the gold one, else 0."""
    return None if j.correct is None else (0 if j.correct else 1)
