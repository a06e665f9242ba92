"""PAND loss terms against hand-computed cases, equivalences, invariants and gradient flow (method doc §4)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pand_core.config import METHODS
from pand_core.method.losses import (
    CLIP_SCALE,
    feature_alignment_loss,
    hinton_kd_loss,
    js_divergence,
    loss_weights,
    nlrd_loss,
    pand_total_loss,
    teacher_neighbours,
    text_kd_loss,
)


def softmax(v):
    e = [math.exp(x - max(v)) for x in v]
    return [x / sum(e) for x in e]


def kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def js(p, q):
    m = [(a + b) / 2 for a, b in zip(p, q)]
    return 0.5 * (kl(p, m) + kl(q, m))


# ---------------------------------------------------------------------------------- feature alignment
def test_feature_alignment_hand_case():
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    a = torch.tensor([[0.5, 0.5], [0.0, 0.0]])
    assert feature_alignment_loss(h, a).item() == pytest.approx((0.5 + 0.5 + 0 + 1) / 4)
    with pytest.raises(ValueError, match="shape mismatch"):
        feature_alignment_loss(h, a[:, :1])


# ------------------------------------------------------------------------------------------- text KD
def test_text_kd_hand_case():
    T, s = 2.0, CLIP_SCALE
    h = torch.tensor([[1.0, 0.0]])
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    f = torch.tensor([[0.0, 1.0]])
    theta = torch.tensor([[0.6, 0.8], [1.0, 0.0]])
    q = [s * 1 / T, s * 0 / T]
    p = [s * 0.8 / T, s * 0.0 / T]
    expected = T**2 * kl(softmax(p), softmax(q))
    assert text_kd_loss(h, u, f, theta, scale=s, temperature=T).item() == pytest.approx(expected, rel=1e-4)  # float32


def test_text_kd_equals_batchmean_kl_and_is_zero_when_matched():
    torch.manual_seed(0)
    h, u = F.normalize(torch.randn(5, 8), dim=-1), F.normalize(torch.randn(7, 8), dim=-1)
    f, theta = F.normalize(torch.randn(5, 16), dim=-1), F.normalize(torch.randn(7, 16), dim=-1)
    q, p = CLIP_SCALE * h @ u.t() / 2, CLIP_SCALE * f @ theta.t() / 2
    ref = 4 * F.kl_div(F.log_softmax(q, -1), F.softmax(p, -1), reduction="batchmean")
    assert text_kd_loss(h, u, f, theta).item() == pytest.approx(ref.item(), rel=1e-5)
    assert text_kd_loss(f, theta, f, theta).item() == pytest.approx(0.0, abs=1e-6)


def test_text_kd_gradients_reach_student_and_align_head_only():
    torch.manual_seed(0)
    h = torch.randn(4, 8, requires_grad=True)
    u = torch.randn(3, 8, requires_grad=True)
    f = torch.randn(4, 16, requires_grad=True)
    theta = torch.randn(3, 16, requires_grad=True)
    text_kd_loss(h, u, f, theta).backward()
    assert h.grad is not None and h.grad.abs().sum() > 0 and u.grad.abs().sum() > 0
    assert f.grad is None and theta.grad is None


# ----------------------------------------------------------------------------------------- Hinton KD
def test_hinton_kd_hand_case_and_gradients():
    z = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
    t = torch.tensor([[0.0, 2.0, 0.0]], requires_grad=True)
    expected = 4 * kl(softmax([0.0, 1.0, 0.0]), softmax([0.5, 0.0, -0.5]))
    loss = hinton_kd_loss(z, t, temperature=2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert z.grad.abs().sum() > 0 and t.grad is None
    assert hinton_kd_loss(t.detach(), t.detach()).item() == pytest.approx(0.0, abs=1e-7)


# ------------------------------------------------------------------------------------------------ JS
def test_js_divergence_hand_case_and_properties():
    p_logits, q_logits = torch.tensor([0.0, 0.0]), torch.tensor([math.log(3.0), 0.0])
    expected = js([0.5, 0.5], [0.75, 0.25])
    assert js_divergence(p_logits, q_logits).item() == pytest.approx(expected, rel=1e-5)
    assert js_divergence(q_logits, p_logits).item() == pytest.approx(expected, rel=1e-5)  # symmetric
    big = js_divergence(torch.tensor([50.0, -50.0]), torch.tensor([-50.0, 50.0])).item()
    assert big == pytest.approx(math.log(2), rel=1e-4)  # upper bound for disjoint supports, no NaN


# ------------------------------------------------------------------------------------------ neighbours
def test_neighbours_by_teacher_cosine_excluding_self():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert teacher_neighbours(z, 1).squeeze(1).tolist() == [1, 0, 3, 2]
    # duplicated rows: self ties with its twin at cosine 1 and must still be excluded
    dup = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    idx = teacher_neighbours(dup, 1).squeeze(1).tolist()
    assert idx[0] == 1 and idx[1] == 0
    torch.manual_seed(0)
    rnd = torch.randn(16, 5)
    idx = teacher_neighbours(rnd, 3)
    assert all(i not in idx[i].tolist() for i in range(16))
    sim = F.normalize(rnd, dim=-1) @ F.normalize(rnd, dim=-1).t()
    for i in range(16):  # the chosen three are the three most similar others
        others = sorted((j for j in range(16) if j != i), key=lambda j: -sim[i, j].item())[:3]
        assert set(idx[i].tolist()) == set(others)


# ------------------------------------------------------------------------------------------------ NLRD
def test_nlrd_hand_case_two_samples():
    zs = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    zt = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    # B = 2, k = 3 -> k' = 1: each sample's only neighbour is the other
    expected = 0.5 * (js(softmax([1, 0]), softmax([2, -2])) + js(softmax([-1, 0]), softmax([-2, 2])))
    assert nlrd_loss(zs, zt, k=3).item() == pytest.approx(expected, rel=1e-5)
    assert nlrd_loss(zs, zt, k=3, weight=0.5).item() == pytest.approx(0.5 * expected, rel=1e-5)


def test_nlrd_matches_a_direct_loop():
    torch.manual_seed(1)
    zs, zt = torch.randn(7, 4), torch.randn(7, 4)
    idx = teacher_neighbours(zt, 3)
    total = 0.0
    for i in range(7):
        for j in idx[i].tolist():
            total += js(softmax((zs[i] - zs[j]).tolist()), softmax((zt[i] - zt[j]).tolist()))
    assert nlrd_loss(zs, zt, k=3).item() == pytest.approx(total / (7 * 3), rel=1e-5)


def test_nlrd_groups_are_consecutive_and_averaged():
    torch.manual_seed(2)
    zs, zt = torch.randn(8, 5), torch.randn(8, 5)
    g0, g1 = nlrd_loss(zs[:4], zt[:4], k=2), nlrd_loss(zs[4:], zt[4:], k=2)
    assert nlrd_loss(zs, zt, k=2, group_size=4).item() == pytest.approx(((g0 + g1) / 2).item(), rel=1e-6)
    assert nlrd_loss(zs, zt, k=2, group_size=None).item() == pytest.approx(nlrd_loss(zs, zt, k=2, group_size=8).item())
    assert nlrd_loss(zs, zt, k=2, group_size=32).item() == pytest.approx(nlrd_loss(zs, zt, k=2).item())
    # grouping changes who can be a neighbour, so it changes the value
    assert nlrd_loss(zs, zt, k=2, group_size=4).item() != pytest.approx(nlrd_loss(zs, zt, k=2).item())


def test_nlrd_small_groups_use_k_prime_and_singletons_drop_out():
    torch.manual_seed(3)
    zs, zt = torch.randn(5, 4), torch.randn(5, 4)
    assert nlrd_loss(zs[:3], zt[:3], k=3).item() == pytest.approx(nlrd_loss(zs[:3], zt[:3], k=2).item())
    # B = 5, groups of 4: the trailing group of one sample has no pair and is left out
    assert nlrd_loss(zs, zt, k=3, group_size=4).item() == pytest.approx(nlrd_loss(zs[:4], zt[:4], k=3).item())
    single = torch.randn(1, 4, requires_grad=True)
    out = nlrd_loss(single, torch.randn(1, 4))
    assert out.item() == 0.0 and out.requires_grad


def test_nlrd_invariances_and_zero():
    torch.manual_seed(4)
    zs, zt = torch.randn(6, 5), torch.randn(6, 5)
    base = nlrd_loss(zs, zt).item()
    shift = torch.randn(6, 1)  # a per-sample constant over classes cancels in softmax of differences
    assert nlrd_loss(zs + shift, zt).item() == pytest.approx(base, rel=1e-5)
    assert nlrd_loss(zt, zt).item() == pytest.approx(0.0, abs=1e-6)
    perm = torch.randperm(6)  # neighbours follow the samples: permuting the batch keeps the loss
    assert nlrd_loss(zs[perm], zt[perm]).item() == pytest.approx(base, rel=1e-5)


def test_nlrd_gradients_and_errors():
    torch.manual_seed(5)
    zs = torch.randn(6, 4, requires_grad=True)
    zt = torch.randn(6, 4, requires_grad=True)
    nlrd_loss(zs, zt).backward()
    assert zs.grad.abs().sum() > 0 and zt.grad is None
    with pytest.raises(ValueError, match="one shape"):
        nlrd_loss(torch.randn(4, 3), torch.randn(4, 5))
    with pytest.raises(ValueError, match="k must be"):
        nlrd_loss(torch.randn(4, 3), torch.randn(4, 3), k=0)
    with pytest.raises(ValueError, match="group_size"):
        nlrd_loss(torch.randn(4, 3), torch.randn(4, 3), group_size=1)


# ------------------------------------------------------------------------------------ weights, total
def test_ce_step_mass_is_the_closed_form():
    """Σ_e e/(8E) over E epochs is (E−1)/16 per step of an epoch: the paper's CUB recipe (300 epochs × 47 steps)
    gives 47·299/16 = 878.3125; one epoch gives nothing (α = 0 in epoch 0)."""
    from pand_core.method.losses import ce_step_mass

    assert ce_step_mass(300, 47) == pytest.approx(878.3125)
    assert ce_step_mass(20, 23) == pytest.approx(23 * 19 / 16)
    assert ce_step_mass(1, 5) == 0.0


def test_loss_weights_schedule():
    assert loss_weights(0, 300) == (0.0, 1.0)
    assert loss_weights(150, 300) == pytest.approx((150 / 2400, 1 - 150 / 2400))
    assert loss_weights(299, 300)[0] == pytest.approx(299 / 2400)  # never above 0.125 in a 300-epoch run
    assert loss_weights(5000, 300) == (1.0, 0.0)
    with pytest.raises(ValueError):
        loss_weights(0, 0)


def test_pand_total_loss_combines_terms():
    ce, img, kd, nl = (torch.tensor(v) for v in (2.0, 0.4, 1.2, 0.3))
    a = 30 / 800
    expected = a * 2.0 + (1 - a) * (0.4 + 1.2) / 2 + 0.5 * 0.3
    assert pand_total_loss(ce, img, kd, nl, epoch=30, max_epochs=100, beta=0.5).item() == pytest.approx(expected)


@pytest.mark.parametrize("method", list(METHODS))
def test_the_logged_ce_weight_is_the_weight_cross_entropy_has_in_the_loss(method, monkeypatch):
    """`ce_weight` (what metrics.jsonl logs as `alpha`) equals d total / d CE of `stage2_losses` for every method and
    epoch: α = e/(8E) for the methods that distil, 1 for `ce` and `ce-original` (no teacher)."""
    from pand_core.stage2 import distill as distill_mod
    from pand_core.config import make_config
    from pand_core.method.losses import ce_weight
    from pand_core.models import StudentOutput

    gen = torch.Generator().manual_seed(0)
    B, C, D, Ds = 6, 4, 8, 5
    out = StudentOutput(F.normalize(torch.randn(B, Ds, generator=gen), dim=-1), torch.randn(B, C, generator=gen), None)
    labels = torch.arange(B) % C
    feat = F.normalize(torch.randn(B, D, generator=gen), dim=-1)
    anchors = F.normalize(torch.randn(C, D, generator=gen), dim=-1)
    aligned = (F.normalize(torch.randn(B, Ds, generator=gen), dim=-1), F.normalize(torch.randn(C, Ds, generator=gen), dim=-1))
    cfg = make_config("distill", "smoke", method=method, epochs=10, nlrd_group_size=None)
    real = F.cross_entropy
    for epoch in (0, 7, 9):
        shift = torch.zeros((), requires_grad=True)
        monkeypatch.setattr(distill_mod.F, "cross_entropy", lambda *a, **k: real(*a, **k) + shift)
        total, _ = distill_mod.stage2_losses(cfg, out, labels, feat, anchors, aligned, epoch)
        monkeypatch.setattr(distill_mod.F, "cross_entropy", real)
        total.backward()
        expected = epoch / 80 if cfg.spec.teacher else 1.0
        assert ce_weight(cfg.spec.teacher, epoch, cfg.epochs) == pytest.approx(expected)
        assert shift.grad.item() == pytest.approx(expected, abs=1e-7), (method, epoch)
