"""Configuration of ``train selfplay`` (every field has a help text; checks name the fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError
from evaluation.run_record import config_dict
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
)
from train.fields import help_field as _h
from train.judge_fields import check_judge_fields, judge_field
from train.losses import LOSS_VARIANTS, get_variant
from train.models.backend_config import BACKEND_FIELDS, backend_field
from train.models.modeling import LoraOptions

PAIR_SPLITS = ("val", "train")
POSITIVES = ("gold", "sample")


#: fields a resumed run may change: how long it goes on and how it logs, not what a round computes
RESUMABLE_CHANGES = frozenset(
    {
        "rounds",
        "patience",
        "min_delta",
        "logging_steps",
        "save_steps",
        "gen_batch_size",
        "pool",
        "model",
        "data",
        "out",
        "data_root",
        "suite_cache",
    }
) | set(BACKEND_FIELDS)  # where, not what


@dataclass(frozen=True)
class SelfPlayConfig:
    """Self-play fine-tuning (SPFT-SQL Algorithm 1) with the error-driven loss or a variant."""

    data: str = _h("Folder with train.jsonl and val.jsonl (D_val); `synth generate` output.", "")
    out: str = _h("Run folder: pool.json, round-K/, rounds.jsonl, selfplay.png, manifest.json.", "")
    pool: str | None = _h("Folder holding a pool.json of candidate models (exclusive with model).", None)
    model: str | None = _h("Start from this single model (it then plays against itself first).", None)
    rounds: int = _h("Maximum number of self-play rounds T.", 3)
    loss: str = _h("Loss variant: spft (paper eq. 3), exspin, spin or dpo; see docs/train.md.", "spft")
    lam: float = _h("λ in eq. 3 (β for dpo): scales the log-ratio margin.", 0.1)
    pairs_from: str | None = _h(
        "Questions the opponent answers to make pairs: val (D_val, SPFT-SQL Alg. 1) or train (the data folder's "
        "train.jsonl; `train spft` puts the real training pairs there). Default: the loss variant's own choice "
        "(spft: val; spin, exspin, dpo: train; docs/train.md).",
        None,
    )
    samples: int = _h(
        "Opponent outputs per question: 1 = greedy; k > 1 = k samples at --temperature, "
        "each judged and paired (identical samples of a question are kept once).",
        1,
    )
    temperature: float = _h(
        "Sampling temperature of the opponent when samples > 1, and of every opponent of spin / exspin (their "
        "y' is sampled: y' ~ p_θt).",
        0.8,
    )
    positive: str = _h(
        "y+ of a pair: gold (the gold SQL), or sample (a correct opponent sample of the same "
        "question when one was drawn, else the gold; needs samples > 1).",
        "gold",
    )
    # the optimiser group (train.fields.OPTIMISER_GROUP; help text and defaults live there), per round
    epochs: float = optimiser_field("epochs", "selfplay", stage=" over the pairs of each round")
    learning_rate: float = optimiser_field("learning_rate", "selfplay", stage=" of each round")
    batch_size: int = optimiser_field("batch_size", "selfplay")
    grad_accum: int = optimiser_field("grad_accum", "selfplay")
    warmup_ratio: float = optimiser_field("warmup_ratio", "selfplay", stage=" of each round")
    weight_decay: float = optimiser_field("weight_decay", "selfplay")
    max_length: int = _h("Maximum tokens per sequence; the prompt is cut from the left first.", 2048)
    max_new_tokens: int = generation_field("max_new_tokens", " (D_val scoring and opponent outputs)")
    gen_batch_size: int = generation_field("gen_batch_size", " (also reference log-probs)")
    patience: int = _h("Stop after this many rounds in a row whose new model lowers the best D_val EX.", 1)
    min_delta: float = _h("A round counts as a drop only when EX falls more than this below the best.", 0.0)
    seed: int = _h("Seed for data order, adapter initialisation and opponent sampling.", 0)
    lora: bool = lora_field("lora")
    lora_r: int = lora_field("lora_r")
    lora_alpha: int = lora_field("lora_alpha")
    lora_dropout: float = lora_field("lora_dropout")
    lora_targets: tuple[str, ...] = lora_field("lora_targets")
    dtype: str = dtype_field()
    logging_steps: int = _h("Log loss and margins every N steps.", 10)
    save_steps: int = _h(
        "Also checkpoint every N optimizer steps inside a round (0 = at the end of each epoch), "
        "so a killed long round resumes mid-way.",
        0,
    )
    data_root: str | None = _h(
        "Root that example db_path values are relative to (default: from the data manifest).", None
    )
    judge: str = judge_field("judge", "the reward R of the opponent's SQL")
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
        if not self.data:
            raise ConfigError("data is required (the folder written by `synth generate`)")
        if not self.out:
            raise ConfigError("out is required")
        if bool(self.pool) == bool(self.model):
            raise ConfigError("give exactly one of pool (a folder with pool.json) or model (a starting model)")
        check_dtype(self)
        if self.loss not in LOSS_VARIANTS:
            raise UnknownNameError("loss variant", self.loss, LOSS_VARIANTS)
        if self.pairs_from is not None and self.pairs_from not in PAIR_SPLITS:
            raise UnknownNameError("pair source (--pairs-from)", self.pairs_from, PAIR_SPLITS)
        if self.positive not in POSITIVES:
            raise UnknownNameError("positive", self.positive, POSITIVES)
        if self.positive == "sample" and self.samples < 2:
            raise ConfigError("positive=sample needs samples >= 2 (a correct sample can only come from several draws)")
        if (self.samples > 1 or get_variant(self.loss).decode == "sample") and self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0 when the opponent samples, got {self.temperature}")
        if self.rounds < 1:
            raise ConfigError(f"rounds must be >= 1, got {self.rounds}")
        if self.lam <= 0:
            raise ConfigError(f"lam (lambda) must be > 0, got {self.lam}")
        check_optimiser(self)
        for name in ("max_length", "max_new_tokens", "gen_batch_size", "logging_steps", "patience", "samples"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.save_steps < 0:
            raise ConfigError(f"save_steps must be >= 0, got {self.save_steps}")
        if self.min_delta < 0:
            raise ConfigError(f"min_delta must be >= 0, got {self.min_delta}")
        if self.max_new_tokens >= self.max_length:
            raise ConfigError(f"max_new_tokens ({self.max_new_tokens}) must be < max_length ({self.max_length})")
        check_judge_fields(self)
        if self.lora:
            self.lora_options()

    @property
    def effective_pairs_from(self) -> str:
        """``pairs_from``, or the loss variant's default source of questions."""
        from train.losses import get_variant

        return self.pairs_from or get_variant(self.loss).pairs_from

    def resume_conflicts(self, saved: dict) -> list[str]:
        """Fields whose value differs from the run being resumed (those that change what a round does).

        A run saved before ``--judge`` existed was judged by EX: resuming it under ``ts`` is a conflict."""
        out = [
            f"{k} (was {saved[k]!r}, now {v!r})"
            for k, v in config_dict(self).items()
            if k in saved and k not in RESUMABLE_CHANGES and saved[k] != v
        ]
        if saved and "judge" not in saved and self.judge != "ex":
            out.append(f"judge (was 'ex': the run predates --judge, now {self.judge!r})")
        return out

    def lora_options(self) -> LoraOptions | None:
        return lora_options_of(self)

    def optimiser(self) -> OptimiserOptions:
        return optimiser_of(self)


def selfplay_fields_of(loop: Any) -> dict[str, Any]:
    """The self-play stage's settings that a loop config (``train spft``'s, an experiment's) passes on to
    :class:`SelfPlayConfig`: its ``selfplay_`` optimiser group, λ, lengths, LoRA, precision and logging.
    One place, so that the loop's self-play and an experiment's self-play baselines cannot drift apart;
    what differs between them (data, start model, loss, rounds, seed) the caller adds."""
    from dataclasses import asdict

    from train.fields import lora_fields_of

    return dict(
        lam=loop.lam,
        **asdict(optimiser_of(loop, "selfplay_")),
        max_length=loop.max_length,
        max_new_tokens=loop.max_new_tokens,
        gen_batch_size=loop.gen_batch_size,
        **lora_fields_of(loop),
        dtype=loop.dtype,
        logging_steps=loop.logging_steps,
    )
