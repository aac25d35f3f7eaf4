"""The verdict vocabulary: one definition, used by ``rlvr compare``,
``rlvr lab``, the report and the terminal.

Each change (pass@1, and pass@K at the largest k) gets a *direction* from its paired interval and an
equivalence margin δ: ``up`` (interval above 0, change ≥ min_effect), ``down`` (interval below 0),
``flat`` (the whole interval inside [−δ, +δ]: no change *shown*), ``inconclusive`` (the data cannot
tell). Absence of a change is claimed only when it is shown, never because an interval includes 0:
a pass@1 gain with an unresolved pass@K is ``compression_ceiling_unresolved``, never ``pure_compression``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rlvr.errors import ConfigError

__all__ = [
    "DEFAULT_MARGIN",
    "DIRECTIONS",
    "VERDICTS",
    "VERDICT_MEANING",
    "VERDICT_TABLE",
    "direction",
    "resolution_hint",
    "verdict_label",
]

DEFAULT_MARGIN = 0.02
"""Equivalence margin δ (fraction: 0.02 = 2 points): a change is ``flat`` only inside [−δ, +δ]."""

DIRECTIONS = ("up", "flat", "down", "inconclusive")

VERDICT_TABLE: dict[tuple[str, str], str] = {
    ("up", "up"): "capability_gain_and_compression",
    ("up", "flat"): "pure_compression",
    ("up", "down"): "mode_collapse",
    ("up", "inconclusive"): "compression_ceiling_unresolved",
    ("flat", "up"): "coverage_gain",
    ("flat", "flat"): "no_change",
    ("flat", "down"): "regression",
    ("flat", "inconclusive"): "inconclusive",
    ("down", "up"): "trade_off",
    ("down", "flat"): "regression",
    ("down", "down"): "regression",
    ("down", "inconclusive"): "regression",
    ("inconclusive", "up"): "coverage_gain",
    ("inconclusive", "flat"): "inconclusive",
    ("inconclusive", "down"): "regression",
    ("inconclusive", "inconclusive"): "inconclusive",
}
"""(pass@1 direction, pass@K direction) → label, the README's 4 x 4 table."""

VERDICTS = (
    "capability_gain_and_compression",
    "pure_compression",
    "mode_collapse",
    "compression_ceiling_unresolved",
    "coverage_gain",
    "no_change",
    "regression",
    "trade_off",
    "inconclusive",
    "uninformative",
)

VERDICT_MEANING = {
    "capability_gain_and_compression": "RL made single samples better and widened what the model can solve at all.",
    "pure_compression": "RL made single samples better, and the model shown to solve no more problems at large k: "
    "a faster guesser, not a better thinker (search compression).",
    "mode_collapse": "RL made single samples better while the model solves fewer problems at large k: "
    "diversity was traded away (a red flag; check entropy and KL).",
    "compression_ceiling_unresolved": "RL made single samples better, but the data cannot tell whether the model "
    "solves more, the same or fewer problems at large k: gather more evidence before calling it compression.",
    "coverage_gain": "Single samples are no better (or unresolved), but the model solves more problems at large k: "
    "RL widened coverage without sharpening single answers.",
    "no_change": "Both pass@1 and pass@K stayed within the equivalence margin: RL changed nothing measurable.",
    "regression": "The trained model is worse than its base.",
    "trade_off": "Single samples got worse while the model solves more problems at large k: a trade, not a gain.",
    "inconclusive": "The intervals are too wide to tell a change from no change: the data cannot decide.",
    "uninformative": "The base model's pass@K is at a floor or a ceiling (outside 5-95%), so no change could show; "
    "this comparison is not a finding.",
}


def direction(point: float, ci: tuple[float, float], margin: float = DEFAULT_MARGIN, min_effect: float = 0.0) -> str:
    """One change's direction from its interval: up / down (interval excludes 0 and the point is at
    least ``min_effect`` that way), flat (the whole interval inside [−margin, +margin]), else
    inconclusive."""
    if margin < 0 or min_effect < 0:
        raise ConfigError(f"margin and min_effect must be >= 0, got {margin} and {min_effect}")
    lo, hi = float(ci[0]), float(ci[1])
    if lo > 0 and point >= min_effect:
        return "up"
    if hi < 0 and point <= -min_effect:
        return "down"
    if -margin <= lo and hi <= margin:
        return "flat"
    return "inconclusive"


