"""Broken labs: deliberately wrong versions of the study, each of which calibration must catch.

A calibration that no broken lab can fail proves nothing: a lab whose verdict were always
``pure_compression`` would once have passed 3 of its 5 scenarios. Each mutant here rewrites what a
real lab computed, either the seeds' raw outcomes before the summary (``seeds``: an arm that did
not train, an arm scored with the wrong reward) or the summary's calls after it (``summary``: a
constant verdict, a constant control call, a verdict that ignores the margin, no floor/ceiling
guard). ``rlvr.lab.calibrate`` re-judges every scenario under every mutant from the same runs (no
training is repeated) and reports each mutant ``caught`` when the bar then fails.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rlvr.diagnostics import keys
from rlvr.evaluate.verdict import verdict_label
from rlvr.lab.results import SeedResult

__all__ = ["MUTANTS", "Mutant"]


@dataclass(frozen=True)
class Mutant:
    """A broken lab: how it breaks, as a rewrite of the seeds and/or of the summary."""

    name: str
    why: str
    seeds: Callable[[Sequence[SeedResult]], list[SeedResult]] | None = None
    summary: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _set_verdicts(summary: dict[str, Any], label: Callable[[Mapping[str, Any] | None, str], str]) -> dict[str, Any]:
    """Every verdict label of a summary (pooled and per seed) replaced by ``label(comparison, old)``."""
    s = copy.deepcopy(summary)
    s["verdict"]["label"] = label(s.get("comparison"), s["verdict"]["label"])
    for p in s["per_seed"]:
        p["verdict"] = label(p.get("comparison"), p["verdict"])
    return s


def _constant_verdict(summary: dict[str, Any]) -> dict[str, Any]:
    return _set_verdicts(summary, lambda comp, old: "pure_compression")


def _constant_control(summary: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(summary)
    for c in s["spurious"]["controls"].values():
        c["label"], c["labels"] = "no_spurious_gain", ["no_spurious_gain"]
        c["per_seed"] = {seed: "no_spurious_gain" for seed in c["per_seed"]}
    for p in s["per_seed"]:
        p["spurious"] = {arm: "no_spurious_gain" for arm in p["spurious"]}
    s["spurious"]["label"], s["spurious"]["labels"], s["spurious"]["flag"] = "no_spurious_gain", ["no_spurious_gain"], False
    return s


def _old_rule(comp: Mapping[str, Any] | None, old: str) -> str:
    """The verdict of a lab that calls a change flat whenever its interval includes 0."""
    if not comp or old == "uninformative":
        return old
    gains, cis = comp["capability_gain"], comp["capability_gain_ci"]
    ks = sorted(int(k) for k in gains)

    def d(k: int) -> str:
        lo, hi = cis[str(k)]
        return "up" if lo > 0 else "down" if hi < 0 else "flat"

    return verdict_label(d(1), d(ks[-1]) if ks[-1] != 1 else "inconclusive")


def _ignores_margin(summary: dict[str, Any]) -> dict[str, Any]:
    return _set_verdicts(summary, _old_rule)


def _no_floor_guard(summary: dict[str, Any]) -> dict[str, Any]:
    def unguarded(comp: Mapping[str, Any] | None, old: str) -> str:
        if old != "uninformative" or not comp:
            return old
        dirs = comp.get("directions") or {}
        return verdict_label(dirs.get("pass_at_1", "inconclusive"), dirs.get("pass_at_K", "inconclusive"))

    return _set_verdicts(summary, unguarded)


def _dead_random_arm(seeds: Sequence[SeedResult]) -> list[SeedResult]:
    """The random control never trained: its samples are the base's, its curves flat at their start
    (KL to the base 0)."""
    out = []
    for s in seeds:
        if "random_control" in s.outcomes:
            run = s.runs["random_control"]
            dead = replace(
                run,
                curves={k: [0.0 if k == keys.POLICY_KL else (v[0] if v else None)] * len(v) for k, v in run.curves.items()},
                trajectory=[copy.deepcopy(run.trajectory[0])] * len(run.trajectory) if run.trajectory else [],
            )
            s = replace(s, outcomes={**s.outcomes, "random_control": copy.deepcopy(s.outcomes["base"])},
                        runs={**s.runs, "random_control": dead})
        out.append(s)
    return out


def _format_arm_real_verifier(seeds: Sequence[SeedResult]) -> list[SeedResult]:
    """The format-only control scored with the real verifier: same seed and budget as the real arm,
    so its run *is* the real arm's."""
    out = []
    for s in seeds:
        if "format_control" in s.outcomes:
            s = replace(s, outcomes={**s.outcomes, "format_control": copy.deepcopy(s.outcomes["trained"])},
                        runs={**s.runs, "format_control": copy.deepcopy(s.runs["trained"])})
        out.append(s)
    return out


MUTANTS: tuple[Mutant, ...] = (
    Mutant("constant_verdict", "the verdict is always pure_compression", summary=_constant_verdict),
    Mutant("constant_control_call", "every control call is no_spurious_gain", summary=_constant_control),
    Mutant("verdict_ignores_margin", "a change is flat whenever its interval includes 0", summary=_ignores_margin),
    Mutant("no_floor_ceiling_guard", "a floor or ceiling comparison is reported as a finding", summary=_no_floor_guard),
    Mutant("dead_random_arm", "the random-reward control never trains", seeds=_dead_random_arm),
    Mutant("format_arm_real_verifier", "the format-only control is scored with the real verifier",
           seeds=_format_arm_real_verifier),
)
"""Every broken lab calibration must catch."""
