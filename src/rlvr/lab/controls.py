"""The study's control arms, called: each control's labels (pooled over seeds and per seed), the
study's overall call, and the real-minus-random difference with its own paired interval.

A control's call rests on ``rlvr.evaluate.spurious.control_calls``: its pass@1 change from the base
on both test sets (pooled intervals over seeds and problems), its KL at the end of training, and
how often its groups were zero-variance (a reward with nothing to teach cannot fire: that is
``control_uninformative``, never "no spurious gain").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rlvr.diagnostics import keys
from rlvr.evaluate.spurious import LABEL_ORDER, ControlEvidence, control_calls
from rlvr.lab.results import SeedResult, TrainingRun

__all__ = ["CONTROLS", "control_kl", "overall_call", "study_controls", "zero_std_share"]

CONTROLS = ("random_control", "format_control")
"""The control arms, in the order they are reported."""

CONTROL_NAMES = {"random_control": "random-reward", "format_control": "format-only"}

OVERALL_ORDER = ("spurious_gain", "control_unstable", "no_spurious_gain", "control_inconclusive", "control_uninformative")
"""The study's call over its controls: any spurious gain shows first; a control that broke next; then
an informative control's "none"; a control that could not fire is named only when no other says more."""


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def control_kl(run: TrainingRun) -> float | None:
    """KL to the base at the end of a run: the mean of its last readings (a quarter, at most 5)."""
    vals = _finite(run.curves.get(keys.POLICY_KL, []))
    if not vals:
        return None
    tail = vals[-max(1, min(5, len(vals) // 4 or 1)) :]
    return round(statistics.fmean(tail), 6)


def zero_std_share(run: TrainingRun) -> float | None:
    """Mean share of zero-variance groups over the first tenth of a run's steps (at least 1, at
    most 10; None: not logged): whether the control's reward had anything to teach *before* it
    could learn. Later readings would call a control that learned fast (every answer now paid)
    uninformative."""
    vals = _finite(run.curves.get(keys.GROUPS_FRAC_ZERO_STD, []))
    head = vals[: max(1, min(10, len(vals) // 10))]
    return round(statistics.fmean(head), 6) if head else None


def overall_call(labels_by_control: Mapping[str, Sequence[str]]) -> tuple[list[str], str | None]:
    """The study's call from its controls' labels: ``(labels, label)``, labels the union of every
    control's (in ``LABEL_ORDER``), label the first of ``OVERALL_ORDER`` that some control shows
    (None: no control arm was trained)."""
    union = {lab for labels in labels_by_control.values() for lab in labels}
    labels = [lab for lab in LABEL_ORDER if lab in union]
    shown = {labels[0] for labels in labels_by_control.values() if labels}
    label = next((lab for lab in OVERALL_ORDER if lab in union and (lab == "spurious_gain" or lab in shown)), None)
    return labels, label or (labels[0] if labels else None)


def study_controls(
    seeds: Sequence[SeedResult],
    compare: Callable[[str, str, str, Sequence[SeedResult]], Any],
    threshold: float,
    kl_limit: float,
) -> dict[str, Any]:
    """Every control arm present on every seed, called pooled and per seed.

    ``compare(base_arm, arm, test_set, seeds)`` returns the pooled comparison (a ``ComparisonResult``)
    of two arms on a test set over ``seeds`` (None when that set is missing). Returns ``{"controls":
    {arm: {...}}, "labels", "label", "flag", "real_minus_random"}``.
    """
    controls: dict[str, Any] = {}
    for arm in CONTROLS:
        if not all(arm in s.outcomes for s in seeds):
            continue
        runs = [s.runs[arm] for s in seeds]
        kls = [control_kl(r) for r in runs]
        zeros = [zero_std_share(r) for r in runs]
        pooled = _evidence(compare, arm, seeds, max(_finite(kls), default=None), _mean(zeros))
        labels, label, reason = control_calls(pooled["evidence"], threshold, kl_limit=kl_limit)
        per_seed = {}
        for s, kl, z in zip(seeds, kls, zeros):
            one = _evidence(compare, arm, [s], kl, z)
            per_seed[str(s.seed)] = control_calls(one["evidence"], threshold, kl_limit=kl_limit)[1]
        res = pooled["in_distribution"]
        k_max = res.ks[-1]
        controls[arm] = {
            "label": label, "labels": labels, "reason": reason,
            "kl_end": pooled["evidence"].kl, "kl_end_per_seed": kls,
            "zero_std_share": pooled["evidence"].zero_std, "zero_std_share_per_seed": zeros,
            "pass_at_1": res.capability_gain[1], "pass_at_1_ci": list(res.capability_gain_ci[1]),
            f"pass_at_{k_max}": res.capability_gain[k_max], f"pass_at_{k_max}_ci": list(res.capability_gain_ci[k_max]),
            "shifted_pass_at_1": pooled["evidence"].shifted_gain,
            "shifted_pass_at_1_ci": list(pooled["evidence"].shifted_ci) if pooled["evidence"].shifted_ci else None,
            "verdict": res.verdict,
            "per_seed": per_seed,
        }
    study_labels, study_label = overall_call({arm: c["labels"] for arm, c in controls.items()})
    out: dict[str, Any] = {
        "controls": controls, "labels": study_labels, "label": study_label, "flag": "spurious_gain" in study_labels,
    }
    if "random_control" in controls:
        diff = compare("random_control", "trained", "in_distribution", seeds)
        out["real_minus_random"] = {
            "pass_at_1": diff.capability_gain[1], "pass_at_1_ci": list(diff.capability_gain_ci[1]),
            "method": diff.significance.get("method"),
        }
    return out


def _mean(values: Sequence[Any]) -> float | None:
    vals = _finite(values)
    return round(statistics.fmean(vals), 6) if vals else None


def _evidence(
    compare: Callable[..., Any], arm: str, seeds: Sequence[SeedResult], kl: float | None, zero: float | None
) -> dict[str, Any]:
    ind = compare("base", arm, "in_distribution", seeds)
    shifted = compare("base", arm, "shifted", seeds)
    ev = ControlEvidence(
        gain=ind.capability_gain[1], ci=tuple(ind.capability_gain_ci[1]),
        shifted_gain=shifted.capability_gain[1] if shifted is not None else None,
        shifted_ci=tuple(shifted.capability_gain_ci[1]) if shifted is not None else None,
        kl=kl, zero_std=zero,
    )
    return {"evidence": ev, "in_distribution": ind, "shifted": shifted}
