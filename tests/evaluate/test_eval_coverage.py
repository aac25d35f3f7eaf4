"""Coverage of the pooled pass@1-gain interval, simulated through the public ``pooled_compare``.

A study: P problems with base pass rates from a Beta, S independent RL runs whose effect on each
problem's logit is a known mean shift plus a run effect (SD ~4-5 points of pass@1) plus a
run x problem interaction, n binomial samples per problem and run. The truth is the population mean
gain (over problems and runs), computed once by a large Monte Carlo. A nominal 95% interval must
cover it in >= 90% of studies at 2, 3 and 5 runs, in both designs the code serves: one shared base
(``rlvr compare BASE T1 T2 ...``) and one base and test set per seed (``rlvr lab``); and its median
width must stay within 1.3x of a t-interval that knew the true standard error.
"""

from __future__ import annotations

import numpy as np
import pytest

from rlvr.evaluate.intervals import t_quantile
from rlvr.evaluate.pooled import cluster_bootstrap, pooled_compare, pooled_interval
from rlvr.evaluate.samples import ProblemOutcomes

SHIFT, RUN_SD, INTERACTION_SD = 0.35, 0.2, 0.3  # logit scale; RUN_SD 0.2 ≈ 4.5 points of pass@1
ALPHA, BETA, N_SAMPLES = 2.0, 3.0, 8
STUDIES = 100


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _truth() -> float:
    rng = np.random.default_rng(12345)
    p = rng.beta(ALPHA, BETA, 2_000_000)
    q = _sigmoid(_logit(p) + SHIFT + rng.normal(0, RUN_SD, p.size) + rng.normal(0, INTERACTION_SD, p.size))
    return float(q.mean() - p.mean())


TRUTH = _truth()


def _maps(counts: np.ndarray, prefix: str) -> dict[str, ProblemOutcomes]:
    """Problem id → outcomes with ``c`` correct of ``N_SAMPLES`` (flags ordered; pass@k needs counts)."""
    return {f"{prefix}{i}": ProblemOutcomes(f"{prefix}{i}", (True,) * int(c) + (False,) * (N_SAMPLES - int(c)))
            for i, c in enumerate(counts)}


def _study(rng: np.random.Generator, runs: int, problems: int, shared: bool):
    """(base maps, trained maps) of one simulated study."""
    def draw_problems():
        return rng.beta(ALPHA, BETA, problems)

    def trained(p):
        q = _sigmoid(_logit(p) + SHIFT + rng.normal(0, RUN_SD) + rng.normal(0, INTERACTION_SD, p.size))
        return rng.binomial(N_SAMPLES, q)

    if shared:
        p = draw_problems()
        base = [_maps(rng.binomial(N_SAMPLES, p), "p")]
        return base, [_maps(trained(p), "p") for _ in range(runs)]
    bases, runs_out = [], []
    for _ in range(runs):
        p = draw_problems()
        bases.append(_maps(rng.binomial(N_SAMPLES, p), "p"))
        runs_out.append(_maps(trained(p), "p"))
    return bases, runs_out


def simulate(runs: int, shared: bool, seed: int, studies: int = STUDIES, old: bool = False) -> dict[str, float]:
    """Coverage and median width / oracle width of ``pooled_compare``'s pass@1-gain interval (and,
    with ``old``, the coverage of the percentile cluster bootstrap it replaced)."""
    rng = np.random.default_rng(seed)
    hits, widths, points, old_hits = 0, [], [], 0
    for _ in range(studies):
        problems = int(rng.integers(100, 301))
        base, trained = _study(rng, runs, problems, shared)
        res = pooled_compare(base, trained, [1], n_boot=100, seed=0)
        lo, hi = res.capability_gain_ci[1]
        hits += lo <= TRUTH <= hi
        widths.append(hi - lo)
        points.append(res.capability_gain[1])
        if not old:
            continue
        # The previous method: percentile interval of the two-level cluster bootstrap.
        bl = [[v.c / N_SAMPLES for v in b.values()] for b in base]
        tl = [[v.c / N_SAMPLES for v in t.values()] for t in trained]
        gains = [np.subtract(t, bl[0] if shared else bl[s]) for s, t in enumerate(tl)]
        _, reps = cluster_bootstrap([gains], 400, 0)
        olo, ohi = pooled_interval(reps[0])
        old_hits += olo <= TRUTH <= ohi
    oracle = 2 * t_quantile(0.975, runs - 1) * float(np.std(points, ddof=1))
    return {"coverage": hits / studies, "old_coverage": old_hits / studies,
            "width_ratio": float(np.median(widths)) / oracle}


@pytest.mark.parametrize(("runs", "shared"), [(2, True), (3, True), (5, True), (2, False)],
                         ids=["compare-2-runs", "compare-3-runs", "compare-5-runs", "lab-2-seeds"])
def test_pooled_interval_keeps_nominal_coverage(runs: int, shared: bool) -> None:
    """``rlvr compare BASE T1 .. TS`` (one base) at 2, 3, 5 runs; the lab's design (a base and a test
    set per seed) at its quick profile's 2 seeds."""
    got = simulate(runs, shared, seed=runs * 10 + shared)
    assert got["coverage"] >= 0.90, got
    assert got["width_ratio"] <= 1.3, got


def test_the_cluster_bootstrap_it_replaces_undercovers() -> None:
    """What the t-interval fixes: the percentile bootstrap over 2 run clusters covers far below 95%
    on the same studies where the t-interval holds its coverage."""
    got = simulate(2, True, seed=7, studies=80, old=True)
    assert got["old_coverage"] < 0.85, got
    assert got["coverage"] >= 0.90, got
