"""The code verifier: protocols, judgement in the verifier, reasons, bad records, engine, CLI."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr.engine import verify
from rlvr.sandbox import probe_isolation
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier, compare_stdout, plain_equal
from rlvr.verifiers.registry import get_verifier

ROOT = Path(__file__).resolve().parents[2]


def _iso() -> str:
    f = probe_isolation()
    ok = all(f.get(k) for k in ("userns", "netns", "pidns", "seccomp")) and f.get("landlock_abi")
    return "namespaces" if ok else "none"


@pytest.fixture(scope="module")
def v():
    verifier = CodeVerifier(isolation=_iso(), timeout=3.0, total_timeout=6.0)
    yield verifier
    verifier.close()


def _s(output, tests, **meta):
    return Sample(output, None, {"tests": tests, **meta})


def test_plain_equal_uses_exact_types():
    assert plain_equal([1, (2, 3)], [1, (2, 3)])
    assert plain_equal(2, 2.0)
    assert not plain_equal(True, 1) and not plain_equal(1, True)
    assert not plain_equal([1], (1,))
    assert not plain_equal({"a": [True]}, {"a": [1]})
    assert not plain_equal(float("nan"), float("nan"))


@pytest.mark.parametrize(
    ("got", "want", "mode", "tol", "ok"),
    [
        ("3\n", "3", "whitespace", 0.0, True),
        ("  1   2 \r\n3\n\n", "1 2\n3", "whitespace", 0.0, True),
        ("1 2\n3", "1\n2 3", "whitespace", 0.0, False),
        ("1 2\n3", "1\n2 3", "tokens", 0.0, True),
        ("0.3333333", "0.333333333", "whitespace", 1e-6, True),
        ("0.34", "0.333333333", "whitespace", 1e-6, False),
        ("3\n", "3", "exact", 0.0, False),
        ("nan", "nan", "tokens", 1e-6, True),
    ],
)
def test_compare_stdout(got, want, mode, tol, ok):
    assert (compare_stdout(got, want, mode, tol) is None) is ok


def test_compare_stdout_reasons():
    assert compare_stdout("1\n2\n", "1\n3\n") == "line 2: got '2', expected '3'"
    assert compare_stdout("1\n", "1\n2\n") == "got 1 lines, expected 2"


def test_check_style_pass_and_reasoned_failure(v):
    tests = "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(2) == 4\n    assert candidate(3) == 6\n"
    ok = v.verify(_s("```python\ndef double(x):\n    return 2 * x\n```", tests, entry_point="double"))
    assert ok.status == "correct" and ok.score == 1.0 and ok.details["assertions"] == 3
    bad = v.verify(_s("def double(x):\n    return x + 2\n", tests, entry_point="double"))
    assert bad.status == "incorrect" and bad.score == 0.0
    assert bad.reason == "test 1 failed: candidate(1) returned 3, expected 2"


def test_top_level_asserts_are_separate_tests(v):
    tests = "assert inc(1) == 2\nassert inc(2) == 3\nassert inc(3) == 5\n"
    bad = v.verify(_s("def inc(x):\n    return x + 1\n", tests))
    assert bad.details["passed"] == 2 and bad.details["total"] == 3
    assert [t["status"] for t in bad.details["tests"]] == ["passed", "passed", "failed"]
    assert bad.reason == "test 3 failed: inc(3) returned 4, expected 5"
    partial = CodeVerifier(isolation=v.isolation, partial_credit=True, timeout=3, total_timeout=6)
    pv = partial.verify(_s("def inc(x):\n    return x + 1\n", tests))
    assert pv.status == "incorrect" and pv.score == pytest.approx(2 / 3)


def test_bool_is_not_int_and_exceptions_are_reasons(v):
    wrong_type = v.verify(_s("def f(x):\n    return x > 0\n", "assert f(1) == 1\n"))
    assert wrong_type.status == "incorrect" and "types differ" in wrong_type.reason
    raised = v.verify(_s("def f(x):\n    return [][x]\n", "assert f(1) == 1\n"))
    assert raised.status == "incorrect"
    assert "IndexError" in raised.reason or "list index out of range" in raised.reason


def test_tests_can_catch_candidate_builtin_exceptions(v):
    tests = (
        "def check(candidate):\n"
        "    try:\n        candidate(-1)\n        assert False\n"
        "    except ValueError:\n        pass\n"
        "    assert candidate(4) == 2\n"
    )
    code = "def root(x):\n    if x < 0:\n        raise ValueError('negative')\n    return int(x ** 0.5)\n"
    assert v.verify(_s(code, tests, entry_point="root")).status == "correct"


def test_in_place_mutation_is_visible_to_tests(v):
    tests = "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [1, 2, 3]\n"
    assert v.verify(_s("def sort_in_place(a):\n    a.sort()\n", tests)).status == "correct"


def test_stdio_cases(v):
    cases = [{"input": "2 3\n", "output": "5\n"}, {"input": "-1 1", "output": "0"}]
    assert v.verify(_s("a, b = map(int, input().split())\nprint(a + b)\n", cases)).status == "correct"
    wrong = v.verify(_s("a, b = map(int, input().split())\nprint(a * b)\n", cases))
    assert wrong.status == "incorrect" and wrong.reason == "test 1 failed: line 1: got '6', expected '5'"
    assert wrong.details["tests"][0]["status"] == "failed" and len(wrong.details["tests"]) == 1


def test_bad_records_and_outputs(v):
    assert v.verify(_s("   ", "assert 1\n")).status == "unparsable"
    syn = v.verify(_s("def f(:\n", "assert f() == 1\n"))
    assert syn.status == "unparsable" and "does not parse" in syn.reason
    assert v.verify(_s("def f(): pass", {"not": "tests"})).status == "error"
    assert v.verify(_s("def f(): pass", [{"input": 1}])).status == "error"
    missing = v.verify(_s("def g():\n    return 1\n", "def check(candidate):\n    assert candidate() == 1\n",
                          entry_point="f"))
    assert missing.status == "incorrect" and "no function named 'f'" in missing.reason
    assert v.verify(_s("def f(): pass", "x = 1\n")).status == "error"  # no assertion to evaluate
    no_check = v.verify(_s("def f():\n    return 1\n", "x = f()\n", entry_point="f"))
    assert no_check.status == "error" and "no check(candidate)" in no_check.reason
    mbpp = v.verify(_s("def f():\n    return 1\n", "assert f() == 1\n", entry_point="f"))
    assert mbpp.status == "correct"  # MBPP style: entry_point with plain asserts, no check()
    assert v.verify(Sample(12345, None, {"tests": "assert 1"})).status == "unparsable"


def test_prepend_prompt():
    vv = CodeVerifier(isolation=_iso(), prepend_prompt=True, timeout=3, total_timeout=6)
    s = Sample("    return a + b\n", None, {"prompt": "def add(a, b):\n", "tests": "assert add(1, 1) == 2\n"})
    assert vv.verify(s).status == "correct"


def test_registry_pickling_and_engine_workers():
    v = get_verifier("code", isolation=_iso(), timeout=3, total_timeout=6)
    assert isinstance(v, CodeVerifier)
    clone = pickle.loads(pickle.dumps(v))
    assert clone.isolation == v.isolation
    samples = [
        _s(f"def f(x):\n    return x + {k}\n", "assert f(1) == 2\n") for k in (1, 2, 1, 0)
    ]
    verdicts = verify(samples, v, workers=2)
    assert [x.status for x in verdicts] == ["correct", "incorrect", "correct", "incorrect"]


def test_cli_verify_example_file(tmp_path):
    out = tmp_path / "scored.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr.cli", "verify", str(ROOT / "examples" / "code.jsonl"), "--verifier", "code",
         "--opt", f"isolation={_iso()}", "--opt", "timeout=5", "--workers", "0", "--json", "--out", str(out)],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["counts"] == {"correct": 3, "incorrect": 3}
    statuses = {r["id"]: r["status"] for r in map(json.loads, out.read_text().splitlines())}
    assert statuses["add-always-equal"] == "incorrect" and statuses["stdio-fake"] == "incorrect"


def test_verdict_is_decided_here_not_by_the_harness(v, monkeypatch):
    """Forged harness reports: without the run token nothing passes, and an equality the harness
    calls passed is re-checked on the plain data (a bool is not an int, 4 is not 5)."""
    from rlvr.sandbox import RunOutcome

    def report(records, token_ok=True):
        msg = {"op": "results", "tests": [{"test": 1, "status": "passed"}], "records": records, "assertions": 1}
        return RunOutcome(messages=[msg], token_ok=token_ok, isolation="namespaces")

    honest = [{"kind": "eq", "passed": True, "src": "f(1) == 4", "got": 4, "expected": 4, "test": 1}]
    cases = [
        (report(honest, token_ok=False), "error"),
        (report([{**honest[0], "got": 5}]), "incorrect"),
        (report([{**honest[0], "got": True, "expected": 1}]), "incorrect"),
        (report([{**honest[0], "got": ["H", 1, "Eq", False]}]), "incorrect"),
        (report(honest), "correct"),
    ]
    for outcome, want in cases:
        monkeypatch.setattr(v.sandbox, "run_tests", lambda *a, o=outcome: o)
        got = v.verify(_s("def f(x):\n    return x\n", "assert f(1) == 4\n"))
        assert got.status == want, (outcome.messages, got)
