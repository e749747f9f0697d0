"""Configuration of ``train spft``: the whole SPFT-SQL loop (VBI-FT rounds + self-play), and its presets.

:class:`SpftConfig` *extends* :class:`train.vbi_config.VBIConfig` -- the synthesis, SFT, LoRA and
generation options are declared once there -- and adds the outer loop and the self-play stage.
Imports no torch: ``train --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError
from train.fields import check_optimiser, optimiser_field
from train.fields import help_field as _h
from train.losses import LOSS_VARIANTS
from train.selfplay_config import PAIR_SPLITS
from train.vbi_config import VBIConfig, apply_preset

#: how self-play's candidate set M lives across rounds (``SpftConfig.pool_scope``)
POOL_SCOPES = ("grow", "round")


@dataclass(frozen=True)
class SpftConfig(VBIConfig):
    """SPFT-SQL end to end: rounds of (VBI-FT iterations -> self-play), the self-play main starting the
    next round's SFT; the returned model is the last round's main (Alg. 1; ``--final selection``: the
    best on the held-out selection split)."""

    out: str = _h(  # not train vbi's layout: the loop's stages are folders of their own
        "Run folder: real/, vbi/ (sql2text-0/, iter-G/ of every round), round-r/ (selfplay-data/, selfplay/), "
        "rounds.jsonl, rounds.png, final/ (the model returned), state.json, manifest.json.",
        "",
    )
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
    pool_scope: str = _h(
        "Self-play's candidate set M: grow (Alg. 1: M starts as the base model p_θ0 + the round's VBI-FT models, "
        "each optimized main is added, and a used opponent leaves M; later rounds add their VBI-FT models) or "
        "round (M = the round's VBI-FT models + the previous round's main, anew every round).",
        "grow",
    )
    patience: int = _h("Stop after this many rounds in a row whose best selection EX is not above the best so far.", 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rounds < 1:
            raise ConfigError(f"rounds (--rounds) must be >= 1, got {self.rounds}")
        if self.selfplay_rounds < 1:
            raise ConfigError(f"selfplay_rounds (--selfplay-rounds) must be >= 1, got {self.selfplay_rounds}")
        if self.loss not in LOSS_VARIANTS:
            raise UnknownNameError("loss variant (--loss)", self.loss, LOSS_VARIANTS)
        if self.pool_scope not in POOL_SCOPES:
            raise UnknownNameError("pool scope (--pool-scope)", self.pool_scope, POOL_SCOPES)
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
    """A :class:`SpftConfig` with ``values["preset"]`` filling every field not in ``explicit`` (the options
    the user typed); see :func:`train.vbi_config.apply_preset`."""
    return apply_preset(SpftConfig, values, explicit)
