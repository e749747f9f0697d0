"""How human-like is synthetic SQL? One table: rare patterns and Spider hardness, output vs training SQL.

    SPFT_DATA_ROOT=/path/to/data python benchmarks/bench_quality.py --out out/spider
    python benchmarks/bench_quality.py --db demo --out out/demo
    python benchmarks/bench_quality.py --generate --n 3000 --seed 0      # generate in memory first

Reads ``OUT/train.jsonl`` + ``OUT/val.jsonl`` (a ``synth generate`` folder) and the benchmark's own
training SQL, counts the patterns of :mod:`synth.quality` and the hardness levels of both with the
same code, and prints a markdown table (``--json`` for machine-readable output). Column roles come
from :mod:`synth.roles` on each database's data. With ``--generate`` it also prints the run's wall
time, acceptance rate, template coverage and semantic rejections.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _rows(out: Path) -> list[tuple[str, str]]:
    from evaluation.fileio import iter_jsonl_objects

    items = []
    for name in ("train.jsonl", "val.jsonl"):
        path = out / name
        if path.is_file():
            items += [(r["db_id"], r["sql"]) for _, r in iter_jsonl_objects(path)]
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="spider")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None, help="a synth generate output folder to measure")
    ap.add_argument("--generate", action="store_true", help="generate --n examples in memory and measure them")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from synth.quality import PATTERN_TITLES, measure
    from synth.roles import roles_of_file
    from synth.sources import resolve_benchmark

    bench = resolve_benchmark(args.db, args.data_root)
    schemas = bench.schemas
    available = set(bench.available_db_ids)

    def profiles_of(db_id: str):
        if db_id not in available:
            return {}
        return roles_of_file(schemas[db_id], str(bench.db_path(db_id)))

    columns: dict[str, object] = {}
    run: dict = {}
    if args.generate:
        from synth.generate import GenerateConfig, generate

        t0 = time.perf_counter()
        result = generate(
            GenerateConfig(db=args.db, n=args.n, seed=args.seed, data_root=args.data_root, cache_dir=args.cache_dir),
            progress=None,
        )
        c = result.manifest["counts"]
        run = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "acceptance_rate": c["acceptance_rate"],
            "templates_used": c["templates_used"],
            "templates_total": c["templates_total"],
            "template_coverage_weighted": c["template_coverage_weighted"],
            "semantic_rejections": {k: v for k, v in c["rejections"].items() if k.startswith("semantic:")},
            "hardness": c.get("hardness"),
        }
        columns["generated"] = measure([(r["db_id"], r["sql"]) for r in result.train + result.val], schemas, profiles_of)
    if args.out is not None:
        items = _rows(args.out)
        if not items:
            print(f"Error: no train.jsonl / val.jsonl under {args.out}", file=sys.stderr)
            return 1
        columns[args.out.as_posix()] = measure(items, schemas, profiles_of)
    train = [(ex.get("db_id", ""), ex.get("query") or ex.get("sql") or "") for ex in bench.train_examples()]
    columns[f"{bench.name} train"] = measure(train, schemas, profiles_of)

    if args.json:
        print(json.dumps({"run": run, **{k: v.to_dict() for k, v in columns.items()}}, indent=2))
        return 0
    names = list(columns)
    print("| pattern | " + " | ".join(f"{n} (n={columns[n].counted})" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for p, title in PATTERN_TITLES.items():
        cells = [f"{100 * columns[n].share(p):.1f}% ({columns[n].patterns[p]})" for n in names]
        print(f"| {title} | " + " | ".join(cells) + " |")
    for level in ("easy", "medium", "hard", "extra"):
        cells = []
        for n in names:
            h = columns[n].hardness
            cells.append(f"{100 * h[level] / max(1, sum(h.values())):.1f}%")
        print(f"| hardness {level} | " + " | ".join(cells) + " |")
    for kind in ("fk", "same_name", "other"):
        cells = []
        for n in names:
            j = columns[n].joins
            cells.append(f"{100 * j[kind] / max(1, sum(j.values())):.1f}% ({j[kind]})")
        print(f"| JOIN ON: {kind} | " + " | ".join(cells) + " |")
    if run:
        print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
