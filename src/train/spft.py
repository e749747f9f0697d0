"""``train spft``: the SPFT-SQL loop from a benchmark to a stronger model (SPFT-SQL §3, Fig. 2, Alg. 1).

::

    real train pairs ─ split ─> train | selection (held out: reported, stops rounds early, never trained on)
    writer₀ = the base instruction model, few-shot (``--writer0 auto``; a model without a chat template:
      SFT sql2text on the real (SQL -> question) pairs)
    M = {p_θ0}
    round r = 1..K:
      VBI-FT iterations (train.vbi.run_iteration): synthesize (failed templates of the last iteration
        seed a share) -> SFT text-to-SQL on real + this iteration's synthetic, fixed epochs -> verify on
        D_val (test-like prompts) -> SQL-to-Text retrained on real + all y+ (y' of eq. 1); each model
        joins M
      self-play (train.selfplay.run_selfplay, Alg. 1) over M (``--pool-scope grow``: M keeps every
        earlier model and main, less the used opponents): main = best on the round's D_val, opponent =
        worst; error-driven loss (eq. 3); the optimized main joins M
      the last self-play main starts round r+1's SFT ("the newly acquired main model is incorporated
        into the next round of supervised fine-tuning", §3)
      every model of the round is scored on the selection split
    final = the last round's main (Alg. 1's output, ``OUT/final/``; ``--final selection``: the best on
    selection); rounds stop early after ``patience`` rounds without a better selection EX.

Run folder::

    OUT/real/                  real pairs: train.jsonl, selection.jsonl, sql2text.jsonl, manifest.json
    OUT/vbi/                   sql2text-0/, iter-G/ (G numbered across rounds), cache/
    OUT/round-R/selfplay-data/ train.jsonl (real pairs), val.jsonl (the round's D_val)
    OUT/round-R/pool/pool.json the round's candidates;  OUT/round-R/selfplay/  a `train selfplay` run
    OUT/rounds.jsonl           one row per (round, model): D_val EX and selection EX;  OUT/rounds.png
    OUT/state.json             resumable state (atomic);  OUT/manifest.json;  OUT/final/ (model + scores.json)

Resumable at any stage after a kill: VBI iterations and self-play runs skip what their files show
done, and ``state.json`` (written atomically after each stage) says where the loop is.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evaluation.console import echo
from train.fields import TRAINER_RESUMABLE
from train.io import (
    checkpoint_fingerprint,
    data_root_for,
    hash_records,
    read_jsonl,
    write_json,
    write_jsonl,
)
from train.models.backend_config import BACKEND_FIELDS
from train.pool import Pool, PoolEntry, save_pool
from train.runstate import save_state
from train.spft_config import SpftConfig
from train.vbi import (
    LOG_FILE,
    REAL_DIR,
    best_on_selection,
    check_judge_resume,
    initial_state,
    iter_dir,
    loop_parameters,
    predict_cached,
    prepare_real,
    relative_to_run,
    run_iteration,
    save_pool_relative,
    write_sft_data,
)

STATE_FILE = "state.json"
ROUNDS_FILE = "rounds.jsonl"
#: may change on resume: how long the loop goes on, not what a round computes
RESUMABLE_CHANGES = (
    "rounds",
    "patience",
    "out",
    "final",
    "gen_batch_size",
    "logging_steps",
    "suite_cache",
    *TRAINER_RESUMABLE,
    *BACKEND_FIELDS,
)


@dataclass(frozen=True)
class SpftResult:
    """The model the run returns (``final_by``: ``last`` = the last round's main, or ``selection``) and the
    per-(round, model) rows."""

    out: Path
    final: dict[str, Any]
    rows: list[dict[str, Any]]
    stopped: str | None
    final_by: str = "last"


def _load_state(out: Path, cfg: SpftConfig) -> dict[str, Any] | None:
    from train.runstate import load_state

    allowed = (
        "only --rounds, --patience, --final, --gen-batch-size, --logging-steps, --suite-cache and the backend "
        "options may change"
    )
    state = load_state(out, parameters=loop_parameters(cfg, RESUMABLE_CHANGES), allowed=allowed)
    check_judge_resume(out, state, cfg, allowed)
    return state


def selfplay_config(cfg: SpftConfig, r: int, folder: Path) -> Any:
    """The ``train selfplay`` run of round ``r`` (its pool and data are in ``folder``)."""
    from train.models.backend_config import BACKEND_FIELDS
    from train.selfplay_config import SelfPlayConfig, selfplay_fields_of

    return SelfPlayConfig(
        data=str(folder / "selfplay-data"),
        out=str(folder / "selfplay"),
        pool=str(folder / "pool"),
        rounds=cfg.selfplay_rounds,
        loss=cfg.loss,
        pairs_from=cfg.pairs_from,
        patience=cfg.selfplay_rounds,
        seed=cfg.seed + r,
        **selfplay_fields_of(cfg),
        judge=cfg.judge,
        suite_size=cfg.suite_size,
        suite_cache=cfg.suite_cache,  # R judged as VBI's y+ / y-
        **{k: getattr(cfg, k) for k in BACKEND_FIELDS},  # self-play generates where VBI-FT does
    )


def round_pool(cfg: SpftConfig, out: Path, r: int, iterations: Sequence[int], state: Mapping[str, Any]) -> Pool:
    """Algorithm 1's candidate set M for round ``r``, every score reset (ranked on the round's D_val).

    ``grow`` (default): M = {p_θ0, the round's VBI-FT models} in round 1; later, round r−1's final
    self-play pool (its optimized mains added: "Add optimized p_θm to M") plus round r's VBI-FT models.
    A used opponent stays in M, marked ``used_as_opponent``: it can be the main, never the opponent
    again (M′ = M less the used opponents). ``round``: the round's VBI-FT models + the previous round's
    main, nothing carried. Ids stay stable across rounds (``base``, ``v<G>``, ``r<R>s<T>``)."""
    from train.models.modeling import base_model_of, is_adapter
    from train.pool import load_pool

    vbi_out = out / "vbi"
    wanted = {f"vbi-iter-{g}" for g in iterations}
    vbi = [replace(e, val_ex=None, val_hash=None) for e in load_pool(vbi_out).entries if e.origin in wanted]
    previous_main = state["main"]
    if cfg.pool_scope == "round":
        if previous_main is not None:
            path = previous_main["path"]
            vbi.insert(0, PoolEntry("prev", path, base_model_of(path), is_adapter(path), previous_main["origin"]))
        return Pool(tuple(vbi))
    vbi = [replace(e, id=f"v{e.origin.rsplit('-', 1)[1]}") for e in vbi]
    if r == 1:
        model = str(Path(cfg.model).resolve()) if Path(cfg.model).exists() else cfg.model
        carried = [PoolEntry("base", model, base_model_of(model), is_adapter(model), "base")]
    else:
        carried = []
        for e in load_pool(out / f"round-{r - 1}" / "selfplay").entries:
            if e.origin.startswith("selfplay-round-"):  # an optimized main of round r−1 joins M
                e = replace(e, id=f"r{r - 1}s{e.origin.rsplit('-', 1)[1]}", origin=f"round-{r - 1}-{e.origin}")
            carried.append(replace(e, val_ex=None, val_hash=None))
    return Pool(tuple(carried + vbi))


def stage_of(entry: PoolEntry, trained: Collection[PoolEntry], iterations: Sequence[int]) -> str:
    """What a round's pool model is, for ``rounds.jsonl``: selfplay (trained this round), vbi (this
    round's VBI-FT), base (p_θ0), previous (the last main, ``--pool-scope round``) or earlier (a model
    of an earlier round that stays in M)."""
    if entry in trained:
        return "selfplay"
    if entry.origin in {f"vbi-iter-{g}" for g in iterations}:
        return "vbi"
    if entry.id == "prev":
        return "previous"
    return "base" if entry.origin == "base" else "earlier"


def score_on(model_path: str, examples: list[dict], preds_file: Path, cfg: SpftConfig, data_root: Path) -> float | None:
    """EX of one model's greedy SQL on ``examples`` (predictions cached in ``preds_file``)."""
    from train.scoring import ex_accuracy, judge_predictions

    if not examples:
        return None
    preds = predict_cached(model_path, {"s": (examples, preds_file)}, cfg)["s"]
    return round(ex_accuracy(judge_predictions(examples, [p["sql"] for p in preds], data_root)), 6)


