"""Summaries of item results: the per-hardness table, ``report.json`` and ``items.jsonl``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evaluation.fileio import write_jsonl
from evaluation.hardness import LEVELS
from evaluation.provenance import file_info, package_versions
from evaluation.run_record import build_record, write_record
from evaluation.runner import EMPTY, EvalConfig, ItemResult
from evaluation.ves import machine_info

#: Identifies the report layout; bump when a field changes meaning.
REPORT_FORMAT = "spft-sql/eval-report/1"
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
    statuses = Counter(r.verdicts[metric].reason for r in results if metric in r.verdicts)
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
    gold_items: int | None = None,
    only_predicted: bool = False,
) -> dict:
    """The JSON report (see ``data_schemas/eval_report.schema.json``): the run record of
    :mod:`evaluation.run_record` (``config`` field by field as its parameters; no ``created``, so two
    reports of the same inputs differ only in ``seconds``) with the report's own sections.

    ``gold_items``/``only_predicted``: the gold file's size when only the predicted ids were scored.
    """
    skipped = [r for r in results if r.skipped]
    missing = sorted({r.db_id for r in skipped})
    warnings = list(warnings)
    if skipped:
        warnings.append(
            f"{len(skipped)} item(s) skipped: database file missing for {', '.join(missing)} (not counted in any score)"
        )
    empty = [r for r in results if _is_empty(r)]
    if empty:
        lucky = sum(1 for r in empty if any(v.correct for v in r.verdicts.values()))
        warnings.append(
            f"{len(empty)} empty prediction(s) (blank SQL), marked pred_status 'empty' in the details; "
            f"scored by the official rules, under which {lucky} of them count as correct (an empty query "
            "matches any gold whose result is empty)"
        )
    report = build_record(
        format=REPORT_FORMAT,
        command="evaluate",
        inputs={
            "gold": _file_info(gold_path),
            "pred": _file_info(pred_path),
            "pairing": pairing,
            "only_predicted": only_predicted,
        },
        parameters=config,
        versions=package_versions(["sqlglot"], sqlite=True),
        counts={
            "items": len(results),
            "gold_items": gold_items if gold_items is not None and gold_items >= 0 else len(results),
            "empty_predictions": len(empty),
            "evaluated": len(results) - len(skipped),
            "skipped_missing_db": len(skipped),
            "missing_db_ids": missing,
            "hardness": dict(Counter(_level_of(r) for r in results)),
            "gold_failed": sum(1 for r in results if any(v.reason == "gold_failed" for v in r.verdicts.values())),
        },
        sections={
            # what decides a verdict, flat (the layout of reports before the run record; kept for their readers)
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
            "ambiguous_gold": dict(Counter(f for r in results for f in r.ambiguity)),
            "scores": {m: _score_metric(results, m) for m in config.metrics},
            "warnings": warnings,
        },
    )
    if "ts" in config.metrics:
        no_suite = [r for r in results if r.verdicts.get("ts") and r.verdicts["ts"].reason == "no_suite"]
        ids = sorted({r.db_id for r in no_suite})
        report["scores"]["ts"]["no_suite"] = {"items": len(no_suite), "db_ids": ids}
        if no_suite:
            warnings.append(
                f"TS: {len(no_suite)} item(s) have no test suite ({', '.join(ids[:10])}"
                f"{'...' if len(ids) > 10 else ''}); they are excluded from TS, not scored by EX"
            )
    if "ves" in config.metrics:
        report["ves"] = {"repeats": config.ves_repeats, "machine": machine_info(), "timer": config.ves_timer}
    if seconds is not None:
        report["seconds"] = round(seconds, 3)
    return report


def _is_empty(r: ItemResult) -> bool:
    return not r.skipped and any(v.pred_status == EMPTY for v in r.verdicts.values())


def _file_info(path: str | Path | None) -> dict | None:
    return file_info(path, resolve=False)  # the path as the user gave it


def format_table(report: dict) -> str:
    """The official script's layout: counts, then one block per metric, columns per hardness.

    Every score is on one scale, percent (EX and TS: % correct; VES: the BIRD score, which is
    100 for a prediction as fast as the gold and can exceed 100; R-VES: mean reward x 100).
    """
    lines = []
    counts = report["counts"]
    if report["inputs"].get("only_predicted"):
        lines.append(
            f"scored {counts['items']} of {counts.get('gold_items', counts['items'])} gold items "
            "(--only-predicted: only ids present in the predictions)"
        )
    head = f"{'':<20}" + "".join(f"{c:<20}" for c in COLUMNS)
    lines.append(head)
    by_level = counts["hardness"]
    lines.append(
        f"{'count':<20}" + "".join(f"{by_level.get(c, 0) if c != 'all' else counts['items']:<20}" for c in COLUMNS)
    )
    for metric, s in report["scores"].items():
        lines.append(f"{'=' * 20}   {_TITLES[metric]:^24}   {'=' * 20}")
        by = s["by_hardness"]
        lines.append(f"{'judged':<20}" + "".join(f"{by[c]['count']:<20}" for c in COLUMNS))
        label = {"ex": "execution (%)", "ts": "test-suite (%)", "ves": "ves (%)"}[metric]
        lines.append(f"{label:<20}" + "".join(f"{_pct(by[c]['score'], metric):<20}" for c in COLUMNS))
        if metric == "ves":
            lines.append(f"{'r-ves (%)':<20}" + "".join(f"{_pct(by[c]['rves'], metric):<20}" for c in COLUMNS))
    return "\n".join(lines)


def _pct(x: float | None, metric: str) -> str:
    """Percent with one decimal; accuracies are stored in [0, 1], VES / R-VES already in percent."""
    if x is None:
        return "-"
    return f"{x:.1f}" if metric == "ves" else f"{100 * x:.1f}"


def write_details(path: str | Path, results: Sequence[ItemResult]) -> None:
    write_jsonl(path, (r.to_json() for r in results))


@dataclass(frozen=True)
class Report:
    """What one evaluation produced: the report (``report.json``), the per-item results, the warnings.

    Returned by :func:`evaluation.evaluate`; the ``evaluate`` command prints :meth:`table` and writes
    :meth:`write` (``--report``) and :meth:`write_details` (``--details``).
    """

    data: dict  # the JSON report, see build_report
    items: tuple[ItemResult, ...]  # per item, in the input order

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every warning of the run (inputs, skips, empty predictions, missing suites), in order."""
        return tuple(self.data["warnings"])

    def as_dict(self) -> dict:
        """The JSON report (``data_schemas/eval_report.schema.json``)."""
        return self.data

    def table(self) -> str:
        """The per-hardness table the command prints (:func:`format_table`)."""
        return format_table(self.data)

    def write(self, path: str | Path) -> None:
        """Write the JSON report to ``path`` atomically."""
        write_record(path, self.data)

    def write_details(self, path: str | Path) -> None:
        """Write one JSON line per item to ``path`` atomically."""
        write_details(path, self.items)
