"""The lab's verdict as the user reads it: the pooled comparison's label (the vocabulary of
``rlvr.evaluate``), a headline, and one reason per angle of the study.

Reads the summary dict only (``rlvr.lab.summary`` builds it); decides nothing the comparison did
not: the label, directions and margin are the pooled in-distribution comparison's, and the shifted
set gets the same fields under ``shifted``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HEADLINES", "lab_verdict"]

HEADLINES = {
    "capability_gain_and_compression": "RLVR compressed search and added capability: pass@1 {d1}, pass@{k} {dk}",
    "pure_compression": "RLVR compressed search, and shown to add no capability: pass@1 {d1}, pass@{k} {dk}",
    "mode_collapse": "RLVR traded breadth for pass@1 (mode collapse): pass@1 {d1}, pass@{k} {dk}",
    "compression_ceiling_unresolved": (
        "RLVR raised pass@1 ({d1}); whether it changed pass@{k} ({dk}) is not resolved by this data"
    ),
    "coverage_gain": "RLVR widened coverage without better single samples: pass@1 {d1}, pass@{k} {dk}",
    "no_change": "RLVR changed nothing, shown within the margin: pass@1 {d1}, pass@{k} {dk}",
    "regression": "RLVR made the model worse: pass@1 {d1}, pass@{k} {dk}",
    "trade_off": "RLVR traded single samples for coverage: pass@1 {d1}, pass@{k} {dk}",
    "inconclusive": "Inconclusive: the data cannot tell what RLVR changed (pass@1 {d1}, pass@{k} {dk})",
}
"""One headline per verdict label; ``uninformative`` has its own below."""


def _points(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _fields(comp: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's verdict fields of one comparison (``rlvr compare --json``'s)."""
    sig = comp.get("significance") or {}
    return {
        "label": comp["verdict"],
        "reason": comp["verdict_reason"],
        "directions": comp.get("directions") or {k: v for k, v in sig.items() if k.startswith("pass_at_")},
        "margin": comp.get("margin", sig.get("margin")),
    }


def lab_verdict(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``{"label", "reason", "directions", "margin", "headline", "reasons", "shifted"}``: pooled over
    seeds; an uninformative comparison (the base's pass@K outside 5-95%) is named as such and never
    reported as a finding."""
    comp = summary["comparison"]
    ks = summary["ks"]
    k_max = str(ks[-1])
    base, trained = comp["pass_at_k"]["base"], comp["pass_at_k"]["trained"]
    d1 = trained["1"] - base["1"]
    dk = trained[k_max] - base[k_max]
    inform = summary.get("informative") or {}
    n_seeds = len(summary.get("seeds") or [summary.get("seed")])
    out = _fields(comp)
    shifted = summary.get("comparison_shifted")
    out["shifted"] = _fields(shifted) if shifted else None
    if inform.get("in_distribution") is False:
        where = "a floor" if base[k_max] < 0.5 else "a ceiling"
        out["label"] = "uninformative"
        out["headline"] = (
            f"Uninformative: the base's in-distribution pass@{k_max} is {100 * base[k_max]:.1f}% ({where}), "
            "so no change can show"
        )
        out["reasons"] = [
            f"A comparison can move only when the base's pass@{k_max} lies in 5-95%; change the test set or the "
            "base so it does before reading a verdict."
        ]
        return out
    headline = HEADLINES.get(out["label"], "pass@1 {d1}, pass@{k} {dk}")
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
    what = summary["data"].get("shifted_description") or "held out"
    if shifted and inform.get("shifted") is False:
        reasons.append(
            f"Shifted set ({what}): uninformative, the base's pass@{k_max} is "
            f"{100 * shifted['pass_at_k']['base'][k_max]:.1f}% (outside 5-95%), so it can show neither transfer nor loss."
        )
    elif shifted:
        sb, st = shifted["pass_at_k"]["base"], shifted["pass_at_k"]["trained"]
        reasons.append(
            f"Shifted set ({what}): pass@1 {100 * sb['1']:.1f}% → {100 * st['1']:.1f}%, pass@{k_max} "
            f"{100 * sb[k_max]:.1f}% → {100 * st[k_max]:.1f}% ({shifted['verdict'].replace('_', ' ')}: "
            f"{shifted['verdict_reason']})."
        )
    msg = summary["spurious"]["message"]
    reasons.append(msg[:1].upper() + msg[1:])
    diff = summary["spurious"].get("real_minus_random")
    if diff:
        lo, hi = diff["pass_at_1_ci"]
        reasons.append(
            f"Real minus random reward at pass@1: {_points(diff['pass_at_1'])} [{100 * lo:+.1f}, {100 * hi:+.1f}] "
            "(paired over seeds and problems): the part of the gain the reward's signal can claim."
        )
    for w in summary.get("trajectory_warnings") or []:
        reasons.append(f"Warning ({w['arm'].replace('_', ' ')}): {w['message']}.")
    ent = summary["entropy"].get("trained") or {}
    n_warn = len(summary["health"]["warnings"])
    if ent.get("start") is not None and ent.get("end") is not None:
        reasons.append(
            f"Entropy of the trained policy (seed {summary['seed']}) went {ent['start']:.3f} → {ent['end']:.3f} "
            f"nats/token; {n_warn} health warning{'s' if n_warn != 1 else ''} across all runs."
        )
    out["headline"] = headline
    out["reasons"] = reasons
    return out
