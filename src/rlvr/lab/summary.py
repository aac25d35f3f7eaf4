"""From the seeds' outcomes to ``summary.json``: pooled pass@k, comparisons and control calls whose
intervals include seed-to-seed variance, per-seed tables, the informative guard and the verdict.

Shape of the input (one dict per seed, from ``rlvr.lab.arms.run_seed``): ``outcomes[arm][set]``
maps problem id -> correctness flags, for arm in ``ARMS`` and set in in_distribution / shifted.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rlvr.diagnostics import keys
from rlvr.errors import ConfigError
from rlvr.lab.config import LabConfig
from rlvr.lab.record import LabSummary

__all__ = ["lab_summary", "lab_verdict"]

SETS = ("in_distribution", "shifted")
CONTROLS = ("random_control", "format_control")


def _arms(seeds: Sequence[Mapping[str, Any]]) -> list[str]:
    return [a for a in ("base", "trained", *CONTROLS) if all(a in s["outcomes"] for s in seeds)]


def _pooled_passk(per_seed: list[Mapping[str, Any]], ks: list[int], n_boot: int, seed: int) -> tuple[dict, dict]:
    from rlvr.evaluate.pooled import hierarchical_means, pooled_interval
    from rlvr.evaluate.samples import as_problem_map
    from rlvr.evaluate.summary import per_problem

    maps = [list(as_problem_map(m).values()) for m in per_seed]
    points, reps = hierarchical_means([[per_problem(m, k) for m in maps] for k in ks], n_boot, seed)
    return (
        {str(k): points[i] for i, k in enumerate(ks)},
        {str(k): list(pooled_interval(reps[i])) for i, k in enumerate(ks)},
    )


def _kl_end(run: Mapping[str, Any]) -> float | None:
    vals = [v for v in run["curves"].get(keys.POLICY_KL, []) if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return None
    tail = vals[-max(1, min(5, len(vals) // 4 or 1)) :]
    return round(statistics.fmean(tail), 6)


def lab_summary(cfg: LabConfig, seeds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary dict (without timings and files) of a lab run on ``seeds``."""
    from rlvr.evaluate.compare import informative
    from rlvr.evaluate.pooled import pooled_compare
    from rlvr.evaluate.spurious import EXPLANATION, spurious_label

    ks = cfg.ks()
    kw = {"n_boot": cfg.n_boot, "seed": cfg.seed}
    arm_names = _arms(seeds)
    k_max = str(ks[-1])

    def sets_of(arm: str, name: str) -> list[Mapping[str, Any]] | None:
        got = [s["outcomes"][arm].get(name) for s in seeds]
        return got if all(got) else None

    arms: dict[str, Any] = {}
    for arm in arm_names:
        entry: dict[str, Any] = {"pass_at_k": {}, "pass_at_k_ci": {}}
        for name in SETS:
            per = sets_of(arm, name)
            if per is None:
                entry["pass_at_k"][name] = entry["pass_at_k_ci"][name] = None
                continue
            entry["pass_at_k"][name], entry["pass_at_k_ci"][name] = _pooled_passk(per, ks, **kw)
        arms[arm] = entry

    ind = {arm: sets_of(arm, "in_distribution") for arm in arm_names}
    if not all(ind.values()):
        raise ConfigError("no in-distribution test problem could be scored on some seed (every verdict was error/skipped)")
    comp = pooled_compare(ind["base"], ind["trained"], ks, **kw).to_dict()
    comp_shift = None
    if all(sets_of(arm, "shifted") for arm in ("base", "trained")):
        comp_shift = pooled_compare(sets_of("base", "shifted"), sets_of("trained", "shifted"), ks, **kw).to_dict()
    inform = {name: informative((arms["base"]["pass_at_k"].get(name) or {}).get(k_max)) for name in SETS}

    # Controls: pooled gain and interval at pass@1 and pass@K, the three-way label, KL at the end.
    controls: dict[str, Any] = {}
    for arm in CONTROLS:
        if arm not in arm_names:
            continue
        res = pooled_compare(ind["base"], ind[arm], ks, **kw)
        kls = [_kl_end(s["runs"][arm]) for s in seeds]
        kl = max((v for v in kls if v is not None), default=None)
        label, reason = spurious_label(
            res.capability_gain[1], res.capability_gain_ci[1], cfg.spurious_threshold, kl=kl, kl_limit=cfg.kl_limit
        )
        controls[arm] = {
            "label": label, "reason": reason, "kl_end": kl, "kl_end_per_seed": kls,
            "pass_at_1": res.capability_gain[1], "pass_at_1_ci": list(res.capability_gain_ci[1]),
            f"pass_at_{k_max}": res.capability_gain[ks[-1]],
            f"pass_at_{k_max}_ci": list(res.capability_gain_ci[ks[-1]]),
            "verdict": res.verdict,
        }
    per_seed = []
    for s in seeds:
        o = s["outcomes"]
        # One seed through the pooled path: the same paired problem bootstrap as compare, vectorised.
        c = pooled_compare([o["base"]["in_distribution"]], [o["trained"]["in_distribution"]], ks, **kw)
        entry = {
            "seed": s["seed"], "verdict": c.verdict, "hit_rate": s["hit_rate"], "curated": s["curated"],
            "pass_at_k": {
                arm: {name: (_point_passk(o[arm][name], ks) if o[arm].get(name) else None) for name in SETS}
                for arm in arm_names
            },
            "spurious": {},
        }
        for arm in controls:
            cc = pooled_compare([o["base"]["in_distribution"]], [o[arm]["in_distribution"]], ks, **kw)
            entry["spurious"][arm] = spurious_label(
                cc.capability_gain[1], cc.capability_gain_ci[1], cfg.spurious_threshold,
                kl=_kl_end(s["runs"][arm]), kl_limit=cfg.kl_limit,
            )[0]
        per_seed.append(entry)
    # A control that broke on any seed is no null, whatever the pooled number says.
    for arm, ctl in controls.items():
        broken = [p["seed"] for p in per_seed if p["spurious"][arm] == "control_unstable"]
        if broken and ctl["label"] == "no_spurious_gain":
            ctl["label"] = "control_unstable"
            ctl["reason"] = (
                f"unstable on seed{'s' if len(broken) > 1 else ''} {', '.join(map(str, broken))} (pooled: "
                f"{ctl['reason']}); lower the learning rate or add a KL term (kl_beta)"
            )
    rand = controls["random_control"]
    real_gain = comp["capability_gain"]["1"]
    labels = [c["label"] for c in controls.values()]
    # The study's call: any control broken -> unstable; else any spurious gain; else none.
    overall = "control_unstable" if "control_unstable" in labels else (
        "spurious_gain" if "spurious_gain" in labels else "no_spurious_gain")
    message = _spurious_message(controls, real_gain, cfg.spurious_threshold)

    first = seeds[0]
    rl_arms = [a for a in arm_names if a != "base"]
    warnings = [{"seed": s["seed"], "arm": arm, **w} for s in seeds for arm in rl_arms for w in s["runs"][arm]["warnings"]]
    entropy = {arm: _start_end(first["runs"][arm]["curves"].get(keys.POLICY_ENTROPY, [])) for arm in rl_arms}
    trajectory, trajectory_stats, trajectory_warnings = _trajectories(seeds, rl_arms)
    for entry, s in zip(per_seed, seeds):
        entry["trajectory"] = {arm: s["runs"][arm].get("trajectory") or [] for arm in rl_arms}
    record = LabSummary(
        kind="lab",
        version=2,
        task="custom" if cfg.custom else cfg.task,
        model=cfg.model or "tiny",
        verifier=first["verifier"],
        seed=cfg.seed,
        seeds=[s["seed"] for s in seeds],
        profile=cfg.profile,
        device=cfg.device,
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        config=json.loads(json.dumps(asdict(cfg), default=str)),
        data={**first["data"], "curated_per_seed": [s["curated"] for s in seeds]},
        curation=first["curation"],
        hit_rate=round(statistics.fmean(s["hit_rate"] for s in seeds), 6),
        ks=ks,
        arms=arms,
        informative=inform,
        compression_ratio=comp["compression_ratio"],
        capability_gain=comp["capability_gain"],
        crossover_k=comp["crossover_k"],
        comparison=comp,
        comparison_shifted=comp_shift,
        spurious={
            "real_improvement": real_gain,
            "random_improvement": rand["pass_at_1"],
            "flag": overall == "spurious_gain",
            "label": overall,
            "threshold": cfg.spurious_threshold,
            "kl_limit": cfg.kl_limit,
            "message": message,
            "controls": controls,
            "detail": {
                "kind": "spurious",
                "threshold": cfg.spurious_threshold,
                "k": ks[-1],
                "real_minus_random_pass_at_1": real_gain - rand["pass_at_1"],
                "flagged": overall == "spurious_gain",
                "message": message,
                "improvement": {
                    "real": {"pass_at_1": real_gain, "pass_at_1_ci": comp["capability_gain_ci"]["1"],
                             f"pass_at_{k_max}": comp["capability_gain"][k_max],
                             f"pass_at_{k_max}_ci": comp["capability_gain_ci"][k_max], "verdict": comp["verdict"]},
                    **{("random" if a == "random_control" else "format"): c for a, c in controls.items()},
                },
                "explanation": list(EXPLANATION) if overall == "spurious_gain" else [],
            },
        },
        per_seed=per_seed,
        health={
            "warnings": warnings,
            **{arm: first["runs"][arm]["summary"].get("health") for arm in rl_arms},
        },
        training={arm: first["runs"][arm]["curves"] for arm in rl_arms},
        entropy=entropy,
        trajectory=trajectory,
        trajectory_stats=trajectory_stats,
        trajectory_warnings=trajectory_warnings,
        verdict={},
    )
    record.verdict = lab_verdict(record.to_dict())
    return record.to_dict()