def selection_cache(out: Path, model_path: str) -> Path:
    """Where one model's selection predictions are cached: by its path, so a model that stays in M over
    rounds is predicted once."""
    from evaluation.provenance import digest

    return out / "selection" / f"{digest(model_path, length=16)}.jsonl"


def plot_spft_rounds(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """D_val EX and selection EX of every model, per round (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for a, key, title in ((ax, "dval_ex", "round's D_val EX"), (bx, "selection_ex", "selection EX (held out)")):
        for stage, marker in (("vbi", "o"), ("selfplay", "s"), ("previous", "x"), ("base", "^"), ("earlier", ".")):
            pts = [(r["round"], r[key]) for r in rows if r["stage"] == stage and r.get(key) is not None]
            if pts:
                a.plot([p[0] for p in pts], [p[1] for p in pts], marker, label=stage, alpha=0.7)
        best = {}
        for r in rows:
            if r.get(key) is not None:
                best[r["round"]] = max(best.get(r["round"], 0.0), r[key])
        if best:
            a.plot(sorted(best), [best[k] for k in sorted(best)], "-", color="gray", label="best of round")
        a.set_title(title)
        a.set_xlabel("round")
        a.set_xticks(sorted({r["round"] for r in rows}) or [1])
        a.set_ylim(-0.02, 1.02)
        a.legend(loc="best", fontsize=8)
    ax.set_ylabel("EX")
    from train.plot import save_figure

    return save_figure(fig, path)


def _write_final(out: Path, best: Mapping[str, Any]) -> dict[str, Any]:
    """Copy the chosen model to ``OUT/final/`` with its scores (the copy is atomic: a temp folder renamed)."""
    final, tmp = out / "final", out / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(best["path"], tmp, ignore=shutil.ignore_patterns("checkpoints"))
    scores = {k: best[k] for k in ("round", "stage", "model", "origin", "dval_ex", "selection_ex")}
    scores["source_path"] = relative_to_run(Path(best["path"]), out)
    write_json(tmp / "scores.json", scores)
    shutil.rmtree(final, ignore_errors=True)
    tmp.replace(final)
    return scores


def _dval_sizes(out: Path, rounds: int) -> dict[str, int]:
    sizes = {}
    for r in range(1, rounds + 1):
        m = out / f"round-{r}" / "selfplay-data" / "manifest.json"
        if m.is_file():
            sizes[f"round-{r}"] = json.loads(m.read_text(encoding="utf-8"))["counts"]["val"]
    return sizes


def write_selfplay_data(
    folder: Path, real_dir: Path, vbi_out: Path, iterations: Sequence[int], data_root: Path, *, round_: int
) -> Path:
    """``round-r/selfplay-data/``: the real training pairs (``train.jsonl``) and the D_val of the round's
    VBI-FT iterations, in iteration order (``val.jsonl``), with a data manifest (command
    ``train spft: self-play data``)."""
    val_files = [iter_dir(vbi_out, g) / "data" / "val.jsonl" for g in iterations]
    return write_sft_data(
        folder,
        read_jsonl(real_dir / "train.jsonl"),
        [ex for f in val_files for ex in read_jsonl(f)],
        data_root,
        {},
        command="train spft: self-play data",
        inputs={"train": str(real_dir / "train.jsonl"), "val": [str(f) for f in val_files]},
        parameters={"round": round_, "iterations": list(iterations)},
    )


def _judged_rows(out: Path, state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The log rows that carry a ``judge`` record: every VBI iteration's and every self-play round's."""
    rows = list(state["vbi_rows"])
    for r in range(1, state["completed_rounds"] + 1):
        f = out / f"round-{r}" / "selfplay" / "rounds.jsonl"
        if f.is_file():
            rows.extend(read_jsonl(f))
    return rows


def run_spft(cfg: SpftConfig) -> SpftResult:
    """Run (or resume) the loop in ``cfg.out``; returns the model chosen on the selection split."""
    from train.manifest import file_inputs, write_manifest
    from train.models.modeling import check_model_exists
    from train.selfplay import run_selfplay

    t0 = time.time()
    out = Path(cfg.out)
    check_model_exists(cfg.model)
    check_model_exists(cfg.effective_sql2text_model)
    state = _load_state(out, cfg)
    out.mkdir(parents=True, exist_ok=True)
    real_dir, vbi_out = out / REAL_DIR, out / "vbi"
    vbi_out.mkdir(exist_ok=True)
    echo(f"[spft] real pairs -> {real_dir}")
    real_manifest = prepare_real(cfg, real_dir, vbi_out / "cache")
    data_root = data_root_for(real_dir)
    selection = read_jsonl(real_dir / "selection.jsonl")
    if state is None:
        state = {
            "parameters": loop_parameters(cfg, RESUMABLE_CHANGES),
            "completed_rounds": 0,
            "phase": "vbi",
            "vbi": initial_state(cfg, vbi_out, real_dir),
            "vbi_rows": [],
            "main": None,
            "best_selection": None,
            "bad_rounds": 0,
            "stopped": None,
        }
        save_state(out, state)
    rows = read_jsonl(out / ROUNDS_FILE) if (out / ROUNDS_FILE).is_file() else []
    rows = [r for r in rows if r["round"] <= state["completed_rounds"]]
    from train.pool import load_pool

    vbi_pool = load_pool(vbi_out) if (vbi_out / "pool.json").is_file() else Pool(())
    from train.scoring import make_judge

    judge = make_judge(cfg)  # VBI's y+ / y-; the self-play runs judge R with the same options

    for r in range(state["completed_rounds"] + 1, cfg.rounds + 1):
        if state["stopped"]:
            break
        folder = out / f"round-{r}"
        iterations = [cfg.global_iteration(r - 1, i) for i in range(cfg.iterations)]
        # VBI-FT iterations of this round (resume: the state says how many are done)
        while state["vbi"]["completed_iterations"] <= iterations[-1]:
            g = state["vbi"]["completed_iterations"]
            row, state["vbi"], vbi_pool = run_iteration(
                cfg,
                g,
                state["vbi"],
                vbi_pool,
                vbi_out,
                real_dir=real_dir,
                label=f"round {r}/{cfg.rounds} ",
                judge=judge,
            )
            state["vbi_rows"] = [*state["vbi_rows"][:g], row]
            save_pool_relative(vbi_out, vbi_pool)
            write_jsonl(vbi_out / LOG_FILE, state["vbi_rows"])
            save_state(out, state)

        # self-play over the round's pool, on the round's D_val
        echo(f"[spft round {r}/{cfg.rounds}] self-play ({cfg.loss}, {cfg.selfplay_rounds} step(s))")
        sp_data = folder / "selfplay-data"
        if not (sp_data / "manifest.json").is_file():
            write_selfplay_data(sp_data, real_dir, vbi_out, iterations, data_root, round_=r)
        if not (folder / "pool" / "pool.json").is_file():
            save_pool(folder / "pool", round_pool(cfg, out, r, iterations, state))
        sp = run_selfplay(selfplay_config(cfg, r, folder))
        sp_pool = load_pool(folder / "selfplay")
        trained = [e for e in sp_pool.entries if e.origin.startswith("selfplay-round-")]
        # the newest self-play main goes on (§3); with no self-play model (no wrong pairs) the round's best
        new_main = trained[-1] if trained else sp.best

        # every model of the round on the selection split
        round_rows = []
        for e in sp_pool.entries:
            stage = stage_of(e, trained, iterations)
            sel = score_on(e.path, selection, selection_cache(out, e.path), cfg, data_root)
            round_rows.append(
                {
                    "round": r,
                    "stage": stage,
                    "model": e.id,
                    "origin": e.origin,
                    "path": e.path,
                    "dval_ex": e.val_ex,
                    "selection_ex": sel,
                    "main_next": e.id == new_main.id,
                }
            )
        rows = [x for x in rows if x["round"] != r] + round_rows
        best_round = max((x["selection_ex"] or 0.0) for x in round_rows)
        improved = state["best_selection"] is None or best_round > state["best_selection"]
        state["bad_rounds"] = 0 if improved else state["bad_rounds"] + 1
        state["best_selection"] = best_round if improved else state["best_selection"]
        if state["bad_rounds"] >= cfg.patience:
            state["stopped"] = f"selection EX not above {state['best_selection']:.4f} for {cfg.patience} round(s)"
        state["main"] = {"path": new_main.path, "origin": f"round-{r}-{new_main.origin}"}
        state["vbi"] = dict(state["vbi"], text2sql_model=new_main.path)  # the next round's SFT starts here
        state["completed_rounds"] = r
        write_jsonl(out / ROUNDS_FILE, rows)
        plot_spft_rounds(rows, out / "rounds.png")
        save_state(out, state)
        echo(
            f"[spft round {r}/{cfg.rounds}] best selection EX {best_round:.3f}; next round starts from "
            f"{relative_to_run(Path(new_main.path), out)}"
        )

    best = best_on_selection(rows)
    last_main = [x for x in rows if x["round"] == state["completed_rounds"] and x["main_next"]]
    scores = _write_final(out, last_main[-1] if cfg.final == "last" else best)
    write_manifest(
        out / "manifest.json",
        command="train spft",
        config=cfg,
        inputs={
            "benchmark": cfg.db,
            "model": cfg.model,
            "sql2text_model": cfg.effective_sql2text_model,
            "model_fingerprint": checkpoint_fingerprint(cfg.model),
            "data": file_inputs({"real_train": real_dir / "train.jsonl", "selection": real_dir / "selection.jsonl"}),
            "selection_hash": hash_records(selection) if selection else None,
            "data_root": str(data_root),
        },
        seed=cfg.seed,
        counts={
            "rounds_completed": state["completed_rounds"],
            "vbi_iterations": state["vbi"]["completed_iterations"],
            "models": len(rows),
            **{f"real_{k}": v for k, v in real_manifest["counts"].items()},
        },
        timings={"total_s": round(time.time() - t0, 3)},
        results={
            "final": dict(scores, fingerprint=checkpoint_fingerprint(out / "final")),
            "final_by": cfg.final,
            "best_on_selection": {k: best[k] for k in ("round", "stage", "model", "origin", "selection_ex")},
            "writer0": state["vbi"].get("writer0"),
            "pool_scope": cfg.pool_scope,
            "stopped": state["stopped"],
            "rows": rows,
            "splits": {
                "real_train": real_manifest["counts"]["train"],
                "selection": real_manifest["counts"]["selection"],
                "dval_per_round": _dval_sizes(out, state["completed_rounds"]),
            },
            **({"judge": judge.summary(_judged_rows(out, state))} if judge.is_ts else {}),
        },
    )
    how = "the last round's main" if cfg.final == "last" else "best on the selection split"
    echo(
        f"[spft] final model ({how}): {out / 'final'} (round {scores['round']} {scores['stage']} "
        f"{scores['model']}, selection EX {scores['selection_ex']}; best on selection: round {best['round']} "
        f"{best['model']}, {best['selection_ex']})"
    )
    return SpftResult(out, scores, rows, state["stopped"], cfg.final)
