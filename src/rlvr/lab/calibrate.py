"""Planted-truth calibration (``rlvr lab calibrate``): scenarios whose true answer is known by
construction, each a real run of the study on several seeds, judged on what the user is shown.

A scenario is a set of ``LabConfig`` overrides plus what it plants: a verdict label, a control
label (the call of ``control``), and optionally whether the entropy/transfer warning fires for an
arm (None: not judged). A seed *recovers* the scenario when every planted field equals what the lab
reports on that seed alone; the scenario is *pooled-recovered* when the study's pooled, user-facing
calls equal them. The bar (``passed``): every scenario pooled-recovered and recovered on at least
``BAR[profile]`` of its seeds, and every broken lab of ``rlvr.lab.mutants`` caught (the bar fails
under it), judged from the same runs.

Seeds: the scenarios were tuned on ``TUNING_SEEDS`` only; calibration runs on ``DEFAULT_SEED`` onwards
unless ``--seed`` says otherwise, so what it reports was never seen while tuning (a run that overlaps
the tuning seeds says which in ``seeds_tuned_on``).
``DIR/calibration.json`` is the contract the README describes; ``DIR/calibration.html`` is its page.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.io import write_json
from rlvr.lab.config import LabConfig, lab_config
from rlvr.lab.mutants import MUTANTS, Mutant
from rlvr.lab.results import SeedResult
from rlvr.lab.scenario import Scenario

__all__ = [
    "BAR", "DEFAULT_SEED", "SCENARIOS", "SEEDS", "TUNING_SEEDS", "Scenario", "judge", "observe", "recovered", "run_calibration",
]

DEFAULT_SEED = 9000
"""First seed of a calibration by default: a range no scenario was tuned on. 9000-9003 and the second
reported range, 10000-10003, ran the final settings once each (README); a change to any scenario after
them makes them tuning seeds too."""

TUNING_SEEDS = (*range(0, 10), 100, 101, 102, *range(300, 310), 1000, 1001, 1002, 2000, 2001, 2002, *range(3000, 3010),
                *range(5000, 5010), *range(7000, 7010))
"""Every seed whose results shaped any scenario's settings (never a calibration's reported seeds):
0-9 and 300-309, where the settings were chosen; 1000-1002, the first default range, whose run missed
compression and ood; 100-102 and 2000-2002, the two reported ranges of the 3-seed design, whose runs
missed compression, capability, collapse and ood and so led to 4 seeds and the compression plant of
today; 3000-3005, the first 4-seed default range, whose run missed compression (KL 0.1) and ood
(learning rate 4e-4) and so led to their anchor and push; 5000-5003, the next, whose run missed
compression on 2 of 4 seeds (30% slips) and, on one seed each, null and underpowered, and so led to
a less sloppy compression base, a slower null and a shorter underpowered study; 7000-7005, the next,
whose run missed collapse on 2 of 4 seeds (300 countdown problems, back to 800) and ood on one seed
(the README says so)."""

SEEDS = {"quick": 4, "full": 5}
"""Seeds per scenario by default. Quick takes 4: at 3 the pooled interval's t quantile (4.30, two
degrees of freedom) leaves a plant that varies by a few points across seeds unresolved (seen on
2000-2002 and 100-102); at 4 it is 3.18 and the run-level part shrinks by 0.64."""

BAR = {"quick": 2 / 3, "full": 4 / 5}
"""Share of its seeds on which each scenario must be recovered (rounded up)."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "compression",
        "carries are taught (none dropped), 20% of the warm-up answers slip, and RL is anchored to the base "
        "(KL 0.3): the base already reaches almost every addition within 16 samples and few products, so RL can "
        "only sharpen what it reaches: pass@1 rises ~7 points and pass@16 moves by about 1 (300 problems, 16 "
        "samples each, flat within a 5-point margin). On tuning seeds, sloppier bases (30-50% slips) or no anchor "
        "(KL 0.1) let RL sharpen a few problems onto a wrong answer, and pass@16 lost 2-5 points on some seeds: "
        "mild mode collapse, not compression",
        "pure_compression", None,
        overrides={"carry_drop": 0.0, "pretrain_noise": 0.2, "kl_beta": 0.3, "n_test": 300, "n_samples": 16,
                   "margin": 0.05},
    ),
    Scenario(
        "capability",
        "carry additions are shown with the carry dropped 97% of the time (the base solves them with per-sample "
        "probability well below 1/K), other slips at 0.3, and curation keeps them (band 0-1): 400 RL steps at 3e-4 "
        "make the rare right answer the rule, so pass@K rises with pass@1 (judged on 300 problems)",
        "capability_gain_and_compression", None,
        overrides={"carry_drop": 0.97, "pretrain_noise": 0.3, "band": (0.0, 1.0), "steps": 400, "learning_rate": 3e-4,
                   "n_test": 300},
    ),
    Scenario(
        "collapse",
        "countdown has many valid expressions per target; RL without a KL anchor at a high learning rate (4e-4) "
        "trades their diversity for pass@1; its random-reward control, equally unanchored, random-walks away from "
        "the base (AdamW turns zero-mean gradient noise into fixed-size steps): a broken control, never a null",
        "mode_collapse", "control_unstable",
        overrides={"task": "countdown", "kl_beta": 0.0, "learning_rate": 4e-4, "steps": 100, "n_test": 800},
    ),
    Scenario(
        "spurious",
        "30% of the warm-up answers carry a letter prefix the verifier cannot parse, on a base that is mostly right "
        "when its answer parses (10% slips, no dropped carries); a format-only reward (never checks correctness) "
        "teaches the shape, worth ~0.3 x 0.8 of pass@1, far above the 5-point threshold",
        None, "spurious_gain", control="format_control",
        overrides={"malformed": 0.3, "pretrain_noise": 0.1, "carry_drop": 0.0},
    ),
    Scenario(
        "null",
        "a random-reward control anchored to the base (KL 0.6, learning rate 1e-4, on-policy) on the default "
        "task and base must stay a valid null, with no entropy/transfer warning (at KL 0.1-0.6 and 2e-4 it lost "
        "about 5 points of shifted pass@1 on average, beyond the threshold on one seed in four)",
        None, "no_spurious_gain", overrides={"kl_beta": 0.6, "learning_rate": 1e-4}, ood=("random_control", False),
    ),
    Scenario(
        "ood",
        "the collapse recipe on arithmetic, pushed (no KL anchor, learning rate 8e-4): RL sharpens the seen "
        "additions, its entropy falls on every seed and it loses the held-out tens-digit pairs of the shifted set "
        "(judged on 400 shifted problems). On tuning seeds the loss was -3 to -13 points on most seeds and absent "
        "on about one in eight (seed 7003: -0.5 at 8e-4, 1.2e-3 and 150 steps alike), which the pooled rule, "
        "rightly, does not call shown",
        None, None, overrides={"kl_beta": 0.0, "learning_rate": 8e-4, "n_shifted": 400}, ood=("trained", True),
    ),
    Scenario(
        "uninformative",
        "a base warmed up for 20 steps solves nothing (a floor: base pass@K below 5%), so no change can show",
        "uninformative", None, overrides={"pretrain_steps": 20, "band": (0.0, 1.0), "steps": 10},
    ),
    Scenario(
        "underpowered",
        "20 test problems and 10 RL steps: too little data and training for any call, which must say so "
        "(inconclusive), not report a finding; its format-only control pays every answer of this base (all "
        "well formed), so it has nothing to teach",
        "inconclusive", "control_uninformative", control="format_control",
        overrides={"n_test": 20, "n_shifted": 20, "steps": 10},
    ),
)


