"""The one helper for config dataclass fields: every option carries its help text (TRL style).

``train.cli`` turns each field into a ``--option`` whose help is ``metadata["help"]``.
"""

from __future__ import annotations

from dataclasses import field


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
    "lora_targets": ("Module names LoRA is applied to.", ("q_proj", "k_proj", "v_proj", "o_proj")),
}


def lora_field(name: str):
    """The field ``name`` of :data:`LORA_GROUP` (``lora_r: int = lora_field("lora_r")``)."""
    text, default = LORA_GROUP[name]
    return help_field(text, default)


def lora_options_of(cfg):
    """``train.modeling.LoraOptions`` from a config's LoRA fields, or ``None`` without ``--lora``."""
    if not getattr(cfg, "lora", False):
        return None
    from train.modeling import LoraOptions

    return LoraOptions(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, tuple(cfg.lora_targets))
