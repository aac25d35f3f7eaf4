"""Pooled estimates over seeds: hand-computed cases of the two-level bootstrap."""

from __future__ import annotations

import pytest

from rlvr.errors import ConfigError
from rlvr.evaluate import compare
from rlvr.evaluate.pooled import hierarchical_means, pooled_compare, pooled_interval


def test_seeds_weigh_the_same_whatever_their_problem_count():
    # Seed A: one problem worth 1; seed B: three worth 0. Mean of seed means = 0.5 (not 1/4).
    points, reps = hierarchical_means([[[1.0], [0.0, 0.0, 0.0]]], n_boot=2000, seed=0)
    assert points == [0.5]
    # Within-seed resampling cannot move a constant seed: replicates are 0, 0.5 or 1 with
    # probabilities 1/4, 1/2, 1/4 (which seeds were drawn).
    values = sorted(set(reps[0].round(12).tolist()))
    assert values == [0.0, 0.5, 1.0]
    share_mixed = float((reps[0].round(12) == 0.5).mean())
    assert share_mixed == pytest.approx(0.5, abs=0.04)


def test_interval_spans_the_seed_to_seed_spread():
    # Gains 0.1 and 0.3 on two seeds, no within-seed noise: replicates 0.1 / 0.2 / 0.3 with
    # probabilities 1/4, 1/2, 1/4, so the 95% interval is [0.1, 0.3] around the point 0.2.
    _, reps = hierarchical_means([[[0.1, 0.1], [0.3, 0.3]]], n_boot=4000, seed=1)
    lo, hi = pooled_interval(reps[0])
    assert (lo, hi) == (pytest.approx(0.1), pytest.approx(0.3))


def test_statistics_are_paired_within_a_replicate():
    # Trained = base + 0.25 on every problem of every seed: every replicate's gain is exactly 0.25.
    base = [[0.0, 0.5, 1.0], [0.2, 0.4]]
    trained = [[v + 0.25 for v in seed] for seed in base]
    points, reps = hierarchical_means([base, trained], n_boot=500, seed=2)
    assert points[1] - points[0] == pytest.approx(0.25)
    assert (reps[1] - reps[0]) == pytest.approx([0.25] * 500)


def _flags(n_correct: list[int], n: int = 4) -> dict[str, list[bool]]:
    return {f"p{i}": [True] * c + [False] * (n - c) for i, c in enumerate(n_correct)}


def test_pooled_compare_on_one_seed_matches_compare_points():
    base, trained = _flags([0, 1, 2, 4]), _flags([1, 3, 4, 4])
    pooled = pooled_compare([base], [trained], [1, 2, 4], n_boot=300)
    single = compare(base, trained, [1, 2, 4], n_boot=300)
    assert pooled.pass_at_k_base == pytest.approx(single.pass_at_k_base)
    assert pooled.capability_gain == pytest.approx(single.capability_gain)
    # pass@1 by hand: base (0 + 1 + 2 + 4) / 16, trained (1 + 3 + 4 + 4) / 16.
    assert pooled.pass_at_k_base[1] == pytest.approx(7 / 16)
    assert pooled.capability_gain[1] == pytest.approx(5 / 16)


def test_pooled_verdict_follows_the_seeds_not_one_of_them():
    # Seed 0: a clear pass@1 gain; seed 1: none. Seed 0 alone says compression, the pool does not
    # (the interval over seeds includes 0).
    base = _flags([1] * 40)
    up = _flags([4] * 40)
    one = pooled_compare([base], [up], [1, 4], n_boot=400)
    two = pooled_compare([base, base], [up, base], [1, 4], n_boot=400)
    assert one.verdict == "pure_compression"
    assert two.capability_gain[1] == pytest.approx(0.375)
    assert two.capability_gain_ci[1][0] == pytest.approx(0.0)
    assert two.verdict == "no_significant_change"
    assert two.significance["seeds"] == 2


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="same number"):
        pooled_compare([_flags([1])], [], [1])
    with pytest.raises(ConfigError, match="same seeds and the same problems"):
        hierarchical_means([[[1.0]], [[1.0, 0.0]]], n_boot=10, seed=0)
    with pytest.raises(ConfigError, match="share no problem_id"):
        pooled_compare([{"a": [True]}], [{"b": [True]}], [1])
