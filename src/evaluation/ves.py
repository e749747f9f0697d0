"""Valid Efficiency Score (BIRD) and its reward-based variant R-VES, from timings.

Official BIRD procedure, reproduced: for an EX-correct prediction, time prediction and gold
``repeats`` times, take the per-repeat ratio ``gold_time / pred_time``, drop ratios outside
``mean ± 3σ`` (strictly, as BIRD's ``clean_abnormal``; when all ratios are equal none is dropped),
average the rest. VES of the item = ``sqrt(ratio) * 100``; an incorrect item scores 0.
R-VES (BIRD mini-dev) maps the ratio to a reward: >=2 -> 1.25, [1,2) -> 1, [0.5,1) -> 0.75,
[0.25,0.5) -> 0.5, <0.25 -> 0.25, incorrect -> 0; the score is the mean reward * 100.

Timing is injectable (``timer(db, sql) -> seconds``) so the arithmetic is tested exactly.
"""

from __future__ import annotations

import math
import platform
import sqlite3
from collections.abc import Callable, Sequence

from evaluation.executor import ReadOnlyDatabase

Timer = Callable[[ReadOnlyDatabase, str], float]


def wall_timer(db: ReadOnlyDatabase, sql: str) -> float:
    """Seconds to execute and fetch ``sql`` (the executor's own measurement)."""
    return db.execute(sql).elapsed_s


def clean_outliers(values: Sequence[float]) -> list[float]:
    """Keep values strictly within mean ± 3 population std; all of them when the spread is 0."""
    n = len(values)
    if n == 0:
        return []
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    if std == 0:
        return list(values)
    return [v for v in values if mean - 3 * std < v < mean + 3 * std]


def time_ratio(gold_times: Sequence[float], pred_times: Sequence[float]) -> float:
    """Mean of the cleaned per-repeat ratios ``gold / pred`` (BIRD's ``iterated_execute_sql``)."""
    ratios = [g / max(p, 1e-9) for g, p in zip(gold_times, pred_times, strict=True)]
    kept = clean_outliers(ratios)
    return sum(kept) / len(kept) if kept else 0.0


def measure_ratio(db: ReadOnlyDatabase, gold_sql: str, pred_sql: str, repeats: int, timer: Timer = wall_timer) -> float:
    """Alternate prediction and gold runs ``repeats`` times and return the cleaned mean ratio."""
    pred_times, gold_times = [], []
    for _ in range(repeats):
        pred_times.append(timer(db, pred_sql))
        gold_times.append(timer(db, gold_sql))
    return time_ratio(gold_times, pred_times)


def ves_score(ratio: float, correct: bool) -> float:
    return math.sqrt(ratio) * 100 if correct and ratio > 0 else 0.0


def rves_reward(ratio: float, correct: bool) -> float:
    if not correct or ratio <= 0:
        return 0.0
    if ratio >= 2:
        return 1.25
    if ratio >= 1:
        return 1.0
    if ratio >= 0.5:
        return 0.75
    if ratio >= 0.25:
        return 0.5
    return 0.25


def machine_info() -> dict:
    """Recorded in reports: VES depends on the machine that timed it."""
    import os

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
