"""Configuration of ``train spft``: the whole SPFT-SQL loop (VBI-FT rounds + self-play), and its presets.

:class:`SpftConfig` *extends* :class:`train.vbi_config.VBIConfig` -- the synthesis, SFT, LoRA and
generation options are declared once there -- and adds the outer loop and the self-play stage.
Imports no torch: ``train --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError
from train.fields import check_optimiser, optimiser_field
from train.fields import help_field as _h
from train.losses import LOSS_VARIANTS
from train.selfplay_config import PAIR_SPLITS
from train.vbi_config import VBIConfig

#: Named sets of defaults. ``cpu`` = the dataclass defaults (tiny models, tests); ``paper`` = SPFT-SQL
#: Appendix A.4 (LoRA, AdamW, batch 64 = 8 x 8 accumulation, lr 2e-4, 3 epochs) and Table 7 (3000
#: synthetic per round). Options given explicitly always win over the preset.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    "paper": {
        "lora": True,
        "learning_rate": 2e-4,
        "sql2text_learning_rate": 2e-4,
        "selfplay_learning_rate": 2e-4,
        "batch_size": 8,
        "grad_accum": 8,
        "epochs": 3.0,
        "sql2text_epochs": 3.0,
        "selfplay_epochs": 3.0,
        "n": 3000,
        "max_length": 2048,
    },
}


@dataclass(frozen=True)
class SpftConfig(VBIConfig):
    """SPFT-SQL end to end: rounds of (VBI-FT iterations -> self-play), the self-play main starting the
    next round's SFT; the returned model is the best on the held-out selection split."""

    rounds: int = _h("Outer rounds K: each runs --iterations VBI-FT iterations, then self-play.", 2)
    selfplay_rounds: int = _h("Self-play steps T per round (Algorithm 1's loop over the round's pool).", 1)
    loss: str = _h("Self-play loss: spft (eq. 3, the paper's), exspin, spin or dpo (docs/train.md).", "spft")
    lam: float = _h("λ in eq. 3 (β for dpo).", 0.1)
    pairs_from: str | None = _h(
        "Questions the opponent answers: val (the round's D_val) or train (the real "
        "training pairs). Default: the loss variant's choice.",
        None,
    )
    # the self-play stage's own optimiser knobs (train.fields.OPTIMISER_GROUP); the others are VBIConfig's
    selfplay_epochs: float = optimiser_field("epochs", "selfplay", stage=" over the pairs of each self-play step")
    selfplay_learning_rate: float = optimiser_field("learning_rate", "selfplay", stage=" of each self-play step")
    selfplay_batch_size: int = optimiser_field("batch_size", "selfplay", stage=" in self-play")
    patience: int = _h("Stop after this many rounds in a row whose best selection EX is not above the best so far.", 2)
    preset: str = _h(
        "Named defaults: cpu (these defaults) or paper (SPFT-SQL A.4: LoRA, lr 2e-4, batch 64, "
        "3 epochs, 3000 synthetic per round); explicit options win.",
        "cpu",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.preset not in PRESETS:
            raise UnknownNameError("preset (--preset)", self.preset, PRESETS)
        if self.rounds < 1:
            raise ConfigError(f"rounds (--rounds) must be >= 1, got {self.rounds}")
        if self.selfplay_rounds < 1:
            raise ConfigError(f"selfplay_rounds (--selfplay-rounds) must be >= 1, got {self.selfplay_rounds}")
        if self.loss not in LOSS_VARIANTS:
            raise UnknownNameError("loss variant (--loss)", self.loss, LOSS_VARIANTS)
        if self.pairs_from is not None and self.pairs_from not in PAIR_SPLITS:
            raise UnknownNameError("pair source (--pairs-from)", self.pairs_from, PAIR_SPLITS)
        if self.lam <= 0:
            raise ConfigError(f"lam (--lambda) must be > 0, got {self.lam}")
        check_optimiser(self, "selfplay_")
        for name in ("patience",):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be >= 1, got {getattr(self, name)}")

    def global_iteration(self, round_index: int, i: int) -> int:
        """VBI iterations are numbered across rounds (folder ``vbi/iter-G``, seed ``seed + G``)."""
        return round_index * self.iterations + i


def with_preset(values: Mapping[str, Any], explicit: Collection[str] = ()) -> SpftConfig:
    """A config from ``values`` where the preset named in ``values["preset"]`` fills every field not in
    ``explicit`` (the options the user typed). An unknown preset is an error naming the choices."""
    name = values.get("preset", "cpu")
    if name not in PRESETS:
        raise UnknownNameError("preset (--preset)", name, PRESETS)
    merged = dict(values)
    for key, value in PRESETS[name].items():
        if key not in explicit:
            merged[key] = value
    known = {f.name for f in dataclasses.fields(SpftConfig)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) for train spft: {', '.join(unknown)}")
    return SpftConfig(**merged)
