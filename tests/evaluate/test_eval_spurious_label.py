"""A control arm's calls, on hand-made gains, intervals and training readings."""

from __future__ import annotations

import pytest

from rlvr.evaluate.spurious import (
    LABEL_ORDER,
    SPURIOUS_LABELS,
    ControlEvidence,
    control_calls,
    spurious_label,
)

T = 0.05


@pytest.mark.parametrize(
    ("ev", "labels"),
    [
        # Above 5 points, interval above 0: a spurious gain, shown first.
        (ControlEvidence(0.08, (0.03, 0.13)), ["spurious_gain"]),
        # Above 5 points but its interval reaches 0: neither gain nor absence is shown.
        (ControlEvidence(0.08, (-0.01, 0.17)), ["control_inconclusive"]),
        # Significant but the whole interval within the threshold: absence shown.
        (ControlEvidence(0.03, (0.01, 0.05)), ["no_spurious_gain"]),
        (ControlEvidence(0.0, (-0.02, 0.02)), ["no_spurious_gain"]),
        # Straddles the threshold: an interval that includes 0 claims no absence.
        (ControlEvidence(0.01, (-0.04, 0.06)), ["control_inconclusive"]),
        # Lost less than the threshold: still a null.
        (ControlEvidence(-0.04, (-0.08, 0.0)), ["no_spurious_gain"]),
        # Lost more than the threshold, interval below 0: broken, and no "no gain" claimed beside it.
        (ControlEvidence(-0.06, (-0.09, -0.03)), ["control_unstable"]),
        # Lost transfer on the shifted set only: broken too.
        (ControlEvidence(0.0, (-0.02, 0.02), shifted_gain=-0.09, shifted_ci=(-0.14, -0.04)), ["control_unstable"]),
        # A shifted loss within the threshold is no instability.
        (ControlEvidence(0.0, (-0.02, 0.02), shifted_gain=-0.03, shifted_ci=(-0.05, -0.01)), ["no_spurious_gain"]),
        # Flat pass@1 but drifted far from the base.
        (ControlEvidence(0.0, (-0.02, 0.02), kl=3.0), ["control_unstable"]),
        (ControlEvidence(0.08, (0.03, 0.13), kl=0.2), ["spurious_gain"]),
        # A gain above the threshold is reported even from a control that also broke.
        (ControlEvidence(0.08, (0.03, 0.13), kl=3.0), ["spurious_gain", "control_unstable"]),
        # Constant reward: every group zero-variance; it could not fire, so it says so, not "no gain".
        (ControlEvidence(0.0, (-0.01, 0.01), zero_std=1.0), ["control_uninformative"]),
        (ControlEvidence(0.0, (-0.01, 0.01), zero_std=0.79), ["no_spurious_gain"]),
        # A control with nothing to learn that drifted anyway says first that it could not be a test.
        (ControlEvidence(-0.08, (-0.12, -0.04), zero_std=0.95), ["control_uninformative", "control_unstable"]),
        # Mostly zero-variance yet it gained: the gain still shows first.
        (ControlEvidence(0.1, (0.05, 0.15), zero_std=0.9), ["spurious_gain", "control_uninformative"]),
    ],
)
def test_control_calls_cases(ev, labels):
    got, label, reason = control_calls(ev, T, kl_limit=1.0)
    assert got == labels and label == labels[0]
    assert set(got) <= set(SPURIOUS_LABELS) and got == [x for x in LABEL_ORDER if x in got]
    assert reason
    if label == "control_unstable":
        assert "learning rate" in reason  # says what to change
    if label == "control_inconclusive":
        assert "more seeds" in reason


def test_kl_is_ignored_without_a_limit():
    assert spurious_label(0.0, (-0.01, 0.01), kl=50.0)[0] == "no_spurious_gain"
    assert spurious_label(0.0, (-0.01, 0.01), kl=50.0, kl_limit=1.0)[0] == "control_unstable"


def test_a_gain_above_the_threshold_is_never_hidden():
    """Whatever else holds, a significant gain above the threshold is the label shown."""
    for kl in (None, 0.1, 9.0):
        for zero in (None, 0.0, 0.95):
            for shifted in (None, -0.2):
                ev = ControlEvidence(0.2, (0.1, 0.3), shifted_gain=shifted,
                                     shifted_ci=None if shifted is None else (-0.3, -0.1), kl=kl, zero_std=zero)
                assert control_calls(ev, T, kl_limit=1.0)[1] == "spurious_gain"
