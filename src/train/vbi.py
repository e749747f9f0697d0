"""``train vbi``: verification-based iterative fine-tuning (SPFT-SQL §3.1, §3.1.3, Figure 2, Table 14).

Before iteration 0 (``OUT/real/``, once): the benchmark's real training pairs are split by a seeded
hash into *train* and a held-out *selection* split (:mod:`train.realdata`), turned into prompt
records by the one prompt builder, and -- unless ``--writer0 rule-based`` -- a SQL-to-Text model is
fine-tuned on the real (SQL -> question) pairs (``OUT/sql2text-0/``): it writes iteration 0's
questions.

Iteration ``k`` (folder ``OUT/iter-k/``):

1. **Synthesize** (``iter-k/data/``) ``n`` training + ``val_size`` D_val examples with
   ``synth.generate`` (seed ``seed + k``), questions from the current SQL-to-Text model. When
   iteration k-1 had y- examples, ``failed_share`` of the examples are drawn from *their* templates
   only (by training frequency among them), the rest by training frequency over all templates; the
   manifest records both counts. Synthetic queries equal to a selection (or ``--exclude-sql``)
   query are dropped and counted. D_val prompts are rebuilt test-like: byte-identical to what
   ``synth build-prompts`` writes for the same db_id and question (no gold tables forced in).
2. **SFT** the text-to-SQL model (continuing from iteration k-1's) on ``iter-k/sft-data/``: the real
   training pairs + the synthetic pairs of iterations 0..k (``--no-accumulate``: of k only).
3. **Verify** on this iteration's D_val: greedy SQL y', judged by ``evaluation.ex.exec_match``:
   E(y') = E(y) -> y+, else y- (a gold that does not run: unjudged). The model is also scored on
   the selection split (``selection_ex``): the run's result is the best model on selection.
4. **SFT the SQL-to-Text model** on the real pairs + all y+ pairs so far (skipped when this
   iteration added no y+); it writes the questions of iteration k+1.
5. **Record**: one line of ``vbi_log.jsonl``; the text-to-SQL model joins ``pool.json`` scored on
   the *anchor* D_val (iteration 0's, the same data for every iteration, so scores compare).

Resumable: finished stages are detected by their outputs (``manifest.json`` written last, atomic
files) and finished iterations by ``state.json``; SFT resumes from its ``Trainer`` checkpoints.
``train spft`` runs these same iterations inside its rounds (:func:`run_iteration`).
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

from evaluation.console import echo
from train.fields import TRAINER_RESUMABLE
from train.io import (
    data_root_for,
    hash_records,
    read_examples,
    read_jsonl,
    write_jsonl,
)
from train.models.backend_config import BACKEND_FIELDS
from train.pool import Pool, PoolEntry, load_pool, save_pool
from train.vbi_config import VBIConfig

log = logging.getLogger(__name__)

LOG_FILE = "vbi_log.jsonl"
STATE_FILE = "state.json"
REAL_DIR = "real"
SQL2TEXT0_DIR = "sql2text-0"
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


def made_before(out: Path, k: int) -> tuple[tuple[str, str], ...]:
    """Every synthetic ``(db_id, sql)`` of iterations ``0..k-1`` (train and D_val), in order: iteration
    ``k`` synthesizes *new* pairs (SPFT-SQL: "iteratively synthesizes new data"), so its D_val never
    holds a query an earlier iteration's model trained on, and y+ / y- judge unseen queries."""
    from train.io import read_jsonl

    return tuple(
        (r["db_id"], r["sql"])
        for j in range(k)
        for name in ("train.jsonl", "val.jsonl")
        for r in read_jsonl(iter_dir(out, j) / "data" / name, ("db_id", "sql"))
    )


# ---- real pairs (once per run) ---------------------------------------------------------------


def prepare_real(cfg: VBIConfig, folder: Path, cache_dir: Path | None) -> dict[str, Any]:
    """``folder/{train,selection,sql2text}.jsonl`` + manifest (a data manifest, command
    ``train vbi: real pairs``) from the benchmark's real training pairs (skipped when the manifest
    exists). Returns the manifest."""
    from synth.sources import resolve_benchmark
    from train.manifest import write_data_manifest
    from train.realdata import real_records, split_real, sql2text_records

    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text(encoding="utf-8"))
    t0 = time.time()
    bench = resolve_benchmark(cfg.db, Path(cfg.data_root) if cfg.data_root else None)
    examples = bench.train_examples()
    present = set(bench.available_db_ids)
    keep = set(cfg.db_ids) if cfg.db_ids else present
    examples = [ex for ex in examples if ex["db_id"] in keep and ex["db_id"] in present]
    split = split_real(examples, cfg.selection_size, cfg.seed)
    train = real_records(
        bench,
        split.train,
        gold=cfg.gold_prompts,
        cache_dir=cache_dir,
        source="real-train",
        prompt_config=cfg.prompt_config(gold=cfg.gold_prompts),
    )
    selection = real_records(
        bench,
        split.selection,
        gold=False,
        cache_dir=cache_dir,
        source="real-selection",
        prompt_config=cfg.prompt_config(),
    )
    s2t = sql2text_records(
        train, bench.schemas, source="real-train", cache_dir=cache_dir, prompt_config=cfg.prompt_config()
    )
    write_jsonl(folder / "train.jsonl", train)
    write_jsonl(folder / "selection.jsonl", selection)
    write_jsonl(folder / "sql2text.jsonl", s2t)
    return write_data_manifest(
        manifest_path,
        command="train vbi: real pairs",
        data_root=bench.data_root.resolve(),
        inputs={"benchmark": bench.name, "train_file": str(bench.train_path), "db_ids": sorted(keep & present)},
        parameters={
            "seed": cfg.seed,
            "selection_size": cfg.selection_size,
            "gold_prompts": cfg.gold_prompts,
            "prompt": {"k1": cfg.k1, "k2": cfg.k2, "sample_values": cfg.sample_values},
        },
        seed=cfg.seed,
        counts={"real_pairs": len(examples), "train": len(train), "selection": len(selection), "sql2text": len(s2t)},
        timings={"total_s": round(time.time() - t0, 3)},
        sections={"hashes": {"train": hash_records(train), "selection": hash_records(selection)}},
    )


