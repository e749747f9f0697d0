"""Configuration of ``train sft`` (TRL style: every field has a help text, checks name the fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError
from train.fields import (
    OptimiserOptions,
    check_dtype,
    check_optimiser,
    dtype_field,
    generation_field,
    lora_field,
    lora_options_of,
    optimiser_field,
    optimiser_of,
    report_targets,
    trainer_field,
)
from train.fields import help_field as _h
from train.models.formatting import TASKS
from train.models.modeling import LoraOptions

#: Help-text note on the options an ``init-tiny`` model sets for itself (``train.models.tiny.FROM_SCRATCH_DEFAULTS``).
FROM_SCRATCH_NOTE = (
    " Not given, a model from `train init-tiny` (random weights) uses its own from-scratch value "
    "from MODEL/training_defaults.json instead, and says so."
)


#: which epoch ``train sft`` writes to OUT
KEEP_EPOCHS = ("best", "last")


@dataclass(frozen=True)
class SFTConfig:
    """Supervised fine-tuning on ``synth generate`` output; loss on the answer tokens only."""

    data: str = _h("Folder with train.jsonl and val.jsonl (the output of `synth generate`).", "")
    model: str = _h("Hub id or local folder of the model (or LoRA adapter) to fine-tune.", "")
    out: str = _h("Output folder: the best model, checkpoints/, manifest.json, log_history.jsonl.", "")
    task: str = _h("text2sql (prompt -> SQL) or sql2text (schema + SQL -> question).", "text2sql")
    # the optimiser group (train.fields.OPTIMISER_GROUP; help text and defaults live there)
    epochs: float = optimiser_field("epochs", note=" D_val is evaluated after each one." + FROM_SCRATCH_NOTE)
    learning_rate: float = optimiser_field("learning_rate", note=FROM_SCRATCH_NOTE)
    batch_size: int = optimiser_field("batch_size", note=FROM_SCRATCH_NOTE)
    grad_accum: int = optimiser_field("grad_accum")
    warmup_ratio: float = optimiser_field("warmup_ratio")
    weight_decay: float = optimiser_field("weight_decay")
    max_length: int = _h("Maximum tokens per example; the prompt is cut from the left first.", 2048)
    seed: int = _h("Seed for initialisation, data order and sampling.", 0)
    lora: bool = lora_field("lora")
    lora_r: int = lora_field("lora_r")
    lora_alpha: int = lora_field("lora_alpha")
    lora_dropout: float = lora_field("lora_dropout")
    lora_targets: tuple[str, ...] = lora_field("lora_targets")
    eval_ex: bool = _h(
        "Also compute execution accuracy on D_val each epoch (text2sql only) and keep the best by EX.", True
    )
    eval_ex_limit: int = _h("Judge at most this many D_val examples for EX (0 = all).", 0)
    keep_epoch: str = _h(
        "Which epoch's weights OUT holds: best (by D_val EX with --eval-ex, else by D_val loss) or last (a fixed "
        "number of epochs; D_val is still scored each epoch, for the log only).",
        "best",
    )
    max_new_tokens: int = generation_field("max_new_tokens", " (EX on D_val)")
    gen_batch_size: int = generation_field("gen_batch_size", " (EX on D_val)")
    dtype: str = dtype_field()
    logging_steps: int = _h("Log the training loss every N steps.", 10)
    # the Trainer group (train.fields.TRAINER_GROUP)
    report_to: str = trainer_field("report_to")
    gradient_checkpointing: bool = trainer_field("gradient_checkpointing")
    group_by_length: bool = trainer_field("group_by_length")
    save_total_limit: int = _h("Checkpoints kept on disk (the best is always kept).", 2)
    resume: bool = _h("Resume from the last checkpoint in OUT/checkpoints if there is one.", False)
    data_root: str | None = _h(
        "Root that example db_path values are relative to (default: from the data manifest).", None
    )

    def __post_init__(self) -> None:
        if not self.data:
            raise ConfigError("data is required (the folder written by `synth generate`)")
        if not self.model:
            raise ConfigError("model is required (hub id or local folder)")
        check_dtype(self)
        if not self.out:
            raise ConfigError("out is required")
        if self.task not in TASKS:
            raise UnknownNameError("task", self.task, TASKS)
        check_optimiser(self)
        for name in ("max_length", "max_new_tokens", "gen_batch_size", "logging_steps"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.eval_ex_limit < 0:
            raise ConfigError(f"eval_ex_limit must be >= 0, got {self.eval_ex_limit}")
        if self.keep_epoch not in KEEP_EPOCHS:
            raise UnknownNameError("kept epoch (--keep-epoch)", self.keep_epoch, KEEP_EPOCHS)
        if self.save_total_limit < 1:
            raise ConfigError(f"save_total_limit must be >= 1, got {self.save_total_limit}")
        if self.max_new_tokens >= self.max_length:
            raise ConfigError(f"max_new_tokens ({self.max_new_tokens}) must be < max_length ({self.max_length})")
        if self.lora:
            self.lora_options()  # validates r / dropout / targets
        report_targets(self.report_to)

    @property
    def uses_ex(self) -> bool:
        return self.eval_ex and self.task == "text2sql"

    def lora_options(self) -> LoraOptions | None:
        return lora_options_of(self)

    def optimiser(self) -> OptimiserOptions:
        return optimiser_of(self)


def sft_fields_of(loop: Any) -> dict[str, Any]:
    """The settings a loop config (``train vbi`` / ``spft``'s, an experiment's) passes on to every SFT stage
    it runs as :class:`SFTConfig`: lengths, LoRA, precision, generation, logging, the Trainer group, one
    checkpoint kept, resumable. One place, so that the loop's SFT stages and an experiment's ``sft`` /
    ``sft-steps`` arms train alike; what differs between them (data, start model, task, optimiser, seed,
    epoch choice, the writer's shorter generation) the caller adds or overrides."""
    from train.fields import lora_fields_of, trainer_fields_of

    return dict(
        max_length=loop.max_length,
        **lora_fields_of(loop),
        dtype=loop.dtype,
        eval_ex_limit=loop.eval_ex_limit,
        max_new_tokens=loop.max_new_tokens,
        gen_batch_size=loop.gen_batch_size,
        logging_steps=loop.logging_steps,
        **trainer_fields_of(loop),
        save_total_limit=1,
        resume=True,
    )
