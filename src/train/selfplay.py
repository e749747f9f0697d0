"""``train selfplay``: SPFT-SQL Algorithm 1 over a model pool, resumable round by round.

Each round: score every candidate on D_val by EX (cached per model and D_val hash); main = best,
opponent = worst not yet used; the opponent's greedy SQL y' on D_val (or train) is judged by
``evaluation`` -> reward R; pairs (prompt, chosen = gold, rejected = y', reward) are written as
JSONL; reference log-probs are computed once and cached; the main is trained with the chosen loss
and joins the pool. Per-round metrics go to ``rounds.jsonl`` + ``selfplay.png``; when the new
models lower the best D_val EX ``patience`` rounds in a row the run stops, and the best model
(``best.json``) is the result — a rollback to the best round.
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from train.io import (
    checkpoint_fingerprint,
    data_root_for,
    hash_records,
    read_examples,
    read_jsonl,
    split_paths,
    write_json,
    write_jsonl,
)
from train.pool import Pool, PoolEntry, load_pool, new_pool, save_pool
from train.selfplay_config import SelfPlayConfig

STATE_FILE = "state.json"


@dataclass(frozen=True)
class SelfPlayResult:
    """The best model of the run (after rollback) and the per-round metrics."""

    best: PoolEntry
    rounds: list[dict[str, Any]]
    stopped_early: bool


def _free() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def _load_for_inference(entry: PoolEntry):
    from train.modeling import check_compatible, load_model, load_tokenizer, pick_device

    tok = load_tokenizer(entry.path)
    model = load_model(entry.path, trainable=False, device=pick_device())
    check_compatible(model, tok, where=entry.path)
    return model, tok


def generate_sql(entry: PoolEntry, examples: list[dict], cfg: SelfPlayConfig, cache: Path) -> list[dict]:
    """Greedy predictions of one pool model, cached on disk by model fingerprint + data hash."""
    from train.generate import GenerationOptions, HFGenerator, predict

    key = f"{entry.id}-{checkpoint_fingerprint(entry.path)[:12]}-{hash_records(examples)[:12]}"
    path = cache / f"preds-{key}.jsonl"
    if path.is_file():
        return read_jsonl(path)
    opts = GenerationOptions(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.gen_batch_size, seed=cfg.seed)
    model, tok = _load_for_inference(entry)
    preds = predict(HFGenerator(model, tok, opts), tok, examples, options=opts, model_id=entry.path)
    del model
    _free()
    write_jsonl(path, preds)
    return preds


def score_pool(pool: Pool, val: list[dict], val_hash: str, data_root: Path, cfg: SelfPlayConfig, cache: Path) -> Pool:
    """EX on D_val for every entry not yet scored on this D_val."""
    from train.scoring import ex_accuracy, judge_predictions

    for e in pool.entries:
        if not e.scored_on(val_hash):
            preds = generate_sql(e, val, cfg, cache)
            pool = pool.with_score(e.id, ex_accuracy(judge_predictions(val, [p["sql"] for p in preds], data_root)), val_hash)
    return pool


def build_pairs(examples: list[dict], preds: list[dict], data_root: Path, opponent: PoolEntry) -> list[dict]:
    """TRL-shaped pairs: prompt (model input, untemplated), chosen = gold SQL, rejected = y', reward R."""
    from train.formatting import model_input
    from train.scoring import judge_predictions, reward

    judged = judge_predictions(examples, [p["sql"] for p in preds], data_root)
    pairs = []
    for ex, p, j in zip(examples, preds, judged, strict=True):
        r = reward(j)
        if r is None:  # the gold itself does not run: cannot judge
            continue
        pairs.append({
            "id": ex["id"], "db_id": ex.get("db_id"), "prompt": model_input(ex, "text2sql"),
            "chosen": ex["sql"], "rejected": p["sql"], "reward": r, "verdict": j.reason, "opponent": opponent.id,
        })
    return pairs