def exclusion_keys(cfg: VBIConfig, real_dir: Path) -> set[tuple[str, str]]:
    """(db_id, collision key) of every query that synthesis must not produce: the selection split's and
    those of ``--exclude-sql`` files (a test split)."""
    from synth.generation import collision_key
    from synth.sources import load_examples

    keys = {(r["db_id"], collision_key(r["sql"])) for r in read_jsonl(real_dir / "selection.jsonl")}
    for f in cfg.exclude_sql:
        keys |= {(ex["db_id"], collision_key(ex["query"])) for ex in load_examples(f)}
    return keys


# ---- step 1: synthesis -----------------------------------------------------------------------


def synth_config(
    cfg: VBIConfig,
    k: int,
    *,
    writer_model: str | None,
    template_weights: Mapping[str, float] | None = None,
    cache_dir: Path | None = None,
    n: int | None = None,
    seed: int | None = None,
    fewshot_examples: str | None = None,
    earlier: tuple[tuple[str, str], ...] = (),
    held_out: frozenset[tuple[str, str]] = frozenset(),
) -> Any:
    """A ``GenerateConfig`` of iteration ``k``: rule-based writer without ``writer_model``, else the
    SQL-to-Text model at that path -- prompted with ``fewshot_examples`` (a JSONL of real pairs) when
    given, i.e. ``--writer0 few-shot``; ``n`` examples, no D_val split (the caller splits the merged set).
    The run's ``--judge`` is synthesis's too: under ``ts`` "is it new?" is also judged on test suites."""
    from synth.generation import GenerateConfig

    writer, options = "rule-based", None
    if writer_model is not None:
        import train.writer  # noqa: F401  - registers the "model" and "few-shot" writers

        options = {
            "path": writer_model,
            "max_new_tokens": cfg.question_max_new_tokens,
            "batch_size": cfg.gen_batch_size,
            "cache_dir": str(cache_dir) if cache_dir else None,
            "prompt_config": cfg.prompt_config(),
            "dtype": cfg.dtype,
        }
        writer = "model"
        if fewshot_examples is not None:
            options |= {"examples_file": fewshot_examples, "shots": cfg.fewshot_shots}
            writer = "few-shot"
    return GenerateConfig(
        db=cfg.db,
        n=n if n is not None else cfg.n + cfg.effective_val_size,
        seed=cfg.iteration_seed(k) if seed is None else seed,
        val_size=0,
        data_root=Path(cfg.data_root) if cfg.data_root else None,
        db_ids=tuple(cfg.db_ids),
        timeout_s=cfg.timeout,
        max_attempts_factor=cfg.max_attempts_factor,
        writer=writer,
        writer_options=options,
        template_weights=dict(template_weights) if template_weights else None,
        cache_dir=cache_dir,
        prompt_config=cfg.prompt_config(gold=cfg.gold_prompts),
        # --judge ts judges synthesis's "is it new?" on suites too (synth.generation.novelty)
        judge=cfg.judge,
        suite_size=cfg.suite_size,
        suite_cache=Path(cfg.suite_cache) if cfg.suite_cache else None,  # SuiteCache expands ~
        earlier=earlier,
        held_out=held_out,
    )


def _generate_failed(gen_cfg: Any) -> tuple[Any, int]:
    """``generate`` for the failed-template share; when those templates cannot make that many distinct
    verified queries, halve the request until they can (the shortfall is recorded, never hidden)."""
    import dataclasses

    from synth.generation import NotEnoughExamplesError, generate

    n = gen_cfg.n
    while n >= 1:
        try:
            return generate(dataclasses.replace(gen_cfg, n=n)), n
        except NotEnoughExamplesError:
            n //= 2
    return None, 0


