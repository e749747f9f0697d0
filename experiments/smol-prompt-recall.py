#!/usr/bin/env python3
"""What the experiment's prompts show, on the sweep's selection split (never test): for each prompt
setting, how many questions keep every gold table / column when the prompt is built from the question
alone (training prompts always keep the gold's items), and SmolLM2 tokens per prompt (no chat template).
    experiments/smol-prompt-recall.py [SWEEP_DIR]     (after experiments/smol-sweep.sh's step 1)"""

import json
import sys
from pathlib import Path

from transformers import AutoTokenizer

from synth.prompt import PromptBuilder, PromptConfig
from synth.prompt.gold import sql_items
from synth.sources import resolve_benchmark

SWEEP = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / "runs" / "smol-sweep"
sel = [json.loads(line) for line in open(SWEEP / "data" / "val.jsonl")]
bench = resolve_benchmark(str(SWEEP / "experiment" / "split" / "bench"))
tok = AutoTokenizer.from_pretrained(str(Path(__file__).resolve().parents[1] / "models" / "smollm2-135m-instruct"))
cache = (SWEEP / "experiment" / "runs").glob("*/spft/vbi/cache")
cache = next(iter(cache), None)
for name, cfg in [
    ("k1 4 k2 4", PromptConfig(k2=4, sample_values=0)),
    ("k1 4 k2 6", PromptConfig(k2=6, sample_values=0)),
    ("k1 4 k2 10", PromptConfig(k2=10, sample_values=0)),
    ("k1 5 k2 8", PromptConfig(k1=5, k2=8, sample_values=0)),
    ("full", PromptConfig(full_schema=True, sample_values=0)),
    ("k1 4 k2 6 sv3", PromptConfig(k2=6)),
]:
    b = {}
    all_cols = all_tabs = 0
    ntok = []
    coln = colk = 0
    for ex in sel:
        s = bench.schema(ex["db_id"])
        pb = b.setdefault(ex["db_id"], PromptBuilder(s, cfg, cache))
        p = pb.build(ex["question"])
        items = sql_items(ex["sql"], s)
        selc = pb.select(ex["question"], pb.match_values(ex["question"]))
        kept = {(t.lower(), c.lower()) for t, cs in selc.columns.items() for c in cs}
        tabs = {t.lower() for t in selc.tables}
        gc = {(t, c) for t, c in items.columns if c != "*"}
        coln += len(gc)
        colk += len(gc & kept)
        all_cols += gc <= kept
        all_tabs += items.tables <= tabs
        ntok.append(len(tok(p.text)["input_ids"]))
    print(
        f"{name:14s} all-gold-tables {all_tabs}/{len(sel)}  all-gold-columns {all_cols}/{len(sel)}  column recall {colk}/{coln}  prompt tokens mean {sum(ntok) / len(ntok):.0f} max {max(ntok)}",
        flush=True,
    )
