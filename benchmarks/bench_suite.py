"""Benchmark: `evaluate build-suite` for every present Spider dev database, then TS of the gold on it.

    SPFT_DATA_ROOT=/work/shared/data python benchmarks/bench_suite.py [--workers N] [--candidates K] [--size S]

Builds the suites in a temporary folder (removed afterwards), prints the per-db / overall table
(neighbours, distinguishable, killed, suite size, dropped candidates) and the build time, then scores
the dev gold against itself with ``--metric ex,ts`` on the suite and checks that TS is 100%.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from evaluation.inputs import load_items
from evaluation.runner import EvalConfig, evaluate_items
from evaluation.suite import SuiteConfig, build_suite, format_suite_table


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--candidates", type=int, default=SuiteConfig.candidates)
    ap.add_argument("--size", type=int, default=SuiteConfig.size)
    ap.add_argument("--pad", action="store_true", help="SuiteConfig.pad: fill each suite up to --size")
    a = ap.parse_args()
    spider = Path(os.environ.get("SPFT_DATA_ROOT", "../shared/data")) / "spider"
    db_root, dev = spider / "database", spider / "dev.json"
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        out = Path(tmp) / "suite"
        t0 = time.perf_counter()
        manifest = build_suite(
            db_root, dev, out, SuiteConfig(size=a.size, candidates=a.candidates, workers=a.workers, pad=a.pad)
        )
        built = time.perf_counter() - t0
        print(format_suite_table(manifest))
        print(
            f"build-suite: {built:.1f} s wall, workers={a.workers}, candidates={a.candidates}, size={a.size}, pad={a.pad}"
        )
        gold_pred = Path(tmp) / "pred.sql"
        import json

        gold_pred.write_text("".join(" ".join(d["query"].split()) + "\n" for d in json.loads(dev.read_text())))
        config = EvalConfig(db_root=db_root, metrics=("ex", "ts"), suite_dir=out, workers=a.workers)
        missing = lambda g: not config.db_path(g.db_id).is_file()  # noqa: E731
        pairs = load_items(dev, gold_pred, unjudgeable=missing).items
        t0 = time.perf_counter()
        results = evaluate_items(pairs, config)
        judged = [r for r in results if r.verdicts["ts"].correct is not None]
        ok = sum(1 for r in judged if r.verdicts["ts"].correct)
        print(f"gold-vs-gold TS: {ok}/{len(judged)} in {time.perf_counter() - t0:.1f} s")
        return 0 if ok == len(judged) else 1


if __name__ == "__main__":
    sys.exit(main())
