"""The one helper for config dataclass fields: every option carries its help text (TRL style).

``train.cli`` turns each field into a ``--option`` whose help is ``metadata["help"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def help_field(text: str, default=None, **kw):
    """A dataclass field with ``default`` and the help text the CLI shows for it."""
    return field(default=default, metadata={"help": text}, **kw)


#: The LoRA option group, declared once (help text, default); SFT, self-play and the loop configs embed
#: these fields flat with :func:`lora_field`, so ``--lora-r`` means and defaults the same everywhere.
LORA_GROUP: dict[str, tuple[str, object]] = {
    "lora": ("Train LoRA adapters instead of all weights (a model that already is an adapter is continued).", False),
    "lora_r": ("LoRA rank.", 16),
    "lora_alpha": ("LoRA alpha (scaling = alpha / r).", 32),
    "lora_dropout": ("LoRA dropout.", 0.05),
    "lora_targets": (
        "Module names LoRA is applied to (the default fits Llama, Qwen and Mistral families), or all-linear "
        "for every linear layer.",
        ("q_proj", "k_proj", "v_proj", "o_proj"),
    ),
}


def lora_field(name: str):
    """The field ``name`` of :data:`LORA_GROUP` (``lora_r: int = lora_field("lora_r")``)."""
    text, default = LORA_GROUP[name]
    return help_field(text, default)


def lora_fields_of(cfg) -> dict[str, Any]:
    """The LoRA group's values of ``cfg``, to pass on to a stage's config (``SFTConfig(**lora_fields_of(cfg))``)."""
    return {name: tuple(getattr(cfg, name)) if name == "lora_targets" else getattr(cfg, name) for name in LORA_GROUP}


def lora_options_of(cfg):
    """``train.models.modeling.LoraOptions`` from a config's LoRA fields, or ``None`` without ``--lora``."""
    if not getattr(cfg, "lora", False):
        return None
    from train.models.modeling import LoraOptions

    return LoraOptions(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, tuple(cfg.lora_targets))


def synthesis_field(name: str, note: str = ""):
    """A ``synth generate`` option that a training loop passes on to its synthesis, declared once: help
    text and default are :class:`synth.generation.GenerateConfig`'s field ``name`` (``note`` adds a
    sentence), so ``train vbi --timeout`` and ``synth generate --timeout`` cannot drift apart."""
    import dataclasses

    from synth.generation.config import GenerateConfig  # light: no pipeline, no sqlglot

    f = {f.name: f for f in dataclasses.fields(GenerateConfig)}[name]
    return help_field(f.metadata["help"] + note, f.default)


#: The generation option group (decoding inside a training command), declared once: name -> (help text,
#: default); ``{use}`` says what the command generates. Where generation runs is the backend group
#: (``train.models.backend_config``).
GENERATION_GROUP: dict[str, tuple[str, object]] = {
    "max_new_tokens": ("Most tokens generated per SQL{use}; must be < --max-length.", 256),
    "gen_batch_size": ("Prompts per generation batch{use}.", 8),
}


def generation_field(name: str, use: str = ""):
    """The field ``name`` of :data:`GENERATION_GROUP` (``max_new_tokens: int = generation_field(...)``)."""
    text, default = GENERATION_GROUP[name]
    return help_field(text.format(use=use), default)


#: The optimiser option group, declared once: every stage that trains (text-to-SQL SFT, SQL-to-Text SFT,
#: self-play) has these six knobs with this meaning. ``{stage}`` names the stage where a config holds
#: several (``sql2text_epochs``), ``{items}`` what one batch holds.
OPTIMISER_GROUP: dict[str, str] = {
    "epochs": "Training epochs{stage}.",
    "learning_rate": "Peak learning rate{stage} (AdamW, linear decay to 0).",
    "batch_size": "{items} per device batch{stage}.",
    "grad_accum": "Gradient accumulation steps (effective batch = batch size x this){stage}.",
    "warmup_ratio": "Fraction of the optimizer steps{stage} spent in linear warm-up from 0 (0 = none).",
    "weight_decay": "AdamW weight decay{stage}.",
}

