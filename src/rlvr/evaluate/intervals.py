"""Seed-level intervals that keep their coverage at 2-5 runs: Student's t quantile and the two-way
(runs x problems) random-effects interval of a pooled mean.

Why not a bootstrap over runs: resampling 2-3 run clusters cannot see more spread than the few runs
show, and a percentile interval of such a bootstrap covers a nominal 95% far less often (simulated
in tests/evaluate/test_eval_coverage.py: ~73% at 2 runs, ~80% at 3). Student's t with the run level's degrees of freedom accounts for how
little 2-3 runs say about their own spread; at 2 runs its quantile is 12.7, and the interval is
wide because the data say little, not because the method is poor.

The design is an S x P table ``y[s, i]`` (run s, problem i): a two-way random-effects model
``y = mu + a_s + b_i + e_si``. The pooled mean ``ȳ`` has variance σ²_run/S + σ²_prob/P + σ²_res/(SP),
estimated from the ANOVA mean squares as MS_run/(SP) (run level, S−1 df) plus
(MS_prob − MS_res)/(SP) (shared problem level, P−1 df); each part is expanded by its own t quantile
and the two are added in quadrature. When the runs' problems are unrelated (each run scored its own
test set), the problem main effect vanishes, MS_prob ≈ MS_res, and the interval is the one-way
t-interval on run means with S−1 degrees of freedom, which is exactly right for that design. scipy is not a dependency, so the t
quantile is a numeric inversion of the regularised incomplete beta function.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rlvr.errors import ConfigError

__all__ = ["PooledMean", "gain_floor", "normal_quantile", "pooled_mean", "t_cdf", "t_quantile"]


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` (> 0, not necessarily integer) degrees of freedom."""
    if df <= 0:
        raise ConfigError(f"degrees of freedom must be > 0, got {df}")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def normal_quantile(p: float) -> float:
    """Standard normal quantile by bisection on erf (exact to ~1e-12; used for very large df)."""
    if not 0 < p < 1:
        raise ConfigError(f"a quantile needs p in (0, 1), got {p}")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@functools.lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """Student's t quantile: the t with P(T ≤ t) = p, by bisection on ``t_cdf`` (cached: callers ask
    for the same few (p, df) pairs again and again).

    Known values: t(0.975, 1) = 12.706, t(0.975, 2) = 4.303, t(0.975, 4) = 2.776.
    """
    if not 0 < p < 1:
        raise ConfigError(f"a quantile needs p in (0, 1), got {p}")
    if df <= 0:
        raise ConfigError(f"degrees of freedom must be > 0, got {df}")
    if df > 1e7:
        return normal_quantile(p)
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


@dataclass(frozen=True)
class PooledMean:
    """A pooled mean over runs with its t-interval and where its variance comes from."""

    point: float
    """Mean over runs of each run's mean over problems."""
    ci: tuple[float, float]
    """t-interval at the requested confidence."""
    se: float
    """Estimated standard error of ``point``."""
    df: float
    """Degrees of freedom of the t quantile (Satterthwaite; S−1 when runs dominate)."""
    n_runs: int
    n_problems: int
    """Problems per run (the P of the S x P table; the mean size when runs differ in size)."""
    var_runs: float
    """Part of se² that shrinks with more runs (∝ 1/S): run-to-run spread and within-run noise."""
    var_problems: float
    """Part of se² that shrinks only with more problems (∝ 1/P): shared problem difficulty."""
    method: str

    @property
    def half_width(self) -> float:
        return (self.ci[1] - self.ci[0]) / 2


