"""One model's pass@k table (``rlvr eval``): pass@k, pass^k, cons@k, CoT-pass@k with intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlvr.errors import ConfigError
from rlvr.evaluate.passk import bootstrap_indices, cons_at_k, mean, pass_at_k_cached, pass_hat_k, percentile
from rlvr.evaluate.samples import ProblemOutcomes, SampleSet, as_problem_map

__all__ = ["SetSummary", "default_ks", "parse_ks", "per_problem", "summarize"]


def default_ks(max_n: int) -> list[int]:
    """Powers of two up to ``max_n``, plus ``max_n`` itself: 1, 2, 4, ..., n."""
    if max_n < 1:
        raise ConfigError("no problem has a usable sample")
    ks = [1]
    while ks[-1] * 2 <= max_n:
        ks.append(ks[-1] * 2)
    if ks[-1] != max_n:
        ks.append(max_n)
    return ks


def parse_ks(text: str | Sequence[int] | None) -> list[int] | None:
    """``"1,2,4"`` → ``[1, 2, 4]`` (sorted, unique); None stays None (choose from the data)."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = [t.strip() for t in text.split(",") if t.strip()]
        try:
            ks = [int(t) for t in parts]
        except ValueError:
            raise ConfigError(f"--k expects comma-separated integers like 1,2,4,8, got {text!r}") from None
    else:
        ks = [int(k) for k in text]
    if not ks:
        raise ConfigError("--k is empty; give values like 1,2,4,8")
    if min(ks) < 1:
        raise ConfigError(f"every k must be >= 1, got {min(ks)}")
    return sorted(set(ks))


def check_ks(problems: Mapping[str, ProblemOutcomes], ks: Sequence[int], label: str) -> None:
    """Raise naming the first problem with fewer usable samples than the largest k."""
    kmax = max(ks)
    for pid, p in problems.items():
        if p.n < kmax:
            extra = f" ({p.excluded} excluded: verifier error/skipped)" if p.excluded else ""
            raise ConfigError(
                f"{label}: problem {pid!r} has {p.n} usable sample(s){extra}, fewer than k={kmax}; "
                "lower --k or sample more"
            )


def per_problem(problems: Sequence[ProblemOutcomes], k: int, metric: str = "pass") -> list[float]:
    """Per-problem values of ``metric`` (``pass``, ``pass_hat``, ``cot_pass``) at k."""
    if metric == "pass":
        return [pass_at_k_cached(p.n, p.c, k) for p in problems]
    if metric == "pass_hat":
        return [pass_hat_k(p.n, p.c, k) for p in problems]
    if metric == "cot_pass":
        return [pass_at_k_cached(p.n, p.d, k) for p in problems]
    raise ConfigError(f"unknown metric {metric!r}")


@dataclass(frozen=True)
class SetSummary:
    """pass@k and friends for one sample set, each k with a bootstrap interval over problems."""

    name: str
    ks: tuple[int, ...]
    n_problems: int
    pass_at_k: dict[int, float]
    pass_at_k_ci: dict[int, tuple[float, float]]
    pass_hat_k: dict[int, float]
    cons_at_k: dict[int, float] | None = None
    cot_pass_at_k: dict[int, float] | None = None
    cot_pass_at_k_ci: dict[int, tuple[float, float]] | None = None
    cot_coverage: float | None = None
    """Share of samples that carry a reasoning verdict (CoT metrics count the others as wrong)."""
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (k keys become strings)."""

        def keyed(d: Mapping[int, Any] | None) -> dict[str, Any] | None:
            return None if d is None else {str(k): (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

        return {
            "name": self.name,
            "ks": list(self.ks),
            "n_problems": self.n_problems,
            "pass_at_k": keyed(self.pass_at_k),
            "pass_at_k_ci": keyed(self.pass_at_k_ci),
            "pass_hat_k": keyed(self.pass_hat_k),
            "cons_at_k": keyed(self.cons_at_k),
            "cot_pass_at_k": keyed(self.cot_pass_at_k),
            "cot_pass_at_k_ci": keyed(self.cot_pass_at_k_ci),
            "cot_coverage": self.cot_coverage,
            **self.info,
        }


def summarize(
    samples: SampleSet | Mapping[str, Any],
    ks: Sequence[int] | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    cons: bool = False,
    name: str | None = None,
) -> SetSummary:
    """pass@k (with intervals), pass^k, optional cons@k and, when samples carry reasoning
    verdicts, CoT-pass@k, for each k (default: 1, 2, 4, ... up to the fewest samples per problem).
    """
    probs = as_problem_map(samples)
    if not probs:
        raise ConfigError("no problems to evaluate")
    label = name or (samples.name if isinstance(samples, SampleSet) else "samples")
    ks_l = sorted(set(ks)) if ks else default_ks(min(p.n for p in probs.values()))
    check_ks(probs, ks_l, label)
    plist = list(probs.values())
    idx = bootstrap_indices(len(plist), n_boot, seed)
    alpha = (1 - confidence) / 2

    def with_ci(metric: str) -> tuple[dict[int, float], dict[int, tuple[float, float]]]:
        point: dict[int, float] = {}
        ci: dict[int, tuple[float, float]] = {}
        for k in ks_l:
            vals = per_problem(plist, k, metric)
            point[k] = mean(vals)
            ci[k] = _ci(vals, idx, alpha)
        return point, ci

    pk, pk_ci = with_ci("pass")
    phk = {k: mean(per_problem(plist, k, "pass_hat")) for k in ks_l}
    cons_d = None
    if cons:
        if any(not p.answers and p.n for p in plist):
            raise ConfigError("cons@k needs extracted answers: load the samples with answers=True")
        cons_d = {k: mean([cons_at_k(p.answers, p.correct, k, seed=seed) for p in plist]) for k in ks_l}
    cot = cot_ci = coverage = None
    total = sum(p.n for p in plist)
    with_r = sum(sum(r is not None for r in p.reasoning) for p in plist)
    if with_r:
        coverage = with_r / total
        cot, cot_ci = with_ci("cot_pass")
    info: dict[str, Any] = {}
    if isinstance(samples, SampleSet):
        info["set"] = samples.describe()
    return SetSummary(
        name=label,
        ks=tuple(ks_l),
        n_problems=len(plist),
        pass_at_k=pk,
        pass_at_k_ci=pk_ci,
        pass_hat_k=phk,
        cons_at_k=cons_d,
        cot_pass_at_k=cot,
        cot_pass_at_k_ci=cot_ci,
        cot_coverage=coverage,
        info=info,
    )


def _ci(values: Sequence[float], idx: list[list[int]], alpha: float) -> tuple[float, float]:
    get = values.__getitem__
    m = len(values)
    stats = sorted(sum(map(get, rows)) / m for rows in idx)
    return percentile(stats, alpha), percentile(stats, 1 - alpha)
