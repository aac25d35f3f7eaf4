"""Pooled estimates over seeds: pass@k and base-vs-trained comparisons whose intervals include the
seed-to-seed variance of the RL runs, not only the sampling noise of the test problems.

A study run on S seeds gives, per seed s, per-problem pass@k values of a base and of a trained
model on that seed's test problems (P_s of them; seeds may have different problems). The pooled
estimate is the mean over seeds of the per-seed mean, so every seed weighs the same however many
problems it scored. Its interval comes from a two-level (hierarchical) bootstrap: each replicate
draws S seeds with replacement, then, inside each drawn seed, P_s problems with replacement;
base and trained are scored on the same draws (paired), so shared difficulty cancels in the gain.

With one seed this is ``compare``'s paired problem bootstrap; with several identical seeds the
interval is no wider than one seed's; when seeds disagree the interval spans their spread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr.errors import ConfigError
from rlvr.evaluate.compare import ComparisonResult, _transitions, estimates
from rlvr.evaluate.passk import percentile
from rlvr.evaluate.samples import as_problem_map
from rlvr.evaluate.summary import check_ks, per_problem

__all__ = ["hierarchical_means", "pooled_compare", "pooled_interval"]


def hierarchical_means(
    values: Sequence[Sequence[Sequence[float]]], n_boot: int, seed: int
) -> tuple[list[float], np.ndarray]:
    """Point estimates and paired two-level bootstrap replicates of several statistics.

    ``values[j][s]``: statistic j's per-problem values on seed s (every statistic has the same
    number of problems on a given seed: they are paired). Returns ``(points, reps)``: ``points[j]``
    = mean over seeds of the seed's mean; ``reps[j, b]`` = the same on replicate b, which drew
    seeds, then problems within each drawn seed, once for all statistics.
    """
    if not values or not values[0]:
        raise ConfigError("a pooled estimate needs at least one statistic and one seed")
    n_seeds = len(values[0])
    sizes = [len(v) for v in values[0]]
    if any(len(stat) != n_seeds or [len(v) for v in stat] != sizes for stat in values):
        raise ConfigError("pooled statistics must cover the same seeds and the same problems per seed")
    if min(sizes) < 1:
        raise ConfigError("every seed needs at least one scored problem")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    arrays = [[np.asarray(v, dtype=float) for v in stat] for stat in values]
    points = [float(np.mean([a.mean() for a in stat])) for stat in arrays]
    rng = np.random.default_rng(seed)
    seed_draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))  # (B, S): which seeds
    # Per seed, the mean of every statistic over a fresh problem draw for each (replicate, slot):
    # (S, B, S) problem resamples would be large, so draw per seed only where it was picked.
    reps = np.zeros((len(arrays), n_boot))
    for s in range(n_seeds):
        picked = seed_draws == s  # (B, S): slots that drew seed s
        count = int(picked.sum())
        if not count:
            continue
        rows = rng.integers(0, sizes[s], size=(count, sizes[s]))  # one problem resample per slot
        b_index = np.nonzero(picked)[0]  # replicate of each slot
        for j, stat in enumerate(arrays):
            np.add.at(reps[j], b_index, stat[s][rows].mean(axis=1))
    reps /= n_seeds
    return points, reps


def pooled_interval(reps: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates."""
    s = sorted(float(x) for x in reps)
    alpha = (1 - confidence) / 2
    return percentile(s, alpha), percentile(s, 1 - alpha)


def pooled_compare(
    base: Sequence[Mapping[str, Any]],
    trained: Sequence[Mapping[str, Any]],
    ks: Sequence[int],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    solve_threshold: float = 0.5,
    min_effect: float = 0.0,
) -> ComparisonResult:
    """``compare`` pooled over seeds: ``base[s]``/``trained[s]`` map problem id → correctness flags
    on seed s. Point estimates are means over seeds; intervals (and so the verdict) come from the
    two-level bootstrap of ``hierarchical_means``. Transitions count (seed, problem) pairs."""
    if len(base) != len(trained) or not base:
        raise ConfigError("pooled_compare needs the same number (>= 1) of base and trained seeds")
    ks_l = sorted(set(ks) | {1})
    bl_all, tl_all, ids_all = [], [], []
    stats: list[list[list[float]]] = [[] for _ in range(2 * len(ks_l))]
    for s, (b, t) in enumerate(zip(base, trained)):
        bmap, tmap = as_problem_map(b), as_problem_map(t)
        common = [pid for pid in bmap if pid in tmap]
        if not common:
            raise ConfigError(f"seed #{s}: the base and trained samples share no problem_id")
        check_ks({p: bmap[p] for p in common}, ks_l, "base")
        check_ks({p: tmap[p] for p in common}, ks_l, "trained")
        bl, tl = [bmap[p] for p in common], [tmap[p] for p in common]
        for i, k in enumerate(ks_l):
            stats[2 * i].append(per_problem(bl, k))
            stats[2 * i + 1].append(per_problem(tl, k))
        bl_all += bl
        tl_all += tl
        ids_all += [f"{s}:{p}" for p in common]
    points, reps = hierarchical_means(stats, n_boot, seed)
    pb = {k: points[2 * i] for i, k in enumerate(ks_l)}
    pt = {k: points[2 * i + 1] for i, k in enumerate(ks_l)}
    rep_b = {k: reps[2 * i].tolist() for i, k in enumerate(ks_l)}
    rep_t = {k: reps[2 * i + 1].tolist() for i, k in enumerate(ks_l)}
    est = estimates(ks_l, pb, pt, rep_b, rep_t, confidence=confidence, min_effect=min_effect)
    return ComparisonResult(
        n_problems=len(ids_all),
        transitions=_transitions(ids_all, bl_all, tl_all, ks_l[-1], solve_threshold, False),
        **est["fields"],
        significance={
            "method": "paired two-level percentile bootstrap over seeds, then problems within each seed",
            "seeds": len(base),
            "confidence": confidence,
            "n_boot": n_boot,
            "seed": seed,
            "min_effect": min_effect,
            **est["directions"],
        },
        base={"name": "base", "seeds": len(base)},
        trained={"name": "trained", "seeds": len(trained)},
    )
