"""Checkpoint trajectories: pass@1 / pass@k on both test sets next to the policy entropy, and the
warning that generalisation is being traded for in-distribution pass@1 (Cui et al., 2505.22617).

A trajectory is a list of points ``{"step", "entropy", "pass1_in_distribution", "pass1_shifted",
"passk_in_distribution", "passk_shifted"}`` (a value may be None: no shifted set, or no entropy
reading at step 0), ordered by step; step 0 is the base.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["POINT_KEYS", "correlations", "generalisation_warnings", "mean_trajectory"]

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
            vals = [p.get(key) for p in points if _num(p.get(key))]
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


def generalisation_warnings(trajectory: Sequence[Mapping[str, Any]], tol: float = 0.03) -> list[dict[str, Any]]:
    """Warnings when in-distribution pass@1 rises (by more than ``tol`` from the first point to the
    last) while shifted pass@1, shifted pass@k or in-distribution pass@k falls by more than ``tol``
    over the same span: the policy is sharpening at the cost of breadth or transfer."""
    if len(trajectory) < 2:
        return []
    first, last = trajectory[0], trajectory[-1]

    def delta(key: str) -> float | None:
        a, b = first.get(key), last.get(key)
        return b - a if _num(a) and _num(b) else None

    rise = delta("pass1_in_distribution")
    if rise is None or rise <= tol:
        return []
    out = []
    names = {
        "pass1_shifted": "shifted pass@1",
        "passk_shifted": "shifted pass@k",
        "passk_in_distribution": "in-distribution pass@k",
    }
    for key, name in names.items():
        d = delta(key)
        if d is not None and d < -tol:
            out.append({
                "code": f"{key}_falls",
                "step": last["step"],
                "message": (
                    f"in-distribution pass@1 rose {100 * rise:+.1f} points (steps {first['step']}→{last['step']}) "
                    f"while {name} fell {100 * d:+.1f}: breadth or transfer is being traded for pass@1"
                ),
            })
    return out