def reference_logps(ref: PoolEntry, encoded: list[dict], pairs_hash: str, cfg: SelfPlayConfig, cache: Path):
    from train.logprobs import batched_logps, cached_reference_logps

    def compute():
        model, tok = _load_for_inference(ref)
        chosen = batched_logps(model, [e["chosen"] for e in encoded], tok.pad_token_id, cfg.gen_batch_size)
        rejected = batched_logps(model, [e["rejected"] for e in encoded], tok.pad_token_id, cfg.gen_batch_size)
        del model
        _free()
        return chosen, rejected

    return cached_reference_logps(cache, pairs_hash, checkpoint_fingerprint(ref.path), compute)


def train_round(main: PoolEntry, features: list[dict], cfg: SelfPlayConfig, round_dir: Path, tokenizer: Any) -> dict:
    """Train the main on the pairs; the new model is saved to ``round_dir/model``."""
    from transformers import set_seed

    from train.modeling import check_compatible, load_model
    from train.selfplay_trainer import PairCollator, make_selfplay_trainer_class
    from train.sft import last_checkpoint, training_arguments

    set_seed(cfg.seed)
    model = load_model(main.path, lora=None if main.adapter else cfg.lora_options(), trainable=True)
    check_compatible(model, tokenizer, where=main.path)
    ckpt_dir = round_dir / "checkpoints"
    args = training_arguments(
        ckpt_dir, seed=cfg.seed, epochs=cfg.epochs, lr=cfg.learning_rate, batch_size=cfg.batch_size,
        grad_accum=cfg.grad_accum, logging_steps=cfg.logging_steps, evaluate=False, save_total_limit=1,
        remove_unused_columns=False,
    )
    trainer = make_selfplay_trainer_class()(
        model=model, args=args, train_dataset=features, data_collator=PairCollator(tokenizer.pad_token_id),
        processing_class=tokenizer, variant=cfg.loss, lam=cfg.lam,
    )
    out = trainer.train(resume_from_checkpoint=last_checkpoint(ckpt_dir))
    trainer.save_model(str(round_dir / "model"))
    tokenizer.save_pretrained(str(round_dir / "model"))
    history = trainer.state.log_history
    write_jsonl(round_dir / "log_history.jsonl", history)
    margins = [h["margin"] for h in history if "margin" in h]
    del trainer, model
    _free()
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # only needed to resume this round; the model is saved
    return {"train_loss": getattr(out, "training_loss", None), "steps": len(history) and history[-1].get("step"),
            "last_margin": margins[-1] if margins else None}


def _load_state(out: Path) -> dict[str, Any]:
    p = out / STATE_FILE
    if p.is_file():
        return json.loads(p.read_text(encoding="utf-8"))
    return {"completed_rounds": 0, "used_opponents": [], "bad_rounds": 0, "stopped": None}


