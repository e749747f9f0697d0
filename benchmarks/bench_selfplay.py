"""One round of our self-play training vs TRL's DPOTrainer (sigmoid loss) on the same pairs.

Same tiny model, same pairs, CPU, same batch size and steps. Reports steps/s of the training loop
(reference log-probs excluded for ours: they are precomputed and cached once per round; TRL computes
them in its own way, timed as part of its train()) and peak RSS of each run (separate processes).

    python benchmarks/bench_selfplay.py --data out/ --model ckpt/ [--pairs runs/x/round-1/pairs.jsonl]

Without --pairs, pairs are built from the model's own greedy outputs on D_val (one self-play round).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(model: str, pairs: list[dict], batch: int, epochs: float, max_length: int) -> dict:
    from train.logprobs import batched_logps
    from train.modeling import load_model, load_tokenizer
    from train.selfplay_trainer import PairCollator, encode_pairs, make_selfplay_trainer_class
    from train.sft import training_arguments

    tok = load_tokenizer(model)
    enc = encode_pairs(tok, pairs, max_length)
    ref = load_model(model, trainable=False)
    t_ref = time.perf_counter()
    rc = batched_logps(ref, [e["chosen"] for e in enc], tok.pad_token_id)
    rr = batched_logps(ref, [e["rejected"] for e in enc], tok.pad_token_id)
    ref_s = time.perf_counter() - t_ref
    feats = [dict(e, ref_chosen_logps=c, ref_rejected_logps=r) for e, c, r in zip(enc, rc, rr)]
    del ref
    with tempfile.TemporaryDirectory() as d:
        args = training_arguments(Path(d), seed=0, epochs=epochs, lr=1e-4, batch_size=batch, grad_accum=1,
                                  evaluate=False, logging_steps=1000, remove_unused_columns=False, save_strategy="no")
        tr = make_selfplay_trainer_class()(model=load_model(model), args=args, train_dataset=feats,
                                           data_collator=PairCollator(tok.pad_token_id), processing_class=tok,
                                           variant="spin", lam=0.1)
        t = time.perf_counter()
        tr.train()
        dt = time.perf_counter() - t
    return {"impl": "ours (spin weights = sigmoid DPO)", "steps": tr.state.global_step, "train_s": round(dt, 3),
            "steps_per_s": round(tr.state.global_step / dt, 3), "ref_logps_s": round(ref_s, 3),
            "peak_rss_mb": round(_peak_rss_mb(), 1)}


def run_trl(model: str, pairs: list[dict], batch: int, epochs: float, max_length: int) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from train.formatting import render_prompt
    from train.modeling import load_model, load_tokenizer

    tok = load_tokenizer(model)
    eos = tok.eos_token
    ds = Dataset.from_list([{"prompt": render_prompt(tok, p["prompt"]), "chosen": p["chosen"] + eos,
                             "rejected": p["rejected"] + eos} for p in pairs])
    with tempfile.TemporaryDirectory() as d:
        args = DPOConfig(output_dir=d, beta=0.1, loss_type="sigmoid", per_device_train_batch_size=batch,
                         num_train_epochs=epochs, learning_rate=1e-4, max_length=max_length, report_to="none",
                         use_cpu=True, save_strategy="no", logging_steps=1000, disable_tqdm=True, seed=0)
        tr = DPOTrainer(model=load_model(model), ref_model=load_model(model, trainable=False), args=args,
                        train_dataset=ds, processing_class=tok)
        t = time.perf_counter()
        tr.train()
        dt = time.perf_counter() - t
    return {"impl": "trl DPOTrainer sigmoid", "steps": tr.state.global_step, "train_s": round(dt, 3),
            "steps_per_s": round(tr.state.global_step / dt, 3), "peak_rss_mb": round(_peak_rss_mb(), 1)}


def build_pairs(data: str, model: str, max_new_tokens: int) -> list[dict]:
    from train.io import data_root_for, read_examples
    from train.pool import new_pool
    from train.selfplay import build_pairs as bp
    from train.selfplay import generate_sql
    from train.selfplay_config import SelfPlayConfig

    val = read_examples(Path(data) / "val.jsonl")
    cfg = SelfPlayConfig(data=data, out="unused", model=model, max_new_tokens=max_new_tokens)
    entry = new_pool(model).entries[0]
    with tempfile.TemporaryDirectory() as d:
        preds = generate_sql(entry, val, cfg, Path(d))
    return bp(val, preds, data_root_for(data), entry)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--impl", choices=["ours", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--pairs-json", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.impl:  # child process: one implementation, so peak RSS is its own
        pairs = json.loads(Path(a.pairs_json).read_text())
        fn = run_ours if a.impl == "ours" else run_trl
        print(json.dumps(fn(a.model, pairs, a.batch_size, a.epochs, a.max_length)))
        return
    if a.pairs:
        pairs = [json.loads(x) for x in Path(a.pairs).read_text().splitlines() if x.strip()]
    else:
        pairs = build_pairs(a.data, a.model, a.max_new_tokens)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(pairs, f)
    results = []
    for impl in ("ours", "trl"):
        cmd = [sys.executable, __file__, "--data", a.data, "--model", a.model, "--impl", impl, "--pairs-json", f.name,
               "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--max-length", str(a.max_length)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            results.append({"impl": impl, "error": out.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    Path(f.name).unlink()
    print(json.dumps({"pairs": len(pairs), "batch_size": a.batch_size, "epochs": a.epochs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
