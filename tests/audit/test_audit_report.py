"""Audit definitions on hand-computed cases: coverage, false positives/negatives, determinism."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_helpers import HERE, Alternating, AnyNumber, ContainsReference, DependsOnProcess, Scripted  # noqa: E402

from rlvr.audit import AuditCase, audit, load_cases  # noqa: E402
from rlvr.audit.report import percentile  # noqa: E402
from rlvr.errors import ConfigError, InputError  # noqa: E402


@pytest.fixture
def helpers_on_path(monkeypatch):
    inherited = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", HERE + (os.pathsep + inherited if inherited else ""))


CASES = [
    {"test": "bad-caught", "output": "incorrect 0", "should_pass": False},
    {"test": "bad-passed", "output": "correct 1", "should_pass": False},
    {"test": "bad-partial", "output": "incorrect 0.6", "should_pass": False},  # 0.6 >= 0.5: passed
    {"test": "bad-error", "output": "error 0", "should_pass": False},
    {"test": "good-ok", "output": "correct 1", "should_pass": True},
    {"test": "good-missed", "output": "unparsable 0", "should_pass": True},
]


def test_rates_match_hand_counts():
    report = audit(Scripted(), CASES, workers=0, repeat=1)
    outcomes = {c.test: c.outcome for c in report.cases}
    assert outcomes == {
        "bad-caught": "caught",
        "bad-passed": "false_positive",
        "bad-partial": "false_positive",
        "bad-error": "not_judged",
        "good-ok": "ok",
        "good-missed": "false_negative",
    }
    assert (report.n_bad, report.n_good) == (4, 2)
    assert report.coverage == 0.25 and report.false_positive_rate == 0.5 and report.not_judged_rate == 0.25
    assert report.false_negative_rate == 0.5
    assert report.mean_bad_reward == pytest.approx((0 + 1 + 0.6 + 0) / 4)
    assert not report.meets(0.3) and report.meets(0.25)
    # A stricter pass threshold turns the partial-credit leak into a catch.
    strict = audit(Scripted(), CASES, workers=0, repeat=1, pass_threshold=0.9)
    assert strict.coverage == 0.5
    d = report.to_dict()
    assert d["counts"] == {"caught": 1, "false_positive": 2, "not_judged": 1, "ok": 1, "false_negative": 1}
    assert d["cases"][1]["reason"] == "scripted correct" and json.dumps(d)
    assert [c.test for c in report.misjudged()] == ["bad-passed", "bad-partial", "bad-error", "good-missed"]
    assert any("no built-in suite" in n or "declares no kind" in n for n in report.notes)


def test_determinism_in_process_and_across_processes(helpers_on_path):
    cases = [{"test": "t", "output": "x", "should_pass": True}]
    flaky = audit(Alternating(), cases, workers=0, repeat=2)
    assert not flaky.deterministic and flaky.cases[0].runs == ("incorrect:0", "correct:1")
    assert flaky.to_dict()["determinism"]["nondeterministic_cases"] == ["t"]
    steady = audit(Scripted(), [{"test": "t", "output": "correct 1", "should_pass": True}], workers=1, repeat=2)
    assert steady.deterministic and steady.cross_process is True
    split = audit(DependsOnProcess(), cases, workers=1, repeat=2)
    assert split.cross_process is False and not split.deterministic
    assert split.cases[0].runs == ("correct:1", "correct:1", "incorrect:0")


def test_weak_verifiers_score_low_on_the_math_suite():
    real = audit("math", workers=0, repeat=1)
    weakest = audit(AnyNumber(), workers=0, repeat=1)
    assert weakest.kind == "math" and weakest.n_bad == real.n_bad >= 40
    # "Any number present" catches only the outputs without a digit.
    assert weakest.coverage < 0.2 and weakest.false_positive_rate > 0.8
    weak = audit(ContainsReference(), workers=0, repeat=1)
    # "The reference appears somewhere" passes hedges, retractions, 142 for 42, restated options...
    assert weak.coverage < 0.6 and weak.false_positive_rate > 0.4
    assert real.coverage > 0.9 > weak.coverage


def test_user_case_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        json.dumps({"output": "a", "answer": 1, "should_pass": True}) + "\n"
        + json.dumps({"output": "b", "answer": 1, "should_pass": "no"}) + "\n"
    )
    with pytest.raises(InputError) as info:
        load_cases(path)
    assert str(info.value).startswith(f"{path}:2: should_pass must be true")
    path.write_text(json.dumps({"output": "a"}) + "\n")
    with pytest.raises(InputError, match=r":1: should_pass .* the field is missing"):
        load_cases(path)
    path.write_text("{not json\n")
    with pytest.raises(InputError, match=r":1: invalid JSON"):
        load_cases(path)
    path.write_text("")
    with pytest.raises(InputError, match="no cases"):
        load_cases(path)
    path.write_text(json.dumps({"output": "42", "answer": 42, "should_pass": True, "id": "q1"}) + "\n")
    (case,) = load_cases(path)
    assert case.test == "cases.jsonl:1" and case.fields == {"id": "q1"}
    assert case.to_sample().metadata["_source_dir"] == str(tmp_path)


def test_setup_errors():
    with pytest.raises(ConfigError, match="nothing to audit"):
        audit("random", workers=0)
    with pytest.raises(ConfigError, match="audit case 1: should_pass"):
        audit(Scripted(), [{"output": "x"}], workers=0)
    with pytest.raises(ConfigError, match="repeat"):
        audit(Scripted(), CASES, repeat=0)
    report = audit(Scripted(), [AuditCase("direct", "correct 1", None, True)], workers=0)
    assert report.coverage is None and not report.meets(0.0)


def test_percentile_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0 and percentile(values, 100) == 100.0


class LocalOnly(Scripted):
    """Defined in a test module that worker processes cannot import (no PYTHONPATH here)."""


def test_verifier_workers_cannot_load_is_audited_in_process(monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    report = audit(LocalOnly(), [{"test": "t", "output": "correct 1", "should_pass": True}], workers=1, repeat=1)
    assert report.cross_process is None and report.cases[0].outcome == "ok"
    assert any("cross-process determinism not checked" in n for n in report.notes)
