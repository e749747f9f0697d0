"""Our ``train sft --lora`` against TRL's ``SFTTrainer`` on a real model, and ``train predict`` fp32 vs bf16.

Training, what is the same for both arms: the model (a local HF folder, e.g. ``make smollm2``), the
examples (text-to-SQL prompt records; only those whose rendered prompt + SQL + EOS fit ``--max-length``,
so neither implementation truncates), the rendered prompt text (the tokenizer's chat template), EOS
after the answer, loss on the answer tokens only, LoRA (r 16, alpha 32, dropout 0.05, q/k/v/o), batch
size, steps, learning rate 2e-4 with linear decay and no warm-up, AdamW, seed 0 (so the same shuffled
batches), ``--dtype`` (fp32, or bf16 autocast over fp32 weights: our ``--dtype bf16``, TRL's ``bf16=True``,
its default), gradient checkpointing as ``--gradient-checkpointing``
says for both (TRL's default turns it on), torch threads. Each arm runs in its own process (so peak
RSS is its own), and the arms alternate ``--repeat`` times so a busy shared machine slows both alike.

* ``ours``: ``train.sft.run_sft`` as ``train sft`` runs it (one epoch of exactly steps x batch
  examples; its end-of-epoch D_val loss on one example and its checkpoint save are inside its time).
* ``trl``: ``trl.SFTTrainer`` on prompt-completion records (the same text), ``save_strategy="no"``.

Reported per arm: ``tokens_per_s`` (the trained examples' tokens, padding excluded, over the Trainer's
``train_runtime``), ``peak_rss_mb`` (the process's maximum resident set), ``final_loss`` (last
logged training loss), best of the repeats by time and the median.

Generation: ``train.models.decoding.predict`` (what ``train predict`` runs) on ``--gen-prompts``
prompts at ``--gen-batch-size``, greedy, ``--max-new-tokens``, the model loaded in fp32 and in bf16;
prompts/s, each in its own process.

    python benchmarks/bench_sft.py --model models/smollm2-135m-instruct --data out/bench/smol/dev_prompts.jsonl
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

ARMS = ("ours", "trl")
GEN_DTYPES = ("fp32", "bf16")
LR = 2e-4
LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "targets": ("q_proj", "k_proj", "v_proj", "o_proj")}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fitting_examples(model: str, records: list[dict], max_length: int, n: int) -> tuple[list[dict], int]:
    """The first ``n`` records whose encoded prompt + SQL + EOS fit ``max_length``, and their token count."""
    from train.models.formatting import encode_prompt_answer, model_input, render_prompt, target_text
    from train.models.modeling import load_tokenizer

    tok = load_tokenizer(model)
    picked, tokens = [], 0
    for r in records:
        enc = encode_prompt_answer(
            tok, render_prompt(tok, model_input(r, "text2sql")), target_text(r, "text2sql"), 10**6
        )
        if len(enc.input_ids) <= max_length:
            picked.append(r)
            tokens += len(enc.input_ids)
        if len(picked) == n:
            return picked, tokens
    raise SystemExit(f"only {len(picked)} of {len(records)} examples fit --max-length {max_length}; need {n}")


def run_ours(model: str, examples: list[dict], a: argparse.Namespace) -> dict:
    from train.sft import read_log_history, run_sft
    from train.sft_config import SFTConfig

    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        data.mkdir()
        (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in examples))
        (data / "val.jsonl").write_text(json.dumps(examples[0]) + "\n")
        cfg = SFTConfig(
            data=str(data),
            model=model,
            out=str(Path(d) / "out"),
            epochs=1.0,
            learning_rate=LR,
            batch_size=a.batch_size,
            max_length=a.max_length,
            max_new_tokens=16,
            lora=True,
            lora_r=LORA["r"],
            lora_alpha=LORA["alpha"],
            lora_dropout=LORA["dropout"],
            lora_targets=LORA["targets"],
            eval_ex=False,
            logging_steps=1,
            save_total_limit=1,
            gradient_checkpointing=a.gradient_checkpointing,
            dtype=a.dtype,
            data_root=d,
        )
        run_sft(cfg)
        history = read_log_history(cfg.out)
    losses = [h["loss"] for h in history if "loss" in h]
    runtime = next(h["train_runtime"] for h in history if "train_runtime" in h)
    return {"steps": len(losses), "train_s": runtime, "final_loss": losses[-1]}


def run_trl(model: str, examples: list[dict], a: argparse.Namespace) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    from train.models.formatting import model_input, render_prompt, target_text
    from train.models.modeling import load_model, load_tokenizer

    set_seed(0)
    tok = load_tokenizer(model)
    ds = Dataset.from_list(
        [
            {
                "prompt": render_prompt(tok, model_input(r, "text2sql")),
                "completion": target_text(r, "text2sql") + tok.eos_token,
            }
            for r in examples
        ]
    )
    with tempfile.TemporaryDirectory() as d:
        args = SFTConfig(
            output_dir=d,
            num_train_epochs=1.0,
            learning_rate=LR,
            lr_scheduler_type="linear",
            per_device_train_batch_size=a.batch_size,
            max_length=a.max_length,
            completion_only_loss=True,
            gradient_checkpointing=a.gradient_checkpointing,
            bf16=a.dtype == "bf16",
            report_to="none",
            use_cpu=True,
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            seed=0,
            data_seed=0,
            dataloader_num_workers=0,
        )
        peft = LoraConfig(
            r=LORA["r"],
            lora_alpha=LORA["alpha"],
            lora_dropout=LORA["dropout"],
            target_modules=list(LORA["targets"]),
            task_type="CAUSAL_LM",
        )
        tr = SFTTrainer(model=load_model(model), args=args, train_dataset=ds, processing_class=tok, peft_config=peft)
        out = tr.train()
    losses = [h["loss"] for h in tr.state.log_history if "loss" in h]
    return {"steps": len(losses), "train_s": out.metrics["train_runtime"], "final_loss": losses[-1]}


def run_generation(model: str, records: list[dict], a: argparse.Namespace, dtype: str) -> dict:
    import torch

    from train.models.decoding import GenerationOptions, HFGenerator, predict
    from train.models.modeling import load_model, load_tokenizer

    tok = load_tokenizer(model)
    m = load_model(model, trainable=False, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
    opts = GenerationOptions(max_new_tokens=a.max_new_tokens, batch_size=a.gen_batch_size)
    t = time.perf_counter()
    preds = predict(HFGenerator(m, tok, opts), tok, records, options=opts, model_id=model)
    seconds = time.perf_counter() - t
    return {"prompts": len(preds), "gen_s": round(seconds, 2), "prompts_per_s": round(len(preds) / seconds, 3)}


STEP_ARMS = ("step-full-logits", "step-answer-logits", "step-answer-logits-gc")


def run_step(model: str, records: list[dict], a: argparse.Namespace, arm: str) -> dict:
    """One LoRA forward + backward of ``--batch-size`` x ``--max-length`` (fp32): transformers' own loss
    over every position's logits, or ours over the answer positions' only, with or without checkpointing."""
    import torch

    from train.models.formatting import CausalLMCollator
    from train.models.logprobs import answer_positions_only
    from train.models.modeling import LoraOptions, load_model, load_tokenizer
    from train.sft import answer_cross_entropy, encode_examples

    tok = load_tokenizer(model)
    batch = CausalLMCollator(tok.pad_token_id)(encode_examples(tok, records, "text2sql", a.max_length))
    lora = LoraOptions(LORA["r"], LORA["alpha"], LORA["dropout"], LORA["targets"])
    m = load_model(model, lora=lora, dtype=torch.float32)
    if arm.endswith("-gc"):
        m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    m.train()
    torch.manual_seed(0)
    loaded = _peak_rss_mb()
    t = time.perf_counter()
    if arm == "step-full-logits":
        loss = m(**batch).loss
    else:
        with answer_positions_only(m, batch["labels"]):
            out = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        loss = answer_cross_entropy(out, batch["labels"])
    loss.backward()
    shape = list(batch["input_ids"].shape)
    return {
        "shape": shape,
        "loss": loss.item(),
        "step_s": round(time.perf_counter() - t, 1),
        "loaded_mb": round(loaded),
    }


def _child(a: argparse.Namespace, job: dict) -> None:
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    records = job["records"]
    if a.arm == "ours":
        res = run_ours(a.model, records, a)
    elif a.arm == "trl":
        res = run_trl(a.model, records, a)
    elif a.arm in STEP_ARMS:
        res = run_step(a.model, records[: a.batch_size], a, a.arm)
    else:
        res = run_generation(a.model, records, a, a.arm.removeprefix("gen-"))
    if "train_s" in res:
        res["tokens_per_s"] = round(job["tokens"] / res["train_s"], 1)
    res.update(arm=a.arm, peak_rss_mb=round(_peak_rss_mb()))
    print(json.dumps(res))


def _spawn(a: argparse.Namespace, arm: str, job_file: str) -> dict:
    cmd = [sys.executable, __file__, "--model", a.model, "--data", a.data, "--arm", arm, "--job", job_file]
    for flag in (
        "dtype",
        "batch_size",
        "steps",
        "max_length",
        "threads",
        "gen_batch_size",
        "gen_prompts",
        "max_new_tokens",
    ):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(a, flag))]
    cmd += ["--gradient-checkpointing"] if a.gradient_checkpointing else ["--no-gradient-checkpointing"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        return {"arm": arm, "error": out.stderr.strip().splitlines()[-3:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict], time_key: str) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r[time_key]))
    best[f"{time_key}_median"] = round(statistics.median(r[time_key] for r in ok), 2)
    best["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in ok)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Local HF model folder (e.g. models/smollm2-135m-instruct).")
    ap.add_argument("--data", required=True, help="Prompt records with prompt and sql (`synth build-prompts`).")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4, help="Optimizer steps per training arm.")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="Training precision of both arms.")
    ap.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--repeat", type=int, default=2, help="Interleaved runs per arm; the fastest is reported.")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in every run (0 = torch's default).")
    ap.add_argument("--gen-batch-size", type=int, default=16)
    ap.add_argument("--gen-prompts", type=int, default=32, help="Prompts per generation run (0: no generation).")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument(
        "--memory-step",
        action="store_true",
        help="Only the memory of one LoRA step (fp32): full-vocabulary logits vs answer positions only, +/- checkpointing.",
    )
    a = ap.parse_args()
    if a.arm:  # child process: one arm, so peak RSS is its own
        _child(a, json.loads(Path(a.job).read_text()))
        return
    if a.memory_step:
        records = [json.loads(x) for x in Path(a.data).read_text().splitlines() if x.strip()][: a.batch_size]
        with tempfile.TemporaryDirectory() as d:
            job = Path(d) / "step.json"
            job.write_text(json.dumps({"records": records}))
            rows = [_spawn(a, arm, str(job)) for arm in STEP_ARMS]
        print(
            json.dumps(
                {"model": a.model, "batch_size": a.batch_size, "max_length": a.max_length, "steps": rows}, indent=2
            )
        )
        return
    records = [json.loads(x) for x in Path(a.data).read_text().splitlines() if x.strip()]
    train, tokens = fitting_examples(a.model, records, a.max_length, a.batch_size * a.steps)
    gen = records[: a.gen_prompts]
    with tempfile.TemporaryDirectory() as d:
        jobs = {"train": Path(d) / "train.json", "gen": Path(d) / "gen.json"}
        jobs["train"].write_text(json.dumps({"records": train, "tokens": tokens}))
        jobs["gen"].write_text(json.dumps({"records": gen}))
        runs: dict[str, list[dict]] = {}
        arms = list(ARMS) + ([f"gen-{t}" for t in GEN_DTYPES] if gen else [])
        for _ in range(a.repeat):
            for arm in arms:  # interleaved, so load changes on a shared machine hit every arm alike
                job = jobs["gen" if arm.startswith("gen-") else "train"]
                runs.setdefault(arm, []).append(_spawn(a, arm, str(job)))
    train_rows = {arm: _summary(runs[arm], "train_s") for arm in ARMS}
    report = {
        "model": a.model,
        "examples": len(train),
        "tokens": tokens,
        "batch_size": a.batch_size,
        "steps": a.steps,
        "max_length": a.max_length,
        "dtype": a.dtype,
        "gradient_checkpointing": a.gradient_checkpointing,
        "repeat": a.repeat,
        "threads": a.threads or "default",
        "train": train_rows,
        "generation": {arm: _summary(runs[arm], "gen_s") for arm in runs if arm.startswith("gen-")},
    }
    ours, trl = train_rows["ours"], train_rows["trl"]
    if "error" not in ours and "error" not in trl:
        report["ours_vs_trl"] = {
            "tokens_per_s": round(ours["tokens_per_s"] / trl["tokens_per_s"], 2),
            "peak_rss": round(ours["peak_rss_mb"] / trl["peak_rss_mb"], 2),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
