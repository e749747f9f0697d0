"""Summaries of item results: the per-hardness table, ``report.json`` and ``items.jsonl``."""

from __future__ import annotations

import hashlib
import json
import platform
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from evaluation.fileio import write_atomic
from evaluation.hardness import LEVELS
from evaluation.runner import EvalConfig, ItemResult
from evaluation.ves import machine_info

COLUMNS = (*LEVELS, "all")
_TITLES = {"ex": "EXECUTION ACCURACY", "ts": "TEST-SUITE ACCURACY", "ves": "VALID EFFICIENCY SCORE"}


def _level_of(r: ItemResult) -> str:
    return r.hardness if r.hardness in LEVELS else "unknown"


def _score_metric(results: Sequence[ItemResult], metric: str) -> dict:
    """Per level: ``count`` judged items, ``correct``, ``score`` (accuracy in [0,1], VES on 0..)."""
    out: dict[str, dict] = {}
    groups: dict[str, list[ItemResult]] = {c: [] for c in COLUMNS}
    for r in results:
        v = r.verdicts.get(metric)
        if v is None or v.correct is None:
            continue
        groups["all"].append(r)
        groups.setdefault(_level_of(r), []).append(r)
    for level, items in groups.items():
        n = len(items)
        correct = sum(bool(r.verdicts[metric].correct) for r in items)
        entry = {"count": n, "correct": correct, "score": (correct / n) if n else None}
        if metric == "ves":
            entry["score"] = (sum(r.verdicts[metric].extra["score"] for r in items) / n) if n else None
            entry["rves"] = (100 * sum(r.verdicts[metric].extra["reward"] for r in items) / n) if n else None
        out[level] = entry
    statuses = Counter(r.verdicts[metric].status for r in results if metric in r.verdicts)
    return {"by_hardness": out, "statuses": dict(sorted(statuses.items()))}


def build_report(
    results: Sequence[ItemResult],
    config: EvalConfig,
    *,
    gold_path: str | Path | None = None,
    pred_path: str | Path | None = None,
    pairing: str = "by_id",
    warnings: Iterable[str] = (),
    seconds: float | None = None,
) -> dict:
    """The JSON report (see ``data_schemas/eval_report.schema.json``)."""
    import sqlglot

    skipped = [r for r in results if r.skipped]
    missing = sorted({r.db_id for r in skipped})
    warnings = list(warnings)
    if skipped:
        warnings.append(
            f"{len(skipped)} item(s) skipped: database file missing for {', '.join(missing)} "
            "(not counted in any score)"
        )
    report: dict = {
        "config": {
            "metrics": list(config.metrics),
            "compare": config.compare,
            "keep_distinct": config.keep_distinct,
            "db_root": str(config.db_root),
            "suite_dir": str(config.suite_dir) if config.suite_dir else None,
            "timeout_s": config.limits.timeout_s,
            "max_rows": config.limits.max_rows,
            "max_memory_mb": config.limits.max_memory_mb,
        },
        "inputs": {
            "gold": _file_info(gold_path),
            "pred": _file_info(pred_path),
            "pairing": pairing,
        },
        "counts": {
            "items": len(results),
            "evaluated": len(results) - len(skipped),
            "skipped_missing_db": len(skipped),
            "missing_db_ids": missing,
            "hardness": dict(Counter(_level_of(r) for r in results)),
            "gold_failed": sum(
                1 for r in results if any(v.status == "gold_failed" for v in r.verdicts.values())
            ),
        },
        "ambiguous_gold": dict(Counter(f for r in results for f in r.ambiguity)),
        "scores": {m: _score_metric(results, m) for m in config.metrics},
        "warnings": warnings,
        "versions": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "sqlglot": sqlglot.__version__,
        },
    }
    if "ts" in config.metrics:
        no_suite = [r for r in results if r.verdicts.get("ts") and r.verdicts["ts"].status == "no_suite"]
        ids = sorted({r.db_id for r in no_suite})
        report["scores"]["ts"]["no_suite"] = {"items": len(no_suite), "db_ids": ids}
        if no_suite:
            warnings.append(
                f"TS: {len(no_suite)} item(s) have no test suite ({', '.join(ids[:10])}"
                f"{'...' if len(ids) > 10 else ''}); they are excluded from TS, not scored by EX"
            )
    if "ves" in config.metrics:
        report["ves"] = {"repeats": config.ves_repeats, "machine": machine_info()}
    if seconds is not None:
        report["seconds"] = round(seconds, 3)
    return report


def _file_info(path: str | Path | None) -> dict | None:
    if path is None:
        return None
    p = Path(path)
    h = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
    return {"path": str(p), "sha256": h}


def format_table(report: dict) -> str:
    """The official script's layout: counts, then one block per metric, columns per hardness."""
    lines = []
    head = f"{'':<20}" + "".join(f"{c:<20}" for c in COLUMNS)
    lines.append(head)
    counts = report["counts"]["hardness"]
    lines.append(f"{'count':<20}" + "".join(f"{counts.get(c, 0) if c != 'all' else report['counts']['items']:<20}" for c in COLUMNS))
    for metric, s in report["scores"].items():
        lines.append(f"{'=' * 20}   {_TITLES[metric]:^24}   {'=' * 20}")
        by = s["by_hardness"]
        lines.append(f"{'judged':<20}" + "".join(f"{by[c]['count']:<20}" for c in COLUMNS))
        label = {"ex": "execution", "ts": "test-suite", "ves": "ves"}[metric]
        lines.append(f"{label:<20}" + "".join(f"{_fmt(by[c]['score'], metric):<20}" for c in COLUMNS))
        if metric == "ves":
            lines.append(f"{'r-ves':<20}" + "".join(f"{_fmt(by[c]['rves'], metric):<20}" for c in COLUMNS))
    return "\n".join(lines)


def _fmt(x: float | None, metric: str) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if metric == "ves" else f"{x:.3f}"


def write_json_atomic(path: str | Path, obj: dict) -> None:
    write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_details(path: str | Path, results: Sequence[ItemResult]) -> None:
    write_atomic(path, "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in results))

