"""Pooled estimates over seeds/runs: hand-computed cases of the seed-level t-interval, the bootstrap
whose draws it rescales, and pooled_compare's two designs (a base per seed; one shared base)."""

from __future__ import annotations

import pytest

from rlvr.errors import ConfigError
from rlvr.evaluate import compare
from rlvr.evaluate.intervals import t_quantile
from rlvr.evaluate.pooled import (
    cluster_bootstrap,
    hierarchical_means,
    pooled_compare,
    pooled_interval,
    pooled_mean_interval,
)


def test_seeds_weigh_the_same_whatever_their_problem_count():
    # Seed A: one problem worth 1; seed B: three worth 0. Mean of seed means = 0.5 (not 1/4).
    points, reps = cluster_bootstrap([[[1.0], [0.0, 0.0, 0.0]]], n_boot=2000, seed=0)
    assert points == [0.5]
    # Within-seed resampling cannot move a constant seed: replicates are 0, 0.5 or 1 with
    # probabilities 1/4, 1/2, 1/4 (which seeds were drawn).
    values = sorted(set(reps[0].round(12).tolist()))
    assert values == [0.0, 0.5, 1.0]
    share_mixed = float((reps[0].round(12) == 0.5).mean())
    assert share_mixed == pytest.approx(0.5, abs=0.04)


def test_two_seed_interval_is_the_t_interval_with_one_df_not_the_seeds_range():
    # Gains 0.1 and 0.3 on two seeds, no within-seed noise. The old percentile bootstrap said
    # [0.1, 0.3] (the two seeds' range: a "95%" interval that two draws bracket half the time).
    # With one degree of freedom: 0.2 ± t(0.975, 1) · s/√2 = 0.2 ± 12.706 · 0.1.
    point, (lo, hi) = pooled_mean_interval([[0.1, 0.1], [0.3, 0.3]])
    assert point == pytest.approx(0.2)
    assert (lo, hi) == (pytest.approx(0.2 - 1.27062, abs=1e-4), pytest.approx(0.2 + 1.27062, abs=1e-4))
    # hierarchical_means' replicates are stretched to the same interval (the lab reads them).
    _, reps = hierarchical_means([[[0.1, 0.1], [0.3, 0.3]]], n_boot=4000, seed=1)
    rlo, rhi = pooled_interval(reps[0])
    assert (rlo, rhi) == (pytest.approx(lo, abs=0.02), pytest.approx(hi, abs=0.02))


def test_one_seed_keeps_the_problem_bootstrap():
    values = [[0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]]
    point, ci = pooled_mean_interval(values, n_boot=500, seed=3)
    _, reps = cluster_bootstrap([values], 500, 3)
    assert point == pytest.approx(5 / 8)
    assert ci == pooled_interval(reps[0])


def test_three_seed_interval_by_hand():
    # Per-seed means 0.2, 0.3, 0.4 (constant within seed): s = 0.1, se = 0.1/√3, df = 2.
    point, (lo, hi) = pooled_mean_interval([[0.2] * 5, [0.3] * 5, [0.4] * 5])
    half = t_quantile(0.975, 2) * 0.1 / 3**0.5
    assert point == pytest.approx(0.3)
    assert (lo, hi) == (pytest.approx(0.3 - half), pytest.approx(0.3 + half))


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
    # Seed 0: a clear pass@1 gain; seed 1: none. Seed 0 alone says compression; the pool cannot
    # tell (two seeds that disagree: t with 1 df), and says how many runs would resolve it.
    base = _flags([1] * 300 + [0] * 100)
    up = _flags([4] * 300 + [0] * 100)
    one = pooled_compare([base], [up], [1, 4], n_boot=400)
    two = pooled_compare([base, base], [up, base], [1, 4], n_boot=400)
    assert one.verdict == "pure_compression"
    assert two.capability_gain[1] == pytest.approx(0.5 * 3 / 4 * 300 / 400)  # mean of +3/4·300/400 and 0
    assert two.capability_gain_ci[1][0] < 0 < two.capability_gain_ci[1][1]
    assert two.directions["pass_at_1"] == "inconclusive"
    assert two.verdict == "inconclusive"
    assert two.significance["seeds"] == 2
    assert "2 runs" in two.verdict_reason and "would need about" in two.verdict_reason


def test_several_runs_of_one_base_pool_on_shared_problems():
    base = _flags([1] * 30)
    runs = [_flags([3] * 30), _flags([2] * 30), _flags([3] * 30)]
    runs[2]["extra"] = [True] * 4  # a problem only one run has: dropped, and counted
    r = pooled_compare([base], runs, [1, 4], n_boot=200, names=["a.jsonl", "b.jsonl", "c.jsonl"])
    # Per run pass@1 gains 2/4, 1/4, 2/4 → mean 5/12.
    assert r.capability_gain[1] == pytest.approx(5 / 12)
    assert r.n_problems == 30 and r.problems_only_in_trained == 1
    assert [run["name"] for run in r.runs] == ["a.jsonl", "b.jsonl", "c.jsonl"]
    assert r.runs[1]["capability_gain"]["1"] == pytest.approx(1 / 4)
    assert r.runs[2]["problems_dropped"] == 1
    # The interval is the run-level t-interval: gains constant within each run, so the problem
    # level adds nothing: half-width t(0.975, 2) · sd(1/2, 1/4, 1/2)/√3.
    import statistics

    half = t_quantile(0.975, 2) * statistics.stdev([1 / 2, 1 / 4, 1 / 2]) / 3**0.5
    lo, hi = r.capability_gain_ci[1]
    assert (lo, hi) == (pytest.approx(5 / 12 - half, abs=1e-9), pytest.approx(5 / 12 + half, abs=1e-9))
    d = r.to_dict()
    assert len(d["runs"]) == 3 and d["directions"]["pass_at_1"] == "up"
    assert d["verdict"] == "uninformative"  # the base solves every problem at k=4: a ceiling


def test_a_run_sharing_no_problem_is_named():
    base = _flags([1, 2])
    with pytest.raises(ConfigError, match="other.jsonl: shares no problem_id"):
        pooled_compare([base], [base, {"zz": [True] * 4}], [1], names=["t.jsonl", "other.jsonl"])


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="at least one trained run"):
        pooled_compare([_flags([1])], [], [1])
    with pytest.raises(ConfigError, match="one base per trained run"):
        pooled_compare([_flags([1]), _flags([1]), _flags([1])], [_flags([1]), _flags([1])], [1])
    with pytest.raises(ConfigError, match="same seeds and the same problems"):
        hierarchical_means([[[1.0]], [[1.0, 0.0]]], n_boot=10, seed=0)
    with pytest.raises(ConfigError, match="share no problem_id"):
        pooled_compare([{"a": [True]}], [{"b": [True]}], [1])
