"""Configuration of ``train vbi`` (verification-based iterative fine-tuning, SPFT-SQL §3.1).

Imports no torch: ``train --help`` stays fast. Every field becomes one ``--option`` of ``train vbi``.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.errors import ConfigError
from train.fields import help_field as _h


@dataclass(frozen=True)
class VBIConfig:
    """The loop: synthesize -> SFT text-to-SQL -> verify on D_val -> SFT SQL-to-Text on y+ -> repeat."""

    db: str = _h("Benchmark: 'demo', 'spider' (under the data root) or a folder in Spider layout.", "spider")
    model: str = _h("Text-to-SQL model to start from (hub id or local folder).", "")
    out: str = _h("Run folder: iter-K/ per iteration, pool.json, vbi_log.jsonl, state.json, manifest.json.", "")
    iterations: int = _h("Number of iterations K (iteration 0 writes questions with the rule-based writer).", 3)
    sql2text_model: str | None = _h(
        "SQL-to-Text model to start from (default: --model). Iteration 1 writes with it after training on "
        "iteration 0's y+ (untrained when there were none, as the paper's base model).", None
    )
    n: int = _h("Verified synthetic examples per iteration (train + D_val).", 3000)
    val_size: int | None = _h("Examples per iteration split off as D_val (default: min(200, n // 10)).", None)
    db_ids: tuple[str, ...] = _h("Restrict synthesis to these databases (default: all present).", ())
    data_root: str | None = _h("Folder holding spider/ etc. (default: $SPFT_DATA_ROOT, else ~/.cache/spft-sql/data).", None)
    seed: int = _h("Seed; iteration K uses seed + K for synthesis and training.", 0)
    failure_weight: float = _h(
        "Factor on the sampling weight of templates whose D_val SQL failed (y-) in the previous iteration "
        "(1 = no feedback; large values approach 'only failed templates').", 4.0
    )
    continue_training: bool = _h(
        "Iteration K fine-tunes iteration K-1's models (else every iteration starts from the given models).", True
    )
    epochs: float = _h("Text-to-SQL SFT epochs per iteration.", 3.0)
    learning_rate: float = _h("Text-to-SQL SFT learning rate.", 2e-5)
    sql2text_epochs: float = _h("SQL-to-Text SFT epochs per iteration (on that iteration's y+ pairs).", 3.0)
    sql2text_learning_rate: float = _h("SQL-to-Text SFT learning rate.", 2e-5)
    batch_size: int = _h("Per-device training batch size (both models).", 8)
    grad_accum: int = _h("Gradient accumulation steps (both models).", 1)
    max_length: int = _h("Maximum tokens per training example; the prompt is cut from the left first.", 2048)
    max_new_tokens: int = _h("Generation length for SQL (EX on D_val).", 256)
    question_max_new_tokens: int = _h("Generation length for questions (SQL-to-Text writer).", 64)
    gen_batch_size: int = _h("Batch size for generation (SQL and questions).", 8)
    eval_ex_limit: int = _h("Per-epoch EX model selection inside SFT judges at most this many D_val examples (0 = all).", 0)
    logging_steps: int = _h("Log the training loss every N steps.", 10)
    lora: bool = _h("Train LoRA adapters instead of all weights (both models).", False)
    lora_r: int = _h("LoRA rank.", 16)
    lora_alpha: int = _h("LoRA alpha (scaling = alpha / r).", 32)
    timeout: float = _h("Per-query execution limit in seconds during synthesis.", 2.0)
    max_attempts_factor: float = _h("Synthesis attempt budget = n x this factor.", 20.0)

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("model is required (--model: hub id or local folder)")
        if not self.out:
            raise ConfigError("out is required (--out: the run folder)")
        if self.iterations < 1:
            raise ConfigError(f"iterations (--iterations) must be >= 1, got {self.iterations}")
        if self.n < 2:
            raise ConfigError(f"n (--n) must be >= 2 (a training split and a D_val), got {self.n}")
        if self.val_size is not None and not 1 <= self.val_size < self.n:
            raise ConfigError(f"val_size (--val-size {self.val_size}) must be >= 1 and < n (--n {self.n})")
        if self.val_size is None and self.n // 10 < 1:
            raise ConfigError(f"n (--n {self.n}) leaves an empty D_val; give --val-size")
        if not self.failure_weight >= 1:
            raise ConfigError(f"failure_weight (--failure-weight) must be >= 1, got {self.failure_weight}")
        for name in ("epochs", "learning_rate", "sql2text_epochs", "sql2text_learning_rate", "timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be > 0, got {getattr(self, name)}")
        for name in ("batch_size", "grad_accum", "max_length", "max_new_tokens", "question_max_new_tokens",
                     "gen_batch_size", "logging_steps", "lora_r"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be > 0, got {getattr(self, name)}")
        for name in ("max_new_tokens", "question_max_new_tokens"):
            if getattr(self, name) >= self.max_length:
                raise ConfigError(f"{name} ({getattr(self, name)}) must be < max_length ({self.max_length})")
        if self.eval_ex_limit < 0:
            raise ConfigError(f"eval_ex_limit (--eval-ex-limit) must be >= 0, got {self.eval_ex_limit}")
        if self.max_attempts_factor < 1:
            raise ConfigError(f"max_attempts_factor (--max-attempts-factor) must be >= 1, got {self.max_attempts_factor}")

    @property
    def effective_sql2text_model(self) -> str:
        return self.sql2text_model or self.model

    @property
    def effective_val_size(self) -> int:
        return self.val_size if self.val_size is not None else min(200, self.n // 10)

    def iteration_seed(self, k: int) -> int:
        return self.seed + k
