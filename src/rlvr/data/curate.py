"""Curation by measured pass rate: keep the prompts a model solves sometimes, not always or never.

``curate`` samples k completions per prompt from a (base) policy, verifies them, and keeps the
prompts whose pass rate (share of valid completions judged ``correct``) lies inside a band,
0.3–0.7 by default: those are the prompts whose groups carry a learning signal in GRPO. Prompts
whose every completion was excluded (verifier ``error``/``skipped``) are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlvr.engine import EngineConfig
from rlvr.errors import ConfigError
from rlvr.types import UNJUDGED
from rlvr.verifiers.base import Verifier

__all__ = ["CurateResult", "curate", "pass_rate_histogram"]


@dataclass
class CurateResult:
    """What ``curate`` found."""

    kept: list[dict[str, Any]]
    """Prompt records inside the band, each with ``pass_rate`` added."""
    pass_rates: list[float | None]
    """Pass rate of every input prompt (None: no valid completion)."""
    band: tuple[float, float]
    k: int
    histogram: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        rates = [r for r in self.pass_rates if r is not None]
        n = len(self.pass_rates)
        return {
            "prompts": n,
            "kept": len(self.kept),
            "kept_frac": len(self.kept) / n if n else 0.0,
            "band": list(self.band),
            "k": self.k,
            "too_easy": sum(r > self.band[1] for r in rates),
            "too_hard": sum(r < self.band[0] for r in rates),
            "no_valid_samples": n - len(rates),
            "mean_pass_rate": sum(rates) / len(rates) if rates else None,
            "histogram": self.histogram,
        }


def pass_rate_histogram(rates: Sequence[float | None], k: int, band: tuple[float, float]) -> list[dict[str, Any]]:
    """One bin per possible pass rate j/k (j = 0..k) with counts and whether the band keeps it."""
    bins = []
    valid = [r for r in rates if r is not None]
    for j in range(k + 1):
        value = j / k
        # Rates of prompts with some excluded samples are not multiples of 1/k: nearest bin.
        count = sum(1 for r in valid if round(r * k) == j)
        bins.append({"pass_rate": round(value, 6), "count": count, "kept": band[0] <= value <= band[1]})
    return bins


def curate(
    policy: Any,
    records: Sequence[Mapping[str, Any]],
    verifier: Verifier,
    *,
    k: int = 8,
    band: tuple[float, float] = (0.3, 0.7),
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    batch_prompts: int = 16,
    seed: int = 0,
    engine: EngineConfig | None = None,
    prompt_field: str = "prompt",
    exclude: Sequence[str] = UNJUDGED,
    on_batch: Callable[[int], None] | None = None,
    environment: Callable[[], Any] | None = None,
) -> CurateResult:
    """Measure each prompt's pass rate over ``k`` samples and keep those inside ``band`` (inclusive).
    With ``environment`` (a tool environment factory) the samples are multi-turn episodes judged by
    the environment (``verifier`` is then unused)."""
    lo, hi = band
    if not 0.0 <= lo <= hi <= 1.0:
        raise ConfigError(f"band must satisfy 0 <= low <= high <= 1, got {band}")
    if k < 1:
        raise ConfigError("k must be >= 1")
    from rlvr.rollout import collect, collect_episodes

    engine = engine or EngineConfig(workers=0)
    rates: list[float | None] = []
    kept: list[dict[str, Any]] = []
    for start in range(0, len(records), batch_prompts):
        ids = list(range(start, min(len(records), start + batch_prompts)))
        if environment is None:
            b = collect(
                policy, records, ids, verifier=verifier, engine=engine, group_size=k, temperature=temperature,
                top_p=top_p, max_new_tokens=max_new_tokens, seed=seed + start, step=0, exclude=exclude,
                prompt_field=prompt_field,
            )
        else:
            b = collect_episodes(
                policy, records, ids, env_factory=environment, group_size=k, temperature=temperature, top_p=top_p,
                max_new_tokens=max_new_tokens, seed=seed + start, step=0, exclude=exclude, prompt_field=prompt_field,
            )
        for row, pid in enumerate(ids):
            statuses = b.statuses[row * k : (row + 1) * k]
            valid = [s for s in statuses if s not in exclude]
            rate = sum(s == "correct" for s in valid) / len(valid) if valid else None
            rates.append(rate)
            if rate is not None and lo <= rate <= hi:
                kept.append({**records[pid], "pass_rate": rate})
        if on_batch is not None:
            on_batch(len(ids))
    return CurateResult(kept=kept, pass_rates=rates, band=(lo, hi), k=k, histogram=pass_rate_histogram(rates, k, band))