def _trajectories(seeds: Sequence[Mapping[str, Any]], arms: list[str]) -> tuple[dict, dict, list]:
    """Per arm: the mean trajectory over seeds, its entropy correlations and its warnings."""
    from rlvr.evaluate.trajectory import correlations, generalisation_warnings, mean_trajectory

    traj, stats, warns = {}, {}, []
    for arm in arms:
        per = [s["runs"][arm].get("trajectory") or [] for s in seeds]
        traj[arm] = mean_trajectory(per) if all(per) else []
        stats[arm] = {"entropy_correlation": correlations(traj[arm])}
        warns += [{"arm": arm, **w} for w in generalisation_warnings(traj[arm])]
    return traj, stats, warns


def _point_passk(problems: Mapping[str, Any], ks: list[int]) -> dict[str, float]:
    from rlvr.evaluate.passk import pass_at_k_table

    return {str(k): v for k, v in pass_at_k_table(problems, ks).items()}


def _spurious_message(controls: Mapping[str, Any], real_gain: float, threshold: float) -> str:
    parts = []
    for arm, c in controls.items():
        name = "random-reward" if arm == "random_control" else "format-only"
        lo, hi = c["pass_at_1_ci"]
        what = {
            "spurious_gain": "spurious gain",
            "no_spurious_gain": "no spurious gain",
            "control_unstable": "control unstable",
        }[c["label"]]
        tail = f" ({c['reason']})" if c["label"] == "control_unstable" else ""
        parts.append(
            f"{what}: the {name} arm moved pass@1 by {100 * c['pass_at_1']:+.1f} points "
            f"[{100 * lo:+.1f}, {100 * hi:+.1f}]{tail}"
        )
    return "; ".join(parts) + f" (threshold {100 * threshold:.0f}; the real reward: {100 * real_gain:+.1f})."


