"""Verifier functions the way users write them, as module source: tests write this text into a
temporary folder under a fresh module name and import it by ``module:function`` or by file path,
so worker processes must re-import it from there (it is not on PYTHONPATH)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

SOURCE = r'''
import math
import re

from rlvr import Verdict
from sibling_helper import last_number   # a sibling file: the module's folder is importable


def verifier(output, ground_truth):
    """The article's verifier: 1.0 if the last number equals the ground truth."""
    return 1.0 if last_number(output) == str(ground_truth) else 0.0


def verifier_bool(completion, reference):
    return last_number(completion) == str(reference)


def verifier_partial(output, ground_truth):
    return 0.5 if str(ground_truth) in output else 0.0


def verifier_int(output, ground_truth):
    return int(last_number(output) == str(ground_truth))


def verifier_verdict(output, ground_truth):
    if last_number(output) is None:
        return Verdict.unparsable("no number")
    return Verdict.correct("same") if last_number(output) == str(ground_truth) else Verdict.incorrect("differs")


def digit_share(output, ground_truth):
    """Graded: the share of digits (a fresh tiny model gets varied scores)."""
    return sum(c.isdigit() for c in output) / len(output) if output else 0.0


def by_sample(sample):
    """f(sample): reads metadata too."""
    tol = sample.metadata.get("tol", 0)
    got = last_number(sample.output)
    return got is not None and abs(float(got) - float(sample.answer)) <= tol


def with_option(output, ground_truth, tol=0.0):
    got = last_number(output)
    return got is not None and abs(float(got) - float(ground_truth)) <= tol


def raises(output, ground_truth):
    return {"a": 1}["b"] if "crash" in output else 1.0


def returns_str(output, ground_truth):
    return "yes"


def returns_none(output, ground_truth):
    if output == "only this one":
        return 1.0


def returns_nan(output, ground_truth):
    return math.nan


def returns_big(output, ground_truth):
    return 5.0


def returns_negative(output, ground_truth):
    return -1.0


def returns_list(output, ground_truth):
    return [1.0]


def trl_reward(completions, answer, **kwargs):
    """A TRL reward function: batched, None where it does not apply."""
    out = []
    for c, a, task in zip(completions, answer, kwargs.get("task", [None] * len(completions))):
        if task == "other":
            out.append(None)
        else:
            out.append(1.0 if last_number(c) == str(a) else 0.0)
    return out


def trl_declared_only(prompts, completions, solution):
    """No **kwargs: only the keywords it names are passed."""
    return [float(str(s) in c) for c, s in zip(completions, solution)]


def trl_wrong_length(completions, **kwargs):
    return [1.0, 0.0, 1.0]


def trl_scalar(completions, **kwargs):
    return 1.0


def trl_raises(completions, **kwargs):
    raise RuntimeError("reward model offline")


def factory(**options):
    """A factory, as before plain functions were accepted: no required positional parameters."""
    return ExactVerifier(**options)


def make_exact(strip):
    """A factory whose one required parameter comes from the options."""
    return ExactVerifier(strip=strip)


class ExactVerifier:
    def __init__(self, strip=True):
        self.strip = strip

    def verify(self, sample):
        out = sample.output.strip() if self.strip else sample.output
        return Verdict.correct("exact") if out == str(sample.answer) else Verdict.incorrect("differs")


def ambiguous(output, ground_truth=None):
    return 1.0


def too_many(output, ground_truth, prompt):
    return 1.0


def declared(x, y=None):
    return x.output == str(x.answer)


declared.rlvr_call = "sample"


def countdown_like(output, ground_truth):
    return 0.0


countdown_like.audit_kind = "countdown"
'''

HELPER = r'''
import re


def last_number(text):
    found = re.findall(r"-?\d+(?:\.\d+)?", text)
    return found[-1] if found else None
'''


def write_user_module(folder: Path, name: str | None = None) -> str:
    """Write the user module (and its sibling helper) into ``folder``; return its module name."""
    name = name or "user_" + re.sub(r"\W", "_", folder.name)
    (folder / f"{name}.py").write_text(SOURCE, encoding="utf-8")
    (folder / "sibling_helper.py").write_text(HELPER, encoding="utf-8")
    sys.modules.pop("sibling_helper", None)
    return name
