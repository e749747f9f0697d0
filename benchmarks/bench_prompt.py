"""Prompt builder benchmark: index build time, retrieval latency, BM25 implementations, recall.

Run (figures go to docs/prompt.md)::

    SPFT_DATA_ROOT=/work/shared/data python benchmarks/bench_prompt.py [--quick] [--skip-1m]

Sections:
1. index build time for every Spider database (cold cache in a temporary folder);
2. per-question latency on Spider dev (value retrieval, and the whole prompt), p50 / p95;
3. coarse BM25 side by side — rank_bm25 (Python loop over documents), bm25s, and ours (numpy
   inverted index) — on the Spider database with the most values and on a generated database with
   1,000,000 distinct values (written to a temporary folder, never into the repository);
4. recall on Spider dev: gold tables / columns kept by filtering at several (k1, k2), gold string
   values retrieved, and prompt length against the full schema;
5. training prompts as ``synth generate`` builds them (question + its SQL, whose tables and
   columns are kept): per-prompt latency over Spider training pairs, CPU time and wall time.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.schema import schema_from_sqlite
from synth.prompt import PromptBuilder, PromptConfig
from synth.prompt.content import load_content
from synth.prompt.gold import sql_items
from synth.prompt.text import STOP_WORDS, tokenize
from synth.sources import load_examples, resolve_benchmark


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def n_tokens(text: str) -> int:
    """Word and punctuation tokens: a tokenizer-free proxy for model tokens (BPE counts run higher)."""
    return len(_TOKEN.findall(text))


_TOKEN = re.compile(r"\w+|[^\w\s]")


def ms(x: float) -> str:
    return f"{x * 1000:.2f} ms"


# ---- 1. build ---------------------------------------------------------------------------------
def bench_build(bench, cache_dir: Path) -> dict[str, int]:
    sizes, times = {}, []
    t_all = time.perf_counter()
    for db_id in bench.available_db_ids:
        schema = bench.schema(db_id)
        t = time.perf_counter()
        content = load_content(schema.db_path, schema, cache_dir)
        times.append((time.perf_counter() - t, db_id))
        sizes[db_id] = len(content.index)
    total = time.perf_counter() - t_all
    slowest = max(times)
    print(
        f"[build] {len(times)} Spider dbs, {sum(sizes.values()):,} indexed values: total {total:.2f} s, "
        f"p50 {ms(pct([t for t, _ in times], 0.5))}, slowest {slowest[1]} {slowest[0]:.2f} s"
    )
    t = time.perf_counter()
    for db_id in bench.available_db_ids:
        schema = bench.schema(db_id)
        load_content(schema.db_path, schema, cache_dir)
    print(f"[build] warm reload of all caches (fingerprint + load): {time.perf_counter() - t:.2f} s")
    return sizes


# ---- 2 + 4. dev latency and recall --------------------------------------------------------------
def bench_dev(bench, examples, cache_dir: Path, settings: list[tuple[int, int]]) -> None:
    builders: dict[tuple[str, int, int], PromptBuilder] = {}
    skipped = 0
    lat_values, lat_build = [], []
    recall = {
        s: {
            "t_hit": 0,
            "t_all": 0,
            "c_hit": 0,
            "c_all": 0,
            "chars": 0,
            "full": 0,
            "toks": 0,
            "full_toks": 0,
            "q_all": 0,
        }
        for s in settings
    }
    v_hit = v_all = v_in_db = v_in_prompt = 0
    known_values: dict[str, set[str]] = {}
    full_cfg = PromptConfig(full_schema=True)
    for ex in examples:
        schema = bench.schema(ex["db_id"])
        if schema.db_path is None:
            skipped += 1
            continue
        gold = sql_items(ex["query"], schema)
        q = ex["question"]
        full_key = (ex["db_id"], 0, 0)
        if full_key not in builders:
            builders[full_key] = PromptBuilder(schema, full_cfg, cache_dir)
            builders[full_key].match_values("warm up the typo index")
        full_prompt = builders[full_key].build(q).schema_prompt
        full_len, full_toks = len(full_prompt), n_tokens(full_prompt)
        t = time.perf_counter()
        matches = builders[full_key].match_values(q)
        lat_values.append(time.perf_counter() - t)
        # value recall: gold string literals that are values of the database
        index = builders[full_key].content.index
        if ex["db_id"] not in known_values:
            known_values[ex["db_id"]] = {v.lower() for v in index.values}
        known = known_values[ex["db_id"]]
        for lit in gold.literals:
            if lit.lower() not in known:
                continue
            v_in_db += 1
            v_hit += any(m.value.lower() == lit.lower() for m in matches)
        v_all += len(gold.literals)
        for k1, k2 in settings:
            key = (ex["db_id"], k1, k2)
            if key not in builders:
                builders[key] = PromptBuilder(schema, PromptConfig(k1=k1, k2=k2), cache_dir)
            t = time.perf_counter()
            p = builders[key].build(q)
            if (k1, k2) == settings[0]:
                lat_build.append(time.perf_counter() - t)
                for lit in gold.literals:
                    if lit.lower() in known:
                        v_in_prompt += any(m.value.lower() == lit.lower() for m in p.matched_values)
            r = recall[(k1, k2)]
            kept_t = {x.lower() for x in p.tables}
            r["t_hit"] += len(gold.tables & kept_t)
            r["t_all"] += len(gold.tables)
            sel = builders[key].select(q, builders[key].match_values(q))
            kept_c = {(t.lower(), c.lower()) for t, cols in sel.columns.items() for c in cols}
            r["c_hit"] += len(gold.columns & kept_c)
            r["c_all"] += len(gold.columns)
            r["q_all"] += gold.tables <= kept_t
            r["chars"] += len(p.schema_prompt)
            r["full"] += full_len
            r["toks"] += n_tokens(p.schema_prompt)
            r["full_toks"] += full_toks
    n = len(lat_values)
    print(f"[dev] {n} questions ({skipped} skipped: database file missing)")
    print(
        f"[dev] value retrieval latency: p50 {ms(pct(lat_values, 0.5))}, p95 {ms(pct(lat_values, 0.95))}, max {ms(max(lat_values))}"
    )
    print(f"[dev] whole prompt (k1,k2)={settings[0]}: p50 {ms(pct(lat_build, 0.5))}, p95 {ms(pct(lat_build, 0.95))}")
    print(
        f"[dev] value recall: {v_hit}/{v_in_db} = {v_hit / max(v_in_db, 1):.3f} of gold string literals present "
        f"in the db ({v_all} literals in all); still in the filtered prompt at {settings[0]}: "
        f"{v_in_prompt / max(v_in_db, 1):.3f}"
    )
    for (k1, k2), r in recall.items():
        print(
            f"[dev] k1={k1} k2={k2}: table recall {r['t_hit'] / r['t_all']:.3f}, all gold tables kept "
            f"{r['q_all'] / n:.3f}, column recall {r['c_hit'] / r['c_all']:.3f}, "
            f"schema prompt {r['chars'] / r['full']:.2f} x full ({r['chars'] / n:.0f} vs {r['full'] / n:.0f} chars, "
            f"{r['toks'] / n:.0f} vs {r['full_toks'] / n:.0f} word/punctuation tokens)"
        )


# ---- 5. training prompts (question + SQL), the `synth generate` prompt step ------------------------
def bench_train_prompts(bench, examples, cache_dir: Path) -> None:
    builders: dict[str, PromptBuilder] = {}
    pairs = [ex for ex in examples if bench.schema(ex["db_id"]).db_path is not None]
    for ex in pairs:  # open every index first: the step measured is building, not loading
        if ex["db_id"] not in builders:
            builders[ex["db_id"]] = PromptBuilder(bench.schema(ex["db_id"]), PromptConfig(), cache_dir)
            builders[ex["db_id"]].match_values("warm up the typo index")
    lat = []
    wall, cpu = time.perf_counter(), time.process_time()
    for ex in pairs:
        t = time.perf_counter()
        builders[ex["db_id"]].build(ex["question"], ex["query"])
        lat.append(time.perf_counter() - t)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"[train-prompts] {len(pairs)} Spider train pairs, build(question, sql): p50 {ms(pct(lat, 0.5))}, "
        f"p95 {ms(pct(lat, 0.95))}; total {wall:.2f} s wall, {cpu:.2f} s CPU"
    )


# ---- 3. BM25 implementations ---------------------------------------------------------------------
def query_tokens(q: str) -> list[str]:
    return [t for t in tokenize(q) if t not in STOP_WORDS]


def bench_bm25(name: str, index, questions: list[str], rank_bm25_queries: int) -> None:
    import bm25s
    from rank_bm25 import BM25Okapi

    corpus = [tokenize(v) for v in index.values]
    ours = []
    for q in questions:
        t = time.perf_counter()
        index.coarse(q, 50)
        ours.append(time.perf_counter() - t)
    fine = []
    for q in questions:
        t = time.perf_counter()
        index.search(q)
        fine.append(time.perf_counter() - t)

    t = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(corpus, show_progress=False)
    b_build = time.perf_counter() - t
    vocab = retriever.vocab_dict
    bl = []
    for q in questions:
        toks = [x for x in query_tokens(q) if x in vocab] or ["_nothing_"]
        t = time.perf_counter()
        if toks != ["_nothing_"]:
            retriever.retrieve([toks], k=min(50, len(corpus)), show_progress=False, n_threads=1)
        bl.append(time.perf_counter() - t)

    t = time.perf_counter()
    rb = BM25Okapi([c or [""] for c in corpus])
    r_build = time.perf_counter() - t
    rl = []
    for q in questions[:rank_bm25_queries]:
        t = time.perf_counter()
        scores = rb.get_scores(query_tokens(q))
        np.argpartition(-scores, min(49, len(scores) - 1))[:50]
        rl.append(time.perf_counter() - t)
    print(f"[bm25:{name}] {len(corpus):,} values, {len(questions)} questions")
    print(
        f"  ours (numpy inverted index): coarse p50 {ms(pct(ours, 0.5))} p95 {ms(pct(ours, 0.95))}; "
        f"coarse+fine p50 {ms(pct(fine, 0.5))} p95 {ms(pct(fine, 0.95))}"
    )
    print(f"  bm25s: index {b_build:.2f} s, query p50 {ms(pct(bl, 0.5))} p95 {ms(pct(bl, 0.95))}")
    print(
        f"  rank_bm25: index {r_build:.2f} s, query p50 {ms(pct(rl, 0.5))} p95 {ms(pct(rl, 0.95))} ({len(rl)} queries)"
    )


def make_1m_db(path: Path, n: int, seed: int = 0) -> list[str]:
    """A table of ``n`` distinct three-word names from a 3,000-word pseudo vocabulary."""
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ra", "ten", "vo", "shi", "bar", "den", "qu", "ist", "ol", "an", "er", "sto", "pel"]
    words = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(6000)})[:3000]
    names: set[str] = set()
    while len(names) < n:
        names.add(" ".join(rng.choice(words).capitalize() for _ in range(3)))
    ordered = sorted(names)
    rng.shuffle(ordered)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE item (item_id INTEGER PRIMARY KEY, name TEXT, category TEXT)")
    con.executemany(
        "INSERT INTO item VALUES (?, ?, ?)",
        ((i, v, f"category {i % 50}") for i, v in enumerate(ordered)),
    )
    con.commit()
    con.close()
    return ordered


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + rng.choice("aeiou") + word[i + 1 :]


def bench_1m(n: int, queries: int, rank_bm25_queries: int) -> None:
    with tempfile.TemporaryDirectory(prefix="spft_bench_1m_") as tmp:
        db = Path(tmp) / "big.sqlite"
        t = time.perf_counter()
        names = make_1m_db(db, n)
        print(f"[1m] generated {n:,} distinct values in {time.perf_counter() - t:.1f} s")
        schema = schema_from_sqlite(db, "big")
        t = time.perf_counter()
        content = load_content(db, schema, Path(tmp) / "cache")
        print(f"[1m] index build (read + BM25 + cache write): {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        content = load_content(db, schema, Path(tmp) / "cache")
        print(f"[1m] cached load: {time.perf_counter() - t:.2f} s")
        rng = random.Random(1)
        questions, targets = [], []
        for i in range(queries):
            v = rng.choice(names)
            if i % 2:
                parts = v.split()
                parts[1] = typo(parts[1], rng)
                questions.append(f"Which category is the item called {' '.join(parts)} in?")
            else:
                questions.append(f"Show the category of {v}")
            targets.append(v)
        content.index.search("warm up the typo index")
        hits = sum(any(m.value == v for m in content.index.search(q)) for q, v in zip(questions, targets))
        print(f"[1m] exact value found for {hits}/{len(questions)} questions (half carry a typo)")
        bench_bm25("1M", content.index, questions, rank_bm25_queries)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--quick", action="store_true", help="300 dev questions, 100k-value generated db")
    ap.add_argument("--skip-1m", action="store_true")
    args = ap.parse_args()
    bench = resolve_benchmark("spider", args.data_root)
    examples = load_examples(bench.dev_path)
    if args.quick:
        examples = examples[:: max(1, len(examples) // 300)]
    with tempfile.TemporaryDirectory(prefix="spft_bench_cache_") as tmp:
        cache = Path(tmp)
        sizes = bench_build(bench, cache)
        bench_dev(bench, examples, cache, [(4, 6), (3, 5), (5, 8), (6, 10)])
        bench_train_prompts(bench, load_examples(bench.train_path)[: 300 if args.quick else 3000], cache)
        largest = max(sizes, key=sizes.get)
        schema = bench.schema(largest)
        index = load_content(schema.db_path, schema, cache).index
        index.search("warm up the typo index")
        qs = [ex["question"] for ex in load_examples(bench.train_path) if ex["db_id"] == largest][:200]
        bench_bm25(f"spider/{largest}", index, qs or [ex["question"] for ex in examples[:200]], 50)
    if not args.skip_1m:
        bench_1m(100_000 if args.quick else 1_000_000, 100, 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
