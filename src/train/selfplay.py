"""``train selfplay``: SPFT-SQL Algorithm 1 over a model pool, resumable round by round.

Each round: score every candidate on D_val by EX (greedy, cached per model fingerprint and D_val
hash); pick main / opponent / reference for the loss variant (:mod:`train.roles`: for ``spft``
main = best, opponent = worst not yet used); the opponent's SQL y' on D_val (greedy, or k samples)
is judged by ``evaluation`` -> reward R; pairs (prompt, chosen = y+, rejected = y', reward) are
written as JSONL; reference log-probs are computed once per round and cached by data hash +
checkpoint hash; the main is trained with the chosen loss and joins the pool. Per-round metrics go
to ``rounds.jsonl`` + ``selfplay.png``; when the new models lower the best D_val EX ``patience``
rounds in a row the run stops, and the best model (``best.json``) is the result — a rollback to
the best round.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluation.console import echo
from evaluation.errors import ConfigError
from evaluation.run_record import config_dict
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
from train.models.modeling import free_memory
from train.pool import POOL_FILE, Pool, PoolEntry, load_pool, new_pool, save_pool
from train.runstate import save_state
from train.selfplay_config import SelfPlayConfig

STATE_FILE = "state.json"


@dataclass(frozen=True)
class SelfPlayResult:
    """The best model of the run (after rollback) and the per-round metrics."""

    best: PoolEntry
    rounds: list[dict[str, Any]]
    stopped_early: bool


def _load_for_inference(entry: PoolEntry, dtype: str | None = None):
    from train.models.decoding import load_inference_model

    return load_inference_model(entry.path, dtype)


def generation_options(cfg: SelfPlayConfig, samples: int = 1, *, sample: bool = False) -> Any:
    """Greedy decoding for EX scoring (``samples == 1``); sampling at ``cfg.temperature`` for k > 1 draws,
    or for one draw when ``sample`` (the opponent of SPIN / ExSPIN: y' ~ p_θt)."""
    from train.models.decoding import GenerationOptions

    sampled = samples > 1 or sample
    return GenerationOptions(
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.gen_batch_size,
        seed=cfg.seed,
        do_sample=sampled,
        temperature=cfg.temperature if sampled else 1.0,
    )


def decode_sql(
    entry: PoolEntry, examples: list[dict], cfg: SelfPlayConfig, cache: Path, *, samples: int = 1, sample: bool = False
) -> list[dict]:
    """Predictions of one pool model, ``samples`` per example (in example order, field ``sample``);
    ``sample``: drawn at ``cfg.temperature`` even for one per example.

    Cached on disk by model fingerprint + data hash + decoding settings, so a resumed run or a
    second round with the same opponent does not generate again.
    """
    from train.models.backend_config import backend_config_of
    from train.models.decoding import load_generator, predict

    backend = backend_config_of(cfg)  # checked before the cache: a bad --backend/--base-url fails at once
    opts = generation_options(cfg, samples, sample=sample)
    key = hash_records(
        [
            {
                "model": checkpoint_fingerprint(entry.path),
                "data": hash_records(examples),
                "gen": opts.settings_hash(),
                "samples": samples,
            }
        ]
    )
    path = cache / f"preds-{entry.id}-{key[:16]}.jsonl"
    if path.is_file():
        return read_jsonl(path)
    expanded = [ex for ex in examples for _ in range(samples)]
    # --backend openai: the server writes the SQL when it serves this very checkpoint (path or fingerprint);
    # a model it cannot know (e.g. the one just trained) is generated here. Log-probs are always local.
    gen = load_generator(entry.path, opts, backend, if_not_served="local", dtype=cfg.dtype)
    try:
        preds = predict(gen, gen.tokenizer, expanded, options=opts, model_id=entry.path)
    finally:
        gen.close()
    preds = [dict(p, sample=i % samples) for i, p in enumerate(preds)]
    write_jsonl(path, preds)
    return preds


def score_pool(pool: Pool, val: list[dict], val_hash: str, data_root: Path, cfg: SelfPlayConfig, cache: Path) -> Pool:
    """EX on D_val (greedy decoding) for every entry not yet scored on this D_val."""
    from train.scoring import ex_accuracy, judge_predictions

    for e in pool.entries:
        if not e.scored_on(val_hash):
            preds = decode_sql(e, val, cfg, cache)
            pool = pool.with_score(
                e.id, ex_accuracy(judge_predictions(val, [p["sql"] for p in preds], data_root)), val_hash
            )
    return pool


def build_pairs(
    examples: list[dict],
    preds: list[dict],
    data_root: Path,
    opponent: PoolEntry,
    *,
    samples: int = 1,
    positive: str = "gold",
    judge: Any = None,
) -> list[dict]:
    """TRL-shaped pairs: prompt (model input, untemplated), chosen = y+, rejected = y', reward R.

    ``preds`` holds ``samples`` predictions per example, in example order. Each distinct output of a
    question gives one pair; y+ is the gold SQL, or with ``positive="sample"`` a correct opponent
    sample of the same question for the wrong outputs (round robin over the distinct correct ones;
    the gold when none was drawn). Examples whose gold SQL does not run are skipped.

    ``judge`` (:class:`train.scoring.Judge`) ``ts``: R is the test suite's verdict, and each pair also
    holds ``ex_reward`` (R by EX alone) and ``failed_on``; ``None`` or ``ex``: pairs exactly as EX makes them.
    """
    from train.models.formatting import model_input
    from train.scoring import judge_predictions, reward

    if len(preds) != len(examples) * samples:
        raise ValueError(f"{len(preds)} predictions for {len(examples)} examples x {samples} samples")
    rows = [ex for ex in examples for _ in range(samples)]
    judged = judge_predictions(rows, [p["sql"] for p in preds], data_root, judge=judge)
    ts = judge is not None and judge.is_ts
    pairs = []
    for i, ex in enumerate(examples):
        group = [
            (p, reward(j))
            for p, j in zip(preds[i * samples : (i + 1) * samples], judged[i * samples : (i + 1) * samples])
        ]
        verdicts = judged[i * samples : (i + 1) * samples]
        if any(r is None for _, r in group):  # the gold itself does not run: cannot judge
            continue
        correct = list(dict.fromkeys(p["sql"] for p, r in group if r == 0))
        seen: set[str] = set()
        k = 0
        prompt = model_input(ex, "text2sql")
        for (p, r), j in zip(group, verdicts):
            if p["sql"] in seen:
                continue
            seen.add(p["sql"])
            chosen, source = ex["sql"], "gold"
            if positive == "sample" and r == 1 and correct:
                chosen, source = correct[k % len(correct)], "sample"
                k += 1
            pair = {
                "id": ex["id"],
                "db_id": ex.get("db_id"),
                "prompt": prompt,
                "chosen": chosen,
                "rejected": p["sql"],
                "reward": r,
                "verdict": j.reason,
                "opponent": opponent.id,
                "sample": p.get("sample", 0),
                "positive": source,
            }
            if ts:
                ex_correct = j.extra["ex_correct"]
                pair.update(
                    ex_reward=None if ex_correct is None else int(not ex_correct),
                    failed_on=j.extra.get("failed_on", ""),
                )
            pairs.append(pair)
    return pairs


def reference_logps(ref: PoolEntry, encoded: list[dict], cfg: SelfPlayConfig, cache: Path):
    """Reference log-probs of every encoded pair, computed once and cached by data hash + checkpoint hash.

    The data hash covers the token ids themselves (so another tokenizer or ``max_length`` is another
    key); the reference model is loaded only on a cache miss and freed before training starts.
    """
    from train.models.logprobs import batched_logps, cached_reference_logps

    def compute():
        model, tok = _load_for_inference(ref)
        chosen = batched_logps(model, [e["chosen"] for e in encoded], tok.pad_token_id, cfg.gen_batch_size)
        rejected = batched_logps(model, [e["rejected"] for e in encoded], tok.pad_token_id, cfg.gen_batch_size)
        del model
        free_memory()
        return chosen, rejected

    return cached_reference_logps(cache, hash_records(encoded), checkpoint_fingerprint(ref.path), compute)


def train_round(main: PoolEntry, features: list[dict], cfg: SelfPlayConfig, round_dir: Path, tokenizer: Any) -> dict:
    """Train the main on the pairs; the new model is saved to ``round_dir/model``."""
    from transformers import set_seed

    from train.models.modeling import (
        check_compatible,
        load_model,
        pick_device,
        precision_arguments,
        resolve_dtype,
        share_like_other_outputs,
    )
    from train.selfplay_trainer import PairCollator, make_selfplay_trainer_class
    from train.sft import last_checkpoint, training_arguments

    set_seed(cfg.seed)
    model = load_model(main.path, lora=None if main.adapter else cfg.lora_options(), trainable=True)
    check_compatible(model, tokenizer, where=main.path)
    ckpt_dir = round_dir / "checkpoints"
    args = training_arguments(
        ckpt_dir,
        cfg.optimiser(),
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        evaluate=False,
        save_total_limit=1,
        remove_unused_columns=False,
        **({"save_strategy": "steps", "save_steps": cfg.save_steps} if cfg.save_steps else {}),
        **precision_arguments(resolve_dtype(cfg.dtype, pick_device())),
    )
    trainer = make_selfplay_trainer_class()(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=PairCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        variant=cfg.loss,
        lam=cfg.lam,
    )
    from train.progress import TRAINER_LOG, attach_progress

    attach_progress(trainer, round_dir / TRAINER_LOG, f"selfplay {round_dir.name} ({cfg.loss})")
    resumed = last_checkpoint(ckpt_dir)
    out = trainer.train(resume_from_checkpoint=resumed)
    trainer.save_model(str(round_dir / "model"))
    tokenizer.save_pretrained(str(round_dir / "model"))
    share_like_other_outputs(round_dir)  # safetensors writes weights 0o600
    history = trainer.state.log_history
    write_jsonl(round_dir / "log_history.jsonl", history)
    margins = [m for m, _, _ in trainer.step_stats]
    del trainer, model
    free_memory()
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # only needed to resume this round; the model is saved
    return {
        "train_loss": getattr(out, "training_loss", None),
        "steps": len(history) and history[-1].get("step"),
        "mean_margin": sum(margins) / len(margins) if margins else None,
        "resumed_from": resumed and Path(resumed).name,
        "last_margin": margins[-1] if margins else None,
    }


def early_stopping(
    new_ex: float, best_before: float, bad_rounds: int, *, min_delta: float, patience: int
) -> tuple[bool, int, bool]:
    """``(dropped, bad_rounds, stop)`` after a round whose new model scored ``new_ex``.

    A drop is an EX more than ``min_delta`` below the best EX of the pool before this round; ``stop``
    once ``patience`` drops came in a row (a round that does not drop resets the count).

    >>> early_stopping(0.5, 0.6, 0, min_delta=0.0, patience=2)
    (True, 1, False)
    >>> early_stopping(0.55, 0.6, 1, min_delta=0.1, patience=2)
    (False, 0, False)
    >>> early_stopping(0.4, 0.6, 1, min_delta=0.1, patience=2)
    (True, 2, True)
    """
    dropped = new_ex < best_before - min_delta
    bad_rounds = bad_rounds + 1 if dropped else 0
    return dropped, bad_rounds, bad_rounds >= patience


def check_same_tokenizer(entries: tuple[PoolEntry, ...] | list[PoolEntry]) -> None:
    """All pool models must share one vocabulary: pair log-probs of main and reference use the same ids."""
    from train.models.modeling import load_tokenizer

    first, vocab = None, None
    for e in entries:
        v = load_tokenizer(e.path).get_vocab()
        if first is None:
            first, vocab = e, v
        elif v != vocab:
            raise ConfigError(
                f"pool models {first.id} ({first.path}) and {e.id} ({e.path}) use different tokenizers "
                f"({len(vocab)} vs {len(v)} tokens); self-play compares their log-probs on the same token ids"
            )


def _load_state(out: Path) -> dict[str, Any]:
    """The saved state (settings are checked by :func:`_check_resume`, which knows the resumable ones)."""
    from train.runstate import load_state

    return load_state(out, file=STATE_FILE) or {
        "completed_rounds": 0,
        "used_opponents": [],
        "bad_rounds": 0,
        "stopped": None,
    }


def _start_of(cfg: SelfPlayConfig) -> str:
    """What the run starts from, spelled one way (a resolved local path, or the hub id)."""
    given = str(cfg.pool or cfg.model)
    return f"{'pool' if cfg.pool else 'model'}:{Path(given).resolve() if Path(given).exists() else given}"


def _check_resume(cfg: SelfPlayConfig, state: dict[str, Any], data_hash: str, out: Path) -> None:
    """A resumed run must compute what the killed one computed: same data, start, and round settings."""
    if state.get("data_hash") and state["data_hash"] != data_hash:
        raise ConfigError(f"{out} holds a self-play run on other data (train/val changed); use another --out")
    if state.get("start") and state["start"] != _start_of(cfg):
        raise ConfigError(
            f"{out} holds a self-play run that started from {state['start']}, not {_start_of(cfg)}; use another --out"
        )
    conflicts = cfg.resume_conflicts(state.get("config", {}))
    if conflicts:
        raise ConfigError(
            f"{out} holds a self-play run with other settings: {'; '.join(conflicts)}. "
            "Resume with the same options, or use another --out"
        )


def _round_line(row: dict[str, Any], rounds: int, ties: dict[str, str] | None = None) -> None:
    """One line per round on stderr: who played whom (and "tie" where the tie-break chose a role,
    ``train.roles.role_ties``), how many pairs were wrong, the new model's D_val EX."""

    def ex(v: Any, role: str = "") -> str:
        score = "-" if v is None else f"{v:.3f}"
        return f"{score}; {ties[role]}" if ties and ties.get(role) else score

    new = (
        f"new {row['new_model']} D_val EX {ex(row['new_val_ex'])}"
        if row.get("new_model")
        else "no model (nothing to learn)"
    )
    echo(
        f"[selfplay round {row['round']}/{rounds}] main {row['main']} ({ex(row['main_val_ex'], 'main')}) vs opponent "
        f"{row['opponent']} ({ex(row['opponent_val_ex'], 'opponent')}): {row['pairs']} pairs, {row['wrong_pairs']} wrong; "
        f"{new}"
    )


def _manifest(
    out: Path,
    cfg: SelfPlayConfig,
    *,
    inputs: dict,
    pool: Pool,
    state: dict,
    rows: list,
    t0: float,
    n_val: int,
    n_pair_source: int,
    status: str,
    judge: Any = None,
) -> None:
    from train.manifest import write_manifest

    best = pool.main() if any(e.val_ex is not None for e in pool.entries) else None
    judged = {"judge": judge.summary(rows)} if judge is not None and judge.is_ts else {}
    write_manifest(
        out / "manifest.json",
        command="train selfplay",
        config=cfg,
        inputs=inputs,
        seed=cfg.seed,
        counts={
            "rounds_completed": state["completed_rounds"],
            "pool_size": len(pool.entries),
            "val_examples": n_val,
            "pair_source_examples": n_pair_source,
        },
        timings={"total_s": round(time.time() - t0, 3)},
        results={
            "status": status,
            "best": asdict(best) if best else None,
            "stopped": state["stopped"],
            "models": [asdict(e) for e in pool.entries],
            "rounds": rows,
            **judged,
        },
    )


def run_selfplay(cfg: SelfPlayConfig) -> SelfPlayResult:
    """Run (or resume) self-play in ``cfg.out``; returns the best model after rollback."""
    from train.losses import get_variant
    from train.manifest import file_inputs
    from train.models.modeling import base_model_of, check_model_exists, is_adapter, load_tokenizer
    from train.plot import plot_rounds
    from train.roles import pick_roles, role_ties
    from train.scoring import judge_delta, make_judge
    from train.selfplay_trainer import encode_pairs

    t0 = time.time()
    train_path, val_path = split_paths(cfg.data)
    val = read_examples(val_path)
    variant = get_variant(cfg.loss)
    pair_source = val if cfg.effective_pairs_from == "val" else read_examples(train_path)
    val_hash = hash_records(val)
    data_files = file_inputs({"train": train_path, "val": val_path})
    data_hash = hash_records([data_files["train"]["sha256"], data_files["val"]["sha256"]])
    data_root = data_root_for(cfg.data, cfg.data_root)
    out = Path(cfg.out)
    cache = out / "cache"
    state = _load_state(out)
    _check_resume(cfg, state, data_hash, out)

    if (out / POOL_FILE).is_file():  # resuming: the run's own registry wins
        pool = load_pool(out)
    else:
        pool = load_pool(cfg.pool) if cfg.pool else new_pool(str(cfg.model))
        for e in pool.entries:
            check_model_exists(e.path)
        check_same_tokenizer(pool.entries)
    out.mkdir(parents=True, exist_ok=True)
    state.update(config=config_dict(cfg), data_hash=data_hash, start=_start_of(cfg))
    if "start_models" not in state:  # the pool as the run found it (kept across resumes)
        state["start_models"] = [dict(asdict(e), fingerprint=checkpoint_fingerprint(e.path)) for e in pool.entries]
    save_pool(out, pool)
    save_state(out, state)
    rows = read_jsonl(out / "rounds.jsonl") if (out / "rounds.jsonl").is_file() else []
    inputs = {
        "data": data_files,
        "data_hash": data_hash,
        "val_hash": val_hash,
        "data_root": str(data_root),
        "start": cfg.pool or cfg.model,
        "models": state["start_models"],
    }
    judge = make_judge(cfg)  # R's judge; D_val scores (roles, early stopping) stay EX
    manifest = dict(
        inputs=inputs, state=state, rows=rows, t0=t0, n_val=len(val), n_pair_source=len(pair_source), judge=judge
    )
    _manifest(out, cfg, pool=pool, status="running", **manifest)

    for t in range(state["completed_rounds"] + 1, cfg.rounds + 1):
        if state["stopped"]:
            break
        rt0 = time.time()
        round_dir = out / f"round-{t}"
        pool = score_pool(pool, val, val_hash, data_root, cfg, cache)
        save_pool(out, pool)
        used = set(state["used_opponents"]) | pool.used_opponents()  # also those of an earlier round's run
        roles = pick_roles(
            pool,
            cfg.loss,
            used_opponents=used,
            previous=state.get("latest"),
            initial=state.get("initial_model"),
        )
        main, opponent, ref = roles.main, roles.opponent, roles.reference
        ties = role_ties(pool, cfg.loss, roles, used_opponents=used, previous=state.get("latest"))
        state.setdefault("initial_model", main.id)
        preds = decode_sql(opponent, pair_source, cfg, cache, samples=cfg.samples, sample=variant.decode == "sample")
        before = judge.counters()
        pairs = build_pairs(
            pair_source, preds, data_root, opponent, samples=cfg.samples, positive=cfg.positive, judge=judge
        )
        write_jsonl(round_dir / "pairs.jsonl", pairs)
        train_pairs = [p for p in pairs if p["reward"] > 0] if variant.keep == "wrong" else pairs
        n_wrong = sum(p["reward"] for p in pairs)
        row: dict[str, Any] = {
            "round": t,
            "main": main.id,
            "opponent": opponent.id,
            "reference": ref.id,
            "main_val_ex": main.val_ex,
            "opponent_val_ex": opponent.val_ex,
            "pairs": len(pairs),
            "wrong_pairs": n_wrong,
            "wrong_share": round(n_wrong / len(pairs), 6) if pairs else None,
            "train_pairs": len(train_pairs),
            "loss": cfg.loss,
            "lambda": cfg.lam,
            "pairs_from": cfg.effective_pairs_from,
        }
        if judge.is_ts:  # only then: an EX run's rows stay as they were
            row["judge"] = dict(judge_delta(before, judge.counters()), name="ts", suites=list(judge.last_suites))
        if not train_pairs or (n_wrong == 0 and variant.needs_wrong):
            # nothing to learn from: every opponent output was already correct (R = 0 gives no gradient)
            row.update(new_model=None, new_val_ex=None, elapsed_s=round(time.time() - rt0, 3))
            state["stopped"] = "no_wrong_pairs"
        else:
            tokenizer = load_tokenizer(main.path)
            encoded = encode_pairs(tokenizer, train_pairs, cfg.max_length)
            ref_c, ref_r, cached = reference_logps(ref, encoded, cfg, cache)
            features = [dict(e, ref_chosen_logps=c, ref_rejected_logps=r) for e, c, r in zip(encoded, ref_c, ref_r)]
            stats = train_round(main, features, cfg, round_dir, tokenizer)
            new_path = str((round_dir / "model").resolve())
            entry = PoolEntry(
                pool.next_id(), new_path, base_model_of(new_path), is_adapter(new_path), f"selfplay-round-{t}"
            )
            pool = score_pool(pool.add(entry), val, val_hash, data_root, cfg, cache)
            entry = pool.get(entry.id)
            best_before = max((e.val_ex or 0.0) for e in pool.entries if e.id != entry.id)
            dropped, state["bad_rounds"], stop = early_stopping(
                entry.val_ex or 0.0, best_before, state["bad_rounds"], min_delta=cfg.min_delta, patience=cfg.patience
            )
            state["latest"] = entry.id
            row.update(
                new_model=entry.id,
                new_val_ex=entry.val_ex,
                ref_from_cache=cached,
                dropped=dropped,
                elapsed_s=round(time.time() - rt0, 3),
                **stats,
            )
            if stop:
                state["stopped"] = "val_ex_dropped"
        state["used_opponents"] = sorted(set(state["used_opponents"]) | {opponent.id})
        if opponent.id != main.id:
            pool = pool.mark_used(opponent.id)
        state["completed_rounds"] = t
        rows.append(row)
        _round_line(row, cfg.rounds, ties)
        save_pool(out, pool)
        write_jsonl(out / "rounds.jsonl", rows)
        save_state(out, state)
        plot_rounds(rows, out / "selfplay.png")
        _manifest(out, cfg, pool=pool, status="running", **dict(manifest, state=state, rows=rows))

    pool = score_pool(pool, val, val_hash, data_root, cfg, cache)  # a pool given with rounds already done
    best = pool.main()
    write_json(out / "best.json", asdict(best))
    _manifest(out, cfg, pool=pool, status="done", **dict(manifest, state=state, rows=rows))
    return SelfPlayResult(best, rows, bool(state["stopped"]))
