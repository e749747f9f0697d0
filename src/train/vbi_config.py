"""Configuration of ``train vbi`` (verification-based iterative fine-tuning, SPFT-SQL §3.1).

Imports no torch: ``train --help`` stays fast. Every field becomes one ``--option`` of ``train vbi``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError
from train.fields import (
    check_dtype,
    check_optimiser,
    dtype_field,
    generation_field,
    lora_field,
    optimiser_field,
    report_targets,
    synthesis_field,
    trainer_field,
)
from train.fields import help_field as _h
from train.judge_fields import check_judge_fields, judge_field
from train.models.backend_config import backend_field

#: who writes iteration 0's questions (``auto``: few-shot for a model with a chat template, else sql2text)
WRITERS0 = ("auto", "sql2text", "few-shot", "rule-based")
#: which SQL a writer's y+ pair holds: the model's correct prediction y' (eq. 1) or the gold y
POSITIVES = ("prediction", "gold")
#: which epoch a loop's SFT keeps: the last (the paper's fixed epochs) or the best on the selection split
EPOCH_CHOICES = ("last", "selection")
#: which model a run returns: the last one (Alg. 1's p_θm) or the best on the selection split
FINALS = ("last", "selection")


#: Named sets of defaults. ``cpu`` = the dataclass defaults (tiny models, tests); ``paper`` = SPFT-SQL
#: Appendix A.4 (LoRA, AdamW, lr 2e-4, 3 epochs, a *global* batch of 64: 8 per device x accumulation,
#: divided over the processes of ``accelerate launch``) and Table 7 (3000 synthetic per round). Options
#: given explicitly always win; a key a config does not have (self-play's, for ``train vbi``) is skipped.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    "paper": {
        "lora": True,
        "learning_rate": 2e-4,
        "sql2text_learning_rate": 2e-4,
        "selfplay_learning_rate": 2e-4,
        "batch_size": 8,
        "global_batch": 64,
        "epochs": 3.0,
        "sql2text_epochs": 3.0,
        "selfplay_epochs": 3.0,
        "n": 3000,
        "max_length": 2048,
    },
}


def world_size() -> int:
    """Processes of this training run (``accelerate launch`` / torchrun set ``WORLD_SIZE``; else 1)."""
    import os

    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def accumulation_for(global_batch: int, batch_size: int, processes: int) -> int:
    """Gradient accumulation per process so that batch_size x accumulation x processes = global_batch.

    >>> accumulation_for(64, 8, 1), accumulation_for(64, 8, 2), accumulation_for(64, 8, 8)
    (8, 4, 1)
    """
    per_step = batch_size * processes
    if global_batch % per_step:
        raise ConfigError(
            f"a global batch of {global_batch} cannot be split into {processes} process(es) x batch {batch_size}; "
            "give --batch-size and --grad-accum explicitly"
        )
    return global_batch // per_step


def apply_preset(cls: type, values: Mapping[str, Any], explicit: Collection[str] = ()) -> Any:
    """A ``cls`` config (:class:`VBIConfig` or a subclass) from ``values`` where the preset named in
    ``values["preset"]`` fills every field not in ``explicit`` (the options the user typed). A preset's
    ``global_batch`` becomes the per-process ``grad_accum`` for this run's process count (unless
    ``--grad-accum`` was given). An unknown preset is an error naming the choices."""
    name = values.get("preset", "cpu")
    if name not in PRESETS:
        raise UnknownNameError("preset (--preset)", name, PRESETS)
    known = {f.name for f in dataclasses.fields(cls)}
    merged = dict(values)
    for key, value in PRESETS[name].items():
        if key in known and key not in explicit:
            merged[key] = value
    if "global_batch" in PRESETS[name] and "grad_accum" not in explicit:
        batch = merged.get("batch_size", cls.__dataclass_fields__["batch_size"].default)
        merged["grad_accum"] = accumulation_for(PRESETS[name]["global_batch"], batch, world_size())
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
    return cls(**merged)


@dataclass(frozen=True)
class VBIConfig:
    """VBI-FT (SPFT-SQL §3.1): synthesize -> SFT text-to-SQL on real + synthetic -> verify on D_val ->
    SFT SQL-to-Text on real + y+ -> failed templates seed the next iteration -> repeat."""

    db: str = _h("Benchmark: 'demo', 'spider' (under the data root) or a folder in Spider layout.", "spider")
    model: str = _h("Text-to-SQL model to start from (hub id or local folder).", "")
    out: str = _h(
        "Run folder: real/, sql2text-0/, iter-K/ per iteration, pool.json, vbi_log.jsonl, state.json, manifest.json.",
        "",
    )
    iterations: int = _h("Number of VBI-FT iterations K.", 3)
    preset: str = _h(
        "Named defaults: cpu (these defaults) or paper (SPFT-SQL A.4: LoRA, lr 2e-4, a global batch of 64 -- "
        "8 per device, accumulation divided by the processes of `accelerate launch` --, 3 epochs, 3000 "
        "synthetic per iteration); explicit options win.",
        "cpu",
    )
    writer0: str = _h(
        "Who writes iteration 0's questions: auto (few-shot when --sql2text-model has a chat template -- the untuned "
        "instruction model is the paper's writer before optimization, SPFT-SQL A.10 -- else sql2text), sql2text (a "
        "SQL-to-Text model first fine-tuned on the benchmark's real (SQL -> question) training pairs), few-shot "
        "(--sql2text-model prompted with --fewshot-shots real pairs of the same database, not fine-tuned) or "
        "rule-based (the offline writer, an explicit choice).",
        "auto",
    )
    fewshot_shots: int = _h(
        "With --writer0 few-shot: real (SQL, question) pairs shown per question, the same database's most similar "
        "SQL first.",
        4,
    )
    sql2text_model: str | None = _h(
        "SQL-to-Text model to start from (default: --model). It is fine-tuned on the real pairs before iteration 0 "
        "and on the real pairs + all verified y+ pairs after every iteration.",
        None,
    )
    n: int = _h("Verified synthetic training examples per iteration (SPFT-SQL Table 7: 3000).", 3000)
    val_size: int | None = _h(
        "Synthetic D_val examples per iteration, made on top of --n (default: min(200, n // 10)).", None
    )
    real_data: bool = _h(
        "Text-to-SQL SFT data = the benchmark's real training pairs + the synthetic pairs (SPFT-SQL Table 14); "
        "--no-real-data trains on synthetic pairs alone.",
        True,
    )
    accumulate: bool = _h(
        "Iteration K trains on the synthetic pairs of iterations 0..K; default: on iteration K's --n alone "
        "(SPFT-SQL Table 14: '7,000 real + 3,000 syn' per iteration).",
        False,
    )
    positive: str = _h(
        "SQL of the SQL-to-Text model's y+ training pairs: prediction (the model's correct SQL y', eq. 1) or gold "
        "(the SQL the question was written for).",
        "prediction",
    )
    keep_epoch: str = _h(
        "Which epoch each SFT of the loop keeps: last (the paper's fixed epochs, SPFT-SQL A.4) or selection (the "
        "best by EX on the selection split, which verification never reads; never D_val, whose verdicts it would "
        "inflate).",
        "last",
    )
    final: str = _h(
        "Model the run returns (OUT/final for train spft, results.final in the manifest): last (the last "
        "iteration's model; train spft: the last round's self-play main, Alg. 1's output) or selection (the best "
        "on the selection split).",
        "last",
    )
    failed_share: float = _h(
        "Share of iteration K+1's synthesis drawn from the templates of iteration K's y- examples (by training "
        "frequency among them); the rest by training frequency over all templates (SPFT-SQL §3.1.3). 0 = off.",
        0.3,
    )
    selection_size: int | None = _h(
        "Real training pairs held out as the selection split: it decides the model a run returns and early "
        "stopping, and no stage trains on it (default: min(200, 10%)).",
        None,
    )
    gold_prompts: bool = _h(
        "Training prompts always show the gold SQL's tables and columns (schema filtering cannot drop them); "
        "D_val and selection prompts never do -- they equal `synth build-prompts` output (test-like).",
        True,
    )
    k1: int = _h("Prompt: tables kept by schema filtering (as `synth build-prompts --k1`).", 4)
    k2: int = _h("Prompt: columns kept per table besides keys and value-matched ones (`--k2`).", 6)
    sample_values: int = _h(
        "Prompt: representative values shown per column (`--sample-values`; 0 = none, "
        "shorter prompts for small models).",
        3,
    )
    exclude_sql: tuple[str, ...] = _h(
        "Benchmark files (Spider JSON or JSONL with db_id + query/sql) whose queries must never be synthesized, "
        "e.g. a test split; a match is replaced at generation by another candidate (counted as held_out).",
        (),
    )
    db_ids: tuple[str, ...] = _h(
        "Restrict synthesis (and the real pairs) to these databases (default: all present).", ()
    )
    data_root: str | None = _h(
        "Folder holding spider/ etc. (default: $SPFT_DATA_ROOT, else ~/.cache/spft-sql/data).", None
    )
    seed: int = _h("Seed; iteration K uses seed + K for synthesis and training.", 0)
    continue_training: bool = _h(
        "Iteration K fine-tunes iteration K-1's models (else every iteration starts from the given models).", True
    )
    # the optimiser group (train.fields.OPTIMISER_GROUP; help text and defaults live there): epochs and
    # learning rate per model, the rest shared by both (and by `train spft`'s self-play stage)
    epochs: float = optimiser_field("epochs", stage=" of text-to-SQL SFT per iteration")
    learning_rate: float = optimiser_field("learning_rate", stage=" of text-to-SQL SFT")
    sql2text_epochs: float = optimiser_field(
        "epochs", stage=" of SQL-to-Text SFT per stage (on the real pairs + the y+ pairs so far)"
    )
    sql2text_learning_rate: float = optimiser_field("learning_rate", stage=" of SQL-to-Text SFT")
    batch_size: int = optimiser_field("batch_size", stage=" of both SFT models")
    grad_accum: int = optimiser_field("grad_accum", stage=" in every stage")
    warmup_ratio: float = optimiser_field("warmup_ratio", stage=" of every stage")
    weight_decay: float = optimiser_field("weight_decay", stage=" in every stage")
    max_length: int = _h("Maximum tokens per training example; the prompt is cut from the left first.", 2048)
    max_new_tokens: int = generation_field("max_new_tokens", " (EX on D_val)")
    question_max_new_tokens: int = _h("Generation length for questions (SQL-to-Text writer).", 64)
    gen_batch_size: int = generation_field("gen_batch_size", " (SQL and questions)")
    eval_ex_limit: int = _h(
        "With --keep-epoch selection: the per-epoch EX choice judges at most this many selection examples (0 = all).",
        0,
    )
    logging_steps: int = _h("Log the training loss every N steps.", 10)
    lora: bool = lora_field("lora")
    lora_r: int = lora_field("lora_r")
    lora_alpha: int = lora_field("lora_alpha")
    lora_dropout: float = lora_field("lora_dropout")
    lora_targets: tuple[str, ...] = lora_field("lora_targets")
    dtype: str = dtype_field()
    # the Trainer group (train.fields.TRAINER_GROUP) of every SFT stage (text-to-SQL and SQL-to-Text)
    report_to: str = trainer_field("report_to")
    gradient_checkpointing: bool = trainer_field("gradient_checkpointing")
    group_by_length: bool = trainer_field("group_by_length")
    # synthesis options passed on to `synth generate` (help text and defaults are GenerateConfig's)
    timeout: float = synthesis_field("timeout_s", " Each iteration's synthesis (`synth generate --timeout`).")
    max_attempts_factor: float = synthesis_field("max_attempts_factor", " Each iteration's synthesis.")
    judge: str = judge_field("judge", "y+ / y- on D_val (and whether a synthetic query is new)")
    suite_size: int = judge_field("suite_size")
    suite_cache: str | None = judge_field("suite_cache")
    # where generation runs (train.models.backend_config; help text and defaults live there)
    backend: str = backend_field("backend")
    base_url: str | None = backend_field("base_url")
    api_key_env: str = backend_field("api_key_env")
    served_model: str | None = backend_field("served_model")
    concurrency: int = backend_field("concurrency")
    request_timeout: float = backend_field("request_timeout")
    retries: int = backend_field("retries")

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("model is required (--model: hub id or local folder)")
        if not self.out:
            raise ConfigError("out is required (--out: the run folder)")
        if self.iterations < 1:
            raise ConfigError(f"iterations (--iterations) must be >= 1, got {self.iterations}")
        report_targets(self.report_to)
        if self.n < 1:
            raise ConfigError(f"n (--n) must be >= 1, got {self.n}")
        if self.val_size is not None and self.val_size < 1:
            raise ConfigError(f"val_size (--val-size {self.val_size}) must be >= 1")
        if self.val_size is None and self.n // 10 < 1:
            raise ConfigError(f"n (--n {self.n}) leaves an empty D_val; give --val-size")
        if not 0 <= self.failed_share < 1:
            raise ConfigError(f"failed_share (--failed-share) must be in [0, 1), got {self.failed_share}")
        check_dtype(self)
        if self.preset not in PRESETS:
            raise UnknownNameError("preset (--preset)", self.preset, PRESETS)
        if self.writer0 not in WRITERS0:
            raise UnknownNameError("iteration-0 writer (--writer0)", self.writer0, WRITERS0)
        if self.positive not in POSITIVES:
            raise UnknownNameError("y+ SQL (--positive)", self.positive, POSITIVES)
        if self.keep_epoch not in EPOCH_CHOICES:
            raise UnknownNameError("epoch choice (--keep-epoch)", self.keep_epoch, EPOCH_CHOICES)
        if self.final not in FINALS:
            raise UnknownNameError("returned model (--final)", self.final, FINALS)
        if self.fewshot_shots < 1:
            raise ConfigError(f"--fewshot-shots must be >= 1, got {self.fewshot_shots}")
        if self.selection_size is not None and self.selection_size < 0:
            raise ConfigError(f"selection_size (--selection-size) must be >= 0, got {self.selection_size}")
        if self.keep_epoch == "selection" and self.selection_size == 0:
            raise ConfigError("--keep-epoch selection needs a selection split (--selection-size > 0)")
        check_optimiser(self)
        check_optimiser(self, "sql2text_")
        if not self.timeout > 0:
            raise ConfigError(f"timeout (--timeout) must be > 0, got {self.timeout}")
        for name in (
            "max_length",
            "max_new_tokens",
            "question_max_new_tokens",
            "gen_batch_size",
            "logging_steps",
            "lora_r",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be > 0, got {getattr(self, name)}")
        for name in ("max_new_tokens", "question_max_new_tokens"):
            if getattr(self, name) >= self.max_length:
                raise ConfigError(f"{name} ({getattr(self, name)}) must be < max_length ({self.max_length})")
        if self.eval_ex_limit < 0:
            raise ConfigError(f"eval_ex_limit (--eval-ex-limit) must be >= 0, got {self.eval_ex_limit}")
        if self.max_attempts_factor < 1:
            raise ConfigError(
                f"max_attempts_factor (--max-attempts-factor) must be >= 1, got {self.max_attempts_factor}"
            )
        check_judge_fields(self)

    def prompt_config(self, *, gold: bool = False) -> Any:
        """The one prompt configuration of the loop: every prompt it builds (real, synthetic, D_val,
        selection, SQL-to-Text) uses it, so D_val equals `synth build-prompts --k1 --k2 --sample-values`."""
        from synth.prompt import PromptConfig

        return PromptConfig(k1=self.k1, k2=self.k2, sample_values=self.sample_values, keep_sql_items=gold)

    @property
    def effective_sql2text_model(self) -> str:
        return self.sql2text_model or self.model

    @property
    def effective_val_size(self) -> int:
        return self.val_size if self.val_size is not None else min(200, self.n // 10)

    def iteration_seed(self, k: int) -> int:
        return self.seed + k
