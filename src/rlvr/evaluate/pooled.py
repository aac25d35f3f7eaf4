"""Pooled estimates over runs (seeds): pass@k and base-vs-trained comparisons whose intervals include
the run-to-run spread of RL, not only the sampling noise of the test problems. One implementation,
two callers: ``rlvr lab`` (a base and a trained model per seed) and ``rlvr compare BASE TRAINED
[TRAINED ...]`` (one base, several independent trained runs of it).

Per run s, per problem i: the per-problem pass@k of each arm and of the gain. The pooled estimate is
the mean over runs of each run's mean, so every run weighs the same. Its interval:

- one run: the paired percentile bootstrap over problems (as ``compare``);
- several runs: the two-way random-effects t-interval of ``rlvr.evaluate.intervals.pooled_mean``
  (S−1 degrees of freedom at the run level). A percentile bootstrap over 2-5 run clusters covered a
  nominal 95% only ~73-85% of the time in simulation (run SD ~4.5 points); this interval 95-97%.

Statistics that need joint replicates (the compression ratio) use the two-level (runs, then problems)
bootstrap's paired draws, rescaled per statistic so their spread matches that statistic's t-interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr.errors import ConfigError
from rlvr.evaluate.compare import ComparisonResult, estimates, transition_counts
from rlvr.evaluate.intervals import PooledMean, pooled_mean, t_quantile
from rlvr.evaluate.passk import percentile
from rlvr.evaluate.samples import as_problem_map
from rlvr.evaluate.summary import check_ks, per_problem
from rlvr.evaluate.verdict import DEFAULT_MARGIN, direction

__all__ = [
    "cluster_bootstrap",
    "hierarchical_means",
    "pooled_compare",
    "pooled_interval",
    "pooled_mean",
    "pooled_mean_interval",
    "spurious_doc",
]


def cluster_bootstrap(
    values: Sequence[Sequence[Sequence[float]]], n_boot: int, seed: int
) -> tuple[list[float], np.ndarray]:
    """Point estimates and paired two-level bootstrap replicates (runs, then problems within each
    drawn run) of several statistics. Its percentile interval is too narrow at 2-5 runs; it is kept
    for the *pairing* of draws (ratios) and to show, in tests, what it misses.

    ``values[j][s]``: statistic j's per-problem values on run s (paired: the same problem count per
    run for every statistic). Returns ``(points, reps)``, ``reps[j, b]`` the mean over drawn runs.
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
    reps = np.zeros((len(arrays), n_boot))
    for s in range(n_seeds):
        picked = seed_draws == s  # (B, S): slots that drew seed s
        count = int(picked.sum())
        if not count:
            continue
        rows = rng.integers(0, sizes[s], size=(count, sizes[s]))  # one problem resample per slot
        b_index = np.nonzero(picked)[0]
        for j, stat in enumerate(arrays):
            np.add.at(reps[j], b_index, stat[s][rows].mean(axis=1))
    reps /= n_seeds
    return points, reps


