"""A realistic synthetic ``rlvr lab`` summary (the dict ``summary.json`` holds), for report tests.

The numbers are not typed in: per-problem outcomes of three arms (base, real-reward trained,
random-reward control) on an in-distribution and a shifted test set go through the real
``compare``/``spurious_analysis``, and per-step training curves go through the real
``HealthMonitor``, so the fixture has the shape and the consistency of a real run.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from rlvr.diagnostics import check_metrics
from rlvr.evaluate import compare, spurious_analysis
from rlvr.evaluate.samples import ProblemOutcomes, SampleSet
from rlvr.evaluate.spurious import ControlEvidence, control_calls

KS = [1, 2, 4, 8, 16]
N = 16  # samples per problem
STEPS = 40

# (problems, correct samples out of N), in problem order: the arms share problem ids, so the same
# position is the same problem. In-distribution: the trained arm sharpens problems the base could
# already solve sometimes and never solves the 20 the base never solves (search compression).
IN_DIST = {
    "base": [(20, 0), (20, 2), (20, 6), (20, 10), (20, 15)],
    "trained": [(20, 0), (20, 8), (20, 12), (20, 15), (20, 16)],
    "random_control": [(20, 0), (20, 2), (20, 6), (20, 11), (20, 15)],
}
SHIFTED = {
    "base": [(70, 0), (20, 1), (10, 4)],
    "trained": [(70, 0), (20, 3), (10, 8)],
    "random_control": [(70, 0), (20, 1), (10, 4)],
}


def sample_set(spec: list[tuple[int, int]], name: str, model: str | None = None) -> SampleSet:
    """Problems ``p0, p1, ...`` with ``c`` of ``N`` samples correct, ``count`` problems per entry."""
    out = {}
    i = 0
    for count, c in spec:
        for _ in range(count):
            out[f"p{i}"] = ProblemOutcomes(f"p{i}", tuple([True] * c + [False] * (N - c)))
            i += 1
    return SampleSet(name=name, problems=out, model=model, source=f"samples/{name}.jsonl")


def _curves(trained: bool) -> dict[str, list[float]]:
    """Deterministic per-step curves with a little wiggle (no RNG: the fixture never changes)."""
    reward, entropy, kl = [], [], []
    for s in range(STEPS):
        f = s / (STEPS - 1)
        wiggle = 0.02 * math.sin(1.7 * s)
        if trained:
            reward.append(0.41 + 0.25 * f + wiggle)
            entropy.append(0.9 * (1 - 0.78 * f**1.5) + 0.01 * math.sin(s))
            kl.append(0.02 * f**1.2 + 0.0005 * abs(math.sin(s)))
        else:  # random reward at hit rate p: reward hovers at p, the policy barely moves
            reward.append(0.42 + wiggle)
            entropy.append(0.9 - 0.05 * f + 0.01 * math.sin(s))
            kl.append(0.002 * f + 0.0002 * abs(math.sin(s)))
    return {"reward/mean": reward, "policy/entropy": entropy, "policy/kl": kl}


def _pass_at_k(comparison: dict[str, Any], role: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return comparison["pass_at_k"][role], comparison["pass_at_k_ci"][role]


def _spurious(sp: dict[str, Any], comps: dict[str, Any], kl: float) -> dict[str, Any]:
    """The lab's ``spurious`` section for the random control, called by the real ``control_calls``."""
    rand, shifted = comps["in_distribution"]["random_control"], comps["shifted"]["random_control"]
    ev = ControlEvidence(
        rand["capability_gain"]["1"], tuple(rand["capability_gain_ci"]["1"]),
        shifted_gain=shifted["capability_gain"]["1"], shifted_ci=tuple(shifted["capability_gain_ci"]["1"]),
        kl=kl, zero_std=0.25,
    )
    labels, label, reason = control_calls(ev, 0.05, kl_limit=1.0)
    real = comps["in_distribution"]["trained"]
    return {
        "real_improvement": real["capability_gain"]["1"],
        "random_improvement": ev.gain,
        "flag": label == "spurious_gain",
        "labels": labels,
        "label": label,
        "threshold": 0.05,
        "kl_limit": 1.0,
        "k": KS[-1],
        "message": sp["message"],
        "controls": {"random_control": {
            "label": label, "labels": labels, "reason": reason, "kl_end": kl, "zero_std_share": 0.25,
            "pass_at_1": ev.gain, "pass_at_1_ci": list(ev.ci),
            f"pass_at_{KS[-1]}": rand["capability_gain"][str(KS[-1])],
            f"pass_at_{KS[-1]}_ci": rand["capability_gain_ci"][str(KS[-1])],
            "shifted_pass_at_1": ev.shifted_gain, "shifted_pass_at_1_ci": list(ev.shifted_ci or ()),
            "verdict": rand["verdict"],
        }},
        "real_minus_random": {"pass_at_1": real["capability_gain"]["1"] - ev.gain, "pass_at_1_ci": [0.17, 0.25]},
        "explanation": [],
    }