def recovered(scenario: Scenario, observed: Mapping[str, Any]) -> bool:
    """Whether one observation (a seed's, or the pooled one) matches every non-null planted field."""
    return all(planted is None or observed.get(key) == planted for key, planted in scenario.planted().items())


def observe(
    scenario: Scenario, summary: Mapping[str, Any], audit_flags: bool | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What the lab reported for a scenario's planted fields: per seed, and pooled (the user's view).
    ``audit_flags``: whether the environment audit flagged the scenario's environment (it runs once,
    not per seed, so every seed and the pooled view share it)."""
    controls = summary["spurious"]["controls"]
    imp = (summary.get("tool") or {}).get("impossible") or {}
    observed = []
    for p in summary["per_seed"]:
        o = {"seed": p["seed"], "verdict": p["verdict"], "spurious": (p.get("spurious") or {}).get(scenario.control)}
        if scenario.ood is not None:
            o["ood_warning"] = scenario.ood[0] in (p.get("ood_warning") or [])
        if scenario.impossible is not None:
            reward = (imp.get("per_seed") or {}).get(str(p["seed"]))
            o["impossible"] = None if reward is None else (
                "impossible_reward" if reward > imp.get("threshold", 0.0) else "no_impossible_reward")
        if scenario.audit is not None:
            o["audit_flags"] = audit_flags
        observed.append(o)
    pooled = {"verdict": summary["verdict"]["label"], "spurious": (controls.get(scenario.control) or {}).get("label")}
    if scenario.ood is not None:
        pooled["ood_warning"] = any(w.get("arm") == scenario.ood[0] for w in summary.get("trajectory_warnings") or [])
    if scenario.impossible is not None:
        pooled["impossible"] = imp.get("label")
    if scenario.audit is not None:
        pooled["audit_flags"] = audit_flags
    return observed, pooled


def judge(scenario: Scenario, summary: Mapping[str, Any], profile: str, audit_flags: bool | None = None) -> dict[str, Any]:
    """One scenario's row: observations, recovered seeds, pooled recovery and whether it meets the bar."""
    observed, pooled = observe(scenario, summary, audit_flags)
    n_ok = sum(recovered(scenario, o) for o in observed)
    need = math.ceil(BAR[profile] * len(observed) - 1e-9)
    pooled_ok = recovered(scenario, pooled)
    return {
        "observed": observed, "pooled": pooled, "recovered": n_ok, "pooled_recovered": pooled_ok,
        "seeds": len(observed), "needed": need, "met": pooled_ok and n_ok >= need,
    }


