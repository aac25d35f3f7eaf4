"""The audit's result: per-case outcomes and the rates computed from them.

Definitions (``pass_threshold`` defaults to 0.5):

- a case **passed** when its verdict's score is at least ``pass_threshold`` (the reward a
  trainer would hand out; partial credit above the threshold counts as passing);
- a known-bad case is **caught** when it did not pass *and* the verifier judged it (status
  other than ``error``/``skipped``: a crashed check catches nothing);
- **coverage** = caught / known-bad; **false-positive rate** = known-bad that passed / known-bad;
  the rest of the known-bad cases are **not judged** (error or skipped);
- **false-negative rate** = known-good that did not pass (for any reason, errors included) / known-good;
- **deterministic**: the same (status, score) in every repeated in-process run and in the
  cross-process (engine) run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rlvr.report.format import share
from rlvr.types import UNJUDGED

__all__ = ["AuditReport", "CaseResult", "percentile"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in [0, 100]) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class CaseResult:
    """One case's verdict and what it means for the audit."""

    test: str
    source: str
    should_pass: bool
    status: str
    score: float
    reason: str
    passed: bool
    """Score reached the pass threshold."""
    latency_ms: float | None
    """Median in-process latency of this case, milliseconds (None if it only ran in the engine)."""
    deterministic: bool
    """Same (status, score) across every run of this case."""
    mutation: str | None = None
    runs: tuple[str, ...] = ()
    """Each run's ``status:score``, in order (in-process repeats, then the engine run)."""

    @property
    def outcome(self) -> str:
        """``ok`` (good and passed), ``caught``, ``false_positive``, ``false_negative`` or ``not_judged``."""
        if self.should_pass:
            return "ok" if self.passed else "false_negative"
        if self.passed:
            return "false_positive"
        return "not_judged" if self.status in UNJUDGED else "caught"

    @property
    def as_expected(self) -> bool:
        return self.outcome in ("ok", "caught")

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "source": self.source,
            "should_pass": self.should_pass,
            "mutation": self.mutation,
            "status": self.status,
            "score": self.score,
            "passed": self.passed,
            "outcome": self.outcome,
            "reason": self.reason,
            "latency_ms": self.latency_ms,
            "deterministic": self.deterministic,
            "runs": list(self.runs),
        }