def lab_summary(*, model: str = "tiny", task: str = "arithmetic") -> dict[str, Any]:
    """The summary of a default-profile lab run: every key of the schema filled in."""
    n_boot = 200
    sets = {
        split: {arm: sample_set(spec, arm, model if arm == "base" else None) for arm, spec in specs.items()}
        for split, specs in (("in_distribution", IN_DIST), ("shifted", SHIFTED))
    }
    comps = {
        split: {
            arm: compare(s["base"], s[arm], KS, n_boot=n_boot).to_dict() for arm in ("trained", "random_control")
        }
        for split, s in sets.items()
    }
    arms: dict[str, Any] = {}
    for arm in ("base", "trained", "random_control"):
        pk: dict[str, Any] = {}
        ci: dict[str, Any] = {}
        for split in ("in_distribution", "shifted"):
            c = comps[split]["trained" if arm == "base" else arm]
            pk[split], ci[split] = _pass_at_k(c, "base" if arm == "base" else "trained")
        arms[arm] = {"pass_at_k": pk, "pass_at_k_ci": ci}
    main = comps["in_distribution"]["trained"]
    ind = sets["in_distribution"]
    sp = spurious_analysis(ind["base"], ind["trained"], ind["random_control"], KS, n_boot=n_boot).to_dict()

    curves = {"trained": _curves(True), "random_control": _curves(False)}
    health: dict[str, Any] = {"warnings": []}
    for arm, c in curves.items():
        rows = [
            (s + 1, {"reward/mean": c["reward/mean"][s], "reward/std": 0.4,
                     "policy/entropy": c["policy/entropy"][s], "policy/kl": c["policy/kl"][s]})
            for s in range(STEPS)  # trainer steps count from 1
        ]
        monitor = check_metrics(rows)
        for w in monitor.warnings:
            health["warnings"].append({"arm": arm, "severity": "warning", **w.to_dict()})
        health[arm] = monitor.summary()

    hist_counts = [9, 14, 11, 10, 12, 9, 13, 17, 25]  # 120 prompts, pass rates j/8 at k = 8
    band = (0.2, 0.8)
    histogram = [
        {"pass_rate": j / 8, "count": n, "kept": band[0] <= j / 8 <= band[1]} for j, n in enumerate(hist_counts)
    ]
    kept = sum(b["count"] for b in histogram if b["kept"])
    curation = {
        "prompts": sum(hist_counts),
        "kept": kept,
        "kept_frac": kept / sum(hist_counts),
        "band": list(band),
        "k": 8,
        "too_easy": hist_counts[-1],
        "too_hard": hist_counts[0],
        "no_valid_samples": 0,
        "mean_pass_rate": sum(b["pass_rate"] * b["count"] for b in histogram) / sum(hist_counts),
        "histogram": histogram,
    }
    base1 = arms["base"]["pass_at_k"]["in_distribution"]["1"]
    tr1 = arms["trained"]["pass_at_k"]["in_distribution"]["1"]
    b16 = arms["base"]["pass_at_k"]["in_distribution"]["16"]
    t16 = arms["trained"]["pass_at_k"]["in_distribution"]["16"]
    return {
        "kind": "lab",
        "version": 1,
        "task": task,
        "model": model,
        "seed": 0,
        "profile": "default",
        "device": "cpu",
        "date": "2026-11-26 07:30 UTC",
        "config": {"steps": STEPS, "group_size": 8, "n_samples": N, "test_in_distribution": 100, "test_shifted": 100},
        "data": {
            "train": 120,
            "curated": kept,
            "test_in_distribution": 100,
            "test_shifted": 100,
            "shifted_description": "3-digit operands (train: 2-digit)",
        },
        "curation": curation,
        "hit_rate": 0.42,
        "ks": KS,
        "arms": arms,
        "compression_ratio": main["compression_ratio"],
        "capability_gain": main["capability_gain"],
        "crossover_k": main["crossover_k"],
        "comparison": main,
        "comparison_shifted": comps["shifted"]["trained"],
        "spurious": _spurious(sp, comps, curves["random_control"]["policy/kl"][-1]),
        "health": health,
        "training": curves,
        "entropy": {
            arm: {"start": c["policy/entropy"][0], "end": c["policy/entropy"][-1]} for arm, c in curves.items()
        },
        "verdict": {
            "label": main["verdict"],
            "headline": (
                f"RLVR compressed search: pass@1 {100 * (tr1 - base1):+.0f} points, "
                f"pass@16 {100 * (t16 - b16):+.0f} points"
            ),
            "reasons": [
                main["verdict_reason"],
                "On the shifted set (3-digit operands) the gain shrinks to a few points.",
                sp["message"],
                f"Entropy fell from {curves['trained']['policy/entropy'][0]:.2f} to "
                f"{curves['trained']['policy/entropy'][-1]:.2f} during training (entropy_collapse warned).",
            ],
        },
        "timings": {
            "pretrain": 12.3,
            "curate": 1.2,
            "train_real": 60.1,
            "train_random": 58.0,
            "sample": 9.9,
            "evaluate": 2.1,
            "report": 0.3,
            "total": 144.0,
        },
        "files": {"report": "report.html", "summary": "summary.json", "samples": "samples/"},
    }


def without_shifted(summary: dict[str, Any]) -> dict[str, Any]:
    """The same run on user data with no shifted set: every shifted field is null."""
    s = copy.deepcopy(summary)
    for arm in s["arms"].values():
        arm["pass_at_k"]["shifted"] = None
        arm["pass_at_k_ci"]["shifted"] = None
    s["comparison_shifted"] = None
    s["data"]["test_shifted"] = None
    s["data"]["shifted_description"] = None
    return s


def minimal_summary() -> dict[str, Any]:
    """Only what a run that stopped early could write: most optional parts missing or null."""
    return {
        "kind": "lab",
        "task": "countdown",
        "model": None,
        "ks": [1, 4],
        "arms": {
            "base": {"pass_at_k": {"in_distribution": {"1": 0.3, "4": None}, "shifted": None}},
            "trained": None,
        },
        "verdict": None,
        "spurious": None,
        "health": None,
        "training": {"trained": {"reward/mean": [0.1, float("nan"), 0.3]}},
        "timings": {"total": None},
        "comparison": {"kind": "comparison"},  # incomplete: must not take the page down
    }
