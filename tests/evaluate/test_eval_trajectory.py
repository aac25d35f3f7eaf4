"""Trajectories: mean over seeds, entropy correlations and the generalisation warning."""

from __future__ import annotations

import pytest

from rlvr.evaluate.trajectory import SeedShift, correlations, entropy_ood_warning, mean_trajectory


def _pt(step, ent, i1, s1, ik=None, sk=None):
    return {"step": step, "entropy": ent, "pass1_in_distribution": i1, "pass1_shifted": s1,
            "passk_in_distribution": ik, "passk_shifted": sk}


def test_mean_over_seeds_keeps_common_steps_and_nones():
    a = [_pt(0, None, 0.2, 0.4), _pt(10, 0.5, 0.3, 0.5), _pt(20, 0.4, 0.5, 0.5)]
    b = [_pt(0, None, 0.4, 0.2), _pt(10, 0.3, 0.5, 0.3)]
    got = mean_trajectory([a, b])
    assert [p["step"] for p in got] == [0, 10]
    assert got[0]["entropy"] is None and got[0]["pass1_in_distribution"] == pytest.approx(0.3)
    assert got[1]["entropy"] == pytest.approx(0.4) and got[1]["pass1_shifted"] == pytest.approx(0.4)
    assert got[1]["passk_shifted"] is None


def test_correlations_by_hand():
    # Entropy 3, 2, 1 against pass@1 1, 2, 3: perfectly anti-correlated; a constant series: None.
    traj = [_pt(0, 3.0, 1.0, 0.5), _pt(1, 2.0, 2.0, 0.5), _pt(2, 1.0, 3.0, 0.5)]
    c = correlations(traj)
    assert c["pass1_in_distribution"] == pytest.approx(-1.0)
    assert c["pass1_shifted"] is None
    assert c["passk_in_distribution"] is None  # no readings


def _seeds(gains, ents=((1.0, 0.5),) * 3, half=0.03):
    return [SeedShift(i, g, (g - half, g + half), a, b) for i, (g, (a, b)) in enumerate(zip(gains, ents))]


def test_ood_warning_fires_on_a_consistent_shifted_decline_with_entropy_collapse():
    w = entropy_ood_warning("trained", _seeds([-0.08, -0.10, -0.06]), -0.08, (-0.12, -0.04))
    assert w is not None and w["code"] == "entropy_ood_decline" and w["arm"] == "trained"
    assert "entropy fell 50-50%" in w["message"] and "-8.0 points" in w["message"]
    assert [p["entropy_drop"] for p in w["evidence"]["per_seed"]] == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    ("gains", "ents", "pooled_ci", "why"),
    [
        ([-0.08, -0.10, -0.01], ((1.0, 0.5),) * 3, (-0.12, 0.01), "pooled interval reaches 0, one seed's too"),
        ([-0.08, 0.02, -0.06], ((1.0, 0.5),) * 3, (-0.12, -0.01), "one seed went the other way"),
        ([-0.08, -0.10, -0.06], ((1.0, 0.5), (1.0, 0.95), (1.0, 0.5)), (-0.12, -0.04), "entropy held on one seed"),
        ([-0.08, -0.10, -0.06], ((1.0, 0.5), (None, 0.5), (1.0, 0.5)), (-0.12, -0.04), "no entropy reading"),
    ],
)
def test_ood_warning_needs_every_piece_of_evidence(gains, ents, pooled_ci, why):
    assert entropy_ood_warning("trained", _seeds(gains, ents), -0.06, pooled_ci) is None, why


def test_ood_warning_fires_when_every_seed_shows_the_decline_though_the_pooled_interval_is_wide():
    # Three seeds, each paired interval below 0, but spread apart: the t quantile of 2 df reaches 0.
    seeds = _seeds([-0.03, -0.15, -0.06], half=0.025)
    assert entropy_ood_warning("trained", seeds, -0.08, (-0.23, 0.07)) is not None


def test_ood_warning_ignores_a_seed_whose_interval_lies_above_zero():
    seeds = _seeds([-0.08, -0.10, -0.06])
    seeds[1] = SeedShift(1, -0.001, (0.001, 0.05), 1.0, 0.5)  # inconsistent: its interval says "up"
    assert entropy_ood_warning("trained", seeds, -0.06, (-0.1, -0.02)) is None