def synthesize(
    cfg: VBIConfig,
    k: int,
    data_dir: Path,
    *,
    writer_model: str | None,
    failed_templates: Mapping[str, int] | None,
    exclude: set[tuple[str, str]],
    cache_dir: Path | None,
    fewshot_examples: str | None = None,
    earlier: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """Iteration ``k``'s ``train.jsonl`` / ``val.jsonl`` / ``templates.jsonl`` / ``manifest.json`` in
    ``data_dir`` (atomic; skipped when the manifest exists). Returns the manifest.

    ``earlier`` (:func:`made_before`): pairs of earlier iterations, never made again -- a repeat is
    replaced by another query, in both shares. ``exclude`` (:func:`exclusion_keys`): held-out
    queries, likewise replaced (``GenerateConfig.held_out``)."""
    from evaluation.run_record import build_record, write_record
    from synth.generation import collision_key, generate, normalize_sql, split_val
    from synth.sources import resolve_benchmark
    from train.manifest import VBI_DATA_FORMAT, versions

    manifest_path = data_dir / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    total = cfg.n + cfg.effective_val_size
    n_failed_requested = round(cfg.failed_share * total) if failed_templates else 0
    held_out = frozenset(exclude)  # replaced at generation, in both draws; the merge below still checks
    main_cfg = synth_config(
        cfg,
        k,
        writer_model=writer_model,
        cache_dir=cache_dir,
        n=total - n_failed_requested,
        fewshot_examples=fewshot_examples,
        earlier=earlier,
        held_out=held_out,
    )
    main = generate(main_cfg)
    parts = [("frequency", list(main.train))]
    n_failed_made, failed_manifest = 0, None
    if n_failed_requested:
        weights = {t["id"]: (1.0 if t["id"] in failed_templates else 0.0) for t in main.templates}
        failed_cfg = synth_config(
            cfg,
            k,
            writer_model=writer_model,
            cache_dir=cache_dir,
            n=n_failed_requested,
            template_weights=weights,
            seed=cfg.iteration_seed(k) + 7919,
            fewshot_examples=fewshot_examples,
            # never a repeat of the frequency share (by text; under --judge ts, by answer on test suites):
            # another failed-template query takes the place of one that would be
            earlier=(*earlier, *((r["db_id"], r["sql"]) for r in main.train)),
            held_out=held_out,
        )
        res, n_failed_made = _generate_failed(failed_cfg)
        if res is not None:
            parts.append(("failed_templates", list(res.train)))
            failed_manifest = res.manifest
    seen: set[tuple[str, str]] = set()
    records, drawn, dropped = [], Counter(), Counter()
    for how, rows in parts:
        for r in rows:
            key = (r["db_id"], normalize_sql(r["sql"]))
            if key in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(key)
            if (r["db_id"], collision_key(r["sql"])) in exclude:
                dropped["held_out_collision"] += 1
                continue
            drawn[how] += 1
            records.append(dict(r, id=f"syn-i{k}-{len(records) + 1:06d}", drawn_by=how, source=f"synthetic-iter-{k}"))
    val_size = min(cfg.effective_val_size, max(0, len(records) - 1))
    train, val = split_val(records, val_size, cfg.iteration_seed(k))
    bench = resolve_benchmark(cfg.db, Path(cfg.data_root) if cfg.data_root else None)
    val = test_like(bench, val, cache_dir, cfg.prompt_config())
    write_jsonl(data_dir / "train.jsonl", train)
    write_jsonl(data_dir / "val.jsonl", val)
    write_jsonl(data_dir / "templates.jsonl", list(main.templates))
    manifest = build_record(
        format=VBI_DATA_FORMAT,
        command="train vbi: synthesize",
        created=True,
        inputs=dict(main.manifest["inputs"], data_root=str(bench.data_root.resolve())),
        parameters={
            "iteration": k,
            "n": cfg.n,
            "val_size": cfg.effective_val_size,
            "failed_share": cfg.failed_share,
            "writer": main_cfg.writer,
            "writer_options": {
                k: (v if isinstance(v, (str, int, float, bool, type(None))) else repr(v))
                for k, v in (main_cfg.writer_options or {}).items()
            },
            "failed_templates": dict(sorted((failed_templates or {}).items())),
            "gold_prompts": cfg.gold_prompts,
            "judge": main_cfg.judge,  # "is it new?" (synth.generation.novelty); y+ / y- are judged later
            "earlier_examples": len(earlier),  # pairs of iterations 0..k-1, never made again
            "seed": cfg.iteration_seed(k),
        },
        seed=cfg.iteration_seed(k),
        versions=dict(main.manifest["versions"], **versions()),  # synth's (templates code, prompt format) + train's
        counts={
            "frequency_drawn": drawn["frequency"],
            "failed_template_drawn": drawn["failed_templates"],
            "failed_template_requested": n_failed_requested,
            "failed_template_made": n_failed_made,
            "dropped": dict(sorted(dropped.items())),
            "train": len(train),
            "val": len(val),
            "templates_used": len({r["template_id"] for r in records}),
        },
        timings={"total_s": round(time.perf_counter() - t0, 3)},
        sections={"generate": {"frequency": main.manifest, "failed_templates": failed_manifest}},
    )
    write_record(manifest_path, manifest)
    return manifest


def test_like(bench: Any, records: Sequence[dict], cache_dir: Path | None, prompt_config: Any = None) -> list[dict]:
    """D_val records with the prompts ``synth build-prompts`` would write for their db_id and question
    (no gold tables forced in): D_val must look like the test set (SPFT-SQL §3.1.3, Alg. 1)."""
    from synth.prompt import PromptConfig
    from synth.prompt.records import build_prompt_records

    raw = [
        {"db_id": r["db_id"], "question": r["question"], "query": r["sql"], "_index": i + 1}
        for i, r in enumerate(records)
    ]
    built, _ = build_prompt_records(bench, raw, prompt_config or PromptConfig(), cache_dir, bench.root)
    return [dict(r, prompt=b["prompt"], schema_prompt=b["schema_prompt"]) for r, b in zip(records, built, strict=True)]


def failed_templates_of(verified: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Template id -> number of y- examples (the templates that seed the next iteration).

    >>> failed_templates_of([{"template_id": "ta", "verdict": "y-"}, {"template_id": "tb", "verdict": "y+"}])
    {'ta': 1}
    """
    c = Counter(str(v["template_id"]) for v in verified if v["verdict"] == NEGATIVE and v.get("template_id"))
    return dict(sorted(c.items()))


# ---- step 3: verification --------------------------------------------------------------------


def _verdict(correct: bool | None) -> str:
    return UNJUDGED if correct is None else (POSITIVE if correct else NEGATIVE)


def verify(
    examples: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]], data_root: Path, judge: Any = None
) -> list[dict[str, Any]]:
    """One row per D_val example: gold and predicted SQL, verdict y+ / y- / unjudged (gold failed).

    ``judge`` (:class:`train.scoring.Judge`) ``ts``: the verdict is the test suite's, and each row also
    holds ``ex_verdict`` (what EX alone said) and ``failed_on`` (the suite file an EX-correct prediction
    first failed on); ``None`` or ``ex``: rows exactly as EX writes them."""
    from train.scoring import judge_predictions

    by_id = {p["id"]: p for p in preds}
    sqls = [by_id[ex["id"]]["sql"] for ex in examples]
    rows = []
    ts = judge is not None and judge.is_ts
    for ex, sql, j in zip(examples, sqls, judge_predictions(examples, sqls, data_root, judge=judge), strict=True):
        row = {
            "id": ex["id"],
            "db_id": ex.get("db_id"),
            "template_id": ex.get("template_id"),
            "question": ex.get("question"),
            "sql": ex["sql"],
            "pred_sql": sql,
            "verdict": _verdict(j.correct),
            "reason": j.reason,
        }
        if ts:
            row.update(ex_verdict=_verdict(j.extra["ex_correct"]), failed_on=j.extra.get("failed_on", ""))
        rows.append(row)
    return rows


def predict_cached(model: str, sets: Mapping[str, tuple[list[dict], Path]], cfg: VBIConfig) -> dict[str, list[dict]]:
    """Greedy SQL of one model for several example lists, each cached in its file (model loaded once)."""
    todo = {name: (ex, path) for name, (ex, path) in sets.items() if not path.is_file()}
    out = {name: read_jsonl(path) for name, (_ex, path) in sets.items() if path.is_file()}
    if todo:
        from train.models.backend_config import backend_config_of
        from train.models.decoding import GenerationOptions, load_generator, predict

        opts = GenerationOptions(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.gen_batch_size, seed=cfg.seed)
        gen = load_generator(model, opts, backend_config_of(cfg), if_not_served="local", dtype=cfg.dtype)
        try:
            for name, (examples, path) in todo.items():
                out[name] = predict(gen, gen.tokenizer, examples, options=opts, model_id=model)
                write_jsonl(path, out[name])
        finally:
            gen.close()
    return out


# ---- step 4: SQL-to-Text data ------------------------------------------------------------------


def positive_records(
    verified: Sequence[Mapping[str, Any]],
    examples: Sequence[dict[str, Any]],
    schemas: Mapping[str, Any],
    *,
    k: int,
    cache_dir: Path | None = None,
    prompt_config: Any = None,
    sql: str = "prediction",
) -> list[dict[str, Any]]:
    """The y+ examples as SQL-to-Text training records (SQL -> its question), built like the real
    pairs' (:func:`train.realdata.sql2text_records`), so the writer trains on what it writes from.

    ``sql="prediction"``: the pair holds the model's correct SQL y' (SPFT-SQL eq. 1 defines y+ = y'
    with E(y') = E(y)); ``"gold"``: the SQL the question was written for."""
    from train.realdata import sql2text_records

    positive = {v["id"]: v for v in verified if v["verdict"] == POSITIVE}
    chosen = [ex for ex in examples if ex["id"] in positive]
    if sql == "prediction":  # (an empty y' cannot execute to the gold's result; kept on the gold then)
        chosen = [dict(ex, sql=(positive[ex["id"]].get("pred_sql") or "").strip() or ex["sql"]) for ex in chosen]
    return sql2text_records(
        chosen,
        schemas,
        source=f"vbi-iter-{k}-y+",
        cache_dir=cache_dir,
        prompt_config=prompt_config,
    )


def write_sft_data(
    folder: Path,
    train: Sequence[Mapping[str, Any]],
    val: Sequence[Mapping[str, Any]],
    data_root: Path,
    counts: Mapping[str, int],
    *,
    command: str,
    inputs: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    """``train.jsonl`` / ``val.jsonl`` + a data manifest naming the data root, for ``train sft`` and
    ``train selfplay`` (``--data``); ``counts`` gain ``train`` and ``val``. ``command`` names the stage
    that wrote it, ``inputs`` / ``parameters`` / ``seed`` what decided the content."""
    from train.manifest import write_data_manifest

    write_jsonl(folder / "train.jsonl", train)
    write_jsonl(folder / "val.jsonl", val)
    write_data_manifest(
        folder / "manifest.json",
        command=command,
        data_root=data_root,
        inputs=dict(inputs or {}),
        parameters=dict(parameters or {}),
        seed=seed,
        counts=dict(counts, train=len(train), val=len(val)),
    )
    return folder


def write_sql2text_data(
    real: list[dict[str, Any]], folder: Path, data_root: Path, positives: Sequence[dict[str, Any]] = ()
) -> Path:
    """SQL-to-Text ``train sft`` data: the real pairs + the y+ pairs so far. Only real pairs are held
    out (the last tenth, with 10 or more; else the real pairs are their own D_val), so every y+ pair
    is trained on ("y+ is used as training data for the next iteration", SPFT-SQL §3.1.3)."""
    n_val = len(real) // 10 if len(real) >= 10 else 0
    train, val = (real[:-n_val], real[-n_val:]) if n_val else (real, real)
    return write_sft_data(
        folder,
        [*train, *positives],
        val,
        data_root,
        {"pairs": len(real) + len(positives), "real": len(real), "positives": len(positives)},
        command="train vbi: sql-to-text sft data",
        parameters={
            "held_out": n_val,
            "held_out_rule": "last tenth of the real pairs with >= 10 of them, else the real pairs themselves; "
            "every y+ pair is trained on",
        },
    )


def sft_data_val(cfg: VBIConfig, d_val: list[dict[str, Any]], real_dir: Path) -> list[dict[str, Any]]:
    """The ``val.jsonl`` of an iteration's text-to-SQL SFT: the iteration's D_val, logged only (the kept
    epoch is the last), or with ``--keep-epoch selection`` the selection split that chooses the epoch."""
    return read_jsonl(real_dir / "selection.jsonl") if cfg.keep_epoch == "selection" else d_val


def run_sft_stage(cfg: VBIConfig, *, data: Path, model: str, out: Path, task: str, k: int) -> dict[str, Any]:
    """``train sft`` for one model of iteration ``k`` (skipped when finished, resumed when interrupted)."""
    from train.fields import optimiser_of
    from train.models.modeling import free_memory
    from train.sft import run_sft
    from train.sft_config import SFTConfig, sft_fields_of

    manifest = out / "manifest.json"
    if not manifest.is_file():
        text2sql = task == "text2sql"
        optimiser = optimiser_of(cfg, "" if text2sql else "sql2text_")
        # last: the paper's fixed epochs; selection: text-to-SQL's val.jsonl is the selection split
        # (sft_data_val), the writer's its held-out real pairs -- never the D_val that verification reads
        choose = cfg.keep_epoch == "selection"
        fields = sft_fields_of(cfg) | {
            "max_new_tokens": cfg.max_new_tokens if text2sql else cfg.question_max_new_tokens
        }
        run_sft(
            SFTConfig(
                data=str(data),
                model=model,
                out=str(out),
                task=task,
                **asdict(optimiser),
                seed=cfg.iteration_seed(k),
                eval_ex=text2sql and choose,
                keep_epoch="best" if choose else "last",
                **fields,
            )
        )
        free_memory()
    return json.loads(manifest.read_text(encoding="utf-8"))


def writer0_of(cfg: VBIConfig) -> dict[str, str]:
    """Who writes iteration 0, with why: ``--writer0 auto`` is few-shot when the SQL-to-Text model has a
    chat template (an instruction model, untuned: SPFT-SQL A.10's writer "before optimization"), else
    sql2text (a base or from-scratch model cannot follow a prompt, so it is fine-tuned on the real pairs).
    Recorded in the run's state and manifest."""
    if cfg.writer0 != "auto":
        return {"requested": cfg.writer0, "used": cfg.writer0, "reason": "--writer0 " + cfg.writer0}
    from train.models.modeling import load_tokenizer

    chat = bool(getattr(load_tokenizer(cfg.effective_sql2text_model), "chat_template", None))
    return {
        "requested": "auto",
        "used": "few-shot" if chat else "sql2text",
        "reason": "the SQL-to-Text model has a chat template" if chat else "the SQL-to-Text model has no chat template",
    }


def train_sql2text0(cfg: VBIConfig, out: Path, real_dir: Path, writer0: str | None = None) -> str | None:
    """SQL-to-Text₀: ``--sql2text-model`` fine-tuned on the real (SQL -> question) pairs (``OUT/sql2text-0``);
    ``--sql2text-model`` itself with ``few-shot`` (prompted with real pairs, not trained); ``None`` with
    ``rule-based`` (iteration 0 then writes with the rule-based writer). ``writer0``: the resolved choice
    (:func:`writer0_of`; default: resolved here)."""
    writer0 = writer0 or writer0_of(cfg)["used"]
    if writer0 == "rule-based":
        return None
    if writer0 == "few-shot":
        echo(
            f"[vbi] SQL-to-Text 0: {cfg.effective_sql2text_model} prompted with {cfg.fewshot_shots} real "
            "(SQL -> question) pairs per question (few-shot, not fine-tuned)"
        )
        return cfg.effective_sql2text_model
    folder = out / SQL2TEXT0_DIR
    records = read_jsonl(real_dir / "sql2text.jsonl")
    data = write_sql2text_data(records, folder / "data", data_root_for(real_dir))
    echo(
        f"[vbi] SQL-to-Text 0: fine-tuning {cfg.effective_sql2text_model} on {len(records)} real (SQL -> question) pairs"
    )
    run_sft_stage(cfg, data=data, model=cfg.effective_sql2text_model, out=folder / "model", task="sql2text", k=0)
    return str((folder / "model").resolve())


# ---- the loop ------------------------------------------------------------------------------------


#: Fields that may change when a run is resumed: more iterations, and where / how fast generation runs
#: (the backend serves the same checkpoint, checked), not what an iteration computes.
RESUMABLE_CHANGES = (
    "iterations",
    "out",
    "final",
    "gen_batch_size",
    "logging_steps",
    "suite_cache",
    *TRAINER_RESUMABLE,
    *BACKEND_FIELDS,
)


def loop_parameters(cfg: Any, resumable: Sequence[str] = RESUMABLE_CHANGES) -> dict[str, Any]:
    from train.runstate import run_parameters

    return run_parameters(cfg, resumable)


def initial_state(cfg: VBIConfig, out: Path, real_dir: Path) -> dict[str, Any]:
    """What iteration 0 starts from (SQL-to-Text₀ is made here); later iterations carry it on (see
    :func:`run_iteration`)."""
    writer0 = writer0_of(cfg)
    sql2text_model = train_sql2text0(cfg, out, real_dir, writer0["used"])
    return {
        "completed_iterations": 0,
        "text2sql_model": cfg.model,
        "sql2text_model": sql2text_model,
        "writer0": writer0,
        "sql2text_fewshot": writer0["used"] == "few-shot" and sql2text_model is not None,
        "failed_templates": None,
        "synthetic_files": [],
        "positive_files": [],
        "parameters": loop_parameters(cfg),
    }


def load_state(out: Path, cfg: VBIConfig) -> dict[str, Any] | None:
    """The run's state (``None`` for a new run); resuming with other settings (except ``--iterations``) is refused."""
    from train.runstate import load_state as load

    allowed = (
        "only --iterations, --final, --gen-batch-size, --logging-steps, --suite-cache and the backend options may "
        "change"
    )
    state = load(out, parameters=loop_parameters(cfg), allowed=allowed)
    check_judge_resume(out, state, cfg, allowed)
    return state


def check_judge_resume(out: Path, state: Mapping[str, Any] | None, cfg: Any, allowed: str) -> None:
    """A saved run judged otherwise (a run saved before ``--judge`` existed was judged by EX) is refused:
    y+ / y- of two judges would be mixed in one run. (Both saved: ``runstate.load_state`` refuses it.)"""
    from evaluation.errors import ConfigError
    from evaluation.suite_cache import judge_resume_conflict

    if state is None:
        return
    conflict = judge_resume_conflict(state.get("parameters", {}), cfg.judge, cfg.suite_size)
    if conflict:
        raise ConfigError(
            f"{out} holds a run made with other settings ({conflict}); "
            f"resume with the same options ({allowed}) or choose another --out"
        )


def relative_to_run(path: Path, out: Path) -> str:
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


def _concat(out: Path, files: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in files:
        rows.extend(read_jsonl(out / f))
    return rows


def sft_synthetic_files(cfg: VBIConfig, state: Mapping[str, Any], new: str) -> list[str]:
    """The synthetic files of an iteration's text-to-SQL SFT: its own ``--n`` new pairs (SPFT-SQL Table 14,
    "7,000 real + 3,000 syn" per iteration), or with ``--accumulate`` every iteration's so far."""
    return [*state["synthetic_files"], new] if cfg.accumulate else [new]


def run_iteration(
    cfg: VBIConfig,
    k: int,
    state: dict[str, Any],
    pool: Pool,
    out: Path,
    *,
    real_dir: Path,
    label: str = "",
    judge: Any = None,
) -> tuple[dict, dict, Pool]:
    """One pass of steps 1-5. Returns (log row, state for the next iteration, pool).

    ``state`` carries the models, the failed templates and the synthetic / y+ files of earlier
    iterations (paths relative to ``out``); ``train spft`` sets its ``text2sql_model`` to the
    self-play main before the next round's first iteration. ``judge`` decides y+ / y- (default:
    ``cfg.judge``'s); D_val EX, anchor EX and selection EX are EX under every judge.
    """
    from synth.sources import resolve_benchmark
    from train.models.modeling import base_model_of, is_adapter
    from train.scoring import ex_accuracy, judge_delta, judge_predictions, make_judge

    t0 = time.time()
    timings: dict[str, float] = {}
    it = iter_dir(out, k)
    cache = out / "cache"
    bench = resolve_benchmark(cfg.db, Path(cfg.data_root) if cfg.data_root else None)
    data_root = data_root_for(real_dir)
    tag = f"[{label}vbi iteration {k}]"

    # 1. synthesize
    writer_model = state["sql2text_model"]
    # few-shot until the first SQL-to-Text fine-tuning: the instruction model shown real pairs (never selection)
    fewshot = str((real_dir / "sql2text.jsonl").resolve()) if state.get("sql2text_fewshot") else None
    kind = "rule-based" if writer_model is None else "few-shot SQL-to-Text model" if fewshot else "SQL-to-Text model"
    echo(f"{tag} synthesize {cfg.n} + {cfg.effective_val_size} examples (writer: {kind})")
    t = time.time()
    data_manifest = synthesize(
        cfg,
        k,
        it / "data",
        writer_model=writer_model,
        failed_templates=state["failed_templates"],
        exclude=exclusion_keys(cfg, real_dir),
        cache_dir=cache,
        fewshot_examples=fewshot,
        earlier=made_before(out, k),
    )
    timings["synthesize_s"] = round(time.time() - t, 3)
    train_ex, val_ex = read_examples(it / "data" / "train.jsonl"), read_examples(it / "data" / "val.jsonl")
    writer_name = train_ex[0].get("question_writer", "rule-based")
    from_rule_based = _rule_based_share(train_ex + val_ex, bench.schemas) if writer_model else None

    # 2. SFT text-to-SQL on real + synthetic pairs
    synthetic_files = sft_synthetic_files(cfg, state, relative_to_run(it / "data" / "train.jsonl", out))
    real_train = read_jsonl(real_dir / "train.jsonl") if cfg.real_data else []
    synthetic = _concat(out, synthetic_files)
    write_sft_data(
        it / "sft-data",
        real_train + synthetic,
        sft_data_val(cfg, val_ex, real_dir),
        data_root,
        {"real": len(real_train), "synthetic": len(synthetic), "synthetic_this_iteration": len(train_ex)},
        command="train vbi: text-to-sql sft data",
        parameters={
            "iteration": k,
            "real_data": cfg.real_data,
            "accumulate": cfg.accumulate,
            "synthetic_files": list(synthetic_files),
            "val": "selection" if cfg.keep_epoch == "selection" else "d_val",
        },
    )
    start = state["text2sql_model"] if cfg.continue_training else cfg.model
    t2s = it / "text2sql"
    echo(f"{tag} SFT text-to-SQL on {len(real_train)} real + {len(synthetic)} synthetic pairs")
    t = time.time()
    sft_manifest = run_sft_stage(cfg, data=it / "sft-data", model=start, out=t2s, task="text2sql", k=k)
    timings["sft_text2sql_s"] = round(time.time() - t, 3)

    # 3. verify on this iteration's D_val; score on the anchor D_val (pool) and on selection
    anchor = read_examples(out / ANCHOR_VAL)
    selection = read_jsonl(real_dir / "selection.jsonl")
    t = time.time()
    sets = {"val": (val_ex, it / "val_preds.jsonl")}
    if k > 0:
        sets["anchor"] = (anchor, it / "anchor_preds.jsonl")
    if selection:
        sets["selection"] = (selection, it / "selection_preds.jsonl")
    preds = predict_cached(str(t2s.resolve()), sets, cfg)
    judge = judge if judge is not None else make_judge(cfg)
    before = judge.counters()
    verified = verify(val_ex, preds["val"], data_root, judge)
    write_jsonl(it / "verified.jsonl", verified)
    verdicts = Counter(v["verdict"] for v in verified)
    ex_verdicts = Counter(v["ex_verdict"] for v in verified) if judge.is_ts else verdicts
    val_ex_score = ex_verdicts[POSITIVE] / len(verified)
    anchor_ex = (
        val_ex_score
        if k == 0
        else ex_accuracy(judge_predictions(anchor, [p["sql"] for p in preds["anchor"]], data_root))
    )
    selection_ex = (
        ex_accuracy(judge_predictions(selection, [p["sql"] for p in preds["selection"]], data_root))
        if selection
        else None
    )
    timings["verify_s"] = round(time.time() - t, 3)
    failures = failed_templates_of(verified)

    # 4. SQL-to-Text on the real pairs + all y+ so far
    records = positive_records(
        verified, val_ex, bench.schemas, k=k, cache_dir=cache, prompt_config=cfg.prompt_config(), sql=cfg.positive
    )
    write_jsonl(it / "positives.jsonl", records)
    positive_files = [*state["positive_files"], relative_to_run(it / "positives.jsonl", out)]
    s2t_trained = None
    t = time.time()
    if records:
        s2t_real, s2t_positives = read_jsonl(real_dir / "sql2text.jsonl"), _concat(out, positive_files)
        s2t_records = s2t_real + s2t_positives
        s2t_data = write_sql2text_data(s2t_real, it / "sql2text-data", data_root, s2t_positives)
        s2t_start = (state["sql2text_model"] if cfg.continue_training else None) or cfg.effective_sql2text_model
        echo(f"{tag} SFT SQL-to-Text on {len(s2t_records)} pairs ({len(records)} new y+)")
        run_sft_stage(cfg, data=s2t_data, model=s2t_start, out=it / "sql2text", task="sql2text", k=k)
        s2t_trained = str((it / "sql2text").resolve())
    timings["sft_sql2text_s"] = round(time.time() - t, 3)

    # 5. record
    model_path = str(t2s.resolve())
    adapter = is_adapter(model_path)
    base = base_model_of(model_path) if adapter else model_path
    entry = PoolEntry(f"m{k}", model_path, base, adapter, f"vbi-iter-{k}", anchor_ex, hash_records(anchor))
    pool = pool.add(entry)
    counts = data_manifest["counts"]
    row = {
        "iteration": k,
        "seed": cfg.iteration_seed(k),
        "writer": writer_name,
        "questions_equal_to_rule_based": from_rule_based,
        "failed_templates_in": sorted(state["failed_templates"] or {}),
        "failed_template_examples": counts["failed_template_drawn"],
        "frequency_examples": counts["frequency_drawn"],
        "dropped": counts["dropped"],
        "real_train_examples": len(real_train),
        "synthetic_train_examples": len(synthetic),
        "train_examples": len(train_ex),
        "val_examples": len(val_ex),
        "templates_used": counts.get("templates_used"),
        "text2sql_start": relative_to_run(Path(start), out) if Path(start).exists() else start,
        "text2sql_model": relative_to_run(t2s, out),
        "pool_id": entry.id,
        "sft_val_ex": sft_manifest.get("results", {}).get("val_ex"),
        "val_ex": round(val_ex_score, 6),
        "anchor_val_ex": round(anchor_ex, 6),
        "selection_ex": None if selection_ex is None else round(selection_ex, 6),
        "positives": verdicts[POSITIVE],
        "negatives": verdicts[NEGATIVE],
        "unjudged": verdicts[UNJUDGED],
        "failure_templates": failures,
        "sql2text_pairs": len(records),
        "sql2text_model": relative_to_run(Path(s2t_trained), out) if s2t_trained else None,
        "timings": timings,
        "elapsed_s": round(time.time() - t0, 3),
    }
    judged_by = ""
    if judge.is_ts:  # only then: an EX run's log rows stay as they were
        row["judge"] = dict(
            judge_delta(before, judge.counters()),
            name="ts",
            val_ts=round(verdicts[POSITIVE] / len(verified), 6),
            suites=sorted(judge.last_suites),
        )
        judged_by = f" (judge ts: {row['judge']['flips']} EX-correct turned y-)"
    echo(
        f"{tag} D_val EX {val_ex_score:.3f}, selection EX "
        f"{'-' if selection_ex is None else f'{selection_ex:.3f}'}, y+ {verdicts[POSITIVE]}, y- {verdicts[NEGATIVE]}"
        f"{judged_by}"
    )
    new_state = {
        **state,
        "completed_iterations": k + 1,
        "text2sql_model": model_path,
        "sql2text_model": s2t_trained or state["sql2text_model"],
        "sql2text_fewshot": bool(state.get("sql2text_fewshot")) and not s2t_trained,
        "failed_templates": failures or None,
        "synthetic_files": synthetic_files,
        "positive_files": positive_files,
    }
    return row, new_state, pool


def best_on_selection(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The row whose model scored highest on the selection split (ties: the later one); by anchor D_val
    EX when there is no selection split."""
    key = "selection_ex" if any(r.get("selection_ex") is not None for r in rows) else "anchor_val_ex"
    return max(enumerate(rows), key=lambda t: ((t[1].get(key) or 0.0), t[0]))[1]


def run_vbi(cfg: VBIConfig) -> VBIResult:
    """Run (or resume) ``cfg.iterations`` iterations in ``cfg.out``."""
    from train.manifest import file_inputs, write_manifest
    from train.models.modeling import check_model_exists
    from train.runstate import save_state
    from train.scoring import make_judge

    t0 = time.time()
    out = Path(cfg.out)
    check_model_exists(cfg.model)
    check_model_exists(cfg.effective_sql2text_model)
    state = load_state(out, cfg)
    out.mkdir(parents=True, exist_ok=True)
    real_dir = out / REAL_DIR
    prepare_real(cfg, real_dir, out / "cache")
    if state is None:
        state = initial_state(cfg, out, real_dir)
        save_state(out, state)
    rows = read_jsonl(out / LOG_FILE) if (out / LOG_FILE).is_file() else []
    rows = rows[: state["completed_iterations"]]  # a row written before a crash of its state file is redone
    pool = load_pool(out) if (out / "pool.json").is_file() and state["completed_iterations"] else Pool(())
    pool = Pool(tuple(e for e in pool.entries if e.origin != f"vbi-iter-{state['completed_iterations']}"))

    judge = make_judge(cfg)
    for k in range(state["completed_iterations"], cfg.iterations):
        row, state, pool = run_iteration(cfg, k, state, pool, out, real_dir=real_dir, judge=judge)
        rows.append(row)
        save_pool_relative(out, pool)
        write_jsonl(out / LOG_FILE, rows)
        save_state(out, state)

    best = best_on_selection(rows)
    final = rows[-1] if cfg.final == "last" else best
    write_manifest(
        out / "manifest.json",
        command="train vbi",
        config=cfg,
        inputs={
            "benchmark": cfg.db,
            "model": cfg.model,
            "sql2text_model": cfg.effective_sql2text_model,
            "data": file_inputs(
                {
                    "anchor_val": out / ANCHOR_VAL,
                    "real_train": real_dir / "train.jsonl",
                    "selection": real_dir / "selection.jsonl",
                }
            ),
            "anchor_val_hash": hash_records(read_examples(out / ANCHOR_VAL)),
        },
        seed=cfg.seed,
        counts={
            "iterations_completed": state["completed_iterations"],
            "pool_size": len(pool.entries),
            **{f"real_{k}": v for k, v in json.loads((real_dir / "manifest.json").read_text())["counts"].items()},
        },
        timings={"total_s": round(time.time() - t0, 3)},
        results={
            "best": asdict(pool.get(best["pool_id"])),
            "best_by": "selection_ex",
            "final": asdict(pool.get(final["pool_id"])),
            "final_by": cfg.final,
            "writer0": state.get("writer0"),
            "rows": rows,
            **({"judge": judge.summary(rows)} if judge.is_ts else {}),
        },
    )
    return VBIResult(out, rows, pool)


def save_pool_relative(out: Path, pool: Pool) -> None:
    """``pool.json`` with paths relative to the run folder (movable); ``load_pool`` resolves them."""
    from dataclasses import replace

    def rel(e: PoolEntry) -> PoolEntry:
        base = e.base_model if e.adapter else relative_to_run(Path(e.base_model), out)
        return replace(e, path=relative_to_run(Path(e.path), out), base_model=base)

    save_pool(out, Pool(tuple(rel(e) for e in pool.entries)))
