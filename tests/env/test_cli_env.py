"""`rlvr env replay` / `rlvr env run` through the real CLI entry point (in-process CliRunner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from rlvr.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "env"


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_replay_examples_all_correct(tmp_path, isolation_ok):
    for env in ("python", "calculator", "sql"):
        src = tmp_path / f"{env}.jsonl"
        shutil.copy(EXAMPLES / f"{env}_episodes.jsonl", src)
        if env == "sql":
            shutil.copy(EXAMPLES / "shop.db", tmp_path / "shop.db")
        out = tmp_path / f"{env}.out.jsonl"
        res = run("env", "replay", str(src), "--env", env, "--out", str(out), "--json")
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout.strip().splitlines()[-1])
        records = [json.loads(line) for line in out.read_text().splitlines()]
        inputs = [json.loads(line) for line in src.read_text().splitlines()]
        assert summary["episodes"] == len(inputs) == len(records)
        for rec, inp in zip(records, inputs):
            assert {k: rec[k] for k in inp} == inp  # every input field kept
            assert rec["status"] == "correct" and rec["reward"] == 1.0 and rec["ended"] == "answer"
            assert rec["problem_id"] == inp["id"]
            assert {"steps", "n_tool_calls", "n_tool_errors", "reason"} <= set(rec)


def test_bad_input_is_one_line_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "answer": "1", "turns": ["x"]}\n{oops\n')
    res = run("env", "replay", str(bad), "--env", "calculator")
    assert res.exit_code == 1 and f"{bad}:2: invalid JSON" in res.output
    bad.write_text('{"id": "a", "answer": "1", "turns": "x"}\n')
    res = run("env", "replay", str(bad), "--env", "calculator")
    assert res.exit_code == 1 and f"{bad}:1: 'turns' must be a list" in res.output
    bad.write_text('{"id": "a", "answer": "SELECT 1", "turns": ["SELECT 1"]}\n')
    res = run("env", "replay", str(bad), "--env", "sql")
    assert res.exit_code == 1 and f"{bad}:1: the sql environment needs a 'db'" in res.output
    res = run("env", "replay", str(bad), "--env", "nope")
    assert res.exit_code == 1 and "unknown environment 'nope'" in res.output
    res = run("env", "replay", str(tmp_path / "missing.jsonl"), "--env", "calculator")
    assert res.exit_code == 1 and "no such file" in res.output
    for out in (res.output,):
        assert "Traceback" not in out


def test_run_with_the_tiny_policy_writes_records(tmp_path):
    tasks = tmp_path / "t.jsonl"
    tasks.write_text('{"id": "a", "prompt": "What is 2+2?", "answer": "4"}\n')
    out = tmp_path / "o.jsonl"
    res = run("env", "run", str(tasks), "--env", "calculator", "--policy", "tiny", "--max-new-tokens", "16",
              "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text())
    assert rec["problem_id"] == "a" and rec["ended"] in ("answer", "max_turns", "budget")
    assert rec["status"] in ("correct", "incorrect", "unparsable") and len(rec["steps"]) >= 1


def test_help_has_an_example():
    for cmd in ("replay", "run"):
        res = run("env", cmd, "--help")
        assert res.exit_code == 0 and "Example:" in res.output


def test_run_with_an_endpoint_policy_and_options(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
    from fake_openai import FakeOpenAI

    tasks = tmp_path / "t.jsonl"
    tasks.write_text('{"id": "a", "prompt": "What is 2+2?", "answer": "4"}\n')
    out = tmp_path / "o.jsonl"
    with FakeOpenAI() as server:
        res = run("env", "run", str(tasks), "--env", "calculator", "--policy", server.url + "/v1", "--model", "m",
                  "--opt", "max_turns=2", "--out", str(out), "-q")
        assert res.exit_code == 0, res.output
        assert server.requests
    rec = json.loads(out.read_text())
    # The fake echoes the prompt, whose instructions show a call with a placeholder: unparsable, twice.
    assert rec["ended"] == "max_turns" and len(rec["steps"]) == 2
    assert rec["parse_failures"] >= 1 and rec["status"] == "unparsable"


def test_replay_verifier_and_budget_options(tmp_path):
    src = tmp_path / "c.jsonl"
    call = '<tool_call>{"name": "calculate", "arguments": {"expression": "2+2"}}</tool_call>'
    src.write_text(json.dumps({"id": "a", "answer": "4", "turns": [call, call, "\\boxed{4}"]}) + "\n")
    out = tmp_path / "o.jsonl"
    res = run("env", "replay", str(src), "--env", "calculator", "--opt", "max_turns=2", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["ended"] == "max_turns"
    res = run("env", "replay", str(src), "--env", "calculator", "--verifier", "random", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["ended"] == "answer"
    res = run("env", "replay", str(src), "--env", "calculator", "--opt", "max_turns=0")
    assert res.exit_code == 1 and "max_turns" in res.output
