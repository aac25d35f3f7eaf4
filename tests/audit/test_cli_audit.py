"""`rlvr audit` through typer's CliRunner on the real app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rlvr.cli import app  # noqa: E402


@pytest.fixture
def runner():
    return CliRunner()


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_json_report_for_a_built_in_suite(runner):
    result = runner.invoke(app, ["audit", "--verifier", "format", "--workers", "0", "--repeat", "1", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["kind"] == "format" and report["coverage"] == 1.0 and report["ok"] is True
    assert report["min_coverage"] == 0.9 and len(report["cases"]) == report["n_cases"]
    assert report["latency"]["p50_ms"] is not None


def test_table_output_and_exit_code_below_threshold(runner):
    result = runner.invoke(
        app, ["audit", "--verifier", "audit_helpers:AnyNumber", "--workers", "0", "--repeat", "1", "--show", "failures"],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 1
    assert "false_positive" in result.stdout and "hedge/or" in result.stdout
    (line,) = error_lines(result)
    assert "is below --min-coverage 90.0%" in line
    assert "Traceback" not in result.output


def test_user_cases_and_composite_spec(runner, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"type": "all_of", "children": ["format", {"verifier": "rubric", "options": {"criteria": [{"type": "keyword", "text": "42"}]}}]}))
    cases = tmp_path / "cases.jsonl"
    rows = [
        {"test": "good", "output": "<think>6*7</think><answer>42</answer>", "should_pass": True},
        {"test": "no-tags", "output": "42", "should_pass": False},
        {"test": "wrong", "output": "<think>6*7</think><answer>142</answer>", "should_pass": False},
    ]
    cases.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(
        app,
        ["audit", "--verifier", "compose", "--opt", f"file={spec}", "--cases", str(cases), "--workers", "1", "--json"],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["coverage"] == 1.0 and report["false_negative_rate"] == 0.0
    assert report["determinism"]["cross_process"] is True
    assert any("no built-in suite" in n for n in report["notes"])


def test_bad_inputs_are_one_line_errors(runner, tmp_path):
    bad = tmp_path / "cases.jsonl"
    bad.write_text('{"output": "x", "should_pass": true}\n{"output": "y"}\n')
    result = runner.invoke(app, ["audit", "--verifier", "format", "--cases", str(bad), "--workers", "0", "-q"])
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert f"{bad}:2:" in line and "should_pass" in line
    result = runner.invoke(app, ["audit", "--verifier", "random", "--workers", "0", "-q"])
    assert result.exit_code == 1 and "nothing to audit" in error_lines(result)[0]
    result = runner.invoke(app, ["audit", "--verifier", "nope", "-q"])
    assert result.exit_code == 1 and "unknown verifier 'nope'" in error_lines(result)[0]
    result = runner.invoke(app, ["audit", "--verifier", "format", "--show", "some", "-q"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["audit", "--verifier", "format", "--cases", str(tmp_path / "missing.jsonl"), "-q"])
    assert result.exit_code == 1 and "no such file" in error_lines(result)[0]


def test_mutate_from_the_command_line(runner, tmp_path):
    correct = tmp_path / "correct.jsonl"
    correct.write_text(json.dumps({"output": "Half of 3/2 is $\\boxed{\\frac{3}{4}}$.", "answer": "0.75"}) + "\n")
    result = runner.invoke(
        app, ["audit", "--verifier", "math", "--no-suite", "--mutate", str(correct), "--workers", "0", "--json"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["sources"] == {"user": 1, "mutant": report["n_bad"]} and report["coverage"] == 1.0


def test_help_has_an_example(runner):
    result = runner.invoke(app, ["audit", "--help"])
    assert result.exit_code == 0 and "rlvr audit --verifier math" in result.stdout
