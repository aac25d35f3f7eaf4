"""Advantages against hand-computed values and identities."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr.grpo.advantages import group_advantages, masked_median, overlong_penalty


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_grpo_group_scaling_hand_computed():
    # mean 0.25, sample std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5
    adv = group_advantages(t([[1, 0, 0, 0]]), eps=0.0)
    assert adv.values[0].tolist() == pytest.approx([1.5, -0.5, -0.5, -0.5])
    assert adv.group_std.tolist() == pytest.approx([0.5])


def test_group_advantages_sum_to_zero_for_mean_baseline():
    gen = torch.Generator().manual_seed(0)
    rewards = torch.rand(6, 8, generator=gen)
    for scale in ("group", "batch", "none"):
        adv = group_advantages(rewards, scale=scale)
        assert adv.values.sum(dim=1).abs().max() < 1e-5


def test_dr_grpo_has_no_std_division():
    adv = group_advantages(t([[1, 0, 0, 0], [1, 1, 0, 0.5]]), scale="none")
    assert adv.values[0].tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25])
    assert adv.values[1].tolist() == pytest.approx([0.375, 0.375, -0.625, -0.125])


def test_rloo_is_g_over_g_minus_1_times_centred():
    rewards = t([[1, 0, 0, 1, 1], [0.2, 0.9, 0.4, 0.0, 0.5]])
    centred = group_advantages(rewards, scale="none").values
    rloo = group_advantages(rewards, baseline="rloo", scale="none").values
    assert torch.allclose(rloo, 5 / 4 * centred, atol=1e-6)
    # and it is literally r_i minus the mean of the others
    r = rewards[1].tolist()
    for i in range(5):
        others = [x for j, x in enumerate(r) if j != i]
        assert rloo[1, i].item() == pytest.approx(r[i] - sum(others) / 4, abs=1e-6)


def test_median_baseline_known_groups():
    # odd: median 0.2; even: median (0 + 1) / 2 = 0.5
    adv = group_advantages(t([[0.0, 0.2, 1.0]]), baseline="median", scale="none")
    assert adv.values[0].tolist() == pytest.approx([-0.2, 0.0, 0.8])
    adv = group_advantages(t([[0, 0, 1, 1], [0, 0.1, 0.3, 1]]), baseline="median", scale="none")
    assert adv.values[0].tolist() == pytest.approx([-0.5, -0.5, 0.5, 0.5])
    assert adv.values[1].tolist() == pytest.approx([-0.2, -0.1, 0.1, 0.8])
    # an outlier moves the mean but not the median
    adv = group_advantages(t([[0, 0, 0, 1, 1000]]), baseline="median", scale="none")
    assert adv.values[0].tolist() == pytest.approx([0, 0, 0, 1, 1000])


def test_masked_median_ignores_invalid():
    valid = torch.tensor([[True, True, False, True]])
    assert masked_median(t([[3, 1, 100, 2]]), valid).tolist() == [2.0]
    assert masked_median(t([[3, 1, 100, 2]]), torch.zeros(1, 4, dtype=torch.bool)).tolist() == [0.0]


def test_excluded_samples_left_out_and_counted():
    rewards = t([[1, 0, 0, 0]])
    valid = torch.tensor([[True, True, True, False]])  # the last one was a verifier error
    adv = group_advantages(rewards, valid, scale="none")
    # mean over the three valid ones = 1/3
    assert adv.values[0].tolist() == pytest.approx([2 / 3, -1 / 3, -1 / 3, 0.0])
    assert adv.n_excluded == 1
    assert adv.values[0, :3].sum().item() == pytest.approx(0.0, abs=1e-6)


def test_zero_variance_groups_flagged_and_zero():
    rewards = t([[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]])
    for baseline in ("mean", "median", "rloo"):
        adv = group_advantages(rewards, baseline=baseline)
        assert adv.zero_std.tolist() == [True, True, False, True]
        assert adv.values[[0, 1, 3]].abs().max().item() == 0.0
        assert adv.frac_zero_std == 0.75
    # a group with one valid sample has no variance either
    adv = group_advantages(t([[1, 0]]), torch.tensor([[True, False]]))
    assert adv.zero_std.tolist() == [True] and adv.values.abs().max().item() == 0.0


def test_batch_scaling_uses_std_of_all_rewards():
    rewards = t([[1, 0], [1, 1]])
    adv = group_advantages(rewards, scale="batch", eps=0.0)
    batch_std = torch.tensor([1.0, 0.0, 1.0, 1.0]).std().item()
    assert adv.values[0].tolist() == pytest.approx([0.5 / batch_std, -0.5 / batch_std])
    assert math.isclose(batch_std, 0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="baseline"):
        group_advantages(t([[1, 0]]), baseline="max")
    with pytest.raises(ValueError, match="scale"):
        group_advantages(t([[1, 0]]), scale="global")
    with pytest.raises(ValueError, match="group_size"):
        group_advantages(torch.zeros(4))


def test_overlong_penalty_hand_computed():
    # DAPO: L_max = 20, buffer 4: free up to 16 tokens, then -1/4 per token, -1 at 20
    lengths = torch.tensor([[3, 16, 17, 18], [19, 20, 0, 10]])
    got = overlong_penalty(lengths, max_len=20, buffer=4)
    assert got.flatten().tolist() == pytest.approx([0.0, 0.0, -0.25, -0.5, -0.75, -1.0, 0.0, 0.0])
    assert overlong_penalty(lengths, 20, 4, factor=0.5)[1, 1].item() == pytest.approx(-0.5)
    assert overlong_penalty(lengths, 20, 0).abs().sum().item() == 0.0  # off
    with pytest.raises(ValueError, match="exceeds the length budget"):
        overlong_penalty(lengths, 20, 21)


def test_median_baseline_with_binary_rewards_is_one_sided():
    # 1 of 4 right: median 0, only the right answer moves; 3 of 4 right: only the wrong one moves
    adv = group_advantages(t([[1, 0, 0, 0], [1, 1, 1, 0]]), baseline="median", scale="none").values
    assert adv.tolist() == [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, -1.0]]
    assert adv.sum(dim=1).tolist() == [1.0, -1.0]  # not zero-sum, unlike the mean baseline
