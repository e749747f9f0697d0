"""``train vbi``: verification-based iterative fine-tuning (SPFT-SQL §3.1, §3.1.3, Figure 2).

Iteration ``k`` (folder ``OUT/iter-k/``):

1. **Synthesize** ``n`` verified examples with ``synth.generate`` (seed ``seed + k``): iteration 0
   writes questions with the rule-based writer, later iterations with the SQL-to-Text model (the
   ``"model"`` writer of :mod:`train.writer`); templates of the previous iteration's failures (y-)
   get their sampling weight multiplied by ``failure_weight`` (``GenerateConfig.template_weights``).
2. **SFT** the text-to-SQL model on ``iter-k/data/train.jsonl`` (continuing from iteration k-1's).
3. **Verify** on this iteration's D_val (``iter-k/data/val.jsonl``): greedy SQL y', judged by
   ``evaluation.ex.exec_match``: E(y') = E(y) -> y+, else y- (a gold that does not run: unjudged).
4. **SFT the SQL-to-Text model** on the y+ pairs (gold SQL -> question); it writes the questions of
   iteration k+1. No y+ -> the SQL-to-Text model is left as it was.
5. **Record**: one line of ``vbi_log.jsonl`` (EX, y+/y- counts, failure templates, writer, ...);
   the text-to-SQL model joins ``pool.json`` (``train selfplay --pool OUT``), scored on the *anchor*
   D_val (iteration 0's ``val.jsonl``: the same data for every iteration, so scores compare).

Resumable: finished stages are detected by their outputs (``manifest.json`` written last, atomic
files) and finished iterations by ``state.json``; SFT resumes from its ``Trainer`` checkpoints.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from train.io import data_root_for, hash_records, read_examples, read_jsonl, write_json, write_jsonl
from train.pool import Pool, PoolEntry, load_pool, save_pool
from train.vbi_config import VBIConfig

log = logging.getLogger(__name__)

LOG_FILE = "vbi_log.jsonl"
STATE_FILE = "state.json"
ANCHOR_VAL = Path("iter-0") / "data" / "val.jsonl"
POSITIVE, NEGATIVE, UNJUDGED = "y+", "y-", "unjudged"


@dataclass(frozen=True)
class VBIResult:
    """Per-iteration log rows and the pool of text-to-SQL candidates (one per iteration)."""

    out: Path
    rows: list[dict[str, Any]]
    pool: Pool


def iter_dir(out: Path, k: int) -> Path:
    return out / f"iter-{k}"


# ---- step 1: synthesis -----------------------------------------------------------------------


def synth_config(
    cfg: VBIConfig,
    k: int,
    *,
    writer_model: str | None,
    template_weights: Mapping[str, float] | None,
    cache_dir: Path | None = None,
) -> Any:
    """The ``GenerateConfig`` of iteration ``k``: rule-based writer without ``writer_model``, else
    the SQL-to-Text model at that path; failed templates weighted up."""
    from synth.generate import GenerateConfig

    writer, options = "rule-based", None
    if writer_model is not None:
        import train.writer  # noqa: F401  - registers the "model" writer

        options = {"path": writer_model, "max_new_tokens": cfg.question_max_new_tokens,
                   "batch_size": cfg.gen_batch_size, "cache_dir": str(cache_dir) if cache_dir else None}
        writer = "model"
    return GenerateConfig(
        db=cfg.db, n=cfg.n, seed=cfg.iteration_seed(k), val_size=cfg.effective_val_size,
        data_root=Path(cfg.data_root) if cfg.data_root else None, db_ids=tuple(cfg.db_ids),
        timeout_s=cfg.timeout, max_attempts_factor=cfg.max_attempts_factor, writer=writer,
        writer_options=options, template_weights=dict(template_weights) if template_weights else None,
        cache_dir=cache_dir,
    )


def synthesize(gen_config: Any, data_dir: Path) -> dict[str, Any]:
    """Run ``synth generate`` into ``data_dir`` (atomic; skipped when its manifest exists). Returns the manifest."""
    from synth.generate import generate, write_outputs

    manifest = data_dir / "manifest.json"
    if not manifest.is_file():
        write_outputs(generate(gen_config), data_dir)
    return json.loads(manifest.read_text(encoding="utf-8"))


def failure_weights(verified: Sequence[Mapping[str, Any]], factor: float) -> dict[str, float] | None:
    """Template id -> ``factor`` for every template with at least one y- (``None`` when there is none).

    >>> failure_weights([{"template_id": "ta", "verdict": "y-"}, {"template_id": "tb", "verdict": "y+"}], 4.0)
    {'ta': 4.0}
    """
    ids = sorted({str(v["template_id"]) for v in verified if v["verdict"] == NEGATIVE and v.get("template_id")})
    return {t: float(factor) for t in ids} or None


# ---- step 3: verification --------------------------------------------------------------------


def verify(examples: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]], data_root: Path) -> list[dict[str, Any]]:
    """One row per D_val example: gold and predicted SQL, verdict y+ / y- / unjudged (gold failed)."""
    from train.scoring import judge_predictions

    by_id = {p["id"]: p for p in preds}
    sqls = [by_id[ex["id"]]["sql"] for ex in examples]
    rows = []
    for ex, sql, j in zip(examples, sqls, judge_predictions(examples, sqls, data_root), strict=True):
        verdict = UNJUDGED if j.correct is None else (POSITIVE if j.correct else NEGATIVE)
        rows.append({"id": ex["id"], "db_id": ex.get("db_id"), "template_id": ex.get("template_id"),
                     "question": ex.get("question"), "sql": ex["sql"], "pred_sql": sql, "verdict": verdict,
                     "reason": j.reason})
    return rows


def predict_cached(model: str, sets: Mapping[str, tuple[list[dict], Path]], cfg: VBIConfig) -> dict[str, list[dict]]:
    """Greedy SQL of one model for several example lists, each cached in its file (model loaded once)."""
    todo = {name: (ex, path) for name, (ex, path) in sets.items() if not path.is_file()}
    out = {name: read_jsonl(path) for name, (_ex, path) in sets.items() if path.is_file()}
    if todo:
        from train.generate import GenerationOptions, HFGenerator, predict
        from train.modeling import check_compatible, load_model, load_tokenizer, pick_device
        from train.selfplay import _free

        opts = GenerationOptions(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.gen_batch_size, seed=cfg.seed)
        tok = load_tokenizer(model)
        m = load_model(model, trainable=False, device=pick_device())
        check_compatible(m, tok, where=model)
        gen = HFGenerator(m, tok, opts)
        for name, (examples, path) in todo.items():
            out[name] = predict(gen, tok, examples, options=opts, model_id=model)
            write_jsonl(path, out[name])
        del gen, m
        _free()
    return out


# ---- step 4: SQL-to-Text data ------------------------------------------------------------------


def sql2text_records(
    verified: Sequence[Mapping[str, Any]],
    examples: Sequence[dict[str, Any]],
    schemas: Mapping[str, Any],
    *,
    k: int,
    cache_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """The y+ examples as SQL-to-Text training records: gold SQL -> its question.

    ``schema_prompt`` is rebuilt the way :class:`train.writer.ModelQuestionWriter` builds it (prompt
    builder, SQL only, no question), so the model is trained on the inputs it will write from.
    """
    from synth.prompt import PromptBuilder, PromptConfig
    from synth.prompt.format import text2sql_input
    from train.writer import sql2text_schema_prompt

    positive = {v["id"] for v in verified if v["verdict"] == POSITIVE}
    builders: dict[str, Any] = {}
    out = []
    for ex in examples:
        if ex["id"] not in positive:
            continue
        db = ex["db_id"]
        if db not in builders:
            builders[db] = PromptBuilder(schemas[db], PromptConfig(), cache_dir=cache_dir)
        sp = sql2text_schema_prompt(builders[db], ex["sql"])
        out.append(dict(ex, schema_prompt=sp, prompt=text2sql_input(sp, ex["question"]), source=f"vbi-iter-{k}-y+"))
    return out


def write_sql2text_data(records: list[dict[str, Any]], folder: Path, data_root: Path) -> Path:
    """``train.jsonl`` / ``val.jsonl`` for ``train sft --task sql2text``: with 10 or more pairs the
    last tenth is held out for model selection, otherwise the pairs are their own D_val."""
    n_val = len(records) // 10 if len(records) >= 10 else 0
    train, val = (records[:-n_val], records[-n_val:]) if n_val else (records, records)
    write_jsonl(folder / "train.jsonl", train)
    write_jsonl(folder / "val.jsonl", val)
    write_json(folder / "manifest.json", {"inputs": {"data_root": str(data_root)}, "counts": {"train": len(train), "val": len(val)}})
    return folder


def run_sft_stage(cfg: VBIConfig, *, data: Path, model: str, out: Path, task: str, k: int) -> dict[str, Any]:
    """``train sft`` for one model of iteration ``k`` (skipped when finished, resumed when interrupted)."""
    from train.sft import run_sft
    from train.sft_config import SFTConfig
    from train.selfplay import _free

    manifest = out / "manifest.json"
    if not manifest.is_file():
        text2sql = task == "text2sql"
        run_sft(SFTConfig(
            data=str(data), model=model, out=str(out), task=task,
            epochs=cfg.epochs if text2sql else cfg.sql2text_epochs,
            learning_rate=cfg.learning_rate if text2sql else cfg.sql2text_learning_rate,
            batch_size=cfg.batch_size, grad_accum=cfg.grad_accum, max_length=cfg.max_length,
            seed=cfg.iteration_seed(k), lora=cfg.lora, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
            eval_ex=text2sql, eval_ex_limit=cfg.eval_ex_limit,
            max_new_tokens=cfg.max_new_tokens if text2sql else cfg.question_max_new_tokens,
            gen_batch_size=cfg.gen_batch_size, logging_steps=cfg.logging_steps, save_total_limit=1, resume=True,
        ))
        _free()
    return json.loads(manifest.read_text(encoding="utf-8"))


# ---- the loop ------------------------------------------------------------------------------------


#: Fields that may change when a run is resumed (more iterations; nothing else changes the results).
RESUMABLE_CHANGES = ("iterations", "out")


def _run_parameters(cfg: VBIConfig) -> dict[str, Any]:
    from train.manifest import config_dict

    return {k: v for k, v in config_dict(cfg).items() if k not in RESUMABLE_CHANGES}


def _initial_state(cfg: VBIConfig) -> dict[str, Any]:
    return {"completed_iterations": 0, "text2sql_model": cfg.model, "sql2text_model": None, "template_weights": None,
            "parameters": _run_parameters(cfg)}


def _load_state(out: Path, cfg: VBIConfig) -> dict[str, Any]:
    """The run's state; resuming with other settings (except ``--iterations``) is refused."""
    from evaluation.errors import ConfigError

    p = out / STATE_FILE
    if not p.is_file():
        return _initial_state(cfg)
    state = json.loads(p.read_text(encoding="utf-8"))
    now, then = _run_parameters(cfg), state.get("parameters", {})
    changed = sorted(k for k in now if k in then and now[k] != then[k])
    if changed:
        raise ConfigError(
            f"{out} holds a run made with other settings ({', '.join(f'{k}: {then[k]!r} -> {now[k]!r}' for k in changed)}); "
            "resume with the same options (only --iterations may change) or choose another --out"
        )
    return state