def run_selfplay(cfg: SelfPlayConfig) -> SelfPlayResult:
    """Run (or resume) self-play in ``cfg.out``; returns the best model after rollback."""
    from train.losses import FILTERS_CORRECT, REFERENCE_IS_MAIN
    from train.manifest import file_inputs, write_manifest
    from train.modeling import load_tokenizer
    from train.plot import plot_rounds
    from train.selfplay_trainer import encode_pairs

    t0 = time.time()
    train_path, val_path = split_paths(cfg.data)
    val = read_examples(val_path)
    pair_source = val if cfg.pair_split == "val" else read_examples(train_path)
    val_hash = hash_records(val)
    data_root = data_root_for(cfg.data, cfg.data_root)
    out = Path(cfg.out)
    cache = out / "cache"
    out.mkdir(parents=True, exist_ok=True)

    if (out / "pool.json").is_file():  # resuming: the run's own registry wins
        pool = load_pool(out)
    else:
        pool = load_pool(cfg.pool) if cfg.pool else new_pool(str(cfg.model))
        from train.modeling import _check_exists

        for e in pool.entries:
            _check_exists(e.path)
    save_pool(out, pool)
    state = _load_state(out)
    rows = read_jsonl(out / "rounds.jsonl") if (out / "rounds.jsonl").is_file() else []

    for t in range(state["completed_rounds"] + 1, cfg.rounds + 1):
        if state["stopped"]:
            break
        rt0 = time.time()
        round_dir = out / f"round-{t}"
        pool = score_pool(pool, val, val_hash, data_root, cfg, cache)
        save_pool(out, pool)
        main = pool.main()
        opponent = pool.opponent(main, set(state["used_opponents"]))
        preds = generate_sql(opponent, pair_source, cfg, cache)
        pairs = build_pairs(pair_source, preds, data_root, opponent)
        write_jsonl(round_dir / "pairs.jsonl", pairs)
        train_pairs = [p for p in pairs if p["reward"] > 0] if cfg.loss in FILTERS_CORRECT else pairs
        n_wrong = sum(p["reward"] for p in pairs)
        row: dict[str, Any] = {
            "round": t, "main": main.id, "opponent": opponent.id, "main_val_ex": main.val_ex,
            "opponent_val_ex": opponent.val_ex, "pairs": len(pairs), "wrong_pairs": n_wrong,
            "train_pairs": len(train_pairs), "loss": cfg.loss, "lambda": cfg.lam,
        }
        if n_wrong == 0:  # nothing to learn from: every opponent output was already correct
            row.update(new_model=None, new_val_ex=None, elapsed_s=round(time.time() - rt0, 3))
            state["stopped"] = "no_wrong_pairs"
        else:
            tokenizer = load_tokenizer(main.path)
            encoded = encode_pairs(tokenizer, train_pairs, cfg.max_length)
            ref = main if cfg.loss in REFERENCE_IS_MAIN else opponent
            ref_c, ref_r, cached = reference_logps(ref, encoded, hash_records(train_pairs), cfg, cache)
            features = [dict(e, ref_chosen_logps=c, ref_rejected_logps=r) for e, c, r in zip(encoded, ref_c, ref_r)]
            stats = train_round(main, features, cfg, round_dir, tokenizer)
            from train.modeling import base_model_of, is_adapter

            new_path = str((round_dir / "model").resolve())
            entry = PoolEntry(pool.next_id(), new_path, base_model_of(new_path), is_adapter(new_path), f"selfplay-round-{t}")
            pool = score_pool(pool.add(entry), val, val_hash, data_root, cfg, cache)
            entry = pool.get(entry.id)
            best_before = max((e.val_ex or 0.0) for e in pool.entries if e.id != entry.id)
            dropped = (entry.val_ex or 0.0) < best_before - cfg.min_delta
            state["bad_rounds"] = state["bad_rounds"] + 1 if dropped else 0
            row.update(new_model=entry.id, new_val_ex=entry.val_ex, reference=ref.id, ref_from_cache=cached,
                       dropped=dropped, elapsed_s=round(time.time() - rt0, 3), **stats)
            if state["bad_rounds"] >= cfg.patience:
                state["stopped"] = "val_ex_dropped"
        state["used_opponents"] = sorted(set(state["used_opponents"]) | {opponent.id})
        state["completed_rounds"] = t
        rows.append(row)
        save_pool(out, pool)
        write_jsonl(out / "rounds.jsonl", rows)
        write_json(out / STATE_FILE, state)
        plot_rounds(rows, out / "selfplay.png")

    best = pool.main()
    write_json(out / "best.json", asdict(best))
    write_manifest(
        out / "manifest.json", command="train selfplay", config=cfg,
        inputs={"data": file_inputs({"train": train_path, "val": val_path}), "val_hash": val_hash,
                "data_root": str(data_root), "start": cfg.pool or cfg.model},
        seed=cfg.seed,
        counts={"rounds_completed": state["completed_rounds"], "pool_size": len(pool.entries), "val_examples": len(val)},
        timings={"total_s": round(time.time() - t0, 3)},
        results={"best": asdict(best), "stopped": state["stopped"], "rounds": rows},
    )
    return SelfPlayResult(best, rows, bool(state["stopped"]))

