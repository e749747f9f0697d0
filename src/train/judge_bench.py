"""What ``--judge ts`` costs and changes, measured: ``python -m train.judge_bench``.

Predictions are mutations of the gold queries (the near misses a model makes: a comparison
operator, an aggregate, a dropped condition ...), made with :func:`evaluation.suite.neighbours`:

* ``single``: every neighbour of each gold -- the same mutations the suite's distillation kills, so
  their flip rate is what the judge is built to catch;
* ``double``: neighbours of those neighbours (two edits), never seen by the distillation -- a
  held-out check of whether the suite also catches errors it was not distilled for.

Each set is judged through the training path, :func:`train.scoring.judge_predictions`, first by EX,
then by a ``ts`` :class:`~train.scoring.Judge` on an empty cache (suites built), then again (suites
reused). Reported: counts, EX-correct, EX-correct but TS-wrong (flips), seconds of each pass.
Deterministic: no sampling, the mutations come in tree order.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def mutated_predictions(
    golds: Sequence[dict[str, Any]], db_root: Path, *, per_gold: int = 60, double_per_gold: int = 20
) -> dict[str, list[tuple[dict[str, Any], str]]]:
    """``{"single": [(example, pred_sql)], "double": [...]}`` for examples with ``db_id`` and ``sql``."""
    from evaluation.executor import ReadOnlyDatabase
    from evaluation.schema import schema_from_database
    from evaluation.suite import neighbours

    tables_of: dict[str, Any] = {}
    out: dict[str, list[tuple[dict[str, Any], str]]] = {"single": [], "double": []}
    for ex in golds:
        db = ex["db_id"]
        if db not in tables_of:
            with ReadOnlyDatabase(db_root / db / f"{db}.sqlite") as conn:
                tables_of[db] = schema_from_database(conn)
        singles = neighbours(ex["sql"], tables_of[db], limit=per_gold)
        out["single"].extend((ex, s) for s in singles)
        seen = {ex["sql"], *singles}
        doubles: list[str] = []
        for s in singles:
            for d in neighbours(s, tables_of[db], limit=per_gold):
                if d not in seen and len(doubles) < double_per_gold:
                    seen.add(d)
                    doubles.append(d)
        out["double"].extend((ex, d) for d in doubles)
    return out


def measure(
    golds: Sequence[dict[str, Any]],
    db_root: Path,
    cache: Path,
    *,
    suite_size: int = 20,
    per_gold: int = 60,
    double_per_gold: int = 20,
) -> dict[str, Any]:
    """Judge every mutated prediction by EX and by TS (empty cache, then warm); counts and seconds."""
    from train.scoring import Judge, judge_predictions

    data_root = db_root
    sets = mutated_predictions(golds, db_root, per_gold=per_gold, double_per_gold=double_per_gold)
    report: dict[str, Any] = {"golds": len(golds), "db_ids": len({g["db_id"] for g in golds}), "suite_size": suite_size}
    shutil.rmtree(cache, ignore_errors=True)
    for name in ("single", "double"):
        rows = sets[name]
        examples = [ex for ex, _ in rows]
        preds = [p for _, p in rows]
        t0 = time.perf_counter()
        ex = judge_predictions(examples, preds, data_root)
        ex_s = time.perf_counter() - t0
        runs = {}
        for run in ("cold", "warm"):
            judge = Judge("ts", suite_size=suite_size, suite_cache=str(cache))
            t0 = time.perf_counter()
            ts = judge_predictions(examples, preds, data_root, judge=judge)
            runs[run] = {
                "seconds": round(time.perf_counter() - t0, 3),
                "suites_built": judge.cache.builds,
                "suites_reused": judge.cache.reuses,
                "build_s": round(sum(s.build_s for s in judge.cache.used.values()), 3),
            }
        ex_correct = sum(1 for j in ex if j.correct)
        flips = sum(1 for e, t in zip(ex, ts, strict=True) if e.correct and t.correct is False)
        assert all(not (t.correct and not e.correct) for e, t in zip(ex, ts, strict=True)), "TS > EX"
        report[name] = {
            "predictions": len(rows),
            "ex_correct": ex_correct,
            "ts_correct": sum(1 for j in ts if j.correct),
            "flips": flips,
            "flip_rate_of_ex_correct": round(flips / ex_correct, 4) if ex_correct else None,
            "ex_seconds": round(ex_s, 3),
            "ts": runs,
        }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    from evaluation.inputs import load_gold

    ap = argparse.ArgumentParser(prog="python -m train.judge_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", required=True, type=Path, help="Gold file (Spider dev.json, JSONL, or SQL<TAB>db_id).")
    ap.add_argument("--db-root", required=True, type=Path, help="Folder of <db_id>/<db_id>.sqlite.")
    ap.add_argument("--cache", required=True, type=Path, help="Suite cache folder (emptied first).")
    ap.add_argument("--suite-size", type=int, default=20)
    ap.add_argument("--per-gold", type=int, default=60, help="Single mutations per gold (as --max-neighbours).")
    ap.add_argument("--double-per-gold", type=int, default=20, help="Two-edit mutations per gold.")
    ap.add_argument("--db-ids", default="", help="Comma-separated db_ids to keep (default: all present).")
    ap.add_argument("--out", type=Path, help="Write the report JSON here too.")
    a = ap.parse_args(argv)
    records, _ = load_gold(a.gold)
    keep = {d for d in a.db_ids.split(",") if d}
    golds = [
        {"id": r.id, "db_id": r.db_id, "sql": r.sql, "db_path": f"{r.db_id}/{r.db_id}.sqlite"}
        for r in records
        if (not keep or r.db_id in keep) and (a.db_root / r.db_id / f"{r.db_id}.sqlite").is_file()
    ]
    report = measure(
        golds, a.db_root, a.cache, suite_size=a.suite_size, per_gold=a.per_gold, double_per_gold=a.double_per_gold
    )
    text = json.dumps(report, indent=2)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
