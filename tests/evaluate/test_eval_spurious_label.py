"""The control arm's three-way call, on hand-made gains and intervals."""

from __future__ import annotations

import pytest

from rlvr.evaluate.spurious import SPURIOUS_LABELS, spurious_label


@pytest.mark.parametrize(
    ("gain", "ci", "kl", "label"),
    [
        (0.08, (0.03, 0.13), None, "spurious_gain"),  # above 5 points, interval above 0
        (0.08, (-0.01, 0.17), None, "no_spurious_gain"),  # above 5 points but not significant
        (0.04, (0.02, 0.06), None, "no_spurious_gain"),  # significant but within the threshold
        (0.0, (-0.02, 0.02), None, "no_spurious_gain"),
        (-0.04, (-0.08, 0.0), None, "no_spurious_gain"),  # lost less than the threshold
        (-0.06, (-0.09, -0.03), None, "control_unstable"),  # lost more than the threshold
        (0.0, (-0.02, 0.02), 3.0, "control_unstable"),  # flat pass@1, but drifted far from the base
        (0.08, (0.03, 0.13), 0.2, "spurious_gain"),  # KL within the limit
    ],
)
def test_spurious_label_cases(gain, ci, kl, label):
    got, reason = spurious_label(gain, ci, 0.05, kl=kl, kl_limit=1.0)
    assert got == label and got in SPURIOUS_LABELS
    assert reason
    if label == "control_unstable":
        assert "learning rate" in reason  # says what to change


def test_kl_is_ignored_without_a_limit():
    assert spurious_label(0.0, (-0.01, 0.01), kl=50.0)[0] == "no_spurious_gain"
