"""The math verifier against a table of realistic model outputs (tests/data/math_cases.jsonl).

Each case is ``{"id", "output", "answer", "expect", "options"?, "note"}``. ``expect`` is a verdict
status, or ``"fail"`` for "anything but correct" (where incorrect vs unparsable is debatable).
The table is written against the specification, not against the implementation: a failing case
is a verifier bug unless the case contradicts the spec.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rlvr.types import Sample

CASES_PATH = Path(__file__).resolve().parents[3] / "tests" / "data" / "math_cases.jsonl"
EXPECTS = {"correct", "incorrect", "unparsable", "fail"}
OPTION_NAMES = {"rel_tol", "abs_tol", "percent", "units", "fallback"}


def _load_cases() -> list[dict[str, Any]]:
    cases = []
    with CASES_PATH.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                cases.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{CASES_PATH.name}:{lineno}: malformed JSON: {exc}") from exc
    return cases


CASES = _load_cases()


@cache
def _verifier(options_json: str):
    from rlvr.verifiers.math import MathVerifier

    return MathVerifier(**json.loads(options_json))


def _run(case: dict[str, Any]):
    verifier = _verifier(json.dumps(case.get("options", {}), sort_keys=True))
    return verifier.verify(Sample(output=case["output"], answer=case["answer"]))


def _matches(expect: str, status: str) -> bool:
    return status != "correct" if expect == "fail" else status == expect


def _describe(case: dict[str, Any], verdict) -> str:
    return (
        f"[{case['id']}] expected {case['expect']}, got {verdict.status}: {verdict.reason} "
        f"(answer={case['answer']!r}, options={case.get('options', {})}; case tests: {case['note']})"
    )


# --- the table itself ------------------------------------------------------------------------


def test_table_shape():
    assert len(CASES) >= 150, f"only {len(CASES)} cases"
    ids = [c.get("id") for c in CASES]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate ids: {dupes}"
    problems = []
    for c in CASES:
        cid = c.get("id")
        if not isinstance(cid, str) or not cid:
            problems.append(f"{c!r}: missing id")
        if not isinstance(c.get("output"), str):
            problems.append(f"{cid}: output must be a string")
        if not isinstance(c.get("answer"), (str, int, float)) or isinstance(c.get("answer"), bool):
            problems.append(f"{cid}: answer must be a string or a number")
        if c.get("expect") not in EXPECTS:
            problems.append(f"{cid}: expect {c.get('expect')!r} not in {sorted(EXPECTS)}")
        if not isinstance(c.get("options", {}), dict) or set(c.get("options", {})) - OPTION_NAMES:
            problems.append(f"{cid}: unknown options {c.get('options')!r}")
        if not c.get("note"):
            problems.append(f"{cid}: missing note")
    assert not problems, "\n".join(problems)
    n_correct = sum(c["expect"] == "correct" for c in CASES)
    assert n_correct >= 0.4 * len(CASES), f"{n_correct}/{len(CASES)} expected correct (< 40%)"
    assert len(CASES) - n_correct >= 0.3 * len(CASES), (
        f"{len(CASES) - n_correct}/{len(CASES)} expected non-correct (< 30%)"
    )


# --- the verifier against the table ----------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_math_case(case):
    verdict = _run(case)
    assert _matches(case["expect"], verdict.status), _describe(case, verdict)


def test_no_false_positives():
    """A reward for a wrong answer is the worst failure a verifier can have: list them all."""
    false_positives = []
    for case in CASES:
        if case["expect"] == "correct":
            continue
        verdict = _run(case)
        if verdict.status == "correct":
            false_positives.append(_describe(case, verdict))
    assert not false_positives, f"{len(false_positives)} false positives:\n" + "\n".join(false_positives)