def _rel(path: Path, out: Path) -> str:
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(path)


def _rule_based_share(records: Sequence[dict[str, Any]], schemas: Mapping[str, Any]) -> int:
    """How many questions equal the rule-based writer's for the same SQL (copied, or a fallback on an
    empty generation): how much of the data the SQL-to-Text model really wrote."""
    from synth.questions import get_writer

    rb = get_writer("rule-based")
    return sum(1 for r in records if rb.write(r["sql"], schemas[r["db_id"]]) == r["question"])


def run_iteration(cfg: VBIConfig, k: int, state: dict[str, Any], pool: Pool, out: Path) -> tuple[dict, dict, Pool]:
    """One pass of steps 1-5. Returns (log row, state for the next iteration, pool)."""
    from synth.sources import resolve_benchmark
    from train.modeling import base_model_of, is_adapter
    from train.scoring import ex_accuracy, judge_predictions

    t0 = time.time()
    timings: dict[str, float] = {}
    it = iter_dir(out, k)
    cache = out / "cache"
    bench = resolve_benchmark(cfg.db, Path(cfg.data_root) if cfg.data_root else None)

    # 1. synthesize
    writer_model = None if k == 0 else (state["sql2text_model"] or cfg.effective_sql2text_model)
    weights = state["template_weights"] if k > 0 else None
    gen_cfg = synth_config(cfg, k, writer_model=writer_model, template_weights=weights, cache_dir=cache)
    t = time.time()
    data_manifest = synthesize(gen_cfg, it / "data")
    timings["synthesize_s"] = round(time.time() - t, 3)
    train_ex, val_ex = read_examples(it / "data" / "train.jsonl"), read_examples(it / "data" / "val.jsonl")
    data_root = data_root_for(it / "data")
    writer_name = train_ex[0].get("question_writer", gen_cfg.writer)
    from_rule_based = _rule_based_share(train_ex + val_ex, bench.schemas) if writer_model else None

    # 2. SFT text-to-SQL
    start = state["text2sql_model"] if cfg.continue_training else cfg.model
    t2s = it / "text2sql"
    t = time.time()
    sft_manifest = run_sft_stage(cfg, data=it / "data", model=start, out=t2s, task="text2sql", k=k)
    timings["sft_text2sql_s"] = round(time.time() - t, 3)

    # 3. verify on this iteration's D_val (and score on the anchor D_val for the pool)
    anchor = read_examples(out / ANCHOR_VAL)
    anchor_hash = hash_records(anchor)
    t = time.time()
    sets = {"val": (val_ex, it / "val_preds.jsonl")}
    if k > 0:
        sets["anchor"] = (anchor, it / "anchor_preds.jsonl")
    preds = predict_cached(str(t2s.resolve()), sets, cfg)
    verified = verify(val_ex, preds["val"], data_root)
    write_jsonl(it / "verified.jsonl", verified)
    verdicts = Counter(v["verdict"] for v in verified)
    val_ex_score = verdicts[POSITIVE] / len(verified)
    if k == 0:
        anchor_ex = val_ex_score
    else:
        anchor_ex = ex_accuracy(judge_predictions(anchor, [p["sql"] for p in preds["anchor"]], data_root_for(out / ANCHOR_VAL)))
    timings["verify_s"] = round(time.time() - t, 3)
    failures = Counter(str(v["template_id"]) for v in verified if v["verdict"] == NEGATIVE and v.get("template_id"))

    # 4. SQL-to-Text on y+
    s2t_start = (state["sql2text_model"] if cfg.continue_training else None) or cfg.effective_sql2text_model
    records = sql2text_records(verified, val_ex, bench.schemas, k=k, cache_dir=cache)
    s2t_trained = None
    t = time.time()
    if records:
        s2t_data = write_sql2text_data(records, it / "sql2text-data", data_root)  # deterministic: rewriting is harmless
        run_sft_stage(cfg, data=s2t_data, model=s2t_start, out=it / "sql2text", task="sql2text", k=k)
        s2t_trained = str((it / "sql2text").resolve())
    timings["sft_sql2text_s"] = round(time.time() - t, 3)

    # 5. record
    model_path = str(t2s.resolve())
    adapter = is_adapter(model_path)
    base = base_model_of(model_path) if adapter else model_path
    entry = PoolEntry(f"m{k}", model_path, base, adapter, f"vbi-iter-{k}", anchor_ex, anchor_hash)
    pool = pool.add(entry)
    next_weights = failure_weights(verified, cfg.failure_weight)
    row = {
        "iteration": k,
        "seed": cfg.iteration_seed(k),
        "writer": writer_name,
        "questions_equal_to_rule_based": from_rule_based,
        "upweighted_templates": sorted(weights or {}),
        "train_examples": len(train_ex),
        "val_examples": len(val_ex),
        "templates_used": data_manifest.get("counts", {}).get("templates_used"),
        "text2sql_start": _rel(Path(start), out) if Path(start).exists() else start,
        "text2sql_model": _rel(t2s, out),
        "pool_id": entry.id,
        "sft_val_ex": sft_manifest.get("results", {}).get("val_ex"),
        "val_ex": round(val_ex_score, 6),
        "anchor_val_ex": round(anchor_ex, 6),
        "positives": verdicts[POSITIVE],
        "negatives": verdicts[NEGATIVE],
        "unjudged": verdicts[UNJUDGED],
        "failure_templates": dict(sorted(failures.items())),
        "sql2text_pairs": len(records),
        "sql2text_model": _rel(Path(s2t_trained), out) if s2t_trained else None,
        "timings": timings,
        "elapsed_s": round(time.time() - t0, 3),
    }
    new_state = {
        **state,
        "completed_iterations": k + 1,
        "text2sql_model": model_path,
        "sql2text_model": s2t_trained or state["sql2text_model"],
        "template_weights": next_weights,
    }
    return row, new_state, pool


