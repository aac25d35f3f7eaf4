"""Base vs trained: did RL build a better thinker (capability) or a faster guesser (compression)?

For each k, on the problems both sample sets share:

- ``pass@k`` of both models, with percentile bootstrap intervals over problems;
- ``capability_gain[k]`` = pass@k_trained − pass@k_base, with a *paired* bootstrap interval (the
  same resampled problems for both models, so shared difficulty cancels);
- ``compression_ratio[k]`` = (pass@1_trained − pass@1_base) / (pass@k_base − pass@1_base): the share
  of the base model's k-sample headroom the trained model reaches in one sample. Undefined (None,
  with a reason) when the denominator is ~0, e.g. at k = 1 or when the base gains nothing from k;
- ``crossover_k``: the smallest requested k where base pass@k ≥ trained pass@k, given the trained
  model is ahead at k = 1 (point estimates, as in Yue et al.); ``crossover_k_significant`` is the
  smallest k where the paired interval of the gain lies entirely below zero;
- ``transitions`` at K = the largest k: a problem is *solved by the base at K* when its pass@K
  estimate is ≥ ``solve_threshold`` (0.5: a random K-sample draw contains a correct answer at least
  half the time; at K = n this is "some sample was correct"), and *solved by the trained model at 1*
  when its pass@1 (= c/n) is ≥ ``solve_threshold`` (a majority of its samples are correct).
  self_distilled = base@K and trained@1; newly_capable = trained@1 only; lost = base@K only (the
  trained model does not solve at one sample what the base solved at K); never_solved = neither.
- ``verdict`` from pass@1 and pass@K (K = largest k): each change gets a direction (up / flat /
  down / inconclusive) from its paired interval and the equivalence margin, and the pair maps to a
  label through the verdict table (``rlvr.evaluate.verdict``); ``uninformative`` when the base's
  pass@K lies outside [0.05, 0.95]. ``flat`` needs the whole interval inside the margin: absence of
  a change is claimed only when it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlvr.errors import ConfigError
from rlvr.evaluate.intervals import gain_floor
from rlvr.evaluate.passk import bootstrap_indices, mean, pass_at_k, pass_at_k_cached, percentile
from rlvr.evaluate.samples import ProblemOutcomes, SampleSet, as_problem_map
from rlvr.evaluate.summary import check_ks, default_ks, per_problem
from rlvr.evaluate.verdict import (
    DEFAULT_MARGIN,
    VERDICT_MEANING,
    VERDICTS,
    direction,
    resolution_hint,
    verdict_label,
)

__all__ = ["INFORMATIVE_RANGE", "VERDICTS", "VERDICT_MEANING", "ComparisonResult", "compare", "informative"]

INFORMATIVE_RANGE = (0.05, 0.95)
"""Base pass@K outside this range is a floor or a ceiling: the comparison cannot move."""


def informative(base_pass_at_k: float | None, low: float = INFORMATIVE_RANGE[0], high: float = INFORMATIVE_RANGE[1]) -> bool:
    """Whether a base-vs-trained comparison can show a change: the base's pass@K (K = the largest k)
    lies in ``[low, high]``. Below it nothing is solved to lose or transfer (a floor); above it
    nothing is left to gain (a ceiling); either way the comparison is *uninformative*, never a finding.
    None (no such set) is not informative."""
    return base_pass_at_k is not None and low <= base_pass_at_k <= high

TRANSITION_KEYS = ("self_distilled", "newly_capable", "lost", "never_solved")

_RATIO_EPS = 1e-9


@dataclass(frozen=True)
class ComparisonResult:
    """Everything ``compare`` measured; ``to_dict()`` is the ``rlvr compare --json`` object."""

    ks: tuple[int, ...]
    """The k values evaluated (k = 1 always included)."""
    n_problems: int
    """Problems present in both sample sets (the comparison uses only these)."""
    pass_at_k_base: dict[int, float]
    """Base model's mean pass@k over the shared problems."""
    pass_at_k_trained: dict[int, float]
    """Trained model's mean pass@k over the shared problems."""
    pass_at_k_base_ci: dict[int, tuple[float, float]]
    """Bootstrap interval of the base pass@k."""
    pass_at_k_trained_ci: dict[int, tuple[float, float]]
    """Bootstrap interval of the trained pass@k."""
    capability_gain: dict[int, float]
    """pass@k_trained − pass@k_base."""
    capability_gain_ci: dict[int, tuple[float, float]]
    """Paired bootstrap interval of the gain; it decides significance."""
    compression_ratio: dict[int, float | None]
    """(pass@1_trained − pass@1_base) / (pass@k_base − pass@1_base); None when undefined."""
    compression_ratio_ci: dict[int, tuple[float, float] | None]
    """Paired bootstrap interval of the ratio (None when too few replicates define it)."""
    compression_ratio_reason: dict[int, str]
    """Why a ratio is None, per k."""
    crossover_k: int | None
    """Smallest k with base pass@k ≥ trained pass@k, given the trained model leads at k = 1."""
    crossover_reason: str
    """Why ``crossover_k`` is what it is."""
    crossover_k_significant: int | None
    """Smallest k where the gain's interval lies entirely below zero."""
    transitions: dict[str, Any]
    """Per-problem transition counts, matrix, definitions and (optionally) problem ids."""
    verdict: str
    """One of ``VERDICTS``."""
    verdict_reason: str
    """The pass@1 and pass@K changes (with intervals) behind the verdict."""
    significance: dict[str, Any]
    """How significance was judged (method, confidence, n_boot, seed) and each direction."""
    base: dict[str, Any] = field(default_factory=dict)
    """Description of the base sample set."""
    trained: dict[str, Any] = field(default_factory=dict)
    """Description of the trained sample set."""
    problems_only_in_base: int = 0
    """Base problems missing from the trained set (left out)."""
    problems_only_in_trained: int = 0
    """Trained problems missing from the base set (left out)."""
    cot: dict[str, Any] | None = None
    """CoT-pass@k of both models when both carry reasoning verdicts."""
    directions: dict[str, str] = field(default_factory=dict)
    """``pass_at_1`` and ``pass_at_K`` → up / flat / down / inconclusive (K = the largest k)."""
    margin: float = DEFAULT_MARGIN
    """Equivalence margin δ (fraction) behind ``flat``."""
    runs: list[dict[str, Any]] | None = None
    """Several trained runs: per run, its file, pass@k and gains over the base (None: one run)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; k keys become strings, intervals ``[low, high]`` lists."""

        def keyed(d: Mapping[int, Any]) -> dict[str, Any]:
            return {str(k): (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

        return {
            "kind": "comparison",
            "ks": list(self.ks),
            "n_problems": self.n_problems,
            "base": self.base,
            "trained": self.trained,
            "problems_only_in_base": self.problems_only_in_base,
            "problems_only_in_trained": self.problems_only_in_trained,
            "pass_at_k": {"base": keyed(self.pass_at_k_base), "trained": keyed(self.pass_at_k_trained)},
            "pass_at_k_ci": {"base": keyed(self.pass_at_k_base_ci), "trained": keyed(self.pass_at_k_trained_ci)},
            "capability_gain": keyed(self.capability_gain),
            "capability_gain_ci": keyed(self.capability_gain_ci),
            "compression_ratio": keyed(self.compression_ratio),
            "compression_ratio_ci": keyed(self.compression_ratio_ci),
            "compression_ratio_reason": keyed(self.compression_ratio_reason),
            "crossover_k": self.crossover_k,
            "crossover_reason": self.crossover_reason,
            "crossover_k_significant": self.crossover_k_significant,
            "transitions": self.transitions,
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "verdict_meaning": VERDICT_MEANING[self.verdict],
            "directions": dict(self.directions),
            "margin": self.margin,
            "significance": self.significance,
            "cot": self.cot,
            **({"runs": self.runs} if self.runs is not None else {}),
        }


def _pct(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def compare(
    base: SampleSet | Mapping[str, Any],
    trained: SampleSet | Mapping[str, Any],
    ks: Sequence[int] | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    solve_threshold: float = 0.5,
    min_effect: float = 0.0,
    margin: float = DEFAULT_MARGIN,
    list_problems: bool = True,
) -> ComparisonResult:
    """Compare a base and a trained model's samples on their shared problems (see module doc).

    ``base``/``trained``: ``SampleSet`` from ``load_samples``, or mappings problem id → sequence of
    correctness flags. ``ks`` default: 1, 2, 4, ... up to the fewest samples any problem has.
    ``n_boot``/``seed``/``confidence``: the paired percentile bootstrap over problems.
    ``min_effect``: smallest change (fraction, 0.02 = 2 points) that counts even when significant.
    ``margin``: equivalence margin δ: a change is ``flat`` only when its whole interval is inside ±δ.
    """
    if not 0 < solve_threshold <= 1:
        raise ConfigError(f"solve_threshold must be in (0, 1], got {solve_threshold}")
    if min_effect < 0:
        raise ConfigError(f"min_effect must be >= 0, got {min_effect}")
    bmap, tmap = as_problem_map(base), as_problem_map(trained)
    common = [pid for pid in bmap if pid in tmap]
    if not common:
        raise ConfigError("the two sample sets share no problem_id; compare samples of the same problems")
    bl = [bmap[p] for p in common]
    tl = [tmap[p] for p in common]
    b_common = {p: bmap[p] for p in common}
    t_common = {p: tmap[p] for p in common}
    ks_l = sorted(set(ks) | {1}) if ks else default_ks(min(min(p.n for p in bl), min(p.n for p in tl)))
    check_ks(b_common, ks_l, _label(base, "base"))
    check_ks(t_common, ks_l, _label(trained, "trained"))
    P = len(common)
    K = ks_l[-1]
    vb = {k: per_problem(bl, k) for k in ks_l}
    vt = {k: per_problem(tl, k) for k in ks_l}
    pb = {k: mean(vb[k]) for k in ks_l}
    pt = {k: mean(vt[k]) for k in ks_l}

    # Paired bootstrap: every replicate resamples problem indices once and scores both models on them.
    idx = bootstrap_indices(P, n_boot, seed)
    rep_b: dict[int, list[float]] = {k: [] for k in ks_l}
    rep_t: dict[int, list[float]] = {k: [] for k in ks_l}
    for rows in idx:
        for k in ks_l:
            rep_b[k].append(sum(map(vb[k].__getitem__, rows)) / P)
            rep_t[k].append(sum(map(vt[k].__getitem__, rows)) / P)
    est = estimates(ks_l, pb, pt, rep_b, rep_t, confidence=confidence, min_effect=min_effect, margin=margin,
                    n_problems=P)
    transitions = transition_counts(common, bl, tl, K, solve_threshold, list_problems)

    cot = None
    if any(p.has_reasoning for p in bl) and any(p.has_reasoning for p in tl):
        cot = {
            "base": {str(k): mean([pass_at_k(p.n, p.d, k) for p in bl]) for k in ks_l},
            "trained": {str(k): mean([pass_at_k(p.n, p.d, k) for p in tl]) for k in ks_l},
        }
    return ComparisonResult(
        n_problems=P,
        transitions=transitions,
        **est.pop("fields"),
        significance={
            "method": "paired percentile bootstrap over problems",
            "confidence": confidence,
            "n_boot": n_boot,
            "seed": seed,
            "min_effect": min_effect,
            "margin": margin,
            **est["directions"],
        },
        directions=est["directions"],
        margin=margin,
        base=_describe(base, "base"),
        trained=_describe(trained, "trained"),
        problems_only_in_base=len(bmap) - P,
        problems_only_in_trained=len(tmap) - P,
        cot=cot,
    )


def estimates(
    ks: Sequence[int],
    pb: Mapping[int, float],
    pt: Mapping[int, float],
    rep_b: Mapping[int, Sequence[float]],
    rep_t: Mapping[int, Sequence[float]],
    *,
    confidence: float = 0.95,
    min_effect: float = 0.0,
    margin: float = DEFAULT_MARGIN,
    n_problems: int = 0,
    n_runs: int = 1,
    intervals: Mapping[str, Mapping[int, tuple[float, float]]] | None = None,
    spread: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything a comparison derives from point estimates and paired bootstrap replicates.

    ``pb``/``pt``: base and trained pass@k per k; ``rep_b``/``rep_t``: per k, the replicates of
    both, paired (replicate i of each drew the same problems). Used by ``compare`` (problems
    resampled) and by the pooled comparison over runs. ``intervals`` (``base``/``trained``/``gain``
    → k → interval) replaces the percentile intervals of the replicates where given (the pooled
    comparison's seed-level t-intervals); ``spread[k]`` (``var_runs``, ``var_problems``,
    ``quantile``) lets an inconclusive reason estimate how many more runs or problems would resolve
    it. Returns ``{"fields": ComparisonResult keyword arguments, "directions": pass@1 / pass@K
    directions}``.
    """
    ks_l = list(ks)
    K = ks_l[-1]
    n_reps = len(rep_b[ks_l[0]])
    alpha = (1 - confidence) / 2

    def ci(xs: list[float]) -> tuple[float, float]:
        s = sorted(xs)
        return percentile(s, alpha), percentile(s, 1 - alpha)

    given = intervals or {}
    gain = {k: pt[k] - pb[k] for k in ks_l}
    gain_ci = {k: ci([t - b for t, b in zip(rep_t[k], rep_b[k])]) for k in ks_l}
    gain_ci.update(given.get("gain", {}))
    # A gain's interval is never narrower than a pseudo-count floor (``gain_floor``): agreement on a
    # handful of problems shows no equivalence.
    floor = gain_floor(n_problems, n_runs, confidence)
    gain_ci = {k: (min(lo, gain[k] - floor), max(hi, gain[k] + floor)) for k, (lo, hi) in gain_ci.items()}
    base_ci = {k: ci(list(rep_b[k])) for k in ks_l}
    base_ci.update(given.get("base", {}))
    trained_ci = {k: ci(list(rep_t[k])) for k in ks_l}
    trained_ci.update(given.get("trained", {}))

    ratio: dict[int, float | None] = {}
    ratio_ci: dict[int, tuple[float, float] | None] = {}
    ratio_reason: dict[int, str] = {}
    for k in ks_l:
        denom = pb[k] - pb[1]
        if abs(denom) <= _RATIO_EPS:
            ratio[k] = None
            ratio_ci[k] = None
            ratio_reason[k] = (
                "undefined at k=1 (pass@k_base − pass@1_base is 0 by definition)"
                if k == 1
                else f"undefined: base pass@{k} equals base pass@1, so there is no headroom to compress"
            )
            continue
        ratio[k] = (pt[1] - pb[1]) / denom
        reps = [
            (t1 - b1) / (bk - b1)
            for t1, b1, bk in zip(rep_t[1], rep_b[1], rep_b[k])
            if abs(bk - b1) > _RATIO_EPS
        ]
        # Replicates without headroom have no ratio; an interval from a minority of them would mislead.
        ratio_ci[k] = ci(reps) if len(reps) >= 0.9 * n_reps else None

    crossover, crossover_reason = None, ""
    if pt[1] > pb[1]:
        crossover = next((k for k in ks_l if pb[k] >= pt[k]), None)
        crossover_reason = (
            f"base pass@{crossover} ≥ trained pass@{crossover}"
            if crossover is not None
            else f"the trained model stays ahead up to k={K}"
        )
    else:
        crossover_reason = "the trained model is not ahead at k=1, so there is nothing to overtake"
    crossover_sig = next((k for k in ks_l if gain_ci[k][1] < 0), None) if pt[1] > pb[1] else None

    d1 = direction(gain[1], gain_ci[1], margin, min_effect)
    dK = direction(gain[K], gain_ci[K], margin, min_effect) if K != 1 else "inconclusive"
    verdict = verdict_label(d1, dK, informative=informative(pb[K]))
    why = _reason(verdict, d1, dK, gain, gain_ci, K, margin=margin, base_k=pb[K], n_problems=n_problems,
                  n_runs=n_runs, spread=spread or {})
    return {
        "fields": {
            "ks": tuple(ks_l),
            "pass_at_k_base": dict(pb),
            "pass_at_k_trained": dict(pt),
            "pass_at_k_base_ci": base_ci,
            "pass_at_k_trained_ci": trained_ci,
            "capability_gain": gain,
            "capability_gain_ci": gain_ci,
            "compression_ratio": ratio,
            "compression_ratio_ci": ratio_ci,
            "compression_ratio_reason": ratio_reason,
            "crossover_k": crossover,
            "crossover_reason": crossover_reason,
            "crossover_k_significant": crossover_sig,
            "verdict": verdict,
            "verdict_reason": why,
        },
        "directions": {"pass_at_1": d1, "pass_at_K": dK},
    }


def _reason(
    verdict: str,
    d1: str,
    dK: str,
    gain: Mapping[int, float],
    gain_ci: Mapping[int, tuple[float, float]],
    K: int,
    *,
    margin: float,
    base_k: float,
    n_problems: int,
    n_runs: int,
    spread: Mapping[int, Mapping[str, Any]],
) -> str:
    """The intervals behind the verdict, their directions, how many runs they rest on, and for an
    inconclusive or unresolved call what would resolve it (``resolution_hint``)."""

    def fmt(k: int, d: str) -> str:
        lo, hi = gain_ci[k]
        return f"pass@{k} {_pct(gain[k])} [{100 * lo:+.1f}, {100 * hi:+.1f}] ({d})"

    parts = [fmt(1, d1)]
    parts.append(fmt(K, dK) if K != 1 else "pass@K unknown: only k=1 requested (request larger k to judge coverage)")
    parts.append(f"margin ±{100 * margin:.1f} pts")
    if n_runs > 1:
        parts.append(f"intervals include the run-to-run spread of {n_runs} runs ({n_runs - 1} df at the run level)")
    elif n_runs == 1:
        parts.append("one run: the intervals hold problem sampling only, not run-to-run spread (train and sample "
                     "more runs from the same base to measure it; more samples per problem shrink only the "
                     "within-problem part)")
    if verdict == "uninformative":
        where = "a floor" if base_k < 0.5 else "a ceiling"
        parts.append(f"base pass@{K} is {100 * base_k:.1f}% ({where}): outside 5-95%, no change could show")
        return "; ".join(parts)
    if verdict in ("inconclusive", "compression_ceiling_unresolved"):
        for k, d in [(1, d1)] + ([(K, dK)] if K != 1 else []):
            if d == "inconclusive":
                parts.append("unresolved " + resolution_hint(
                    f"pass@{k}", gain[k], gain_ci[k], margin=margin, n_problems=max(n_problems, 1),
                    n_runs=max(n_runs, 1), **dict(spread.get(k, {})),
                ))
    return "; ".join(parts)


def transition_counts(
    ids: list[str],
    bl: list[ProblemOutcomes],
    tl: list[ProblemOutcomes],
    K: int,
    thr: float,
    list_problems: bool,
) -> dict[str, Any]:
    cats: dict[str, list[str]] = {key: [] for key in TRANSITION_KEYS}
    coverage = {"both": 0, "base_only": 0, "trained_only": 0, "neither": 0}
    for pid, b, t in zip(ids, bl, tl):
        base_k = pass_at_k_cached(b.n, b.c, K) >= thr
        trained_1 = t.c / t.n >= thr
        key = (
            ("self_distilled" if trained_1 else "lost")
            if base_k
            else ("newly_capable" if trained_1 else "never_solved")
        )
        cats[key].append(pid)
        trained_k = pass_at_k_cached(t.n, t.c, K) >= thr
        ckey = ("both" if trained_k else "base_only") if base_k else ("trained_only" if trained_k else "neither")
        coverage[ckey] += 1
    counts = {key: len(v) for key, v in cats.items()}
    out: dict[str, Any] = {
        "k": K,
        "solve_threshold": thr,
        "counts": counts,
        "matrix": {
            "rows": [f"base solves at k={K}", f"base does not solve at k={K}"],
            "columns": ["trained solves at k=1", "trained does not solve at k=1"],
            "values": [
                [counts["self_distilled"], counts["lost"]],
                [counts["newly_capable"], counts["never_solved"]],
            ],
        },
        "definition": {
            "base_solves": f"the base model's pass@{K} estimate for the problem is >= {thr}",
            "trained_solves": f"the trained model's pass@1 (share of correct samples) is >= {thr}",
            "self_distilled": "base solves at k and trained solves at 1 (pass@k compressed into pass@1)",
            "newly_capable": "only the trained model solves it (capability gain)",
            "lost": "base solves at k but trained does not solve at 1",
            "never_solved": "neither",
        },
        "coverage_at_k": coverage,
    }
    if list_problems:
        out["problems"] = cats
    return out


def _label(obj: Any, default: str) -> str:
    return obj.name if isinstance(obj, SampleSet) else default


def _describe(obj: Any, default: str) -> dict[str, Any]:
    if isinstance(obj, SampleSet):
        return obj.describe()
    return {"name": default}