def lab_verdict(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict: the comparison's label, a headline and one reason per angle of the study.

    Pooled over seeds; an uninformative comparison (the base's pass@K outside 5-95%) is named as
    such and never reported as a finding."""
    comp = summary["comparison"]
    ks = summary["ks"]
    k_max = str(ks[-1])
    base, trained = comp["pass_at_k"]["base"], comp["pass_at_k"]["trained"]
    d1 = trained["1"] - base["1"]
    dk = trained[k_max] - base[k_max]
    label = comp["verdict"]
    inform = summary.get("informative") or {}
    n_seeds = len(summary.get("seeds") or [summary.get("seed")])
    if inform.get("in_distribution") is False:
        where = "a floor" if base[k_max] < 0.5 else "a ceiling"
        return {
            "label": "uninformative",
            "headline": (
                f"Uninformative: the base's in-distribution pass@{k_max} is {100 * base[k_max]:.1f}% ({where}), "
                "so no change can show"
            ),
            "reasons": [
                f"A comparison can move only when the base's pass@{k_max} lies in 5-95%; change the test set or the "
                "base so it does before reading a verdict."
            ],
        }
    headline = {
        "pure_compression": "RLVR compressed search: pass@1 {d1}, pass@{k} {dk} (no new capability)",
        "capability_gain_and_compression": "RLVR compressed search and added capability: pass@1 {d1}, pass@{k} {dk}",
        "mode_collapse": "RLVR traded breadth for pass@1 (mode collapse): pass@1 {d1}, pass@{k} {dk}",
        "no_significant_change": "No significant change from RLVR: pass@1 {d1}, pass@{k} {dk}",
        "regression": "RLVR made the model worse: pass@1 {d1}, pass@{k} {dk}",
    }.get(label, "pass@1 {d1}, pass@{k} {dk}")
    headline = headline.format(d1=_points(d1), dk=_points(dk), k=k_max)
    if n_seeds > 1:
        headline += f" (pooled over {n_seeds} seeds)"
    reasons = [f"{comp['verdict_meaning']} In-distribution: {comp['verdict_reason']}."]
    per_seed = summary.get("per_seed") or []
    if len(per_seed) > 1:
        spread = ", ".join(
            f"seed {p['seed']}: {100 * (p['pass_at_k']['trained']['in_distribution']['1'] - p['pass_at_k']['base']['in_distribution']['1']):+.1f}"
            f" ({p['verdict'].replace('_', ' ')})"
            for p in per_seed
        )
        reasons.append(f"Per seed, pass@1 change in points: {spread}.")
    shifted = summary.get("comparison_shifted")
    if shifted and inform.get("shifted") is False:
        reasons.append(
            f"Shifted set ({summary['data'].get('shifted_description') or 'held out'}): uninformative, the base's "
            f"pass@{k_max} is {100 * shifted['pass_at_k']['base'][k_max]:.1f}% (outside 5-95%), so it can show "
            "neither transfer nor loss."
        )
    elif shifted:
        sb, st = shifted["pass_at_k"]["base"], shifted["pass_at_k"]["trained"]
        reasons.append(
            f"Shifted set ({summary['data'].get('shifted_description') or 'held out'}): pass@1 "
            f"{100 * sb['1']:.1f}% → {100 * st['1']:.1f}%, pass@{k_max} {100 * sb[k_max]:.1f}% → "
            f"{100 * st[k_max]:.1f}% ({shifted['verdict'].replace('_', ' ')})."
        )
    msg = summary["spurious"]["message"]
    reasons.append(msg[:1].upper() + msg[1:])
    for w in summary.get("trajectory_warnings") or []:
        reasons.append(f"Trajectory warning ({w['arm'].replace('_', ' ')}): {w['message']}.")
    ent = summary["entropy"].get("trained") or {}
    n_warn = len(summary["health"]["warnings"])
    if ent.get("start") is not None and ent.get("end") is not None:
        reasons.append(
            f"Entropy of the trained policy (seed {summary['seed']}) went {ent['start']:.3f} → {ent['end']:.3f} "
            f"nats/token; {n_warn} health warning{'s' if n_warn != 1 else ''} across all runs."
        )
    return {"label": label, "headline": headline, "reasons": reasons}


def _points(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _start_end(values: Sequence[Any], k: int = 5) -> dict[str, float | None]:
    """Mean of the first and last ``k`` finite readings (k shrinks for short runs)."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return {"start": None, "end": None}
    k = max(1, min(k, len(vals) // 4 or 1))
    return {"start": round(statistics.fmean(vals[:k]), 6), "end": round(statistics.fmean(vals[-k:]), 6)}
