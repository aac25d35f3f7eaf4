"""Losses: on-policy ratios, clipping, KL estimators, aggregation, zero-signal groups."""

from __future__ import annotations

import pytest
import torch

from rlvr.grpo.advantages import group_advantages
from rlvr.grpo.loss import aggregate, kl_penalty, policy_loss


def _logits_batch(n=4, t=5, v=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, t, v, generator=gen, requires_grad=True)
    ids = torch.randint(v, (n, t), generator=gen)
    return logits, ids


def _logp(logits, ids):
    return torch.log_softmax(logits, -1).gather(-1, ids[..., None]).squeeze(-1)


def test_on_policy_ratio_is_one_and_clip_inactive():
    logits, ids = _logits_batch()
    lp = _logp(logits, ids)
    mask = torch.ones_like(lp)
    adv = torch.tensor([2.0, -1.0, 0.5, -1.5])
    out = policy_loss(lp, lp.detach(), adv, mask, eps_low=0.2, eps_high=0.28)
    assert out.ratio_mean == 1.0
    assert out.clip_frac == 0.0
    # The gradient is exactly the REINFORCE one: -mean(A * grad log p).
    out.loss.backward()
    g1 = logits.grad.clone()
    logits.grad = None
    ref = -(adv[:, None] * _logp(logits, ids)).mean()
    ref.backward()
    assert torch.allclose(g1, logits.grad, atol=1e-7)


def test_asymmetric_clip_hand_computed():
    old = torch.zeros(1, 4)
    # ratios 0.5, 0.9, 1.2, 1.5
    lp = torch.log(torch.tensor([[0.5, 0.9, 1.2, 1.5]]))
    mask = torch.ones(1, 4)
    pos = policy_loss(lp, old, torch.tensor([1.0]), mask, eps_low=0.2, eps_high=0.28)
    # A > 0: min(r, clip(r, 0.8, 1.28)) = 0.5, 0.9, 1.2, 1.28 -> clipped only the last
    assert pos.pg_loss == pytest.approx(-(0.5 + 0.9 + 1.2 + 1.28) / 4)
    assert pos.clip_frac == pytest.approx(0.25)
    neg = policy_loss(lp, old, torch.tensor([-1.0]), mask, eps_low=0.2, eps_high=0.28)
    # A < 0: min(-r, -clip(r)) = -0.8 (clipped), -0.9, -1.2, -1.5
    assert neg.pg_loss == pytest.approx((0.8 + 0.9 + 1.2 + 1.5) / 4)
    assert neg.clip_frac == pytest.approx(0.25)


def test_clipped_tokens_get_no_gradient():
    old = torch.zeros(1, 2)
    lp = torch.log(torch.tensor([[1.5, 1.0]])).requires_grad_(True)
    policy_loss(lp, old, torch.tensor([1.0]), torch.ones(1, 2), eps_low=0.2, eps_high=0.2).loss.backward()
    assert lp.grad[0, 0].item() == 0.0 and lp.grad[0, 1].item() != 0.0


def test_kl_estimators():
    gen = torch.Generator().manual_seed(1)
    lp = torch.randn(50, 6, generator=gen) - 2
    ref = torch.randn(50, 6, generator=gen) - 2
    k1, k2, k3 = (kl_penalty(lp, ref, k) for k in ("k1", "k2", "k3"))
    assert torch.allclose(k1, lp - ref)
    assert torch.allclose(k2, 0.5 * (lp - ref) ** 2)
    assert (k3 >= 0).all()
    x = ref - lp
    assert torch.allclose(k3, (torch.exp(x) - x - 1).clamp(max=10))
    assert kl_penalty(lp, lp, "k3").abs().max() == 0.0
    with pytest.raises(ValueError):
        kl_penalty(lp, ref, "k4")


