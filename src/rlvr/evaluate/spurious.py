"""The random-reward control: does a run trained on coin flips improve as much as the real one?

Given samples from the base model, from a run trained with the real reward and from a run
trained with a random reward (same base, same budget), report each arm's improvement over the base
at pass@1 and pass@K (paired bootstrap intervals, as in ``compare``) and flag *spurious-reward
sensitivity* when the random arm's pass@1 improves by more than ``threshold`` (default 0.05 = 5
points). A random reward carries no information about correctness, so a gain under it was not
learned from the task (papers.md §2–3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlvr.errors import ConfigError
from rlvr.evaluate.compare import ComparisonResult, compare
from rlvr.evaluate.samples import SampleSet

__all__ = [
    "EXPLANATION", "LABEL_ORDER", "SPURIOUS_LABELS", "ControlEvidence", "SpuriousResult", "control_calls",
    "spurious_analysis", "spurious_label",
]

SPURIOUS_LABELS = (
    "spurious_gain",
    "no_spurious_gain",
    "control_unstable",
    "control_uninformative",
    "control_inconclusive",
)
"""What a control arm can say. ``spurious_gain``: its reward (which ignores correctness) raised pass@1
beyond the threshold, the interval above 0. ``no_spurious_gain``: the whole interval lies below the
threshold (absence *shown*). ``control_unstable``: the control broke (it lost pass@1 on a test set,
its interval below 0 and the loss beyond the threshold, or it drifted far from the base), so it is no
null. ``control_uninformative``: its reward carried no signal to learn from (mostly zero-variance
groups, or a constant reward), so it could not have moved: not a finding. ``control_inconclusive``:
none of these is shown (the interval straddles the threshold): more seeds or problems would tell."""

LABEL_ORDER = ("spurious_gain", "control_uninformative", "control_unstable", "no_spurious_gain", "control_inconclusive")
"""Which held call a control shows first: a spurious gain is never hidden behind another call; a
control whose reward had nothing to teach says so before anything it drifted into."""

UNINFORMATIVE_ZERO_STD = 0.8
"""A control whose groups were zero-variance (every completion scored alike) this often at the start
of its training had no learning signal: its call is ``control_uninformative``."""


@dataclass(frozen=True)
class ControlEvidence:
    """What a control arm's call rests on (pass@1 changes are fractions; intervals paired)."""

    gain: float
    """In-distribution pass@1 of the control minus the base's."""
    ci: tuple[float, float]
    """Its interval."""
    shifted_gain: float | None = None
    """The same on the shifted test set (None: no shifted set)."""
    shifted_ci: tuple[float, float] | None = None
    kl: float | None = None
    """KL to the base at the end of training (nats per token; the largest over seeds)."""
    zero_std: float | None = None
    """Share of zero-variance groups at the start of the control's training (None: not logged)."""


def control_calls(
    ev: ControlEvidence, threshold: float = 0.05, *, kl_limit: float | None = None,
    uninformative_zero_std: float = UNINFORMATIVE_ZERO_STD,
) -> tuple[list[str], str, str]:
    """Every call that holds for a control arm, the one shown first, and a reason sentence.

    Returns ``(labels, label, reason)``: ``labels`` in ``LABEL_ORDER``; ``label = labels[0]``, so
    ``spurious_gain`` is shown whenever it holds. ``no_spurious_gain`` is claimed only when the
    interval's upper end is at or below the threshold and the control was neither broken nor
    signal-free (a control that could not fire proves nothing)."""
    lo, hi = float(ev.ci[0]), float(ev.ci[1])
    thr = f"{100 * threshold:.0f}-point threshold"
    held: dict[str, str] = {}
    if ev.gain > threshold and lo > 0:
        held["spurious_gain"] = f"pass@1 {_pts(ev.gain, ev.ci)}: above the {thr}, its interval above 0"
    unstable = []
    if ev.kl is not None and kl_limit is not None and ev.kl > kl_limit:
        unstable.append(f"it drifted from the base (KL {ev.kl:.3f} > {kl_limit:g} nats/token)")
    for name, gain, ci in (("in-distribution", ev.gain, ev.ci), ("shifted", ev.shifted_gain, ev.shifted_ci)):
        if gain is not None and ci is not None and ci[1] < 0 and gain < -threshold:
            unstable.append(f"it lost {name} pass@1 ({_pts(gain, ci)}, beyond −{100 * threshold:.0f} and below 0)")
    if unstable:
        held["control_unstable"] = (
            "; ".join(unstable) + ": a broken control is no null; lower the learning rate or add a KL term (kl_beta)"
        )
    if ev.zero_std is not None and ev.zero_std >= uninformative_zero_std:
        held["control_uninformative"] = (
            f"{100 * ev.zero_std:.0f}% of its groups scored every completion alike, so its reward had nothing to "
            "teach and it could not move: not a finding (make its reward vary, e.g. a base whose answers are "
            "often malformed for a format-only reward)"
        )
    if hi <= threshold and not unstable and "control_uninformative" not in held:
        held["no_spurious_gain"] = f"pass@1 {_pts(ev.gain, ev.ci)}: the whole interval below the {thr}"
    if not held:
        held["control_inconclusive"] = (
            f"pass@1 {_pts(ev.gain, ev.ci)} straddles the {thr}: neither a gain nor its absence is shown; "
            "more seeds or test problems would narrow it"
        )
    labels = [name for name in LABEL_ORDER if name in held]
    return labels, labels[0], held[labels[0]]


