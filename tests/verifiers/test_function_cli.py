"""Plain-function verifiers through the real command line: verify, audit and train.

The CLI runs as ``python -P -m rlvr.cli`` from the folder holding the user's module: ``-P`` keeps
Python from putting that folder on ``sys.path`` (as the ``rlvr`` console script does not), so the
tests see what a user typing ``rlvr verify --verifier mymod:verifier`` sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from user_functions import write_user_module  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def project(tmp_path):
    """A user's project folder: their verifier module and a JSONL of outputs."""
    write_user_module(tmp_path, "mymod")
    records = [
        {"id": "a", "output": "17 + 25 = 42", "answer": 42},
        {"id": "b", "output": "The answer is 41.", "answer": 42},
        {"id": "c", "output": "crash 7", "answer": 7},
    ]
    (tmp_path / "outputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


def rlvr(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120"}
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "rlvr.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    return proc


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_verify_scores_with_an_output_ground_truth_function(project, workers):
    proc = rlvr(project, "verify", "outputs.jsonl", "--verifier", "mymod:verifier", "--workers", workers,
                "--out", "scored.jsonl", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["counts"] == {"correct": 2, "incorrect": 1} and summary["verifier"] == "mymod:verifier"
    rows = [json.loads(x) for x in (project / "scored.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reward"], r["status"], r["reason"]) for r in rows] == [
        ("a", 1.0, "correct", "mymod:verifier returned 1.0"),
        ("b", 0.0, "incorrect", "mymod:verifier returned 0.0"),
        ("c", 1.0, "correct", "mymod:verifier returned 1.0"),
    ]


def test_verify_with_a_file_path_and_an_exception(project):
    proc = rlvr(project, "verify", "outputs.jsonl", "--verifier", f"{project / 'mymod.py'}:raises", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"] == {"correct": 2, "error": 1}


@pytest.mark.parametrize("fn, needle", [("returns_str", "returned str 'yes'"), ("returns_big", "returned 5.0")])
def test_verify_wrong_return_type_is_one_line_and_exit_1(project, fn, needle):
    line = one_error_line(rlvr(project, "verify", "outputs.jsonl", "--verifier", f"mymod:{fn}", "--out", "s.jsonl"))
    assert f"verifier 'mymod:{fn}'" in line and needle in line
    assert not (project / "s.jsonl").exists()


def test_verify_ambiguous_signature_is_one_line(project):
    line = one_error_line(rlvr(project, "verify", "outputs.jsonl", "--verifier", "mymod:ambiguous"))
    assert "'mymod:ambiguous'" in line and "rlvr_call" in line


def test_audit_reports_coverage_for_a_plain_function(project):
    proc = rlvr(project, "audit", "--verifier", "mymod:verifier", "--json")
    report = json.loads(proc.stdout)
    assert report["kind"] == "math" and report["sources"] == {"suite": report["n_cases"]}
    assert isinstance(report["coverage"], float) and report["n_bad"] > 20
    assert report["determinism"]["cross_process"] is True  # the worker processes re-imported it
    assert any("plain function that declares no kind" in n for n in report["notes"])
    assert proc.returncode == (0 if report["ok"] else 1)


def test_audit_kind_comes_from_the_option_the_attribute_or_only_user_cases(project):
    cases = project / "cases.jsonl"
    cases.write_text(
        json.dumps({"output": "so 42", "answer": 42, "should_pass": True}) + "\n"
        + json.dumps({"output": "so 41", "answer": 42, "should_pass": False}) + "\n"
    )
    only_mine = json.loads(rlvr(project, "audit", "--verifier", "mymod:verifier", "--cases", "cases.jsonl", "--json").stdout)
    assert only_mine["kind"] is None and only_mine["n_cases"] == 2 and only_mine["coverage"] == 1.0
    by_option = json.loads(rlvr(project, "audit", "--verifier", "mymod:verifier", "--kind", "countdown", "--json").stdout)
    assert by_option["kind"] == "countdown" and by_option["sources"] == {"suite": by_option["n_cases"]}
    by_attr = json.loads(rlvr(project, "audit", "--verifier", "mymod:countdown_like", "--json").stdout)
    assert by_attr["kind"] == "countdown" and by_attr["n_cases"] == by_option["n_cases"]


TRAIN = """
[run]
steps = 2
progress = false
threads = 1
[model]
name = "tiny"
[model.tiny]
n_layer = 1
n_head = 2
n_embd = 32
block_size = 12
[data]
task = "arithmetic"
n_prompts = 12
max_operand = 9
[verifier]
name = "mymod:{fn}"
workers = 2
[rollout]
prompts_per_step = 3
group_size = 4
max_new_tokens = 3
"""


def test_train_with_a_plain_function_in_the_verifier_table(project):
    (project / "c.toml").write_text(TRAIN.format(fn="digit_share"))
    proc = rlvr(project, "train", "c.toml", "--out", "run", "--json")
    assert proc.returncode == 0, proc.stderr
    steps = [json.loads(x) for x in (project / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    assert all(0.0 <= s["reward/mean"] <= 1.0 for s in steps)
    assert all(s.get("verify/error_rate", 0.0) == 0.0 for s in steps)
    (project / "bad.toml").write_text(TRAIN.format(fn="returns_str"))
    line = one_error_line(rlvr(project, "train", "bad.toml", "--out", "run-bad"))
    assert "verifier 'mymod:returns_str' returned str 'yes'" in line
