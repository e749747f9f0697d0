"""Benchmark: Spider dev gold-vs-gold EX over every present database, and TS on a 100-file suite.

    SPFT_DATA_ROOT=/work/shared/data python benchmarks/bench_evaluate.py [--workers N] [--repeat K]
    SPFT_DATA_ROOT=/work/shared/data python benchmarks/bench_evaluate.py --ts-suite 100 [--workers N]

EX: prints items, seconds and queries/s for the library call (process pool, gold cached per db) and
checks that every judged item is correct. Reference: the official test-suite-sql-eval takes about
2.7 s wall for the 972 present dev questions on the 2-core development machine.

TS (``--ts-suite N``): builds N perturbed copies of ``concert_singer`` in a temporary folder under
/tmp (removed afterwards), scores its dev questions gold-vs-gold (the worst case: no early stop,
every item runs on every file) with ``--workers 1`` and with the pool, and prints (item, file)
runs/s. Gold results are cached per suite file, so each distinct gold runs once per file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from evaluation.inputs import Item
from evaluation.runner import EvalConfig, evaluate_items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("SPFT_DATA_ROOT", "../shared/data"))
    ap.add_argument("--workers", type=int, default=0, help="0 = os.cpu_count()")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-flags", action="store_true", help="skip the ambiguous-gold probes")
    ap.add_argument("--ts-suite", type=int, default=0, help="N > 0: TS benchmark on N suite files instead")
    args = ap.parse_args()
    spider = Path(args.data_root) / "spider"
    dev = json.loads((spider / "dev.json").read_text())
    if args.ts_suite:
        return bench_ts(spider, dev, args.ts_suite, args.workers or os.cpu_count() or 1)
    pairs = [Item(str(i), ex["db_id"], ex["query"], ex["query"]) for i, ex in enumerate(dev)]
    config = EvalConfig(
        db_root=spider / "database", metrics=("ex",), workers=args.workers, flag_ambiguous=not args.no_flags
    )
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        results = evaluate_items(pairs, config)
        times.append(time.perf_counter() - t0)
    judged = [r for r in results if not r.skipped]
    correct = sum(bool(r.verdicts["ex"].correct) for r in judged)
    best, med = min(times), statistics.median(times)
    print(f"items={len(pairs)} judged={len(judged)} correct={correct} skipped={len(pairs) - len(judged)}")
    print(
        f"workers={args.workers or os.cpu_count()} best={best:.3f}s median={med:.3f}s judged/s={len(judged) / best:.0f}"
    )
    return 0 if correct == len(judged) else 1


def build_suite(src: Path, dst_dir: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` copies of ``src`` whose singer ages and stadium capacities are shuffled per copy."""
    rng = random.Random(seed)
    dst_dir.mkdir(parents=True)
    paths = []
    for k in range(n):
        p = dst_dir / f"suite{k:03d}.sqlite"
        shutil.copyfile(src, p)
        con = sqlite3.connect(p)
        for (sid,) in con.execute("SELECT Singer_ID FROM singer").fetchall():
            con.execute("UPDATE singer SET Age = ? WHERE Singer_ID = ?", (rng.randint(18, 70), sid))
        for (sid,) in con.execute("SELECT Stadium_ID FROM stadium").fetchall():
            con.execute("UPDATE stadium SET Capacity = ? WHERE Stadium_ID = ?", (rng.randint(1000, 60000), sid))
        con.commit()
        con.close()
        paths.append(p)
    return paths


def bench_ts(spider: Path, dev: list[dict], n: int, workers: int) -> int:
    db_id = "concert_singer"
    pairs = [Item(str(i), db_id, ex["query"], ex["query"]) for i, ex in enumerate(dev) if ex["db_id"] == db_id]
    with tempfile.TemporaryDirectory(prefix="spft-ts-bench-", dir="/tmp") as tmp:
        t0 = time.perf_counter()
        build_suite(spider / "database" / db_id / f"{db_id}.sqlite", Path(tmp) / db_id, n)
        built = time.perf_counter() - t0
        runs = len(pairs) * n
        golds = len({p.gold_sql for p in pairs})
        print(
            f"TS suite: {n} files for {db_id} (built in {built:.2f}s); items={len(pairs)} "
            f"(item, file) runs={runs}; gold executions with the cache={golds * n} (without: {runs})"
        )
        status = 0
        for w in sorted({1, workers}):
            config = EvalConfig(
                db_root=spider / "database", metrics=("ts",), suite_dir=Path(tmp), workers=w, flag_ambiguous=False
            )
            t0 = time.perf_counter()
            results = evaluate_items(pairs, config)
            took = time.perf_counter() - t0
            ok = sum(bool(r.verdicts["ts"].correct) for r in results)
            sizes = {r.verdicts["ts"].extra.get("suite_size") for r in results}
            print(
                f"workers={w} seconds={took:.3f} runs/s={runs / took:.0f} correct={ok}/{len(pairs)} suite_size={sizes}"
            )
            status |= int(ok != len(pairs) or sizes != {n})
    return status


if __name__ == "__main__":
    sys.exit(main())