def pooled_interval(reps: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of replicates (those of ``hierarchical_means`` are calibrated)."""
    s = sorted(float(x) for x in reps)
    alpha = (1 - confidence) / 2
    return percentile(s, alpha), percentile(s, 1 - alpha)


def _rescale(point: float, reps: np.ndarray, target: tuple[float, float], confidence: float) -> np.ndarray:
    """Stretch replicates about ``point`` so their percentile interval has ``target``'s half-width."""
    lo, hi = pooled_interval(reps.tolist(), confidence)
    half = (hi - lo) / 2
    want = (target[1] - target[0]) / 2
    if half <= 0:
        return np.full_like(reps, point)
    return point + (reps - point) * (want / half)


def hierarchical_means(
    values: Sequence[Sequence[Sequence[float]]], n_boot: int, seed: int, confidence: float = 0.95
) -> tuple[list[float], np.ndarray]:
    """Point estimates and paired replicates of several pooled statistics, calibrated: with one run
    they are the problem bootstrap; with several, ``cluster_bootstrap``'s draws stretched per
    statistic so that ``pooled_interval(reps[j], confidence)`` is that statistic's seed-level
    t-interval (``pooled_mean_interval``) up to Monte Carlo error. Same arguments as
    ``cluster_bootstrap``."""
    points, reps = cluster_bootstrap(values, n_boot, seed)
    if len(values[0]) == 1:
        return points, reps
    out = np.empty_like(reps)
    for j, stat in enumerate(values):
        out[j] = _rescale(points[j], reps[j], pooled_mean(stat, confidence).ci, confidence)
    return points, out


def pooled_mean_interval(
    per_seed: Sequence[Sequence[float]], confidence: float = 0.95, *, n_boot: int = 1000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """One arm's pooled mean over seeds and its interval: the seed-level t-interval with several
    seeds, the percentile bootstrap over problems with one. ``per_seed[s]``: per-problem values."""
    if len(per_seed) == 1:
        points, reps = cluster_bootstrap([per_seed], n_boot, seed)
        return points[0], pooled_interval(reps[0], confidence)
    pm = pooled_mean(per_seed, confidence)
    return pm.point, pm.ci


def _align(
    base: Sequence[Mapping[str, Any]], trained: Sequence[Mapping[str, Any]], ks: list[int],
    names: Sequence[str] | None,
) -> tuple[list[list[Any]], list[list[Any]], list[list[str]], dict[str, Any]]:
    """Per run: the base's and trained problems it is scored on (same order), their ids, and what
    was dropped. A single base serves every trained run on the problems all of them share."""
    label = list(names) if names else [f"run #{s}" for s in range(len(trained))]
    tmaps = [as_problem_map(t) for t in trained]
    if len(base) == 1 and len(trained) > 1:
        bmap = as_problem_map(base[0])
        shared = [p for p in bmap if all(p in t for t in tmaps)]
        for name, t in zip(label, tmaps):
            if not any(p in t for p in bmap):
                raise ConfigError(f"{name}: shares no problem_id with the base samples; compare samples of the same problems")
        if not shared:
            raise ConfigError("the trained runs share no problem_id with the base and with each other")
        dropped = {"base": len(bmap) - len(shared), "runs": [len(t) - len(shared) for t in tmaps]}
        bl = [bmap[p] for p in shared]
        check_ks(dict(zip(shared, bl)), ks, "base")
        tl = []
        for name, t in zip(label, tmaps):
            check_ks({p: t[p] for p in shared}, ks, name)
            tl.append([t[p] for p in shared])
        return [bl] * len(trained), tl, [shared] * len(trained), {"shared_base": True, **dropped}
    if len(base) != len(trained) or not base:
        raise ConfigError("pooled_compare needs one base per trained run, or one base for all of them")
    bls, tls, ids, dropped_b, dropped_t = [], [], [], 0, []
    for s, (b, tmap) in enumerate(zip(base, tmaps)):
        bmap = as_problem_map(b)
        common = [pid for pid in bmap if pid in tmap]
        if not common:
            raise ConfigError(f"seed #{s}: the base and trained samples share no problem_id")
        check_ks({p: bmap[p] for p in common}, ks, "base")
        check_ks({p: tmap[p] for p in common}, ks, label[s])
        bls.append([bmap[p] for p in common])
        tls.append([tmap[p] for p in common])
        ids.append(common)
        dropped_b += len(bmap) - len(common)
        dropped_t.append(len(tmap) - len(common))
    return bls, tls, ids, {"shared_base": False, "base": dropped_b, "runs": dropped_t}


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
    margin: float = DEFAULT_MARGIN,
    names: Sequence[str] | None = None,
) -> ComparisonResult:
    """``compare`` pooled over runs. ``trained[s]`` maps problem id → correctness flags (or is a
    ``SampleSet``) for run s; ``base`` is one per run (the lab: each seed has its own base) or a
    single base shared by every run (``rlvr compare BASE TRAINED TRAINED ...``: the runs are scored
    on the problems all files share). Point estimates are means over runs; intervals are the
    seed-level t-intervals (module doc), so the verdict accounts for run-to-run spread. ``names``
    label the runs in errors and in ``runs``. Transitions count (run, problem) pairs."""
    if not trained:
        raise ConfigError("pooled_compare needs at least one trained run")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    ks_l = sorted(set(ks) | {1})
    K = ks_l[-1]
    bls, tls, ids, dropped = _align(base, trained, ks_l, names)
    S = len(tls)
    vb = {k: [per_problem(bl, k) for bl in bls] for k in ks_l}
    vt = {k: [per_problem(tl, k) for tl in tls] for k in ks_l}
    vg = {k: [np.subtract(t, b) for t, b in zip(vt[k], vb[k])] for k in ks_l}
    stats = [vb[k] for k in ks_l] + [vt[k] for k in ks_l]
    points, reps = hierarchical_means(stats, n_boot, seed, confidence)
    n = len(ks_l)
    pb = {k: points[i] for i, k in enumerate(ks_l)}
    pt = {k: points[n + i] for i, k in enumerate(ks_l)}
    rep_b = {k: reps[i].tolist() for i, k in enumerate(ks_l)}
    rep_t = {k: reps[n + i].tolist() for i, k in enumerate(ks_l)}
    intervals: dict[str, dict[int, tuple[float, float]]] | None = None
    spread: dict[int, dict[str, Any]] = {}
    if S > 1:
        gains = {k: pooled_mean([v.tolist() for v in vg[k]], confidence) for k in ks_l}
        intervals = {
            "gain": {k: g.ci for k, g in gains.items()},
            "base": {k: pooled_mean(vb[k], confidence).ci for k in ks_l},
            "trained": {k: pooled_mean(vt[k], confidence).ci for k in ks_l},
        }
        q = 1 - (1 - confidence) / 2
        spread = {k: _spread(g, q) for k, g in gains.items()}
    # Shared base: the problems every run was scored on; one base per seed: all (seed, problem) pairs.
    n_problems = len(ids[0]) if dropped["shared_base"] else sum(len(i) for i in ids)
    per_run = len(ids[0]) if dropped["shared_base"] else round(n_problems / S)
    est = estimates(ks_l, pb, pt, rep_b, rep_t, confidence=confidence, min_effect=min_effect, margin=margin,
                    n_problems=per_run, n_runs=S, intervals=intervals, spread=spread)
    all_ids = [f"{s}:{p}" for s, run in enumerate(ids) for p in run]
    bl_all = [p for bl in bls for p in bl]
    tl_all = [p for tl in tls for p in tl]
    method = (
        "paired percentile bootstrap over problems (one run: no run-to-run spread)"
        if S == 1
        else f"two-way random-effects t-interval over {S} runs x problems (run level: {S - 1} df)"
    )
    runs = None
    if dropped["shared_base"] or S > 1:
        runs = _runs(names, vb, vt, vg, ks_l, ids, dropped, confidence=confidence, margin=margin,
                     min_effect=min_effect)
    return ComparisonResult(
        n_problems=n_problems,
        transitions=transition_counts(all_ids, bl_all, tl_all, K, solve_threshold, False),
        **est["fields"],
        significance={
            "method": method,
            "seeds": S,
            "runs": S,
            "confidence": confidence,
            "n_boot": n_boot,
            "seed": seed,
            "min_effect": min_effect,
            "margin": margin,
            **est["directions"],
        },
        directions=est["directions"],
        margin=margin,
        base={"name": "base", "seeds": len(base)},
        trained={"name": "trained", "seeds": S},
        problems_only_in_base=dropped["base"],
        problems_only_in_trained=sum(dropped["runs"]),
        runs=runs,
    )


def _spread(g: PooledMean, q: float) -> dict[str, Any]:
    """What ``resolution_hint`` needs from a gain's pooled interval."""
    return {"var_runs": g.var_runs, "var_problems": g.var_problems, "quantile": lambda df: t_quantile(q, df)}


def _runs(
    names: Sequence[str] | None, vb: Mapping[int, list], vt: Mapping[int, list], vg: Mapping[int, list],
    ks: list[int], ids: list[list[str]], dropped: Mapping[str, Any], *, confidence: float, margin: float,
    min_effect: float,
) -> list[dict[str, Any]]:
    """Per run: pass@k of the trained run (and of its base), gains with a t-interval over problems,
    pass@1 / pass@K directions, and how many of its problems were left out."""
    K = ks[-1]
    out = []
    for s in range(len(ids)):
        gain = {k: pooled_mean([vg[k][s]], confidence) for k in ks}
        out.append({
            "name": names[s] if names else f"run #{s}",
            "n_problems": len(ids[s]),
            "problems_dropped": dropped["runs"][s],
            "pass_at_k": {str(k): float(np.mean(vt[k][s])) for k in ks},
            "pass_at_k_base": {str(k): float(np.mean(vb[k][s])) for k in ks},
            "capability_gain": {str(k): gain[k].point for k in ks},
            "capability_gain_ci": {str(k): list(gain[k].ci) for k in ks},
            "directions": {
                "pass_at_1": direction(gain[1].point, gain[1].ci, margin, min_effect),
                "pass_at_K": direction(gain[K].point, gain[K].ci, margin, min_effect) if K != 1 else "inconclusive",
            },
        })
    return out


def spurious_doc(real: ComparisonResult, random: ComparisonResult, threshold: float = 0.05) -> dict[str, Any]:
    """The random-reward control over pooled arms (``rlvr compare ... --random R [--random R2]``),
    shaped like ``SpuriousResult.to_dict()``: both arms against the same base with their pooled
    intervals; flagged when the random arm's pass@1 gain exceeds ``threshold`` (as for one run),
    with the three-way ``label`` of ``spurious_label`` on its interval."""
    from rlvr.evaluate.spurious import EXPLANATION, spurious_label

    if real.ks != random.ks:
        raise ConfigError("the real and random arms were evaluated at different k")
    K = real.ks[-1]
    improvement = {}
    for arm, res in (("real", real), ("random", random)):
        improvement[arm] = {
            "pass_at_1": res.capability_gain[1],
            "pass_at_1_ci": list(res.capability_gain_ci[1]),
            f"pass_at_{K}": res.capability_gain[K],
            f"pass_at_{K}_ci": list(res.capability_gain_ci[K]),
            "significant_at_1": res.capability_gain_ci[1][0] > 0,
            "verdict": res.verdict,
            "runs": res.significance.get("runs", 1),
        }
    g_real, g_rand = real.capability_gain[1], random.capability_gain[1]
    flagged = g_rand > threshold
    label, reason = spurious_label(g_rand, random.capability_gain_ci[1], threshold)
    runs = improvement["random"]["runs"]
    over = f" (pooled over {runs} random-reward runs)" if runs > 1 else ""
    if flagged:
        message = (
            f"spurious-reward sensitivity: the random-reward arm gained {100 * g_rand:+.1f} points at pass@1{over} "
            f"(threshold {100 * threshold:.0f}); the real-reward arm gained {100 * g_real:+.1f}. "
            f"Only {100 * (g_real - g_rand):+.1f} points are attributable to the reward's signal."
        )
    else:
        message = (
            f"no spurious-reward sensitivity: the random-reward arm gained {100 * g_rand:+.1f} points at pass@1{over} "
            f"(threshold {100 * threshold:.0f}) against {100 * g_real:+.1f} for the real reward."
        )
    return {
        "kind": "spurious",
        "threshold": threshold,
        "k": K,
        "improvement": improvement,
        "real_minus_random_pass_at_1": g_real - g_rand,
        "flagged": flagged,
        "label": label,
        "label_reason": reason,
        "message": message,
        "explanation": list(EXPLANATION) if flagged else [],
        "unparsable_rate": {},
        "pass_at_k": {
            "base": {str(k): v for k, v in real.pass_at_k_base.items()},
            "real": {str(k): v for k, v in real.pass_at_k_trained.items()},
            "random": {str(k): v for k, v in random.pass_at_k_trained.items()},
        },
    }
