"""From the seeds' outcomes to ``summary.json``: pooled pass@k, comparisons and control calls whose
intervals include seed-to-seed variance, per-seed tables, the informative guard and the verdict.

The input is one ``SeedResult`` per seed (``rlvr.lab.results``, from ``rlvr.lab.arms.assemble_seed``):
``outcomes[arm][set]`` maps problem id -> correctness flags, for arm in ``ARMS`` and set in
in_distribution / shifted; ``runs[arm]`` is each RL arm's ``TrainingRun``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr.diagnostics import keys
from rlvr.errors import ConfigError
from rlvr.evaluate.spurious import EXPLANATION
from rlvr.lab.config import LabConfig
from rlvr.lab.controls import CONTROL_NAMES, CONTROLS, study_controls
from rlvr.lab.record import LabSummary
from rlvr.lab.results import SeedResult
from rlvr.lab.verdict import lab_verdict

__all__ = ["Comparisons", "lab_summary", "lab_verdict"]

SETS = ("in_distribution", "shifted")


TOOL_CONTROLS = ("no_tool", "impossible_control")
"""A tool task's own control arms (the random-reward control is shared with every task)."""


def _arms(seeds: Sequence[SeedResult]) -> list[str]:
    return [a for a in ("base", "trained", *CONTROLS, *TOOL_CONTROLS) if all(a in s.outcomes for s in seeds)]


def _pooled_passk(per_seed: list[Mapping[str, Any]], ks: list[int], n_boot: int, seed: int) -> tuple[dict, dict]:
    """One arm's pooled pass@k per k and its interval (``pooled_mean_interval``: the seed-level
    t-interval with several seeds, the problem bootstrap with one)."""
    from rlvr.evaluate.pooled import pooled_mean_interval
    from rlvr.evaluate.samples import as_problem_map
    from rlvr.evaluate.summary import per_problem

    maps = [list(as_problem_map(m).values()) for m in per_seed]
    points, cis = {}, {}
    for k in ks:
        point, ci = pooled_mean_interval([per_problem(m, k) for m in maps], n_boot=n_boot, seed=seed)
        # A t-interval on few seeds can reach past what a rate can be: clip it to [0, 1].
        points[str(k)], cis[str(k)] = point, [max(0.0, ci[0]), min(1.0, ci[1])]
    return points, cis


def lab_summary(cfg: LabConfig, seeds: Sequence[SeedResult]) -> dict[str, Any]:
    """The summary dict (without timings and files) of a lab run on ``seeds``."""
    from rlvr.evaluate.compare import informative

    ks = cfg.ks()
    k_max = str(ks[-1])
    arm_names = _arms(seeds)
    compare = Comparisons(cfg, ks)

    arms: dict[str, Any] = {}
    for arm in arm_names:
        entry: dict[str, Any] = {"pass_at_k": {}, "pass_at_k_ci": {}}
        for name in SETS:
            per = compare.sets_of(arm, name, seeds)
            if per is None:
                entry["pass_at_k"][name] = entry["pass_at_k_ci"][name] = None
                continue
            entry["pass_at_k"][name], entry["pass_at_k_ci"][name] = _pooled_passk(per, ks, cfg.n_boot, cfg.seed)
        if cfg.tool_task:
            entry["tool_use"] = _pooled_tool_use(seeds, arm)
        arms[arm] = entry

    main = compare("base", "trained", "in_distribution", seeds)
    if main is None:
        raise ConfigError("no in-distribution test problem could be scored on some seed (every verdict was error/skipped)")
    comp = main.to_dict()
    shifted_res = compare("base", "trained", "shifted", seeds)
    comp_shift = shifted_res.to_dict() if shifted_res is not None else None
    inform = {name: informative((arms["base"]["pass_at_k"].get(name) or {}).get(k_max)) for name in SETS}

    ctl = study_controls(seeds, compare, cfg.spurious_threshold, cfg.kl_limit)
    controls = ctl["controls"]
    per_seed = []
    for s in seeds:
        o = s.outcomes
        one = compare("base", "trained", "in_distribution", [s]).to_dict()
        per_seed.append({
            "seed": s.seed, "verdict": one["verdict"], "hit_rate": s.hit_rate, "curated": s.curated,
            "comparison": {key: one.get(key) for key in ("capability_gain", "capability_gain_ci", "directions", "margin")},
            "pass_at_k": {
                arm: {name: (_point_passk(o[arm][name], ks) if o[arm].get(name) else None) for name in SETS}
                for arm in arm_names
            },
            "spurious": {arm: c["per_seed"][str(s.seed)] for arm, c in controls.items()},
        })
    real_gain = comp["capability_gain"]["1"]
    rand = controls.get("random_control") or {}

    first = seeds[0]
    rl_arms = [a for a in arm_names if a != "base"]
    warnings = [{"seed": s.seed, "arm": arm, **w} for s in seeds for arm in rl_arms for w in s.runs[arm].warnings]
    entropy = {arm: _start_end(first.runs[arm].curves.get(keys.POLICY_ENTROPY, [])) for arm in rl_arms}
    trajectory, trajectory_stats = _trajectories(seeds, rl_arms)
    ood, ood_per_seed = _ood_warnings(seeds, rl_arms, compare)
    for entry, s in zip(per_seed, seeds):
        entry["trajectory"] = {arm: s.runs[arm].trajectory for arm in rl_arms}
        entry["ood_warning"] = ood_per_seed[s.seed]
    record = LabSummary(
        kind="lab",
        version=3,
        task="custom" if cfg.custom else cfg.task,
        model=cfg.model or "tiny",
        verifier=first.verifier,
        seed=cfg.seed,
        seeds=[s.seed for s in seeds],
        profile=cfg.profile,
        device=cfg.device,
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        config=json.loads(json.dumps(cfg.flat(), default=str)),
        data={**first.data, "curated_per_seed": [s.curated for s in seeds]},
        curation=first.curation,
        hit_rate=round(statistics.fmean(s.hit_rate for s in seeds), 6),
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
            "random_improvement": rand.get("pass_at_1"),
            "flag": ctl["flag"],
            "labels": ctl["labels"],
            "label": ctl["label"],
            "threshold": cfg.spurious_threshold,
            "kl_limit": cfg.kl_limit,
            "k": ks[-1],
            "message": _spurious_message(controls, real_gain, cfg.spurious_threshold),
            "controls": controls,
            "real_minus_random": ctl.get("real_minus_random"),
            "explanation": list(EXPLANATION) if ctl["flag"] else [],
        },
        per_seed=per_seed,
        health={
            "warnings": warnings,
            **{arm: first.runs[arm].summary.get("health") for arm in rl_arms},
        },
        training={arm: first.runs[arm].curves for arm in rl_arms},
        entropy=entropy,
        trajectory=trajectory,
        trajectory_stats=trajectory_stats,
        trajectory_warnings=ood,
        verdict={},
        tool=_tool_section(cfg, seeds, compare, arms) if cfg.tool_task else None,
    )
    record.verdict = lab_verdict(record.to_dict())
    return record.to_dict()


