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
    from evaluation.ex import exec_match

    out = []
    for ex, sql in zip(examples, pred_sqls, strict=True):
        v = exec_match(db_path_of(ex, data_root), ex["sql"], sql or "", limits=limits)
        correct = None if v.reason == "gold_failed" else bool(v.correct)
        out.append(Judged(str(ex["id"]), correct, v.reason))
    return out


def ex_accuracy(judged: Sequence[Judged]) -> float:
    """Share of examples judged correct (gold failures count as wrong: the data is bad, not the model)."""
    return sum(1 for j in judged if j.correct) / len(judged) if judged else 0.0


def reward(j: Judged) -> int | None:
    """SPFT-SQL eq. 2: 1 if the execution result differs from the gold one, else 0."""
    return None if j.correct is None else (0 if j.correct else 1)