def pooled_mean(values: Sequence[Sequence[float]] | np.ndarray, confidence: float = 0.95) -> PooledMean:
    """t-interval of the mean over runs of per-problem values ``values[s][i]`` (see module doc).

    Runs with the same number of problems form an S x P table (problem i of every run in the same
    column: the same problem when runs share a test set; harmless when they do not). Runs of
    different sizes give the one-way interval on run means (S−1 degrees of freedom). With one run
    the interval is the t-interval over problems (the single-run case; ``rlvr compare`` uses the
    paired problem bootstrap there).
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    rows = [np.asarray(v, dtype=float) for v in values]
    if not rows or min(len(r) for r in rows) < 1:
        raise ConfigError("a pooled mean needs at least one run with at least one problem")
    S = len(rows)
    q = 1 - (1 - confidence) / 2
    run_means = np.array([r.mean() for r in rows])
    point = float(run_means.mean())
    if S == 1:
        y = rows[0]
        P = len(y)
        var = float(y.var(ddof=1)) / P if P > 1 else 0.0
        df = float(max(P - 1, 1))
        return _finish(point, var, df, q, 1, P, 0.0, var, "t-interval over problems (one run)")
    if len({len(r) for r in rows}) > 1:
        var = float(run_means.var(ddof=1)) / S
        P = round(float(np.mean([len(r) for r in rows])))
        return _finish(point, var, float(S - 1), q, S, P, var, 0.0, f"t-interval on {S} run means ({S - 1} df)")
    y = np.vstack(rows)
    P = y.shape[1]
    if P == 1:
        var = float(run_means.var(ddof=1)) / S
        return _finish(point, var, float(S - 1), q, S, 1, var, 0.0, f"t-interval on {S} run means ({S - 1} df)")
    grand = y.mean()
    col = y.mean(axis=0)
    ms_run = P * float(((run_means - grand) ** 2).sum()) / (S - 1)
    ms_prob = S * float(((col - grand) ** 2).sum()) / (P - 1)
    resid = y - run_means[:, None] - col[None, :] + grand
    df_res = (S - 1) * (P - 1)
    ms_res = float((resid**2).sum()) / df_res
    # Variance parts: the run level (∝ 1/S; MS_run also carries the residual) with S−1 degrees of
    # freedom, and the shared problem level (∝ 1/P, zero when runs scored unrelated problems) with
    # P−1. Each part is expanded by its own t quantile and the two are added in quadrature: at 2-3
    # runs Satterthwaite's pooled df would trust a run mean square that has only 1-2 df (simulated:
    # 82-88% coverage at 2 runs), while this keeps the exact one-way t-interval when problems do not
    # matter. The residual stays in the run part on purpose: moving it to the well-estimated problem
    # part (MS_run − MS_res with S−1 df) dropped coverage to 87-89% at 2 runs.
    var_runs = ms_run / (S * P)
    var_prob = max(ms_prob - ms_res, 0.0) / (S * P)
    half = math.hypot(t_quantile(q, S - 1) * math.sqrt(var_runs), t_quantile(q, P - 1) * math.sqrt(var_prob))
    se = math.sqrt(var_runs + var_prob)
    return PooledMean(
        point, (point - half, point + half), se, float(S - 1), S, P, var_runs, var_prob,
        f"two-way random-effects t-interval over {S} runs x {P} problems (run level {S - 1} df)",
    )


def _finish(point: float, var: float, df: float, q: float, S: int, P: int, var_runs: float, var_prob: float,
            method: str) -> PooledMean:
    se = math.sqrt(max(var, 0.0))
    half = t_quantile(q, df) * se if se > 0 else 0.0
    return PooledMean(point, (point - half, point + half), se, df, S, P, max(var_runs, 0.0), max(var_prob, 0.0), method)


def gain_floor(n_problems: int, n_runs: int = 1, confidence: float = 0.95) -> float:
    """The smallest half-width a paired gain's interval may have: the one it would have if, besides
    the scored problems, each run had seen one problem that only the trained model solved and one
    that only the base solved (the pseudo-counts of Agresti and Min's paired-proportion interval).

    Without it a small test set on which both models agree everywhere (every pass@K 0 or 1 alike)
    gives a bootstrap or t-interval of zero width, and "flat" would be *shown* from 20 problems. The
    floor is ``t x sqrt(2 / ((P + 2) P) / S)`` (per-problem differences in [-1, 1]; t with P - 1
    degrees of freedom for one run, S - 1 for several): about ±14 points at one run of 20 problems,
    ±0.9 at one run of 300, ±1.2 at three runs of 300. 0 when there is no problem."""
    if n_problems < 1 or n_runs < 1:
        return 0.0
    q = 1 - (1 - confidence) / 2
    df = n_runs - 1 if n_runs > 1 else max(n_problems - 1, 1)
    return t_quantile(q, df) * math.sqrt(2.0 / ((n_problems + 2) * n_problems) / n_runs)
