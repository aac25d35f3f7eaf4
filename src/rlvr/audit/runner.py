"""Run an audit: gather cases, verify each several times in-process and once on worker processes."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr.audit.cases import AuditCase, available_suites, builtin_cases, case_from_record, load_cases
from rlvr.audit.mutate import load_mutants
from rlvr.audit.report import AuditReport, CaseResult
from rlvr.errors import ConfigError, VerifierContractError
from rlvr.types import Verdict
from rlvr.verifiers.base import Verifier, safe_verify
from rlvr.verifiers.registry import REGISTRY, get_verifier

__all__ = ["FUNCTION_DEFAULT_KIND", "audit", "verifier_kind"]

# The suite a plain verifier function gets when it declares no kind and no cases are given: its
# cases are (output, reference answer) pairs, the shape an f(output, ground_truth) function takes.
FUNCTION_DEFAULT_KIND = "math"

CaseSource = str | os.PathLike[str] | Sequence[Mapping[str, Any] | AuditCase]


def verifier_kind(verifier: Any, name: str | None = None) -> str | None:
    """The suite kind of a verifier: its ``audit_kind``, else the registry name it was loaded by,
    else its ``name`` attribute (a plain function's name is not a kind: None)."""
    from rlvr.verifiers.function import FunctionVerifier

    kind = getattr(verifier, "audit_kind", None)
    if isinstance(kind, str) and kind:
        return kind
    if name and name in REGISTRY:
        return name
    if isinstance(verifier, FunctionVerifier):
        return None
    attr = getattr(verifier, "name", None)
    return attr if isinstance(attr, str) and attr and attr != "verifier" else None


def _is_function(v: Any) -> bool:
    from rlvr.verifiers.function import FunctionVerifier

    return isinstance(v, FunctionVerifier)


def _user_cases(cases: CaseSource) -> list[AuditCase]:
    if isinstance(cases, (str, os.PathLike)):
        return load_cases(cases)
    out = []
    for i, item in enumerate(cases):
        if isinstance(item, AuditCase):
            out.append(item)
            continue
        try:
            out.append(case_from_record(item, default_test=f"case {i + 1}", source=f"case {i + 1}"))
        except ValueError as exc:
            raise ConfigError(f"audit case {i + 1}: {exc}") from None
    return out


def _key(v: Verdict) -> str:
    return f"{v.status}:{v.score:.6g}"


def audit(
    verifier: Verifier | str,
    cases: CaseSource | None = None,
    *,
    mutate: str | os.PathLike[str] | None = None,
    suite: bool = True,
    kind: str | None = None,
    options: Mapping[str, Any] | None = None,
    workers: int = 2,
    repeat: int = 2,
    timeout: float = 30.0,
    pass_threshold: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
    label: str | None = None,
) -> AuditReport:
    """Measure a verifier on known-good and known-bad outputs.

    ``cases``: a JSONL path or a list of case dicts/``AuditCase``; ``mutate``: a JSONL of correct
    outputs to derive known-bad mutants from; ``suite``: include the built-in suite for the
    verifier's kind (``kind`` overrides the detected one; a plain function that declares none gets
    ``FUNCTION_DEFAULT_KIND`` when no ``cases`` or ``mutate`` are given). Each case runs ``repeat`` times in this
    process (latency, determinism) and once through ``rlvr.engine`` on ``workers`` processes with a
    hard ``timeout`` (cross-process determinism; ``workers=0`` skips it). A case the engine had to
    kill for time is not re-run in-process, where nothing could stop it. ``label`` names the
    verifier in the report (default: its name).
    """
    if repeat < 1:
        raise ConfigError(f"repeat must be >= 1, got {repeat}")
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    if not 0 < pass_threshold <= 1:
        raise ConfigError(f"pass_threshold must be in (0, 1], got {pass_threshold}")
    name = verifier if isinstance(verifier, str) else None
    v = verifier if isinstance(verifier, Verifier) else get_verifier(verifier, **(options or {}))
    if options and isinstance(verifier, Verifier):
        raise ConfigError("options apply to a verifier given by name, not to a verifier object")
    label = label or name or getattr(v, "name", None) or type(v).__name__
    kind = kind or verifier_kind(v, name)
    notes: list[str] = []
    if kind is None and suite and cases is None and mutate is None and _is_function(v):
        kind = FUNCTION_DEFAULT_KIND
        notes.append(
            f"{label} is a plain function that declares no kind, so the {kind} suite (outputs against reference "
            "answers) was run; choose another with --kind (or an audit_kind attribute on the function), or give --cases"
        )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlvr-audit-") as tmp:
        workdir = Path(tmp)
        all_cases: list[AuditCase] = []
        if suite:
            built = builtin_cases(kind, workdir)
            if built is None:
                notes.append(
                    f"no built-in suite for verifier kind {kind!r} (suites exist for: {', '.join(available_suites())}); "
                    "only your cases were run"
                    if kind
                    else "the verifier declares no kind (set an audit_kind attribute), so no built-in suite was run"
                )
            else:
                all_cases.extend(built)
        if cases is not None:
            all_cases.extend(_user_cases(cases))
        if mutate is not None:
            all_cases.extend(load_mutants(mutate, kind))
        if not all_cases:
            if not suite:
                why = "the built-in suite is off"
            elif kind:
                why = f"no built-in suite for verifier kind {kind!r} (suites exist for: {', '.join(available_suites())})"
            else:
                why = "the verifier declares no kind, so there is no built-in suite"
            raise ConfigError(
                f"nothing to audit: {why}; give labelled cases (--cases FILE) or correct outputs to mutate (--mutate FILE)"
            )
        results = _run(v, all_cases, workers=workers, repeat=repeat, timeout=timeout, progress=progress, notes=notes)
    runs, engine_verdicts, latencies = results
    case_results = []
    cross: bool | None = None if engine_verdicts is None else True
    warm: list[float] = []
    for i, case in enumerate(all_cases):
        seen = runs[i]
        primary = seen[0] if seen else engine_verdicts[i]  # type: ignore[index]
        keys = [_key(x) for x in seen]
        if engine_verdicts is not None:
            keys.append(_key(engine_verdicts[i]))
            if seen and _key(engine_verdicts[i]) != keys[0]:
                cross = False
        lat = latencies[i]
        # The first call may pay for warm-up (a sympy worker starting); later repeats are the steady state.
        steady = lat[1:] if len(lat) > 1 else lat
        warm.extend(steady)
        case_results.append(
            CaseResult(
                test=case.test,
                source=case.source,
                should_pass=case.should_pass,
                status=primary.status,
                score=primary.score,
                reason=primary.reason,
                passed=primary.score >= pass_threshold,
                latency_ms=statistics.median(steady) if steady else None,
                deterministic=len(set(keys)) <= 1,
                mutation=case.mutation,
                runs=tuple(keys),
            )
        )
    return AuditReport(
        verifier=str(label),
        kind=kind,
        pass_threshold=pass_threshold,
        cases=tuple(case_results),
        repeat=repeat,
        cross_process=cross,
        latencies_ms=tuple(warm),
        notes=tuple(notes),
        seconds=time.perf_counter() - t0,
    )


def _run(
    v: Verifier,
    cases: Sequence[AuditCase],
    *,
    workers: int,
    repeat: int,
    timeout: float,
    progress: Callable[[int, int], None] | None,
    notes: list[str],
) -> tuple[list[list[Verdict]], list[Verdict] | None, list[list[float]]]:
    from rlvr.engine import EngineConfig, verify_iter

    samples = [c.to_sample() for c in cases]
    total = len(cases) * (repeat + (1 if workers else 0))
    done = 0

    def tick(_: Any = None) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    engine: list[Verdict] | None = None
    if workers:
        try:
            engine = list(verify_iter(samples, v, EngineConfig(workers=workers, timeout=timeout), on_result=tick))
        except VerifierContractError:
            raise  # the verifier returned a non-score: the audit cannot stand either
        except ConfigError as exc:
            # Unpicklable, or its module cannot be imported by a fresh worker (defined in __main__):
            # the in-process audit still stands, without the cross-process check or hard time limits.
            notes.append(f"cross-process determinism not checked: {exc}")
            done = len(cases)
            engine = None
    killed = set()
    if engine is not None:
        # The engine's own hard-limit verdict (not a verifier's soft timeout, which is safe to repeat).
        killed = {
            i
            for i, x in enumerate(engine)
            if x.status == "timeout" and x.details.get("timeout_s") == timeout and x.reason.startswith("verification took")
        }
        if killed:
            notes.append(
                f"{len(killed)} case(s) ran past the {timeout:g}s hard limit on a worker and were not re-run in-process"
            )
    runs: list[list[Verdict]] = [[] for _ in cases]
    latencies: list[list[float]] = [[] for _ in cases]
    for _ in range(repeat):
        for i, sample in enumerate(samples):
            if i in killed:
                tick()
                continue
            t = time.perf_counter()
            verdict = safe_verify(v, sample)
            latencies[i].append((time.perf_counter() - t) * 1000)
            runs[i].append(verdict)
            tick()
    return runs, engine, latencies