#: The group's defaults per kind of training. SFT trains on examples; self-play on (y+, y-) pairs of two
#: sequences each, from a model that is already fine-tuned, hence fewer epochs and a smaller rate.
OPTIMISER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {
        "epochs": 3.0,
        "learning_rate": 2e-5,
        "batch_size": 8,
        "grad_accum": 1,
        "warmup_ratio": 0.0,
        "weight_decay": 0.0,
    },
    "selfplay": {
        "epochs": 1.0,
        "learning_rate": 1e-5,
        "batch_size": 4,
        "grad_accum": 1,
        "warmup_ratio": 0.0,
        "weight_decay": 0.0,
    },
}
OPTIMISER_ITEMS: dict[str, str] = {"sft": "Examples", "selfplay": "Pairs (each two sequences)"}


def optimiser_field(name: str, kind: str = "sft", *, stage: str = "", note: str = ""):
    """The field ``name`` of :data:`OPTIMISER_GROUP` with ``kind``'s default (``"sft"`` or ``"selfplay"``);
    ``stage`` (e.g. ``" of SQL-to-Text SFT"``) says which stage a prefixed field drives, ``note`` adds a
    sentence (``epochs: float = optimiser_field("epochs")``)."""
    text = OPTIMISER_GROUP[name].format(stage=stage, items=OPTIMISER_ITEMS[kind]) + note
    return help_field(text, OPTIMISER_DEFAULTS[kind][name])


@dataclass(frozen=True)
class OptimiserOptions:
    """One stage's optimiser settings, whichever config they came from (``training_arguments`` reads them)."""

    epochs: float
    learning_rate: float
    batch_size: int
    grad_accum: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0


def optimiser_of(cfg: Any, prefix: str = "") -> OptimiserOptions:
    """The optimiser settings of the stage whose fields start with ``prefix`` (``"sql2text_"``,
    ``"selfplay_"``); a knob the stage has no own field for is the config's shared one.

    >>> from types import SimpleNamespace as NS
    >>> optimiser_of(NS(epochs=3.0, learning_rate=2e-5, batch_size=8, grad_accum=2, sql2text_epochs=1.0),
    ...              "sql2text_").epochs
    1.0
    """
    values = {}
    for name in OPTIMISER_GROUP:
        own = f"{prefix}{name}"
        values[name] = getattr(cfg, own) if hasattr(cfg, own) else getattr(cfg, name, OPTIMISER_DEFAULTS["sft"][name])
    return OptimiserOptions(**values)


def check_optimiser(cfg: Any, prefix: str = "") -> None:
    """Errors that name the option: epochs, learning rate, batch size and accumulation > 0, warm-up in [0, 1),
    weight decay >= 0 (only the fields ``cfg`` itself has with ``prefix``)."""
    from evaluation.errors import ConfigError

    def bad(name: str, rule: str) -> None:
        option = f"{prefix}{name}"
        raise ConfigError(f"{option} (--{option.replace('_', '-')}) must be {rule}, got {getattr(cfg, option)}")

    for name in OPTIMISER_GROUP:
        if not hasattr(cfg, prefix + name):
            continue
        value = getattr(cfg, prefix + name)
        if name in ("epochs", "learning_rate", "batch_size", "grad_accum") and not value > 0:
            bad(name, "> 0")
        if name == "warmup_ratio" and not 0 <= value < 1:
            bad(name, "in [0, 1)")
        if name == "weight_decay" and value < 0:
            bad(name, ">= 0")