class Comparisons:
    """Pooled comparisons of two arms on one test set over some seeds, each computed once:
    ``compare(a, b, test_set, seeds)`` is ``pooled_compare`` of arm ``a`` (as the base) against arm
    ``b``, or None when a seed lacks that set."""

    def __init__(self, cfg: LabConfig, ks: list[int]) -> None:
        self.kw: dict[str, Any] = {"n_boot": cfg.n_boot, "seed": cfg.seed, "margin": cfg.margin}
        self.ks = ks
        self.cache: dict[tuple[Any, ...], Any] = {}

    @staticmethod
    def sets_of(arm: str, name: str, seeds: Sequence[SeedResult]) -> list[Mapping[str, Any]] | None:
        got = [(s.outcomes.get(arm) or {}).get(name) for s in seeds]
        return [g for g in got if g] if all(got) else None

    def __call__(self, a: str, b: str, name: str, seeds: Sequence[SeedResult]) -> Any:
        from rlvr.evaluate.pooled import pooled_compare

        key = (a, b, name, tuple(s.seed for s in seeds))
        if key not in self.cache:
            sa, sb = self.sets_of(a, name, seeds), self.sets_of(b, name, seeds)
            self.cache[key] = None if sa is None or sb is None else pooled_compare(sa, sb, self.ks, **self.kw)
        return self.cache[key]


def _pooled_tool_use(seeds: Sequence[SeedResult], arm: str) -> dict[str, Any] | None:
    """An arm's ``calls_per_episode`` and ``answers_using_tool`` per test set, the mean over seeds."""
    out: dict[str, Any] = {}
    for name in SETS:
        per = [((s.tool_use.get(arm) or {}).get(name)) for s in seeds]
        if not all(per):
            out[name] = None
            continue
        out[name] = {key: round(statistics.fmean(p[key] for p in per if p), 6)
                     for key in ("calls_per_episode", "answers_using_tool")}
    return out


