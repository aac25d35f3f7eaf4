"""Verifiers for audit tests. Worker processes import this module by name, so tests that use the
engine put this folder on ``PYTHONPATH`` (the ``helpers_on_path`` fixture)."""

from __future__ import annotations

import os
import re

from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier

HERE = os.path.dirname(os.path.abspath(__file__))


class AnyNumber(BaseVerifier):
    """A deliberately weak math verifier: correct when the output contains any number at all."""

    name = "any_number"
    audit_kind = "math"

    def check(self, sample: Sample) -> Verdict:
        if re.search(r"\d", sample.output):
            return Verdict.correct("the output contains a number")
        return Verdict.incorrect("the output contains no number")


class ContainsReference(BaseVerifier):
    """A weak math verifier: correct when the reference appears anywhere in the output."""

    name = "contains_reference"
    audit_kind = "math"

    def check(self, sample: Sample) -> Verdict:
        ref = str(sample.answer)
        if re.search(r"\d", sample.output) and ref in sample.output:
            return Verdict.correct(f"{ref} appears in the output")
        return Verdict.incorrect(f"{ref} does not appear in the output")


class Scripted(BaseVerifier):
    """The output says what to return: ``"<status> <score>"`` (e.g. ``"incorrect 0.6"``)."""

    name = "scripted"

    def check(self, sample: Sample) -> Verdict:
        status, score = sample.output.split()
        return Verdict(float(score), status, f"scripted {status}")  # type: ignore[arg-type]


class Alternating(Scripted):
    """Flips its verdict on every call: nondeterministic within one process."""

    def __init__(self) -> None:
        self.calls = 0

    def check(self, sample: Sample) -> Verdict:
        self.calls += 1
        return Verdict.correct("even call") if self.calls % 2 == 0 else Verdict.incorrect("odd call")


class DependsOnProcess(Scripted):
    """Correct only in the process that built it: deterministic in-process, not across processes."""

    def __init__(self) -> None:
        self.pid = os.getpid()

    def check(self, sample: Sample) -> Verdict:
        return Verdict.correct("home process") if os.getpid() == self.pid else Verdict.incorrect("worker process")