@dataclass(frozen=True)
class AuditReport:
    """What ``rlvr audit`` prints and ``rlvr.audit.audit`` returns."""

    verifier: str
    kind: str | None
    pass_threshold: float
    cases: tuple[CaseResult, ...]
    repeat: int
    """In-process runs per case."""
    cross_process: bool | None
    """Whether the engine's worker-process run agreed with the in-process runs (None: not run)."""
    latencies_ms: tuple[float, ...] = field(default=(), repr=False)
    """Warm in-process latencies of every call, milliseconds."""
    notes: tuple[str, ...] = ()
    """Things the reader should know (no built-in suite for this kind, skipped checks, ...)."""
    seconds: float = 0.0

    # -- counts and rates ------------------------------------------------------------------------
    def _count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    @property
    def n_bad(self) -> int:
        return sum(1 for c in self.cases if not c.should_pass)

    @property
    def n_good(self) -> int:
        return sum(1 for c in self.cases if c.should_pass)

    @property
    def coverage(self) -> float | None:
        """Share of known-bad cases caught; None without known-bad cases."""
        return self._count("caught") / self.n_bad if self.n_bad else None

    @property
    def false_positive_rate(self) -> float | None:
        return self._count("false_positive") / self.n_bad if self.n_bad else None

    @property
    def false_negative_rate(self) -> float | None:
        return self._count("false_negative") / self.n_good if self.n_good else None

    @property
    def not_judged_rate(self) -> float | None:
        return self._count("not_judged") / self.n_bad if self.n_bad else None

    @property
    def mean_bad_reward(self) -> float | None:
        """Mean score the known-bad outputs earned (partial credit leaks show here)."""
        bad = [c.score for c in self.cases if not c.should_pass]
        return sum(bad) / len(bad) if bad else None

    @property
    def deterministic(self) -> bool:
        return all(c.deterministic for c in self.cases) and self.cross_process is not False

    @property
    def latency(self) -> dict[str, float | None]:
        return {
            "p50_ms": percentile(self.latencies_ms, 50),
            "p99_ms": percentile(self.latencies_ms, 99),
            "max_ms": max(self.latencies_ms) if self.latencies_ms else None,
        }

    def meets(self, min_coverage: float) -> bool:
        """Coverage reached ``min_coverage`` (False when there is nothing to cover)."""
        return self.coverage is not None and self.coverage >= min_coverage - 1e-12

    def misjudged(self) -> list[CaseResult]:
        """Cases the verifier got wrong: false positives, false negatives and unjudged bad cases."""
        return [c for c in self.cases if not c.as_expected]

    def to_dict(self) -> dict[str, Any]:
        outcomes = ("caught", "false_positive", "not_judged", "ok", "false_negative")
        sources: dict[str, int] = {}
        for c in self.cases:
            key = "suite" if c.source.startswith("suite:") else "mutant" if c.mutation else "user"
            sources[key] = sources.get(key, 0) + 1
        return {
            "verifier": self.verifier,
            "kind": self.kind,
            "pass_threshold": self.pass_threshold,
            "n_cases": len(self.cases),
            "n_bad": self.n_bad,
            "n_good": self.n_good,
            "counts": {o: self._count(o) for o in outcomes},
            "sources": sources,
            "coverage": self.coverage,
            "false_positive_rate": self.false_positive_rate,
            "false_negative_rate": self.false_negative_rate,
            "not_judged_rate": self.not_judged_rate,
            "mean_bad_reward": self.mean_bad_reward,
            "latency": self.latency,
            "determinism": {
                "deterministic": self.deterministic,
                "repeat": self.repeat,
                "cross_process": self.cross_process,
                "nondeterministic_cases": [c.test for c in self.cases if not c.deterministic],
            },
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "cases": [c.to_dict() for c in self.cases],
        }


def render(report: AuditReport, console: Any, *, show: str = "all") -> None:
    """Print the report with rich: a per-case table (all cases or only misjudged ones), then a summary."""
    from rich.markup import escape
    from rich.table import Table

    rows = report.cases if show == "all" else tuple(report.misjudged())
    if rows:
        table = Table(title=f"audit of {report.verifier}" + (f" (kind {report.kind})" if report.kind else ""))
        table.add_column("case", overflow="fold", max_width=36)
        table.add_column("expect", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("outcome", no_wrap=True)
        table.add_column("ms", justify="right")
        table.add_column("reason", overflow="fold")
        style = {"ok": "green", "caught": "green", "false_positive": "bold red", "false_negative": "red", "not_judged": "yellow"}
        for c in rows:
            table.add_row(
                escape(c.test) + ("" if c.deterministic else " (nondeterministic)"),
                "pass" if c.should_pass else "fail",
                c.status,
                f"{c.score:.2f}",
                f"[{style[c.outcome]}]{c.outcome}[/]",
                "-" if c.latency_ms is None else f"{c.latency_ms:.1f}",
                escape(c.reason[:160]),
                end_section=False,
            )
        console.print(table)
    elif show != "all":
        console.print("every case judged as expected")
    d = report.to_dict()

    def pct(x: float | None) -> str:
        return share(x, missing="n/a")

    lat = d["latency"]
    det = d["determinism"]
    cross = {True: "agrees", False: "DIFFERS", None: "not checked"}[det["cross_process"]]
    console.print(
        f"coverage {pct(d['coverage'])} of {d['n_bad']} known-bad "
        f"(false positives {pct(d['false_positive_rate'])}, not judged {pct(d['not_judged_rate'])}); "
        f"false negatives {pct(d['false_negative_rate'])} of {d['n_good']} known-good",
        highlight=False,
    )
    console.print(
        f"latency p50 {_ms(lat['p50_ms'])}, p99 {_ms(lat['p99_ms'])}; "
        f"deterministic: {'yes' if det['deterministic'] else 'NO'} ({det['repeat']} in-process run(s), "
        f"worker processes {cross}); {d['seconds']:.1f}s",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False, markup=False)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
