"""The error-driven loss and its variants against hand computations on hand-built tensors."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from evaluation.errors import ConfigError, UnknownNameError  # noqa: E402
from train.losses import LOSS_VARIANTS, preference_loss  # noqa: E402


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_hand_computed_spft_value():
    pc, pr = torch.tensor([-2.0, -1.0]), torch.tensor([-3.0, -0.5])
    rc, rr = torch.tensor([-2.5, -1.0]), torch.tensor([-2.0, -1.5])
    rewards = torch.tensor([1.0, 1.0])
    lam = 0.5
    loss, stats = preference_loss(pc, pr, rc, rr, rewards, variant="spft", lam=lam)
    # pair 1: Δ+ = 0.5, Δ− = -1.0 -> margin 0.5*1.5 = 0.75; pair 2: Δ+ = 0, Δ− = 1.0 -> margin -0.5
    expected = (softplus(-0.75) + softplus(0.5)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert stats["margins"].tolist() == pytest.approx([0.75, -0.5])


def test_reward_zero_gives_zero_gradient():
    pc = torch.tensor([-2.0, -1.0], requires_grad=True)
    pr = torch.tensor([-3.0, -0.5], requires_grad=True)
    ref = torch.tensor([-1.0, -1.0])
    loss, _ = preference_loss(pc, pr, ref, ref, torch.tensor([0.0, 0.0]), variant="spft", lam=1.0)
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2))
    assert pc.grad.abs().sum().item() == 0.0
    assert pr.grad.abs().sum().item() == 0.0


def test_reward_zero_pair_has_no_gradient_but_others_do():
    pc = torch.tensor([-2.0, -1.0], requires_grad=True)
    pr = torch.tensor([-3.0, -0.5], requires_grad=True)
    ref = torch.tensor([-1.0, -1.0])
    loss, _ = preference_loss(pc, pr, ref, ref, torch.tensor([1.0, 0.0]), variant="spft", lam=1.0)
    loss.backward()
    assert pc.grad[1].item() == 0.0 and pr.grad[1].item() == 0.0
    assert pc.grad[0].item() < 0 < pr.grad[0].item()  # descent raises log p(y+), lowers log p(y−)


def test_lambda_scales_margin_and_gradient_at_zero_margin():
    def grad(lam: float) -> float:
        pc = torch.tensor([-1.0], requires_grad=True)
        z = torch.tensor([-1.0])
        loss, stats = preference_loss(pc, z, z, z, torch.tensor([1.0]), variant="spft", lam=lam)
        loss.backward()
        return pc.grad.item()

    # at margin 0: d/dpc softplus(-λ(pc - ...)) = -λ σ(0) = -λ/2
    assert grad(0.1) == pytest.approx(-0.05)
    assert grad(0.4) == pytest.approx(-0.2)
    pc, pr, ref = torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5])
    m1 = preference_loss(pc, pr, ref, ref, torch.tensor([1.0]), lam=0.1)[1]["margins"].item()
    m3 = preference_loss(pc, pr, ref, ref, torch.tensor([1.0]), lam=0.3)[1]["margins"].item()
    assert m3 == pytest.approx(3 * m1)


def test_swapping_chosen_and_rejected_flips_margin_sign():
    pc, pr = torch.tensor([-2.0, -4.0]), torch.tensor([-3.0, -1.0])
    rc, rr = torch.tensor([-2.2, -3.0]), torch.tensor([-2.5, -1.5])
    r = torch.tensor([1.0, 1.0])
    a = preference_loss(pc, pr, rc, rr, r, lam=0.7)[1]["margins"]
    b = preference_loss(pr, pc, rr, rc, r, lam=0.7)[1]["margins"]
    assert torch.allclose(a, -b)
    assert (a != 0).all()


@pytest.mark.parametrize(
    "variant, expected_kept, weight_r0",
    [
        ("spft", [True, True], 0.0),
        ("exspin", [True, False], 0.5),
        ("spin", [True, True], 0.5),
        ("dpo", [True, True], 0.5),
    ],
)
def test_variants_weights_and_filtering(variant, expected_kept, weight_r0):
    pc, pr, ref = torch.tensor([-1.0, -1.0]), torch.tensor([-2.0, -2.0]), torch.tensor([-1.5, -1.5])
    loss, stats = preference_loss(pc, pr, ref, ref, torch.tensor([1.0, 0.0]), variant=variant, lam=0.5)
    assert stats["kept"].tolist() == expected_kept
    assert stats["weights"].tolist() == pytest.approx([0.5, weight_r0])
    kept_losses = [softplus(-m) for m, k in zip(stats["margins"].tolist(), expected_kept) if k]
    assert loss.item() == pytest.approx(sum(kept_losses) / len(kept_losses))


def test_spin_ignores_reward_and_equals_spft_on_wrong_pairs():
    pc, pr, rc, rr = (torch.tensor([v]) for v in (-1.0, -2.0, -1.2, -1.7))
    spin = preference_loss(pc, pr, rc, rr, torch.tensor([0.0]), variant="spin", lam=0.3)[0]
    spft = preference_loss(pc, pr, rc, rr, torch.tensor([1.0]), variant="spft", lam=0.3)[0]
    assert spin.item() == pytest.approx(spft.item())


def test_no_kept_pair_gives_zero_loss_with_graph():
    pc = torch.tensor([-1.0], requires_grad=True)
    z = torch.tensor([-1.0])
    loss, _ = preference_loss(pc, z, z, z, torch.tensor([0.0]), variant="exspin", lam=1.0)
    loss.backward()
    assert loss.item() == 0.0 and pc.grad.item() == 0.0


def test_bad_arguments_are_named():
    z = torch.zeros(2)
    with pytest.raises(UnknownNameError, match="did you mean 'spft'"):
        preference_loss(z, z, z, z, z, variant="sptf")
    with pytest.raises(ConfigError, match="ref_chosen_logps"):
        preference_loss(z, z, torch.zeros(3), z, z)
    with pytest.raises(ConfigError, match="lambda"):
        preference_loss(z, z, z, z, z, lam=0.0)
    assert set(LOSS_VARIANTS) == {"spft", "exspin", "spin", "dpo"}


def test_dpo_penalizes_correct_outputs_too():
    """The paper's DPO baseline has no execution filter: a correct opponent output (R = 0) is a
    negative with full weight, unlike spft (weight 0) and exspin (dropped)."""
    pc, pr, ref = torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5])
    r0 = torch.tensor([0.0])
    _, dpo = preference_loss(pc, pr, ref, ref, r0, variant="dpo", lam=0.5)
    _, spft = preference_loss(pc, pr, ref, ref, r0, variant="spft", lam=0.5)
    assert dpo["kept"].tolist() == [True] and dpo["weights"].tolist() == [0.5]
    assert spft["weights"].tolist() == [0.0]


def test_variant_registry_drives_docs_table():
    from pathlib import Path

    from train.losses import VARIANTS, variants_table

    assert all(v.help and v.paper for v in VARIANTS.values())
    assert VARIANTS["spft"].pairs_from == "val" and VARIANTS["spin"].pairs_from == "train"
    assert VARIANTS["dpo"].needs_wrong is False and VARIANTS["spft"].needs_wrong and VARIANTS["exspin"].needs_wrong
    docs = (Path(__file__).resolve().parents[2] / "docs" / "train.md").read_text()
    assert variants_table() in docs  # docs/train.md shows the registry's table verbatim


def test_docstring_examples():
    import doctest

    import train.losses
    import train.models.decoding
    import train.roles
    import train.selfplay

    for mod in (train.losses, train.models.decoding, train.roles, train.selfplay):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0