def _mutated(mutant: Mutant, cfg: LabConfig, seeds: Sequence[SeedResult], summary: dict[str, Any]) -> dict[str, Any]:
    from rlvr.lab.summary import lab_summary

    if mutant.seeds is not None:
        mutated = mutant.seeds(seeds)
        if mutated != list(seeds):  # a scenario without the mutated arm needs no second summary
            summary = lab_summary(cfg, mutated)
    return mutant.summary(summary) if mutant.summary is not None else summary


def run_calibration(
    out_dir: str | Path,
    *,
    profile: str = "quick",
    seeds: int | None = None,
    seed: int = DEFAULT_SEED,
    names: Sequence[str] | None = None,
    base: Mapping[str, Any] | None = None,
    quiet: bool = True,
    resume: bool = False,
    executor: str = "local",
    task: str = "arithmetic",
) -> dict[str, Any]:
    """Run the scenarios (all, or ``names``) on ``seeds`` seeds each (default ``SEEDS[profile]``) from
    ``seed`` on, judge them and the mutants, and write ``<out_dir>/calibration.json``; returns its
    content. ``base``: LabConfig overrides for every scenario (workers, cache_dir, ...). ``task``:
    ``arithmetic`` (the study's scenarios, ``SCENARIOS``) or ``tool`` (``rlvr.lab.tool_calibration``)."""
    from rlvr.lab.arms import seed_arms
    from rlvr.lab.jobs import StudyRun, run_studies
    from rlvr.lab.study import finish_lab, start_lab, workers_for
    from rlvr.report.calibration import write_calibration_report

    if profile not in BAR:
        raise ConfigError(f"calibration profile must be quick or full, got {profile!r}")
    scenarios, mutants, tuning, base_task = SCENARIOS, MUTANTS, TUNING_SEEDS, {}
    if task == "tool":
        from rlvr.lab.tool_calibration import TOOL_MUTANTS, TOOL_SCENARIOS, TOOL_TUNING_SEEDS

        scenarios, mutants, tuning, base_task = TOOL_SCENARIOS, TOOL_MUTANTS, TOOL_TUNING_SEEDS, {"task": "tool"}
    elif task != "arithmetic":
        raise ConfigError(f"calibration task must be arithmetic or tool, got {task!r}")
    chosen = [s for s in scenarios if names is None or s.name in names]
    unknown = sorted(set(names or ()) - {s.name for s in scenarios})
    if unknown:
        raise ConfigError(f"unknown scenario(s) {', '.join(unknown)}; scenarios: {', '.join(s.name for s in scenarios)}")
    n_seeds = seeds or SEEDS[profile]
    tuned = sorted(set(range(seed, seed + n_seeds)) & set(tuning))
    out = Path(out_dir)
    if (out / "calibration.json").exists() and not resume:
        raise ConfigError(f"{out} already holds a calibration; rerun with --resume to reuse its runs, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    studies: list[StudyRun] = []
    for sc in chosen:
        cfg: LabConfig = lab_config(
            "quick" if profile == "quick" else "default",
            **{**base_task, **dict(base or {}), **dict(sc.overrides), "seed": seed, "seeds": n_seeds,
               "out_dir": str(out / sc.name)},
        )
        # A control arm decides no planted field but its own: train each only where it is the planted
        # control (elsewhere it would cost a third of the RL time for nothing judged).
        judged = sc.control if sc.spurious is not None else None
        # Nor are the trajectory probes judged (the entropy/transfer warning reads the training's entropy
        # and the final shifted test): off, they free about 5% of the budget.
        cfg = replace(cfg, format_control=judged == "format_control", random_control=judged == "random_control",
                      no_tool_control=judged == "no_tool", impossible_control=sc.impossible is not None,
                      trajectory_every=0)
        studies.append(start_lab(cfg, resume=resume))
    # Every scenario × seed goes to one pool of jobs (rlvr.lab.jobs), longest first, so no core
    # idles while a scenario's last seed runs alone; each scenario is judged as it completes.
    workers = max(workers_for(st.cfg, sum(st.cfg.seeds * (1 + len(seed_arms(st.cfg))) for st in studies))
                  for st in studies)
    t_start = time.perf_counter()
    result: dict[str, Any] = {
        "task": task, "profile": profile, "seed": seed, "passed": False, "seeds_tuned_on": tuned, "scenarios": [],
        "mutants": [], "workers": workers, "resumed": resume,
    }
    audits = {sc.name: _audit_flags(studies[i].cfg) for i, sc in enumerate(chosen) if sc.audit is not None}
    done: dict[str, dict[str, Any]] = {}
    finished_runs: dict[str, tuple[LabConfig, list[SeedResult], dict[str, Any]]] = {}

    def finished(st: StudyRun) -> None:
        sc = chosen[studies.index(st)]
        summary = finish_lab(st, workers, quiet=True)
        finished_runs[sc.name] = (st.cfg, st.ordered(), summary)
        done[sc.name] = {
            "name": sc.name,
            "why": sc.why,
            "planted": sc.planted(),
            **judge(sc, summary, profile, audits.get(sc.name)),
            # Scenarios share the pool: a scenario's seconds are its share of the wall time (its
            # jobs' seconds over the processes), so the column adds up to the whole calibration.
            "seconds": round(st.job_seconds / workers, 1),
            "job_seconds": round(st.job_seconds, 1),
            "pass_at_k": {arm: a["pass_at_k"] for arm, a in summary["arms"].items()},
            "summary": f"{sc.name}/summary.json",
        }
        result["scenarios"] = [done[c.name] for c in chosen if c.name in done]
        result["seconds"] = round(time.perf_counter() - t_start, 1)
        write_json(out / "calibration.json", result)  # after each scenario: a partial table survives
        write_calibration_report(out / "calibration.html", result)

    run_studies(studies, workers, show=not quiet and any(st.cfg.progress for st in studies), on_done=finished,
                executor=executor)
    result["mutants"] = [_judge_mutant(m, chosen, finished_runs, profile, audits) for m in mutants]
    result["passed"] = all(row["met"] for row in result["scenarios"]) and all(m["caught"] for m in result["mutants"])
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    write_json(out / "calibration.json", result)
    write_calibration_report(out / "calibration.html", result)
    return result


def _audit_flags(cfg: LabConfig) -> Any:
    """Whether ``rlvr audit --env`` flags a tool scenario's environment (a false positive, a leak or a
    side effect); the audit is scripted, the same on every seed."""
    from rlvr.audit.env import audit_env
    from rlvr.lab.config import TASK_SPECS

    env = cfg.env or TASK_SPECS[cfg.task].env
    assert env is not None
    return not audit_env(env).ok


def _judge_mutant(
    mutant: Mutant, chosen: Sequence[Scenario], runs: Mapping[str, tuple[LabConfig, list[SeedResult], dict[str, Any]]],
    profile: str, audits: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Whether the bar fails under ``mutant``: caught by the scenarios that meet the bar as run and
    miss it under the mutant (a scenario the real lab already misses proves nothing about a mutant)."""
    caught_by = []
    audits = audits or {}
    for sc in chosen:
        cfg, seeds, summary = runs[sc.name]
        flags = audits.get(sc.name)
        if (judge(sc, summary, profile, flags)["met"]
                and not judge(sc, _mutated(mutant, cfg, seeds, summary), profile, flags)["met"]):
            caught_by.append(sc.name)
    return {"name": mutant.name, "why": mutant.why, "caught": bool(caught_by), "caught_by": caught_by}
