"""Each built-in suite against its verifier, and suite discovery by verifier kind."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from pathlib import Path

import pytest

from rlvr.audit import audit, available_suites, builtin_cases, verifier_kind
from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.registry import get_verifier


def test_math_suite_against_the_math_verifier():
    report = audit("math", workers=2, repeat=2, timeout=60)
    fps = {c.test for c in report.cases if c.outcome == "false_positive"}
    assert not fps, sorted(fps)
    assert report.coverage == 1.0 and report.not_judged_rate == 0
    assert report.false_negative_rate == 0, [c.test for c in report.misjudged() if c.should_pass]
    assert report.deterministic and report.cross_process is True
    groups = {c.test.split("/")[0] for c in report.cases}
    assert groups == {"good", "perturbed", "hedge", "retraction", "restated", "format", "dos"}
    # DoS inputs are refused fast (median of the warm in-process runs).
    dos = [c for c in report.cases if c.test.startswith("dos/")]
    assert all(c.latency_ms is not None and c.latency_ms < 5000 for c in dos), [(c.test, c.latency_ms) for c in dos]


@pytest.mark.parametrize("kind", ["rubric", "format"])
def test_rubric_and_format_suites_are_fully_caught(kind):
    report = audit(kind, workers=0, repeat=1)
    assert report.n_bad >= 15 and report.n_good >= 4
    assert report.coverage == 1.0 and report.false_negative_rate == 0, [c.to_dict() for c in report.misjudged()]


def test_rubric_suite_without_the_stuffing_guard_has_false_positives():
    report = audit("rubric", options={"max_keyword_share": None}, workers=0, repeat=1)
    fps = {c.test for c in report.cases if c.outcome == "false_positive"}
    assert {"stuffing/keyword-list", "stuffing/repeated"} <= fps


def test_every_built_in_suite_loads_valid_cases(tmp_path):
    kinds = available_suites()
    assert {"math", "rubric", "format"} <= set(kinds)
    for kind in kinds:
        cases = builtin_cases(kind, tmp_path / kind)
        assert cases, kind
        assert any(not c.should_pass for c in cases), kind
        assert len({c.test for c in cases}) == len(cases), f"{kind}: duplicate test names"


def test_kind_detection():
    assert verifier_kind(get_verifier("format")) == "format"
    assert verifier_kind(get_verifier("math"), "math") == "math"
    assert verifier_kind(get_verifier("random")) == "random"
    assert builtin_cases("no_such_kind", Path(".")) is None
    assert builtin_cases("../etc", Path(".")) is None


class ToyVerifier(BaseVerifier):
    name = "toy_impl"
    audit_kind = "toy"

    def check(self, sample: Sample) -> Verdict:
        return Verdict.correct() if sample.output == "yes" else Verdict.incorrect("not yes")


def test_a_new_kind_plugs_in_its_suite(monkeypatch, tmp_path):
    module = types.ModuleType("rlvr.audit.suites.toy")
    module.__spec__ = importlib.machinery.ModuleSpec("rlvr.audit.suites.toy", None)
    seen = []

    def cases(workdir):
        seen.append(workdir)
        return [
            {"test": "good", "output": "yes", "answer": None, "should_pass": True},
            {"test": "bad", "output": "no", "answer": None, "should_pass": False},
        ]

    module.cases = cases
    monkeypatch.setitem(sys.modules, "rlvr.audit.suites.toy", module)
    report = audit(ToyVerifier(), workers=0)
    assert [c.test for c in report.cases] == ["good", "bad"] and report.coverage == 1.0
    assert seen and isinstance(seen[0], Path) and not seen[0].exists()  # a private folder, removed after
    module.cases = lambda workdir: [{"test": "x", "output": "yes"}]
    with pytest.raises(ConfigError, match="built-in suite rlvr.audit.suites.toy, case 1: should_pass"):
        audit(ToyVerifier(), workers=0)
