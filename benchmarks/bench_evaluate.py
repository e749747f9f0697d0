"""Benchmark: Spider dev gold-vs-gold EX over every present database.

    SPFT_DATA_ROOT=/work/shared/data python benchmarks/bench_evaluate.py [--workers N] [--repeat K]

Prints items, seconds and queries/s for the library call (process pool, gold cached per db) and
checks that every judged item is correct. Reference: the official test-suite-sql-eval takes about
2.7 s wall for the 972 present dev questions on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from evaluation.inputs import Pair
from evaluation.runner import EvalConfig, evaluate_pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("SPFT_DATA_ROOT", "../shared/data"))
    ap.add_argument("--workers", type=int, default=0, help="0 = os.cpu_count()")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-flags", action="store_true", help="skip the ambiguous-gold probes")
    args = ap.parse_args()
    spider = Path(args.data_root) / "spider"
    dev = json.loads((spider / "dev.json").read_text())
    pairs = [Pair(str(i), ex["db_id"], ex["query"], ex["query"]) for i, ex in enumerate(dev)]
    config = EvalConfig(db_root=spider / "database", metrics=("ex",), workers=args.workers,
                        flag_ambiguous=not args.no_flags)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        results = evaluate_pairs(pairs, config)
        times.append(time.perf_counter() - t0)
    judged = [r for r in results if not r.skipped]
    correct = sum(bool(r.verdicts["ex"].correct) for r in judged)
    best, med = min(times), statistics.median(times)
    print(f"items={len(pairs)} judged={len(judged)} correct={correct} skipped={len(pairs) - len(judged)}")
    print(f"workers={args.workers or os.cpu_count()} best={best:.3f}s median={med:.3f}s "
          f"judged/s={len(judged) / best:.0f}")
    return 0 if correct == len(judged) else 1


if __name__ == "__main__":
    sys.exit(main())
