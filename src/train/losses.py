r"""Self-play / preference losses as plain functions on tensors of sequence log-probabilities.

Every variant computes, per pair (x, y+, y−) with reward R = 1 when the opponent's SQL y' executes
to a different result than the gold SQL (0 when it matches),

    Δ+ = log p_m(y+|x) − log p_ref(y+|x),   Δ− = log p_m(y−|x) − log p_ref(y−|x)
    loss = mean over kept pairs of  ℓ(w · (Δ+ − Δ−)),   ℓ(t) = log(1 + e^−t) = softplus(−t)

where log-probs are summed over the answer tokens, y+ is the gold SQL (or, with ``--samples k
--positive sample``, a correct opponent sample of the same question), y− the opponent's output,
and the variants differ in the weight w, which pairs are kept, who plays the opponent and what the
reference is:

==========  ================  ==================  ==============================  =======  ====================  ===========
variant     weight w          pairs kept          opponent (generates y')         y' by    reference p_ref       pairs from
==========  ================  ==================  ==============================  =======  ====================  ===========
spft        λ·R (eq. 3)       all                 lowest D_val EX, not yet used   greedy   the opponent p_θo     val (D_val)
exspin      λ                 R = 1 only          previous round's model (= main) sampling the opponent p_θt     train
spin        λ                 all (R ignored)     previous round's model (= main) sampling the opponent p_θt     train
dpo         β = λ (sigmoid)   all (R ignored)     the initial model               greedy   initial model (fixed) train
==========  ================  ==================  ==============================  =======  ====================  ===========

SPIN and ExSPIN draw y' ~ p_θt (a sample at ``--temperature``), as their papers define the opponent's
data; SPFT-SQL's opponent and DPO's initial model write their greedy answer.

The main is the highest D_val EX model for ``spft``/``dpo`` (Algorithm 1) and the previous round's
model for ``exspin``/``spin`` (SPIN/ExSPIN iterate θ_t -> θ_t+1 with opponent θ_t). For ``spft`` a
pair whose opponent output is correct (R = 0) gives ℓ(0) = log 2 and no gradient, and with R = 1
the loss equals SPIN's on that pair. ``exspin`` averages over the wrong outputs only. ``dpo`` is the
baseline of SPFT-SQL Table 3: a fixed reference (the initial SFT model), whose own outputs are every
one a negative -- no execution filter, so DPO also pushes down SQL that was correct, which is the
paper's point against it. "pairs from" is each variant's default source of questions for the
opponent (``--pairs-from``): D_val for SPFT-SQL (Algorithm 1), the real training set for the
baselines (SPIN and ExSPIN train on the SFT data; DPO on the SFT model's outputs for it).

Each variant is one :class:`LossVariant` record in :data:`VARIANTS`; the CLI, :mod:`train.roles`,
the pair filter and docs/train.md's table read it (adding a variant is adding one record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError

#: who writes y' / who is p_ref (see the module table)
OPPONENT_RULES = ("worst_unused", "previous", "initial")
REFERENCE_RULES = ("opponent", "initial")


@dataclass(frozen=True)
class LossVariant:
    """Everything that distinguishes one self-play / preference variant (one row of the module table)."""

    name: str
    weight: str  # "lambda*R" (eq. 3) or "lambda"
    keep: str  # "all" or "wrong" (pairs with R = 1 only)
    opponent: str  # one of OPPONENT_RULES
    reference: str  # one of REFERENCE_RULES
    pairs_from: str  # default source of questions: "val" (D_val) or "train" (the real training set)
    paper: str  # where the definition comes from
    help: str
    decode: str = "greedy"  # how the opponent writes y': "greedy", or "sample" (y' ~ p_θt: SPIN, ExSPIN)

    @property
    def needs_wrong(self) -> bool:
        """A round can only learn when some opponent output was wrong (R = 1 drives the loss)."""
        return self.weight == "lambda*R" or self.keep == "wrong"


VARIANTS: dict[str, LossVariant] = {
    v.name: v
    for v in (
        LossVariant(
            "spft",
            "lambda*R",
            "all",
            "worst_unused",
            "opponent",
            "val",
            "SPFT-SQL eq. 3, Alg. 1",
            "error-driven loss: main = best of the pool, opponent = worst not yet used, weight λ·R",
        ),
        LossVariant(
            "exspin",
            "lambda",
            "wrong",
            "previous",
            "opponent",
            "train",
            "ExSPIN §4.3",
            "SPIN on the opponent's wrong outputs only; opponent = previous round's model",
            decode="sample",
        ),
        LossVariant(
            "spin",
            "lambda",
            "all",
            "previous",
            "opponent",
            "train",
            "SPIN (Chen et al. 2024)",
            "every generation of the previous round's model is a negative",
            decode="sample",
        ),
        LossVariant(
            "dpo",
            "lambda",
            "all",
            "initial",
            "initial",
            "train",
            "DPO (Rafailov et al. 2024), SPFT-SQL Table 3",
            "fixed reference = initial SFT model; all of its outputs are negatives (no execution filter)",
        ),
    )
}
LOSS_VARIANTS = tuple(VARIANTS)
#: variants that only train on pairs whose opponent output was wrong (R = 1)
FILTERS_CORRECT = frozenset(n for n, v in VARIANTS.items() if v.keep == "wrong")
#: variants whose opponent is the previous round's model, which the main also starts from (SPIN, ExSPIN)
OPPONENT_IS_PREVIOUS = frozenset(n for n, v in VARIANTS.items() if v.opponent == "previous")
#: variants whose reference is fixed for the whole run: the initial model (the first round's main)
REFERENCE_IS_INITIAL = frozenset(n for n, v in VARIANTS.items() if v.reference == "initial")


def get_variant(name: str) -> LossVariant:
    check_variant(name)
    return VARIANTS[name]


def variants_table() -> str:
    """The variant table in Markdown (docs/train.md embeds exactly this; a test keeps them equal)."""
    head = "| variant | weight | pairs kept | opponent | opponent decodes | reference | pairs from (default) | source |"
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for v in VARIANTS.values():
        w = "λ·R" if v.weight == "lambda*R" else "λ"
        keep = "R = 1 only" if v.keep == "wrong" else "all"
        rows.append(
            f"| `{v.name}` | {w} | {keep} | {v.opponent} | {v.decode} | {v.reference} | {v.pairs_from} | {v.paper} |"
        )
    return "\n".join(rows) + "\n"


def check_variant(variant: str) -> str:
    if variant not in LOSS_VARIANTS:
        raise UnknownNameError("loss variant", variant, LOSS_VARIANTS)
    return variant


def pair_weights(rewards: Any, variant: str, lam: float) -> tuple[Any, Any]:
    """``(weights, keep_mask)`` per pair for a variant (see the module table)."""
    import torch

    v = get_variant(variant)
    rewards = rewards.to(torch.float32)
    ones = torch.ones_like(rewards)
    weights = lam * rewards if v.weight == "lambda*R" else lam * ones
    keep = rewards > 0 if v.keep == "wrong" else ones.bool()
    return weights, keep


def preference_loss(
    policy_chosen_logps: Any,
    policy_rejected_logps: Any,
    ref_chosen_logps: Any,
    ref_rejected_logps: Any,
    rewards: Any,
    *,
    variant: str = "spft",
    lam: float = 0.1,
) -> tuple[Any, dict[str, Any]]:
    """The loss (a scalar tensor) and per-pair diagnostics (margins, weights, kept mask).

    All inputs are 1-D tensors of the same length (one entry per pair). When no pair is kept
    (e.g. ``exspin`` and the opponent was always right) the loss is a zero that still has a graph.

    >>> import torch
    >>> z = torch.zeros(2)
    >>> loss, _ = preference_loss(z, z, z, z, torch.tensor([1.0, 0.0]))
    >>> round(loss.item(), 4)  # ℓ(0) = log 2
    0.6931
    """
    import torch.nn.functional as F

    if lam <= 0:
        raise ConfigError(f"lambda must be > 0, got {lam}")
    n = policy_chosen_logps.shape[0]
    for name, t in (
        ("policy_rejected_logps", policy_rejected_logps),
        ("ref_chosen_logps", ref_chosen_logps),
        ("ref_rejected_logps", ref_rejected_logps),
        ("rewards", rewards),
    ):
        if t.shape != (n,):
            raise ConfigError(f"{name} has shape {tuple(t.shape)}, expected ({n},) like policy_chosen_logps")
    weights, keep = pair_weights(rewards.to(policy_chosen_logps.device), variant, lam)
    delta_chosen = policy_chosen_logps - ref_chosen_logps.to(policy_chosen_logps)
    delta_rejected = policy_rejected_logps - ref_rejected_logps.to(policy_rejected_logps)
    margins = weights.to(delta_chosen) * (delta_chosen - delta_rejected)
    per_pair = F.softplus(-margins)
    keep = keep.to(per_pair.device)
    if keep.any():
        loss = per_pair[keep].mean()
    else:
        loss = (per_pair * 0.0).sum()
    stats = {
        "margins": margins.detach(),
        "weights": weights.detach(),
        "kept": keep,
        "chosen_rewards": delta_chosen.detach(),
        "rejected_rewards": delta_rejected.detach(),
    }
    return loss, stats
