"""One round of our self-play training vs TRL's DPOTrainer (sigmoid loss = SPIN's) on the same pairs.

What is the same for every run: the model (a local checkpoint, fp32 on CPU), the pairs (one
self-play round: the model's own greedy SQL on D_val as y−, gold as y+, or ``--pairs FILE``), the
rendered prompt text, EOS after each answer, ``max_length`` (by default the longest pair, so no
sequence is truncated or dropped), batch size, epochs, learning rate, β = λ, seed, torch threads,
no gradient checkpointing (TRL's default turns it on), no evaluation, no checkpoint saving. Our run uses the ``spin``
weights (w = λ on every pair), which is exactly TRL's sigmoid DPO loss.

Three runs, each in its own process (so peak RSS is its own), best of ``--repeat``:

* ``ours``: reference log-probs computed once (the reference model is then freed), then training.
* ``trl``: DPOTrainer defaults: the reference model stays in memory and runs a forward pass on
  every step of every epoch.
* ``trl-precompute``: DPOTrainer with ``precompute_ref_log_probs=True`` (the same strategy as ours;
  TRL does it inside its constructor, timed here as its reference time).

Reported: ``train_s`` / ``steps_per_s`` of the training loop, ``ref_s`` (separate reference pass,
0 when it is inside the loop), ``total_s = ref_s + train_s`` (the fair end-to-end figure), peak RSS.
What still differs: TRL tokenizes prompt and answer in its own ``datasets.map`` step (timed in its
``init_s``) and with ``keep_start`` drops pairs whose prompt alone reaches ``max_length`` (we cut
the prompt from the left); TRL also computes extra metrics per step. TRL's default also pads
every batch to one width, as ours does.

    python benchmarks/bench_selfplay.py --data out/ --model ckpt/ [--split train] [--pairs runs/x/round-1/pairs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPLS = ("ours", "trl", "trl-precompute")
BETA = 0.1
LR = 1e-4


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _result(impl: str, steps: int, train_s: float, ref_s: float) -> dict:
    return {
        "impl": impl,
        "steps": steps,
        "train_s": round(train_s, 3),
        "steps_per_s": round(steps / train_s, 3),
        "ref_s": round(ref_s, 3),
        "total_s": round(ref_s + train_s, 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_ours(model: str, pairs: list[dict], batch: int, epochs: float, max_length: int) -> dict:
    from transformers import set_seed

    from train.fields import OptimiserOptions
    from train.models.logprobs import batched_logps
    from train.models.modeling import load_model, load_tokenizer
    from train.selfplay_trainer import PairCollator, encode_pairs, make_selfplay_trainer_class
    from train.sft import training_arguments

    set_seed(0)
    tok = load_tokenizer(model)
    enc = encode_pairs(tok, pairs, max_length)
    t = time.perf_counter()
    ref = load_model(model, trainable=False)
    rc = batched_logps(ref, [e["chosen"] for e in enc], tok.pad_token_id, batch)
    rr = batched_logps(ref, [e["rejected"] for e in enc], tok.pad_token_id, batch)
    del ref
    ref_s = time.perf_counter() - t
    feats = [dict(e, ref_chosen_logps=c, ref_rejected_logps=r) for e, c, r in zip(enc, rc, rr)]
    with tempfile.TemporaryDirectory() as d:
        args = training_arguments(
            Path(d),
            OptimiserOptions(epochs=epochs, learning_rate=LR, batch_size=batch),
            seed=0,
            evaluate=False,
            logging_steps=10_000,
            remove_unused_columns=False,
            save_strategy="no",
        )
        tr = make_selfplay_trainer_class()(
            model=load_model(model),
            args=args,
            train_dataset=feats,
            data_collator=PairCollator(tok.pad_token_id),
            processing_class=tok,
            variant="spin",
            lam=BETA,
        )
        t = time.perf_counter()
        tr.train()
        train_s = time.perf_counter() - t
    return _result("ours", tr.state.global_step, train_s, ref_s)


def run_trl(model: str, pairs: list[dict], batch: int, epochs: float, max_length: int, precompute: bool) -> dict:
    from datasets import Dataset
    from transformers import set_seed
    from trl import DPOConfig, DPOTrainer

    from train.models.formatting import render_prompt
    from train.models.modeling import load_model, load_tokenizer

    set_seed(0)
    tok = load_tokenizer(model)
    eos = tok.eos_token
    ds = Dataset.from_list(
        [
            {"prompt": render_prompt(tok, p["prompt"]), "chosen": p["chosen"] + eos, "rejected": p["rejected"] + eos}
            for p in pairs
        ]
    )
    with tempfile.TemporaryDirectory() as d:
        args = DPOConfig(
            output_dir=d,
            beta=BETA,
            loss_type=["sigmoid"],
            per_device_train_batch_size=batch,
            num_train_epochs=epochs,
            learning_rate=LR,
            max_length=max_length,
            report_to="none",
            use_cpu=True,
            save_strategy="no",
            logging_steps=10_000,
            disable_tqdm=True,
            seed=0,
            precompute_ref_log_probs=precompute,
            precompute_ref_batch_size=batch,
            gradient_checkpointing=False,
            dataloader_num_workers=0,
        )
        t = time.perf_counter()
        tr = DPOTrainer(
            model=load_model(model),
            ref_model=load_model(model, trainable=False),
            args=args,
            train_dataset=ds,
            processing_class=tok,
        )
        init_s = time.perf_counter() - t  # tokenization (+ the reference pass when precomputing)
        t = time.perf_counter()
        tr.train()
        train_s = time.perf_counter() - t
    res = _result(
        "trl-precompute" if precompute else "trl", tr.state.global_step, train_s, init_s if precompute else 0.0
    )
    res["init_s"] = round(init_s, 3)
    return res


def build_pairs(data: str, model: str, max_new_tokens: int, split: str = "val") -> list[dict]:
    """One self-play round's pairs: the model's own greedy SQL on D_val (or train) judged by the executor."""
    from train.io import data_root_for, read_examples
    from train.pool import new_pool
    from train.selfplay import build_pairs as bp
    from train.selfplay import generate_sql
    from train.selfplay_config import SelfPlayConfig

    val = read_examples(Path(data) / f"{split}.jsonl")
    cfg = SelfPlayConfig(data=data, out="unused", model=model, max_new_tokens=max_new_tokens)
    entry = new_pool(model).entries[0]
    with tempfile.TemporaryDirectory() as d:
        preds = generate_sql(entry, val, cfg, Path(d))
    return bp(val, preds, data_root_for(data), entry)


def longest_pair(model: str, pairs: list[dict]) -> int:
    """Tokens of the longest prompt + answer + EOS among the pairs."""
    from train.models.formatting import render_prompt
    from train.models.modeling import load_tokenizer

    tok = load_tokenizer(model)
    prompt = {
        p["prompt"]: len(tok(render_prompt(tok, p["prompt"]), add_special_tokens=False)["input_ids"]) for p in pairs
    }
    return max(
        prompt[p["prompt"]] + len(tok(p[k], add_special_tokens=False)["input_ids"]) + 1
        for p in pairs
        for k in ("chosen", "rejected")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="`synth generate` output folder (val.jsonl = D_val).")
    ap.add_argument("--model", required=True, help="Local checkpoint (e.g. a `train sft` output).")
    ap.add_argument("--pairs", help="pairs.jsonl of a self-play round (default: built from the model's outputs).")
    ap.add_argument(
        "--split",
        choices=["val", "train"],
        default="val",
        help="Examples the pairs are built from (train gives more pairs on small data).",
    )
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument(
        "--max-length",
        type=int,
        default=0,
        help="Token limit per sequence (0 = the longest pair, so neither implementation truncates).",
    )
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1, help="Runs per implementation; the fastest is reported.")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in every run (0 = torch's default).")
    ap.add_argument("--impl", choices=IMPLS, help=argparse.SUPPRESS)
    ap.add_argument("--pairs-json", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.impl:  # child process: one implementation, so peak RSS is its own
        import torch

        if a.threads:
            torch.set_num_threads(a.threads)
        pairs = json.loads(Path(a.pairs_json).read_text())
        if a.impl == "ours":
            res = run_ours(a.model, pairs, a.batch_size, a.epochs, a.max_length)
        else:
            res = run_trl(a.model, pairs, a.batch_size, a.epochs, a.max_length, precompute=a.impl == "trl-precompute")
        print(json.dumps(res))
        return
    if a.pairs:
        pairs = [json.loads(x) for x in Path(a.pairs).read_text().splitlines() if x.strip()]
    else:
        pairs = build_pairs(a.data, a.model, a.max_new_tokens, a.split)
    if not a.max_length:
        a.max_length = longest_pair(a.model, pairs) + 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(pairs, f)
    runs: dict[str, list[dict]] = {impl: [] for impl in IMPLS}
    for _ in range(a.repeat):
        for impl in IMPLS:  # interleaved, so load changes on a shared machine hit every impl alike
            cmd = [
                sys.executable,
                __file__,
                "--data",
                a.data,
                "--model",
                a.model,
                "--impl",
                impl,
                "--pairs-json",
                f.name,
                "--batch-size",
                str(a.batch_size),
                "--epochs",
                str(a.epochs),
                "--max-length",
                str(a.max_length),
                "--threads",
                str(a.threads),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                runs[impl].append({"impl": impl, "error": out.stderr.strip().splitlines()[-3:]})
            else:
                runs[impl].append(json.loads(out.stdout.strip().splitlines()[-1]))
    Path(f.name).unlink()
    results = []
    for impl, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            results.append(rs[-1])
            continue
        best = dict(min(ok, key=lambda r: r["total_s"]))
        best["total_s_median"] = round(statistics.median(r["total_s"] for r in ok), 3)
        results.append(best)
    print(
        json.dumps(
            {
                "pairs": len(pairs),
                "max_length": a.max_length,
                "batch_size": a.batch_size,
                "epochs": a.epochs,
                "repeat": a.repeat,
                "threads": a.threads or "default",
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
