"""Planted-truth calibration (``rlvr lab calibrate``): scenarios whose true answer is known by
construction, each a real run of the study on several seeds, and whether the lab recovers it.

A scenario is a set of ``LabConfig`` overrides plus what it plants: a verdict label and/or a
control label (None: not judged), and which control's label is its observed ``spurious`` (the
random arm, or the format-only arm). A seed *recovers* the scenario when every planted field
equals what the lab reports on that seed. ``DIR/calibration.json`` follows DESIGN.md section 3; ``DIR/calibration.html`` is its page.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.io import write_json
from rlvr.lab.config import LabConfig, lab_config

__all__ = ["SCENARIOS", "Scenario", "recovered", "run_calibration"]


@dataclass(frozen=True)
class Scenario:
    """A study whose answer is known by construction."""

    name: str
    why: str
    """How the answer is planted (one sentence)."""
    verdict: str | None
    """Planted verdict label (None: not judged)."""
    spurious: str | None
    """Planted label of ``control`` (None: not judged)."""
    control: str = "random_control"
    """The control arm whose label is the observed ``spurious``."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """LabConfig fields changed from the profile."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "compression",
        "carries are never shown in warm-up (a stratum the base cannot reach at any k, nor can RL), the rest is "
        "sloppy (half the solutions slip): RL can only sharpen what the base already reaches",
        "pure_compression", None, overrides={"carry_drop": 1.0},
    ),
    Scenario(
        "capability",
        "carry additions are shown with the carry dropped 97% of the time (the base solves them with per-sample "
        "probability well below 1/K), other slips at 0.3: RL can make the rare right answer the rule",
        "capability_gain_and_compression", None,
        overrides={"carry_drop": 0.97, "pretrain_noise": 0.3, "kl_beta": 0.0},
    ),
    Scenario(
        "collapse",
        "countdown has many valid expressions per target; RL without a KL anchor at a high learning rate (4e-4 for "
        "100 steps, planted harder than the 2e-4 x 200 measured to collapse, at half the cost) trades their "
        "diversity for pass@1 (measured on seeds 0-2: pass@1 +3.2/+4.3/+6.6, pass@8 -17.9/-16.9/-16.9 points); "
        "judged on 800 test problems, since the profile's 100 cannot tell a +3 to +7-point pass@1 gain from "
        "noise on one seed",
        "mode_collapse", None,
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
        "the random-reward control at the default settings must stay a valid null",
        None, "no_spurious_gain",
    ),
)


def recovered(scenario: Scenario, observed: Mapping[str, Any]) -> bool:
    """Whether one seed's observation matches every non-null planted field."""
    return all(
        planted is None or observed.get(key) == planted
        for key, planted in (("verdict", scenario.verdict), ("spurious", scenario.spurious))
    )


def _observe(scenario: Scenario, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    from rlvr.lab.record import LabSummary

    return [
        {"seed": p["seed"], "verdict": p["verdict"], "spurious": (p.get("spurious") or {}).get(scenario.control)}
        for p in LabSummary.from_dict(summary).per_seed
    ]


def run_calibration(
    out_dir: str | Path,
    *,
    profile: str = "quick",
    seeds: int | None = None,
    names: Sequence[str] | None = None,
    base: Mapping[str, Any] | None = None,
    quiet: bool = True,
    resume: bool = False,
    executor: str = "local",
) -> dict[str, Any]:
    """Run the scenarios (all, or ``names``) on ``seeds`` seeds each (default 3 quick, 5 full) and
    write ``<out_dir>/calibration.json``; returns its content. ``base``: LabConfig overrides for
    every scenario (workers, cache_dir, ...)."""
    from rlvr.lab.arms import seed_arms
    from rlvr.lab.jobs import StudyRun, run_studies
    from rlvr.lab.study import finish_lab, start_lab, workers_for
    from rlvr.report.calibration import write_calibration_report

    if profile not in ("quick", "full"):
        raise ConfigError(f"calibration profile must be quick or full, got {profile!r}")
    chosen = [s for s in SCENARIOS if names is None or s.name in names]
    unknown = sorted(set(names or ()) - {s.name for s in SCENARIOS})
    if unknown:
        raise ConfigError(f"unknown scenario(s) {', '.join(unknown)}; scenarios: {', '.join(s.name for s in SCENARIOS)}")
    n_seeds = seeds or (3 if profile == "quick" else 5)
    out = Path(out_dir)
    if (out / "calibration.json").exists() and not resume:
        raise ConfigError(f"{out} already holds a calibration; rerun with --resume to reuse its runs, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    studies: list[StudyRun] = []
    for sc in chosen:
        cfg: LabConfig = lab_config(
            "quick" if profile == "quick" else "default",
            **{**dict(base or {}), **dict(sc.overrides), "seeds": n_seeds, "out_dir": str(out / sc.name)},
        )
        # The format-only control decides no planted field but its own: train it only where it is
        # the planted control (elsewhere it would cost a third of the RL time for nothing judged).
        cfg = replace(cfg, format_control=sc.control == "format_control")
        studies.append(start_lab(cfg, resume=resume))
    # Every scenario × seed goes to one pool of jobs (rlvr.lab.jobs), longest first, so no core
    # idles while a scenario's last seed runs alone; each scenario is summarised as it completes.
    workers = max(workers_for(st.cfg, sum(st.cfg.seeds * (1 + len(seed_arms(st.cfg))) for st in studies))
                  for st in studies)
    t_start = time.perf_counter()
    result: dict[str, Any] = {"profile": profile, "scenarios": [], "workers": workers}
    done: dict[str, dict[str, Any]] = {}

    def finished(st: StudyRun) -> None:
        sc = chosen[studies.index(st)]
        summary = finish_lab(st, workers, quiet=True)
        observed = _observe(sc, summary)
        done[sc.name] = {
            "name": sc.name,
            "why": sc.why,
            "planted": {"verdict": sc.verdict, "spurious": sc.spurious},
            "observed": observed,
            "recovered": sum(recovered(sc, o) for o in observed),
            "seeds": len(observed),
            # Scenarios share the pool: a scenario's seconds are its share of the wall time (its
            # jobs' seconds over the processes), so the column adds up to the whole calibration.
            "seconds": round(st.job_seconds / workers, 1),
            "job_seconds": round(st.job_seconds, 1),
            "pooled": {"verdict": summary["verdict"]["label"], "spurious": summary["spurious"]["controls"].get(
                sc.control, {}).get("label")},
            "pass_at_k": {arm: a["pass_at_k"] for arm, a in summary["arms"].items()},
            "summary": f"{sc.name}/summary.json",
        }
        result["scenarios"] = [done[c.name] for c in chosen if c.name in done]
        result["seconds"] = round(time.perf_counter() - t_start, 1)
        write_json(out / "calibration.json", result)  # after each scenario: a partial table survives
        write_calibration_report(out / "calibration.html", result)

    run_studies(studies, workers, show=not quiet and any(st.cfg.progress for st in studies), on_done=finished,
                executor=executor)
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    write_json(out / "calibration.json", result)
    return result