#: The Trainer option group: how a stage's training runs and reports, declared once. Names transformers'
#: ``report_to`` accepts (``all`` = every installed one); checked here so a typo fails before a model loads.
REPORT_TO = (
    "none",
    "all",
    "azure_ml",
    "clearml",
    "codecarbon",
    "comet_ml",
    "dagshub",
    "dvclive",
    "flyte",
    "kubeflow",
    "mlflow",
    "neptune",
    "swanlab",
    "tensorboard",
    "trackio",
    "wandb",
)
TRAINER_GROUP: dict[str, tuple[str, object]] = {
    "report_to": (
        "Where the Trainer reports its logs: none, or comma-separated transformers integrations (tensorboard, "
        "wandb, mlflow, ...; all = every installed one). The integration's package must be installed.",
        "none",
    ),
    "gradient_checkpointing": (
        "Recompute each layer's activations in the backward pass instead of keeping them: about half the "
        "training memory for about a third more time per step (docs/train.md has the figures).",
        False,
    ),
    "group_by_length": (
        "Put examples of similar length in the same batch (less padding, so faster; batches are less random).",
        False,
    ),
}


#: ``--dtype`` of the commands that train or generate (values: ``train.models.modeling.DTYPES``).
DTYPE_HELP = (
    "Compute precision: auto (bf16 where the device has it -- a recent GPU, or a CPU with avx512_bf16 or "
    "AMX -- else fp32), bf16, fp16 (GPU only) or fp32. Training keeps fp32 weights and runs under autocast; "
    "generation loads the weights in this dtype. The manifest records what ran."
)


def dtype_field(default: str = "auto"):
    """The ``--dtype`` field (``dtype: str = dtype_field()``)."""
    return help_field(DTYPE_HELP, default)


def check_dtype(cfg) -> None:
    """The one check of a config's ``dtype`` field: an unknown name is an error naming the choices."""
    from evaluation.errors import UnknownNameError
    from train.models.modeling import DTYPES

    if cfg.dtype not in DTYPES:
        raise UnknownNameError("dtype (--dtype)", cfg.dtype, DTYPES)


def trainer_field(name: str):
    """The field ``name`` of :data:`TRAINER_GROUP` (``report_to: str = trainer_field("report_to")``)."""
    text, default = TRAINER_GROUP[name]
    return help_field(text, default)


def report_targets(report_to: str) -> list[str]:
    """``--report-to`` as transformers' list; an unknown name is an error with a did-you-mean.

    >>> report_targets("tensorboard, wandb")
    ['tensorboard', 'wandb']
    >>> report_targets("none")
    []
    """
    from evaluation.errors import UnknownNameError

    names = [n.strip() for n in report_to.split(",") if n.strip()]
    for name in names:
        if name not in REPORT_TO:
            raise UnknownNameError("report_to (--report-to)", name, REPORT_TO)
    return [n for n in names if n != "none"]


def trainer_fields_of(cfg: Any) -> dict[str, Any]:
    """The Trainer group's values of ``cfg``, to pass on to a stage's config (``SFTConfig(**trainer_fields_of(cfg))``):
    how the loops' SFT stages train, as ``train sft`` does."""
    return {name: getattr(cfg, name) for name in TRAINER_GROUP}


#: Trainer options that do not change what a run computes (only memory, speed of a step, where logs go):
#: a resumed loop may change them. ``group_by_length`` is not one: it changes the batches.
TRAINER_RESUMABLE = ("report_to", "gradient_checkpointing")


def trainer_settings_of(cfg: Any) -> dict[str, Any]:
    """The ``TrainingArguments`` keywords of the config's Trainer group (``training_arguments(**...)``)."""
    return {
        "report_to": report_targets(cfg.report_to),
        "gradient_checkpointing": cfg.gradient_checkpointing,
        # non-reentrant: works with frozen inputs (LoRA) without enable_input_require_grads
        "gradient_checkpointing_kwargs": {"use_reentrant": False} if cfg.gradient_checkpointing else None,
        "train_sampling_strategy": "group_by_length" if cfg.group_by_length else "random",
    }
