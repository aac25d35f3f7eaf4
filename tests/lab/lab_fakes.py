"""Simulated lab seeds with a planted truth, without any training: each arm's per-problem success
probabilities are given, every seed draws its own problems' samples (binomial) plus a seed-level
shift (run-to-run spread), and the result is the ``SeedResult`` ``rlvr.lab.arms.assemble_seed``
returns, so ``rlvr.lab.summary.lab_summary`` reads it as it reads a real study."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rlvr.lab.results import SeedResult, TrainingRun

Probs = Callable[[np.random.Generator], Mapping[str, Mapping[str, np.ndarray]]]
"""rng -> arm -> test set -> per-problem success probability (one seed's truth)."""


def clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, 0.0, 1.0)


def fake_seed(
    seed: int, probs: Probs, *, n: int = 8, kl: Mapping[str, float] | None = None,
    zero_std: Mapping[str, float] | None = None, entropy: Mapping[str, tuple[float, float]] | None = None,
) -> SeedResult:
    """One seed: samples drawn from ``probs(rng)``; per RL arm its KL, zero-std share and entropy
    (start, end) curves as constant-ish readings."""
    rng = np.random.default_rng(seed)
    truth = probs(rng)
    outcomes: dict[str, Any] = {}
    for arm, sets in truth.items():
        outcomes[arm] = {}
        for name, p in sets.items():
            draws = rng.random((len(p), n)) < clip(np.asarray(p))[:, None]
            outcomes[arm][name] = {f"{name[:2]}{i}": [bool(x) for x in row] for i, row in enumerate(draws)}
    runs = {}
    for arm in outcomes:
        if arm == "base":
            continue
        e0, e1 = (entropy or {}).get(arm, (0.5, 0.45))
        k = (kl or {}).get(arm, 0.02)
        z = (zero_std or {}).get(arm, 0.3)
        runs[arm] = TrainingRun(
            summary={"health": None},
            curves={"policy/entropy": list(np.linspace(e0, e1, 20)), "policy/kl": [k] * 20,
                    "groups/frac_zero_std": [z] * 20},
        )
    return SeedResult(seed=seed, outcomes=outcomes, runs=runs, curation={}, curated=100, hit_rate=0.4,
                      verifier="math", data={"shifted_description": "held out"}, timings={})


def arms(base: np.ndarray, trained: np.ndarray, *, random: np.ndarray | None = None,
         fmt: np.ndarray | None = None, shifted: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """The arm -> set -> probabilities mapping of every arm (controls default to the base: they
    learned nothing)."""
    sb, st = shifted if shifted is not None else (base, trained)
    out = {
        "base": {"in_distribution": base, "shifted": sb},
        "trained": {"in_distribution": trained, "shifted": st},
        "random_control": {"in_distribution": base if random is None else random, "shifted": sb},
    }
    out["format_control"] = {"in_distribution": base if fmt is None else fmt, "shifted": sb}
    return out
