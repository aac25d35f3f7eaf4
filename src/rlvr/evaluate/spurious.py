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

__all__ = ["EXPLANATION", "SPURIOUS_LABELS", "SpuriousResult", "spurious_analysis", "spurious_label"]

SPURIOUS_LABELS = ("spurious_gain", "no_spurious_gain", "control_unstable")
"""What a control arm says: its reward (which ignores correctness) raised pass@1; it did not; or
the control itself broke (it lost pass@1 or drifted far from the base), so it is no null at all."""


def spurious_label(
    gain: float,
    ci: tuple[float, float] | Sequence[float],
    threshold: float = 0.05,
    *,
    kl: float | None = None,
    kl_limit: float | None = None,
) -> tuple[str, str]:
    """The three-way call on a control arm from its pass@1 gain over the base and the gain's interval.

    - ``control_unstable``: the control lost more than ``threshold`` (point estimate below
      −threshold), or its KL to the base ended above ``kl_limit``: it is no null result;
    - ``spurious_gain``: the gain is above ``threshold`` and its interval excludes zero;
    - ``no_spurious_gain``: otherwise.

    Returns ``(label, reason)``; the reason says what to change when the control is unstable.
    """
    lo, hi = float(ci[0]), float(ci[1])
    pts = f"{100 * gain:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    if kl is not None and kl_limit is not None and kl > kl_limit:
        return "control_unstable", (
            f"the control drifted from the base (KL {kl:.3f} > {kl_limit:g} nats/token; pass@1 {pts}): "
            "lower the learning rate or add a KL term (kl_beta) so it stays a valid null"
        )
    if gain < -threshold:
        return "control_unstable", (
            f"the control lost pass@1 ({pts}, beyond −{100 * threshold:.0f}): a collapsing control is not a "
            "null result; lower the learning rate or add a KL term (kl_beta)"
        )
    if gain > threshold and lo > 0:
        return "spurious_gain", f"pass@1 {pts}, above the {100 * threshold:.0f}-point threshold and its interval above 0"
    return "no_spurious_gain", f"pass@1 {pts}, within the {100 * threshold:.0f}-point threshold or not significant"

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
    """True when the random arm's pass@1 gain exceeds ``threshold``."""
    message: str
    unparsable_rate: dict[str, float | None]
    """Share of unparsable samples per arm (a falling rate under random reward hints at format learning)."""

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
    flagged = g_rand > threshold
    if flagged:
        message = (
            f"spurious-reward sensitivity: the random-reward arm gained {100 * g_rand:+.1f} points at "
            f"pass@1 (threshold {100 * threshold:.0f}); the real-reward arm gained {100 * g_real:+.1f}. "
            f"Only {100 * (g_real - g_rand):+.1f} points are attributable to the reward's signal."
        )
    else:
        message = (
            f"no spurious-reward sensitivity: the random-reward arm gained {100 * g_rand:+.1f} points at "
            f"pass@1 (threshold {100 * threshold:.0f}) against {100 * g_real:+.1f} for the real reward."
        )

    def rate(x: Any) -> float | None:
        return x.unparsable_rate if isinstance(x, SampleSet) else None

    return SpuriousResult(
        threshold=threshold,
        k=k,
        real=real_res,
        random=random_res,
        flagged=flagged,
        message=message,
        unparsable_rate={"base": rate(base), "real": rate(real), "random": rate(random)},
    )