def _tool_section(cfg: LabConfig, seeds: Sequence[SeedResult], compare: Comparisons, arms: Mapping[str, Any]) -> dict[str, Any]:
    """How tool use changed per arm, the tool-vs-no-tool difference (pooled, paired by problem, its
    interval from the seed-level t like every comparison), and the impossible-task control's call."""
    out: dict[str, Any] = {"tool_use": {arm: entry.get("tool_use") for arm, entry in arms.items()}}
    vs = compare("no_tool", "trained", "in_distribution", seeds) if "no_tool" in arms else None
    if vs is not None:
        d = vs.to_dict()
        out["tool_vs_no_tool"] = {
            "pass_at_1": d["capability_gain"]["1"], "pass_at_1_ci": d["capability_gain_ci"]["1"],
            "direction": d["directions"]["pass_at_1"], "margin": cfg.margin,
            "reason": "trained (tools offered) minus no_tool (same task and reward, tools withheld), in-distribution pass@1",
        }
    else:
        out["tool_vs_no_tool"] = None
    if "impossible_control" in arms:
        means = []
        for s in seeds:
            curve = [v for v in s.runs["impossible_control"].curves.get(keys.REWARD_MEAN, []) if isinstance(v, (int, float))]
            means.append(round(statistics.fmean(curve), 6) if curve else 0.0)
        pooled = round(statistics.fmean(means), 6)
        flagged = pooled > cfg.impossible_threshold
        out["impossible"] = {
            "label": "impossible_reward" if flagged else "no_impossible_reward",
            "flag": flagged,
            "reward_mean": pooled,
            "per_seed": {str(s.seed): m for s, m in zip(seeds, means)},
            "threshold": cfg.impossible_threshold,
            "reason": (
                f"the impossible-task control earned a mean reward of {pooled:.3f} (> {cfg.impossible_threshold}) on "
                "answers no tool call can reach: the environment leaks the answer or its grader is wrong; audit it "
                "(rlvr audit --env) before trusting any gain" if flagged else
                f"the impossible-task control earned {pooled:.3f} (<= {cfg.impossible_threshold}): no sign of a leak or a grader bug"
            ),
        }
    else:
        out["impossible"] = None
    return out


def _trajectories(seeds: Sequence[SeedResult], arms: list[str]) -> tuple[dict, dict]:
    """Per arm: the mean trajectory over seeds and its entropy correlations."""
    from rlvr.evaluate.trajectory import correlations, mean_trajectory

    traj, stats = {}, {}
    for arm in arms:
        per = [s.runs[arm].trajectory for s in seeds]
        traj[arm] = mean_trajectory(per) if all(per) else []
        stats[arm] = {"entropy_correlation": correlations(traj[arm])}
    return traj, stats


def _ood_warnings(
    seeds: Sequence[SeedResult], arms: list[str], compare: Comparisons
) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
    """The entropy-collapse / lost-transfer warning of every RL arm (``entropy_ood_warning``) from its
    shifted-set pass@1 change (paired per seed, and pooled) and each seed's entropy; and, per seed,
    the arms it fires for on that seed alone."""
    from rlvr.evaluate.trajectory import SeedShift, entropy_ood_warning

    pooled_warnings: list[dict[str, Any]] = []
    per_seed: dict[int, list[str]] = {s.seed: [] for s in seeds}
    for arm in arms:
        pooled = compare("base", arm, "shifted", seeds)
        if pooled is None:
            continue
        shifts = []
        for s in seeds:
            one = compare("base", arm, "shifted", [s])
            ent = _start_end(s.runs[arm].curves.get(keys.POLICY_ENTROPY, []))
            shift = SeedShift(s.seed, one.capability_gain[1], tuple(one.capability_gain_ci[1]), ent["start"], ent["end"])
            shifts.append(shift)
            if entropy_ood_warning(arm, [shift], shift.gain, shift.ci) is not None:
                per_seed[s.seed].append(arm)
        w = entropy_ood_warning(arm, shifts, pooled.capability_gain[1], pooled.capability_gain_ci[1])
        if w is not None:
            pooled_warnings.append(w)
    return pooled_warnings, per_seed


def _point_passk(problems: Mapping[str, Any], ks: list[int]) -> dict[str, float]:
    from rlvr.evaluate.passk import pass_at_k_table

    return {str(k): v for k, v in pass_at_k_table(problems, ks).items()}


def _spurious_message(controls: Mapping[str, Any], real_gain: float, threshold: float) -> str:
    if not controls:
        return f"no control arm was trained, so no spurious-reward call is made (the real reward: {100 * real_gain:+.1f})."
    parts = [f"{c['label'].replace('_', ' ')}: the {CONTROL_NAMES[arm]} arm: {c['reason']}" for arm, c in controls.items()]
    return "; ".join(parts) + f" (threshold {100 * threshold:.0f} points; the real reward: {100 * real_gain:+.1f})."


def _start_end(values: Sequence[Any], k: int = 5) -> dict[str, float | None]:
    """Mean of the first and last ``k`` finite readings (k shrinks for short runs)."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return {"start": None, "end": None}
    k = max(1, min(k, len(vals) // 4 or 1))
    return {"start": round(statistics.fmean(vals[:k]), 6), "end": round(statistics.fmean(vals[-k:]), 6)}
