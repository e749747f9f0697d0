"""Benchmark ``synth generate``: wall time, examples/s, acceptance rate, template coverage, and the
Spider hardness distribution of the output next to the training SQL's (quality: bench_quality.py).

    SPFT_DATA_ROOT=/path/to/data python benchmarks/bench_generate.py            # 3000 on Spider
    python benchmarks/bench_generate.py --db demo --n 300
    python benchmarks/bench_generate.py --profile                               # + cProfile top 25
    python benchmarks/bench_generate.py --cache-dir /tmp/c; python benchmarks/bench_generate.py --cache-dir /tmp/c
                                        # cold, then warm template cache (the second skips extraction)
    python benchmarks/bench_generate.py --judge ts --suite-cache /tmp/suites   # + "is it new?" on test suites
                                        # (run twice: cold, then warm suite cache; issue 11)

Target (issue #2): 3000 verified Spider examples in < 60 s wall on a 2-core machine.
Nothing is written unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="spider")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db-ids", default="")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-prompts", action="store_true")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None, help="also write the outputs here")
    ap.add_argument("--cache-dir", type=Path, default=None, help="template + prompt cache (default: none)")
    ap.add_argument("--profile", action="store_true", help="print the cProfile top 25 (cumulative)")
    ap.add_argument("--judge", default="ex", choices=("ex", "ts"), help="synth generate --judge")
    ap.add_argument("--suite-cache", type=Path, default=None, help="--judge ts: suite cache (default: a temp folder)")
    args = ap.parse_args(argv)

    import tempfile

    from synth.generation import GenerateConfig, generate, write_outputs

    tmp = tempfile.TemporaryDirectory(prefix="bench-suites-") if args.judge == "ts" and not args.suite_cache else None
    config = GenerateConfig(
        db=args.db,
        n=args.n,
        seed=args.seed,
        data_root=args.data_root,
        db_ids=tuple(x for x in args.db_ids.split(",") if x),
        workers=args.workers,
        prompts=not args.no_prompts,
        cache_dir=args.cache_dir,
        judge=args.judge,
        suite_cache=args.suite_cache or (Path(tmp.name) if tmp else None),
    )
    prof = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    result = generate(config, progress=None)
    if prof:
        prof.disable()
    if args.out:
        write_outputs(result, args.out)
    wall = time.perf_counter() - t0
    c, t = result.manifest["counts"], result.manifest["timings"]
    summary = {
        "db": args.db,
        "n": args.n,
        "workers": args.workers,
        "wall_s": round(wall, 2),
        "examples_per_s": round(c["accepted"] / wall, 1),
        "attempts": c["attempts"],
        "acceptance_rate": c["acceptance_rate"],
        "template_coverage": c["template_coverage"],
        "template_coverage_weighted": c["template_coverage_weighted"],
        "templates_used": c["templates_used"],
        "templates_total": c["templates_total"],
        "template_cache": result.manifest["cache"]["templates"],
        "rejections": c["rejections"],
        "hardness_output": c["hardness"]["output"]["shares"],
        "hardness_training": c["hardness"]["training"]["shares"],
        "timings": t,
    }
    if args.judge == "ts":
        summary["judge"] = {k: v for k, v in c["judge"].items() if k != "flips"}
        summary["suites"] = {k: result.manifest["cache"][k] for k in ("suites_built", "suites_reused")}
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(summary, indent=2))
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25)
        print(s.getvalue(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