def verdict_label(d1: str, dK: str | None, *, informative: bool = True) -> str:
    """The table's label for pass@1 direction ``d1`` and pass@K direction ``dK`` (None: only k = 1
    was requested, which counts as ``inconclusive``); ``uninformative`` when the base sits at a
    floor or a ceiling."""
    if not informative:
        return "uninformative"
    key = (d1, dK or "inconclusive")
    if key not in VERDICT_TABLE:
        raise ConfigError(f"unknown directions {key}; expected two of {DIRECTIONS}")
    return VERDICT_TABLE[key]


def _smallest(ok: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """Smallest integer n in [lo, hi] with ok(n), for ok monotone (False ... False True ... True)."""
    if hi < lo or not ok(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _pts(x: float) -> str:
    return f"{100 * x:.1f}"


def resolution_hint(
    name: str,
    point: float,
    ci: tuple[float, float],
    *,
    margin: float,
    n_problems: int,
    n_runs: int = 1,
    var_runs: float = 0.0,
    var_problems: float | None = None,
    quantile: Callable[[int], float] | None = None,
    max_factor: int = 1000,
) -> str:
    """What would resolve an inconclusive change: which interval, the target (exclude 0, or fit inside
    ±margin, whichever is nearer), and roughly how many runs or problems at the observed spread.

    The interval's variance is ``var_runs / S + var_problems / P`` scaled to now (``var_runs`` and
    ``var_problems`` are the parts at the current S and P; None: all of it is problem-level, the
    single-run case). ``quantile(df)`` gives the t quantile for df degrees of freedom at the run
    level (default: today's quantile, unchanged); with more runs it shrinks as df grows.
    """
    lo, hi = float(ci[0]), float(ci[1])
    half = (hi - lo) / 2
    center = (lo + hi) / 2
    head = f"{name} {100 * point:+.1f} pts [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    if half <= 0:
        return f"{head}: the interval has no width; nothing more to gather"
    # Two ways out: exclude 0 (half-width below |center|) or show equivalence (|center| + half ≤ margin).
    targets = [(abs(center), "exclude 0")]
    if abs(center) < margin:
        targets.append((margin - abs(center), f"fit inside ±{_pts(margin)} pts"))
    target, goal = max(targets)
    if target <= 0:
        return f"{head}: its centre sits on 0, so no amount of data is predicted to resolve it beyond the margin"
    if var_problems is None:  # single run: the whole width is problem-level; only ratios matter
        var_problems = half * half
    total_now = var_runs + var_problems
    if total_now <= 0:
        return f"{head}: nothing to estimate from"
    q_now = half / math.sqrt(total_now)

    def q_runs(s: int) -> float:
        # With s runs the run level has s−1 degrees of freedom; never above today's quantile.
        return min(q_now, quantile(s - 1)) if quantile is not None else q_now

    basis = f"rests on {n_runs} run{'s' if n_runs != 1 else ''} x {n_problems} problems"
    dominant = "run-to-run spread" if var_runs >= var_problems else "problem sampling"
    lines = [f"{head} ({basis}; {dominant} dominates its width): to {goal} the half-width must shrink "
             f"from {_pts(half)} to below {_pts(target)} pts"]
    # More problems shrink only the problem part; the run part is a floor.
    need_p = None
    room = (target / q_now) ** 2 - var_runs
    if room > 0 and var_problems > 0:
        need_p = math.ceil(n_problems * var_problems / room)
        need_p = need_p if need_p <= max_factor * n_problems else None
    # More runs shrink the run part as 1/S and the t quantile as its df grow.
    need_s = None
    if n_runs >= 2 and var_runs > 0:
        need_s = _smallest(
            lambda s: q_runs(s) * math.sqrt(var_runs * n_runs / s + var_problems) <= target,
            n_runs + 1, n_runs * max_factor,
        )
    # Neither alone: scale runs and problems by the same factor.
    need_both = None
    if need_s is None and need_p is None and n_runs >= 2 and var_runs > 0:
        need_both = _smallest(
            lambda f: q_runs(n_runs * f) * math.sqrt((var_runs + var_problems) / f) <= target, 2, max_factor
        )
    opts = []
    if need_s is not None:
        opts.append(f"about {need_s} runs (now {n_runs})")
    if need_p is not None:
        opts.append(f"about {need_p} problems (now {n_problems})")
    if need_both is not None:
        opts.append(f"about {n_runs * need_both} runs and {n_problems * need_both} problems together "
                    f"(now {n_runs} and {n_problems})")
    if opts:
        lines.append("would need " + " or ".join(opts) + " at the observed spread")
    else:
        lines.append("more data is not predicted to resolve it at the observed spread (the estimate sits "
                     "too close to a boundary)")
    if n_runs > 1 and need_p is None and var_runs > 0:
        lines.append("more problems alone cannot: the run-to-run part of the width already exceeds the target")
    return "; ".join(lines)
