"""How human-like is synthetic SQL? One table: rare patterns and Spider hardness, output vs training SQL.

    SPFT_DATA_ROOT=/path/to/data python benchmarks/bench_quality.py --out out/spider
    python benchmarks/bench_quality.py --out out/before --out out/after          # side by side
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


def names_of(columns: dict) -> list[str]:
    return list(columns)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="spider")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument(
        "--out",
        type=Path,
        action="append",
        default=[],
        help="a synth generate output folder to measure (repeatable: before/after side by side)",
    )
    ap.add_argument("--generate", action="store_true", help="generate --n examples in memory and measure them")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--semantic", action="store_true", help="also execute every query and count the semantic filters' failures"
    )
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
        from synth.generation import GenerateConfig, generate

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
        columns["generated"] = measure(
            [(r["db_id"], r["sql"]) for r in result.train + result.val], schemas, profiles_of
        )
    for out in args.out:
        items = _rows(out)
        if not items:
            print(f"Error: no train.jsonl / val.jsonl under {out}", file=sys.stderr)
            return 1
        columns[out.as_posix()] = measure(items, schemas, profiles_of)
    train = [(ex.get("db_id", ""), ex.get("query") or ex.get("sql") or "") for ex in bench.train_examples()]
    columns[f"{bench.name} train"] = measure(train, schemas, profiles_of)
    semantic: dict[str, object] = {}
    if args.semantic:
        from evaluation.executor import Limits, ReadOnlyDatabase
        from synth.quality import semantic_failures

        dbs: dict[str, ReadOnlyDatabase] = {}

        def database(db_id: str):
            if db_id not in available:
                return None
            if db_id not in dbs:
                dbs[db_id] = ReadOnlyDatabase(bench.db_path(db_id), Limits(timeout_s=2.0))
            return dbs[db_id]

        sources = {n: _rows(Path(n)) for n in names_of(columns) if Path(n).is_dir()}
        sources[f"{bench.name} train"] = train
        semantic = {n: semantic_failures(items, database) for n, items in sources.items()}
        for db in dbs.values():
            db.close()

    if args.json:
        print(json.dumps({"run": run, "semantic": semantic, **{k: v.to_dict() for k, v in columns.items()}}, indent=2))
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
    for check in ("degenerate_group", "filter_keeps_all", "identical_rows"):
        if not semantic:
            break
        cells = []
        for n in names:
            c = semantic.get(n)
            cells.append(f"{100 * c[check] / max(1, c['checked']):.1f}% ({c[check]})" if c is not None else "-")
        print(f"| semantic: {check} | " + " | ".join(cells) + " |")
    if run:
        print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