def spurious_label(
    gain: float,
    ci: tuple[float, float] | Sequence[float],
    threshold: float = 0.05,
    *,
    kl: float | None = None,
    kl_limit: float | None = None,
) -> tuple[str, str]:
    """The call shown for a control from its in-distribution pass@1 gain and interval alone
    (``control_calls`` with no shifted set and no zero-variance reading)."""
    _, label, reason = control_calls(
        ControlEvidence(gain, (float(ci[0]), float(ci[1])), kl=kl), threshold, kl_limit=kl_limit
    )
    return label, reason


def _pts(gain: float, ci: Sequence[float]) -> str:
    return f"{100 * gain:+.1f} points [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"

EXPLANATION = (
    "A random reward is independent of the answer, so it cannot teach the task. When the model still "
    "improves under it, the gain comes from elsewhere:",
    "contamination: the base model has memorised the benchmark, and any RL nudge surfaces answers it "
    "already knows (check: give the model only the first 40-60% of each problem and see whether it "
    "completes the rest; evaluate on data published after the model, or on a synthetic generator);",
    "format learning: the model learns to put its answer where the verifier looks (e.g. \\boxed{}), "
    "so fewer outputs are unparsable (check: the unparsable rate of each arm, or train with a "
    "format-only reward);",
    "clipping bias: with PPO/GRPO clipping, even zero-mean random advantages push probability toward "
    "behaviours the model already prefers, lowering entropy and amplifying high-prior strategies "
    "such as code-style reasoning in Qwen2.5-Math (check: rerun the random arm without clipping or "
    "strictly on-policy; the gain should vanish).",
    "Read the real-reward gain against this control: only the part above the random arm is evidence "
    "that the reward taught something.",
)


@dataclass(frozen=True)
class SpuriousResult:
    """Both arms measured against the same base; ``to_dict()`` for JSON and reports."""

    threshold: float
    """Random-arm pass@1 gain (fraction) above which the run is flagged."""
    k: int
    """The largest k evaluated (pass@K in the summary)."""
    real: ComparisonResult
    random: ComparisonResult
    flagged: bool
    """True when the random arm's call is ``spurious_gain`` (gain above ``threshold``, interval above 0)."""
    message: str
    unparsable_rate: dict[str, float | None]
    """Share of unparsable samples per arm (a falling rate under random reward hints at format learning)."""
    labels: tuple[str, ...] = ()
    """Every call that holds for the random arm (``control_calls``)."""

    def gains(self) -> dict[str, dict[str, Any]]:
        """Per arm: pass@1 and pass@K gains over the base with their paired intervals."""
        out: dict[str, dict[str, Any]] = {}
        for arm, res in (("real", self.real), ("random", self.random)):
            out[arm] = {
                "pass_at_1": res.capability_gain[1],
                "pass_at_1_ci": list(res.capability_gain_ci[1]),
                f"pass_at_{self.k}": res.capability_gain[self.k],
                f"pass_at_{self.k}_ci": list(res.capability_gain_ci[self.k]),
                "significant_at_1": res.capability_gain_ci[1][0] > 0,
                "verdict": res.verdict,
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        g = self.gains()
        return {
            "kind": "spurious",
            "threshold": self.threshold,
            "k": self.k,
            "improvement": g,
            "real_minus_random_pass_at_1": g["real"]["pass_at_1"] - g["random"]["pass_at_1"],
            "flagged": self.flagged,
            "labels": list(self.labels),
            "label": self.labels[0] if self.labels else None,
            "message": self.message,
            "explanation": list(EXPLANATION) if self.flagged else [],
            "unparsable_rate": self.unparsable_rate,
            "pass_at_k": {
                "base": self.real.to_dict()["pass_at_k"]["base"],
                "real": self.real.to_dict()["pass_at_k"]["trained"],
                "random": self.random.to_dict()["pass_at_k"]["trained"],
            },
        }


def spurious_analysis(
    base: SampleSet | Mapping[str, Any],
    real: SampleSet | Mapping[str, Any],
    random: SampleSet | Mapping[str, Any],
    ks: Sequence[int] | None = None,
    *,
    threshold: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> SpuriousResult:
    """Measure the real- and random-reward arms against the base (see module doc)."""
    if not 0 <= threshold < 1:
        raise ConfigError(f"threshold is a fraction of problems (0.05 = 5 points), got {threshold}")
    kw: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "confidence": confidence, "list_problems": False}
    real_res = compare(base, real, ks, **kw)
    random_res = compare(base, random, list(real_res.ks) if ks is None else ks, **kw)
    if real_res.ks != random_res.ks:  # pragma: no cover - same ks by construction
        raise ConfigError("the arms were evaluated at different k")
    k = real_res.ks[-1]
    g_real = real_res.capability_gain[1]
    g_rand = random_res.capability_gain[1]
    labels, label, reason = control_calls(ControlEvidence(g_rand, random_res.capability_gain_ci[1]), threshold)
    flagged = label == "spurious_gain"
    if flagged:
        message = (
            f"spurious-reward sensitivity: the random-reward arm gained {100 * g_rand:+.1f} points at "
            f"pass@1 (threshold {100 * threshold:.0f}); the real-reward arm gained {100 * g_real:+.1f}. "
            f"Only {100 * (g_real - g_rand):+.1f} points are attributable to the reward's signal."
        )
    else:
        message = (
            f"{label.replace('_', ' ')}: the random-reward arm, {reason}; the real-reward arm gained "
            f"{100 * g_real:+.1f} points."
        )

    def rate(x: Any) -> float | None:
        return x.unparsable_rate if isinstance(x, SampleSet) else None

    return SpuriousResult(
        threshold=threshold,
        k=k,
        real=real_res,
        random=random_res,
        flagged=flagged,
        labels=tuple(labels),
        message=message,
        unparsable_rate={"base": rate(base), "real": rate(real), "random": rate(random)},
    )