def run_vbi(cfg: VBIConfig) -> VBIResult:
    """Run (or resume) ``cfg.iterations`` iterations in ``cfg.out``."""
    from train.manifest import file_inputs, write_manifest
    from train.modeling import _check_exists

    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_exists(cfg.model)
    _check_exists(cfg.effective_sql2text_model)
    state = _load_state(out, cfg)
    rows = read_jsonl(out / LOG_FILE) if (out / LOG_FILE).is_file() else []
    rows = rows[: state["completed_iterations"]]  # a row written before a crash of its state file is redone
    pool = load_pool(out) if (out / "pool.json").is_file() and state["completed_iterations"] else Pool(())
    pool = Pool(tuple(e for e in pool.entries if e.origin != f"vbi-iter-{state['completed_iterations']}"))

    for k in range(state["completed_iterations"], cfg.iterations):
        log.info("vbi iteration %d of %d", k + 1, cfg.iterations)
        row, state, pool = run_iteration(cfg, k, state, pool, out)
        rows.append(row)
        _save_pool_relative(out, pool)
        write_jsonl(out / LOG_FILE, rows)
        write_json(out / STATE_FILE, state)

    best = pool.main()
    write_manifest(
        out / "manifest.json", command="train vbi", config=cfg,
        inputs={"benchmark": cfg.db, "model": cfg.model, "sql2text_model": cfg.effective_sql2text_model,
                "data": file_inputs({"anchor_val": out / ANCHOR_VAL}),
                "anchor_val_hash": hash_records(read_examples(out / ANCHOR_VAL))},
        seed=cfg.seed,
        counts={"iterations_completed": state["completed_iterations"], "pool_size": len(pool.entries)},
        timings={"total_s": round(time.time() - t0, 3)},
        results={"best": asdict(best), "rows": rows},
    )
    return VBIResult(out, rows, pool)


def _save_pool_relative(out: Path, pool: Pool) -> None:
    """``pool.json`` with paths relative to the run folder (movable); ``load_pool`` resolves them."""
    from dataclasses import replace

    def rel(e: PoolEntry) -> PoolEntry:
        base = e.base_model if e.adapter else _rel(Path(e.base_model), out)
        return replace(e, path=_rel(Path(e.path), out), base_model=base)

    save_pool(out, Pool(tuple(rel(e) for e in pool.entries)))
