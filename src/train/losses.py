r"""Self-play / preference losses as plain functions on tensors of sequence log-probabilities.

Every variant computes, per pair (x, y+, y−) with reward R = 1 when the opponent's SQL y' executes
to a different result than the gold SQL (0 when it matches),

    Δ+ = log p_m(y+|x) − log p_ref(y+|x),   Δ− = log p_m(y−|x) − log p_ref(y−|x)
    loss = mean over kept pairs of  ℓ(w · (Δ+ − Δ−)),   ℓ(t) = log(1 + e^−t) = softplus(−t)

where log-probs are summed over the answer tokens, y+ is the gold SQL (or, with ``--samples k
--positive sample``, a correct opponent sample of the same question), y− the opponent's output,
and the variants differ in the weight w, which pairs are kept, who plays the opponent and what the
reference is:

=========  ==================  ===================  ================================  =====================
variant    weight w            pairs kept           opponent (generates y')           reference p_ref
=========  ==================  ===================  ================================  =====================
spft       λ·R (eq. 3)         all                  lowest D_val EX, not yet used     the opponent p_θo
exspin     λ                   R = 1 only (ExSPIN)  previous round's model (= main)   the opponent p_θt
spin       λ                   all (R ignored)      previous round's model (= main)   the opponent p_θt
dpo        β = λ (sigmoid)     R = 1 only           as spft                           initial model (fixed)
=========  ==================  ===================  ================================  =====================

The main is the highest D_val EX model for ``spft``/``dpo`` (Algorithm 1) and the previous round's
model for ``exspin``/``spin`` (SPIN/ExSPIN iterate θ_t -> θ_t+1 with opponent θ_t). For ``spft`` a
pair whose opponent output is correct (R = 0) gives ℓ(0) = log 2 and no gradient, and with R = 1
the loss equals SPIN's on that pair. ``exspin`` averages over the wrong outputs only.
"""

from __future__ import annotations

from typing import Any

from evaluation.errors import ConfigError, UnknownNameError

LOSS_VARIANTS = ("spft", "exspin", "spin", "dpo")
#: variants that only train on pairs whose opponent output was wrong (R = 1)
FILTERS_CORRECT = frozenset({"exspin", "dpo"})
#: variants whose opponent is the previous round's model, which the main also starts from (SPIN, ExSPIN)
OPPONENT_IS_PREVIOUS = frozenset({"exspin", "spin"})
#: variants whose reference is fixed for the whole run: the initial model (the first round's main)
REFERENCE_IS_INITIAL = frozenset({"dpo"})


def check_variant(variant: str) -> str:
    if variant not in LOSS_VARIANTS:
        raise UnknownNameError("loss variant", variant, LOSS_VARIANTS)
    return variant


def pair_weights(rewards: Any, variant: str, lam: float) -> tuple[Any, Any]:
    """``(weights, keep_mask)`` per pair for a variant (see the module table)."""
    import torch

    check_variant(variant)
    rewards = rewards.to(torch.float32)
    ones = torch.ones_like(rewards)
    if variant == "spft":
        return lam * rewards, ones.bool()
    if variant in FILTERS_CORRECT:
        return lam * ones, rewards > 0
    return lam * ones, ones.bool()  # spin


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
    import torch
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
