"""Pure estimators: unbiased pass@k, pass^k, majority-vote cons@k, means and bootstrap intervals.

Conventions (papers.md §1, §7):

- ``pass_at_k(n, c, k)``: probability that at least one of k samples drawn without replacement from
  the n generated is correct, 1 − C(n−c, k)/C(n, k), computed in the stable product form
  1 − Π_{i=n−c+1}^{n} (1 − k/i) (Chen et al. 2021). It is 1 when n − c < k and c/n at k = 1.
- ``pass_hat_k(n, c, k)`` (pass^k): probability that all k drawn samples are correct, C(c, k)/C(n, k).
- CoT-pass@k is ``pass_at_k(n, d, k)`` with d the samples whose answer *and* reasoning are correct.
- ``cons_at_k``: expected accuracy of a majority vote over k samples drawn without replacement
  (see its docstring for ties and abstentions).

Problem-level values are averaged with equal weight per problem; intervals are percentile
bootstrap intervals that resample *problems* (the unit that varies between benchmarks).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from rlvr.errors import ConfigError

__all__ = [
    "bootstrap_ci",
    "bootstrap_indices",
    "cons_at_k",
    "mean",
    "pass_at_k",
    "pass_at_k_cached",
    "pass_at_k_table",
    "pass_hat_k",
    "percentile",
]


def _check(n: int, c: int, k: int) -> None:
    for name, v in (("n", n), ("c", c), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{name} must be an integer, got {v!r}")
    if n < 1:
        raise ConfigError(f"n must be >= 1 sample, got {n}")
    if not 0 <= c <= n:
        raise ConfigError(f"c must be between 0 and n={n}, got {c}")
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if k > n:
        raise ConfigError(f"k={k} is larger than the n={n} samples drawn; sample more or lower k")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct out of ``n`` samples (k ≤ n)."""
    _check(n, c, k)
    if n - c < k:
        return 1.0
    # 1 − Π_{i=n−c+1}^{n} (1 − k/i): every factor lies in (0, 1], so no huge binomials, no overflow.
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


@functools.lru_cache(maxsize=65536)
def pass_at_k_cached(n: int, c: int, k: int) -> float:
    """``pass_at_k`` memoised for the few (n, c, k) triples a benchmark repeats over its problems
    (pooled comparisons score every problem of every run at every k). Same checks, same value."""
    return pass_at_k(int(n), int(c), int(k))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: probability that all k of k samples drawn without replacement are correct."""
    _check(n, c, k)
    if c < k:
        return 0.0
    prod = 1.0
    for j in range(k):  # C(c,k)/C(n,k) = Π_{j<k} (c−j)/(n−j)
        prod *= (c - j) / (n - j)
    return prod


def cons_at_k(
    answers: Sequence[Hashable | None],
    correct: Sequence[float | bool],
    k: int,
    *,
    exact_limit: int = 2000,
    draws: int = 1000,
    seed: int = 0,
) -> float:
    """Expected majority-vote accuracy over k samples drawn without replacement from n.

    ``answers[i]`` is sample i's extracted final answer (``None``: it gave none and abstains);
    ``correct[i]`` its correctness (bool or score in [0, 1]). Votes go to identical answers; the
    winning answer scores the mean correctness of the samples that gave it; ties are split evenly
    (the expectation under a uniformly random tie-break); a subset where everyone abstains scores 0.

    The expectation is exact (every k-subset enumerated) when C(n, k) ≤ ``exact_limit``, else a
    seeded Monte Carlo average over ``draws`` uniformly random k-subsets. Distinct strings that
    mean the same answer ("1/2", "0.5") split their votes: normalise answers first if that matters.
    """
    n = len(answers)
    if len(correct) != n:
        raise ConfigError(f"answers ({n}) and correct ({len(correct)}) must have the same length")
    _check(n, 0, k)
    groups: dict[Hashable, list[float]] = {}
    for a, ok in zip(answers, correct):
        if a is not None:
            groups.setdefault(a, []).append(float(ok))
    if not groups:
        return 0.0
    if len(groups) == 1 and None not in answers:
        vals = next(iter(groups.values()))
        return sum(vals) / len(vals)
    # Integer group ids (−1: abstain) and each group's score keep the inner loop cheap.
    index = {a: g for g, a in enumerate(groups)}
    score = [sum(v) / len(v) for v in groups.values()]
    gid = [-1 if a is None else index[a] for a in answers]
    n_groups = len(score)

    def vote(subset: Sequence[int]) -> float:
        counts = [0] * n_groups
        for i in subset:
            g = gid[i]
            if g >= 0:
                counts[g] += 1
        top = max(counts)
        if top == 0:
            return 0.0
        winners = [score[g] for g in range(n_groups) if counts[g] == top]
        return sum(winners) / len(winners)

    total = math.comb(n, k)
    if total <= exact_limit:
        return sum(vote(s) for s in itertools.combinations(range(n), k)) / total
    rng = random.Random(seed)
    population = range(n)
    return sum(vote(rng.sample(population, k)) for _ in range(draws)) / draws


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; raises on an empty sequence (an average over no problems is meaningless)."""
    if not values:
        raise ConfigError("cannot average over zero problems")
    return math.fsum(values) / len(values)


