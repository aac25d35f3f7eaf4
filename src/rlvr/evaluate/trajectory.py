"""Checkpoint trajectories: pass@1 / pass@k on both test sets next to the policy entropy, and the
warning that transfer is being traded for entropy collapse (Cui et al., 2505.22617): a shifted-set
decline shown by intervals and consistent across seeds, together with an entropy decline on every
seed (not two noisy probe endpoints).

A trajectory is a list of points ``{"step", "entropy", "pass1_in_distribution", "pass1_shifted",
"passk_in_distribution", "passk_shifted"}`` (a value may be None: no shifted set, or no entropy
reading at step 0), ordered by step; step 0 is the base.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ENTROPY_DROP", "POINT_KEYS", "SeedShift", "correlations", "entropy_ood_warning", "mean_trajectory"]

POINT_KEYS = ("entropy", "pass1_in_distribution", "pass1_shifted", "passk_in_distribution", "passk_shifted")


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def mean_trajectory(trajectories: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Point-wise mean over seeds of trajectories that probe the same steps (a key missing or None
    on every seed stays None; steps not probed on every seed are dropped)."""
    if not trajectories:
        return []
    common = set.intersection(*({p["step"] for p in t} for t in trajectories))
    out = []
    for step in sorted(common):
        points = [next(p for p in t if p["step"] == step) for t in trajectories]
        row: dict[str, Any] = {"step": step}
        for key in POINT_KEYS:
            vals = [float(p[key]) for p in points if _num(p.get(key))]
            row[key] = round(statistics.fmean(vals), 6) if vals else None
        out.append(row)
    return out


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if sx == 0 or sy == 0:
        return None
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (sx * sy), 6)


def correlations(trajectory: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Pearson correlation of the entropy with each pass series, over the points where both are
    known (None with fewer than 3 such points or a constant series)."""
    out: dict[str, float | None] = {}
    for key in POINT_KEYS[1:]:
        pairs = [(p["entropy"], p[key]) for p in trajectory if _num(p.get("entropy")) and _num(p.get(key))]
        out[key] = _pearson([a for a, _ in pairs], [b for _, b in pairs])
    return out


@dataclass(frozen=True)
class SeedShift:
    """One seed of one RL arm: its shifted-set pass@1 change from the base (paired over that seed's
    shifted problems) and its policy entropy at the start and end of training."""

    seed: int
    gain: float
    """Shifted pass@1 of the arm minus the base's (a fraction)."""
    ci: tuple[float, float]
    """Paired interval of ``gain`` over the seed's shifted problems."""
    entropy_start: float | None
    entropy_end: float | None


ENTROPY_DROP = 0.10
"""Relative entropy fall (start to end of training) that counts as an entropy decline."""


def entropy_ood_warning(
    arm: str,
    seeds: Sequence[SeedShift],
    pooled_gain: float,
    pooled_ci: tuple[float, float] | Sequence[float],
    *,
    min_drop: float = ENTROPY_DROP,
) -> dict[str, Any] | None:
    """The warning of Cui et al. (2505.22617): an arm's entropy collapsed *and* it lost transfer.

    Fires only when all of these hold, so that noise alone almost never fires it:
    - the seeds agree: every seed's change is below 0 and no seed's paired interval lies above 0;
    - the decline is shown, one of two ways: the pooled interval (over seeds and problems) lies below
      0, or every seed's own paired interval does (with no change, each seed's does so 2.5% of the
      time, all S of them (0.025)^S of the time: the union stays a test at about the 2.5% level, and
      a decline every seed shows is not lost to the wide t quantile of 2-3 seeds);
    - the entropy fell on every seed, by ``min_drop`` (relative) or more, start to end of training.
    Returns ``{"code", "arm", "message", "evidence"}`` or None."""
    if not seeds or any(s.gain >= 0 or s.ci[0] > 0 for s in seeds):
        return None
    if pooled_ci[1] >= 0 and not all(s.ci[1] < 0 for s in seeds):
        return None
    drops = []
    for s in seeds:
        if not (_num(s.entropy_start) and _num(s.entropy_end)) or s.entropy_start <= 0:  # type: ignore[operator]
            return None
        drops.append(1 - s.entropy_end / s.entropy_start)  # type: ignore[operator]
    if min(drops) < min_drop:
        return None
    lo, hi = float(pooled_ci[0]), float(pooled_ci[1])
    per_seed = ", ".join(f"seed {s.seed}: {100 * s.gain:+.1f}" for s in seeds)
    return {
        "code": "entropy_ood_decline",
        "arm": arm,
        "message": (
            f"entropy fell {100 * min(drops):.0f}-{100 * max(drops):.0f}% on every seed while shifted pass@1 fell "
            f"{100 * pooled_gain:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}] (per seed: {per_seed}): "
            "the policy is trading transfer for in-distribution sharpness (entropy collapse; keep entropy up, "
            "e.g. a KL term or clip-higher, and read the shifted set before trusting the gain)"
        ),
        "evidence": {
            "pooled_gain": pooled_gain, "pooled_ci": [lo, hi],
            "per_seed": [{"seed": s.seed, "gain": s.gain, "ci": list(s.ci), "entropy_drop": round(d, 6)}
                         for s, d in zip(seeds, drops)],
        },
    }
