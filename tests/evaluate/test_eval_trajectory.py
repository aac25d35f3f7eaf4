"""Trajectories: mean over seeds, entropy correlations and the generalisation warning."""

from __future__ import annotations

import pytest

from rlvr.evaluate.trajectory import correlations, generalisation_warnings, mean_trajectory


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


def test_warns_when_in_distribution_rises_and_shifted_falls():
    traj = [_pt(0, None, 0.30, 0.40, 0.6, 0.5), _pt(50, 0.3, 0.45, 0.38, 0.6, 0.5), _pt(100, 0.2, 0.50, 0.30, 0.5, 0.5)]
    codes = [w["code"] for w in generalisation_warnings(traj)]
    assert codes == ["pass1_shifted_falls", "passk_in_distribution_falls"]
    # Both rising, or a fall within the tolerance: no warning.
    assert generalisation_warnings([_pt(0, None, 0.3, 0.4), _pt(9, 0.2, 0.5, 0.5)]) == []
    assert generalisation_warnings([_pt(0, None, 0.3, 0.40), _pt(9, 0.2, 0.5, 0.38)]) == []
    # In-distribution flat: whatever the shifted set does, this is not the trade-off warned about.
    assert generalisation_warnings([_pt(0, None, 0.3, 0.4), _pt(9, 0.2, 0.31, 0.1)]) == []
    assert generalisation_warnings([_pt(0, None, 0.3, 0.4)]) == []