def pass_at_k_table(samples_by_problem: Mapping[Any, Any], ks: Sequence[int]) -> dict[int, float]:
    """Mean pass@k over problems for each k.

    ``samples_by_problem`` maps a problem id to its samples' correctness: a sequence of bools (or
    0/1 rewards), an ``(n, c)`` pair given as ``{"n": .., "c": ..}``, or any object with ``n`` and
    ``c`` attributes (``ProblemOutcomes``). A problem with fewer than k samples raises.
    """
    counts = [_counts(pid, v) for pid, v in samples_by_problem.items()]
    if not counts:
        raise ConfigError("no problems to score")
    out: dict[int, float] = {}
    for k in ks:
        vals = []
        for pid, n, c in counts:
            if k > n:
                raise ConfigError(f"problem {pid!r} has {n} sample(s), fewer than k={k}; lower k or sample more")
            vals.append(pass_at_k(n, c, k))
        out[int(k)] = mean(vals)
    return out


def _counts(pid: Any, v: Any) -> tuple[Any, int, int]:
    if hasattr(v, "n") and hasattr(v, "c"):
        return pid, int(v.n), int(v.c)
    if isinstance(v, Mapping):
        return pid, int(v["n"]), int(v["c"])
    flags = [bool(x) if isinstance(x, bool) else float(x) >= 1.0 for x in v]
    return pid, len(flags), sum(flags)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 1]) of an already sorted sequence (numpy's default)."""
    if not sorted_values:
        raise ConfigError("percentile of an empty sequence")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac


def bootstrap_indices(n_items: int, n_boot: int, seed: int) -> list[list[int]]:
    """``n_boot`` resamples (with replacement) of ``range(n_items)``, reproducible from ``seed``.

    Share one list between several statistics to get a *paired* bootstrap.
    """
    if n_items < 1:
        raise ConfigError("bootstrap needs at least one problem")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    rng = random.Random(seed)
    population = range(n_items)
    return [rng.choices(population, k=n_items) for _ in range(n_boot)]


def bootstrap_ci(
    values: Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    statistic: Callable[[Sequence[float]], float] = mean,
    indices: list[list[int]] | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (default: the mean) over per-problem ``values``."""
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    idx = indices if indices is not None else bootstrap_indices(len(values), n_boot, seed)
    get = values.__getitem__
    stats = sorted(statistic(list(map(get, rows))) for rows in idx)
    alpha = (1 - confidence) / 2
    return percentile(stats, alpha), percentile(stats, 1 - alpha)