def test_kl_term_enters_loss_only_with_beta():
    lp = torch.log(torch.tensor([[0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.25]]))
    mask = torch.ones(1, 2)
    base = policy_loss(lp, lp, torch.tensor([0.0]), mask)
    assert base.kl is None and float(base.loss) == 0.0
    with_kl = policy_loss(lp, lp, torch.tensor([0.0]), mask, ref_logp=ref, beta=0.1)
    k3 = 0.5 - torch.log(torch.tensor(0.5)) - 1  # r = 0.5
    assert with_kl.kl == pytest.approx(float(k3))
    assert float(with_kl.loss) == pytest.approx(0.1 * float(k3))
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(lp, lp, torch.tensor([0.0]), mask, beta=0.1)


def test_constant_reward_group_gives_zero_gradient():
    logits, ids = _logits_batch(n=4)
    adv = group_advantages(torch.ones(1, 4)).values.reshape(-1)
    for agg in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"):
        lp = _logp(logits, ids)
        out = policy_loss(lp, lp.detach(), adv, torch.ones_like(lp), agg=agg, norm_tokens=5)
        logits.grad = None
        out.loss.backward()
        assert logits.grad.abs().max().item() == 0.0


def test_aggregation_modes_hand_computed():
    values = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert aggregate(values, mask, "token-mean").item() == pytest.approx(10 / 4)
    assert aggregate(values, mask, "seq-mean-token-mean").item() == pytest.approx((2 + 4) / 2)
    assert aggregate(values, mask, "seq-mean-token-sum").item() == pytest.approx((6 + 4) / 2)
    assert aggregate(values, mask, "seq-mean-token-sum-norm", norm_tokens=8).item() == pytest.approx(10 / 2 / 8)
    with pytest.raises(ValueError):
        aggregate(values, mask, "seq-mean-token-sum-norm")


def test_dr_grpo_has_no_length_normalisation():
    # Two sequences with the same advantage, lengths 1 and 4: with seq-mean-token-sum-norm every
    # token's gradient weight is the same; with seq-mean-token-mean the short one's is 4x larger.
    mask = torch.tensor([[1.0, 0, 0, 0], [1.0, 1, 1, 1]])
    adv = torch.tensor([1.0, 1.0])
    for agg, expect_ratio in (("seq-mean-token-sum-norm", 1.0), ("seq-mean-token-mean", 4.0)):
        lp = torch.zeros(2, 4, requires_grad=True)
        policy_loss(lp, lp.detach(), adv, mask, agg=agg, norm_tokens=4).loss.backward()
        assert (lp.grad[0, 0] / lp.grad[1, 0]).item() == pytest.approx(expect_ratio)
        if agg == "seq-mean-token-sum-norm":
            assert lp.grad[0, 0].item() == pytest.approx(-1 / (2 * 4))


def test_gspo_sequence_ratio():
    old = torch.zeros(1, 2)
    lp = torch.tensor([[0.2, -0.1]])  # mean log-ratio 0.05 -> s = e^0.05 for both tokens
    out = policy_loss(lp, old, torch.tensor([1.0]), torch.ones(1, 2), ratio_level="sequence", eps_low=0.1, eps_high=0.1)
    assert out.ratio_mean == pytest.approx(float(torch.exp(torch.tensor(0.05))))
    assert out.clip_frac == 0.0
    # far off-policy: the whole sequence is clipped at once
    out = policy_loss(lp * 10, old, torch.tensor([1.0]), torch.ones(1, 2), ratio_level="sequence", eps_low=3e-4, eps_high=4e-4)
    assert out.clip_frac == 1.0


def test_entropy_bonus_pushes_entropy_up():
    logits = torch.tensor([[[2.0, 0.0, 0.0]]], requires_grad=True)
    logp_all = torch.log_softmax(logits, -1)
    ent = -(logp_all.exp() * logp_all).sum(-1)
    lp = logp_all[..., 0]
    out = policy_loss(lp, lp.detach(), torch.tensor([0.0]), torch.ones(1, 1), entropy=ent, entropy_coef=0.5)
    assert out.entropy == pytest.approx(float(ent.detach()))
    out.loss.backward()
    # descending the loss raises entropy: lowers the top logit
    assert logits.grad[0, 0, 0].item() > 0
