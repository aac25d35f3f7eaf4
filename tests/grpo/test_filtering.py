"""Dynamic-sampling filter and rollout pruning."""

from __future__ import annotations

import itertools
import statistics

import torch

from rlvr.grpo.filtering import informative_groups, prune_groups, prune_max_variance, prune_top


def test_informative_groups_drop_all_correct_and_all_wrong():
    rewards = torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5], [0.2, 0.5, 0.5, 0.5]])
    valid = torch.ones_like(rewards, dtype=torch.bool)
    assert informative_groups(rewards, valid).tolist() == [False, False, True, False, True]
    # the only differing sample was excluded: no signal left
    valid[2, 0] = False
    assert informative_groups(rewards, valid).tolist()[2] is False


def test_prune_top_keeps_best_stably():
    assert prune_top([0, 1, 0, 1, 1, 0], 2) == [1, 3]
    assert prune_top([0.1, 0.9, 0.5, 0.7], 3) == [1, 2, 3]


def test_max_variance_is_optimal_against_brute_force():
    gen = torch.Generator().manual_seed(3)
    for trial in range(30):
        n = 6 + trial % 3
        rewards = (torch.rand(n, generator=gen) * (1 + trial % 2 * 4)).round(decimals=1).tolist()
        for k in (2, 3, 4):
            best = max(statistics.pvariance([rewards[i] for i in c]) for c in itertools.combinations(range(n), k))
            got = prune_max_variance(rewards, k)
            assert len(got) == k
            assert abs(statistics.pvariance([rewards[i] for i in got]) - best) < 1e-9


def test_max_variance_keeps_both_outcomes_of_a_binary_group():
    rewards = [1, 1, 1, 1, 1, 1, 0, 1]
    kept = prune_max_variance(rewards, 4)
    assert sorted(rewards[i] for i in kept) == [0, 1, 1, 1]
    # top-k would have thrown away the only failure, leaving no contrast
    assert sorted(rewards[i] for i in prune_top(rewards, 4)) == [1, 1, 1, 1]


def test_prune_groups_flat_rows_and_exclusions():
    rewards = torch.tensor([[0.0, 1, 0, 1], [1.0, 0, 0, 0]])
    valid = torch.tensor([[True, True, True, True], [False, True, True, True]])
    rows = prune_groups(rewards, valid, "top", 0.5)
    assert rows == [1, 3, 5, 6]  # group 1: the excluded sample 4 is never kept
    assert prune_groups(rewards, valid, "none", 0.5) == [0, 1, 2, 3, 5, 6, 7]
