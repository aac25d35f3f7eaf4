"""``rlvr health``: the same checks on our metrics.jsonl, TRL's trainer_state.json and mapped JSONL.

Exit status: 0 healthy, 1 bad input, 3 warnings fired (0 with --no-fail).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr.cli import app

TRL_STATE = Path(__file__).resolve().parent / "diagnostics" / "data" / "trl_trainer_state.json"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    result = runner.invoke(app, ["health", *map(str, args)], env={"COLUMNS": "160"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write_metrics(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def healthy(step: int) -> dict:
    return {
        "step": step,
        "reward/mean": 0.3 + 0.01 * step,
        "reward/std": 0.45,
        "groups/frac_zero_std": 0.3,
        "policy/entropy": 1.0 - 0.005 * step,
        "policy/kl": 0.02 * step,
        "gen/len_mean": 40.0,
        "gen/truncated_frac": 0.0,
        "verify/error_rate": 0.0,
    }


def test_healthy_run_dir_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    write_metrics(tmp_path / "metrics.jsonl", [healthy(s) for s in range(1, 21)])
    result = invoke(runner, tmp_path)
    assert result.exit_code == 0, result.output
    assert "healthy: no warnings in 20 steps" in result.stdout
    assert "format rlvr" in result.stdout


def test_collapsing_run_exits_3_with_table(runner: CliRunner, tmp_path: Path) -> None:
    rows = [healthy(s) for s in range(1, 6)] + [
        {**healthy(s), "groups/frac_zero_std": 0.97, "reward/std": 0.03, "reward/mean": 0.98} for s in range(6, 12)
    ]
    path = write_metrics(tmp_path / "metrics.jsonl", rows)
    result = invoke(runner, path)
    assert result.exit_code == 3, result.output
    assert "loss is ~0 because every group agreed" in result.stdout
    assert "reward_variance_collapse" in result.stdout and "zero_variance_groups" in result.stdout
    assert invoke(runner, path, "--no-fail").exit_code == 0


def test_agent_run_with_a_broken_tool_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    agent = {"tools/calls_per_episode": 2.0, "tools/error_rate": 0.1, "tools/turns_mean": 3.0,
             "tools/answer_without_tool_rate": 0.05}
    rows = [{**healthy(s), **agent, "tools/error_rate": 0.1 if s < 5 else 1.0} for s in range(1, 9)]
    path = write_metrics(tmp_path / "metrics.jsonl", rows)
    result = invoke(runner, path, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert [(w["step"], w["code"], w["value"]) for w in report["warnings"]] == [(7, "tool_errors", 1.0)]
    assert "rlvr audit --env NAME" in report["warnings"][0]["message"]
    # the agent checks without their metric are listed as not checked on an agent run
    assert "observation_truncation" in report["summary"]["checks_without_data"]
    assert invoke(runner, path, "--set", "tool_error_rate_max=none").exit_code == 0
    named = json.loads(invoke(runner, path, "--json", "--env", "sql").stdout)
    assert named["env"] == "sql"
    assert "`rlvr audit --env sql`" in named["warnings"][0]["message"]
    assert "`rlvr env replay FILE --env sql`" in named["warnings"][0]["message"]


def test_json_report(runner: CliRunner, tmp_path: Path) -> None:
    rows = [healthy(s) for s in range(1, 6)] + [{**healthy(s), "policy/kl": 25.0} for s in range(6, 10)]
    result = invoke(runner, write_metrics(tmp_path / "m.jsonl", rows), "--json", "--set", "patience=2")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["format"] == "rlvr" and report["rows"] == 9
    assert report["config"]["patience"] == 2
    assert [(w["step"], w["code"], w["value"], w["threshold"]) for w in report["warnings"]] == [
        (7, "kl_explosion", 25.0, 10.0)
    ]
    assert report["summary"]["counts"] == {"kl_explosion": 1}
    assert report["healthy"] is False


def test_trl_trainer_state_from_a_real_run(runner: CliRunner) -> None:
    # The fixture comes from a random model: every completion hits the max length.
    result = invoke(runner, TRL_STATE, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["format"] == "trl"
    assert report["keys"]["reward/std"] == "reward_std"
    assert report["keys"]["groups/frac_zero_std"] == "frac_reward_zero_std"
    assert {w["code"] for w in report["warnings"]} == {"length_explosion"}
    assert report["warnings"][0]["metric"] == "gen/truncated_frac"
    quiet = invoke(runner, TRL_STATE, "--set", "truncated_frac_max=none")
    assert quiet.exit_code == 0, quiet.output
    assert "not checked (metric missing): kl_explosion, verifier_errors" in quiet.stdout


def test_trl_output_dir_is_found(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-10").mkdir()
    state = json.loads(TRL_STATE.read_text())
    (tmp_path / "checkpoint-10" / "trainer_state.json").write_text(json.dumps(state))
    state["log_history"] = state["log_history"][:2]
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text(json.dumps(state))
    report = json.loads(invoke(runner, tmp_path, "--json", "--no-fail").stdout)
    assert report["path"].endswith("checkpoint-10/trainer_state.json")  # the latest, numerically
    assert report["rows"] == 6


def test_generic_jsonl_with_map(runner: CliRunner, tmp_path: Path) -> None:
    path = write_metrics(tmp_path / "log.jsonl", [{"it": i, "ent": 0.01} for i in range(1, 5)])
    bad = invoke(runner, path)
    assert bad.exit_code == 1
    assert "no known metric keys" in bad.stderr and "--map theirs=ours" in bad.stderr
    result = invoke(runner, path, "--map", "ent=policy/entropy", "--map", "it=step", "--json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["format"] == "jsonl"
    assert [w["code"] for w in report["warnings"]] == ["entropy_collapse"]


def test_map_to_unknown_key_is_rejected_with_the_list(runner: CliRunner, tmp_path: Path) -> None:
    path = write_metrics(tmp_path / "log.jsonl", [{"x": 1}])
    result = invoke(runner, path, "--map", "x=reward_sd")
    assert result.exit_code == 1
    assert "'reward_sd' is not a metric rlvr checks" in result.stderr


def test_verl_format(runner: CliRunner, tmp_path: Path) -> None:
    rows = [{"step": s, "data": {"actor/kl_loss": 0.1 if s < 3 else 40.0, "critic/score/mean": 0.5}} for s in range(1, 8)]
    result = invoke(runner, write_metrics(tmp_path / "verl.jsonl", rows), "--format", "verl", "--json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert [(w["step"], w["code"]) for w in report["warnings"]] == [(5, "kl_explosion")]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "kl_max=big"], "kl_max takes a number or none"),
        (["--set", "colour=red"], "unknown field 'colour'"),
        (["--set", "patience=0"], "patience must be an integer >= 1"),
        (["--set", "patience=none"], "patience cannot be turned off"),
        (["--format", "wandb"], "--format must be one of auto, rlvr, trl, verl, jsonl"),
        (["--map", "nonsense"], "--map expects theirs=ours"),
    ],
)
def test_bad_options_are_one_line_errors(runner: CliRunner, tmp_path: Path, args: list[str], needle: str) -> None:
    path = write_metrics(tmp_path / "m.jsonl", [healthy(1)])
    result = invoke(runner, path, *args)
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.stderr


def test_bad_input_names_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(healthy(1)) + "\n{not json\n")
    result = invoke(runner, path)
    assert result.exit_code == 1
    assert f"error: {path}:2: invalid JSON" in result.stderr
    missing = invoke(runner, tmp_path / "nope.jsonl")
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "no known metric keys" in invoke(runner, empty).stderr


def test_real_entry_point_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr.cli", "health", str(TRL_STATE), "--json", "--no-fail"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["format"] == "trl"


def test_silent_verifier_alarm_names_the_run_dirs_verifier(runner: CliRunner, tmp_path: Path) -> None:
    rows = [{**healthy(s), "reward/mean": 0.0, "reward/correct_frac": 0.0} for s in range(1, 13)]
    write_metrics(tmp_path / "metrics.jsonl", rows)
    (tmp_path / "config.json").write_text(json.dumps({"verifier": {"name": "math"}}))
    result = invoke(runner, tmp_path)
    assert result.exit_code == 3, result.output
    assert "verifier math" in result.stdout and "silent_verifier" in result.stdout
    report = json.loads(invoke(runner, tmp_path, "--json").stdout)
    assert report["verifier"] == "math"
    assert [(w["step"], w["code"], w["metric"]) for w in report["warnings"]] == [
        (10, "silent_verifier", "reward/correct_frac")
    ]
    message = report["warnings"][0]["message"]
    assert "no completion passed the verifier 'math'" in message and "`rlvr audit --verifier math`" in message
    named = json.loads(invoke(runner, tmp_path, "--json", "--verifier", "code").stdout)
    assert named["verifier"] == "code" and "--verifier code" in named["warnings"][0]["message"]
    early = json.loads(invoke(runner, tmp_path, "--json", "--set", "silent_verifier_patience=4").stdout)
    assert [w["step"] for w in early["warnings"]] == [4]
    off = invoke(runner, tmp_path, "--set", "silent_verifier_patience=none")
    assert off.exit_code == 0, off.output


def test_silent_verifier_alarm_on_a_trl_log(runner: CliRunner, tmp_path: Path) -> None:
    state = json.loads(TRL_STATE.read_text())
    template = next(e for e in state["log_history"] if "reward" in e)
    state["log_history"] = [
        {**template, "step": i, "reward": 0.0, "reward_std": 0.0, "rewards/parity_reward/mean": 0.0,
         "frac_reward_zero_std": 0.5,
         "completions/clipped_ratio": 0.0}
        for i in range(1, 13)
    ]
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    report = json.loads(invoke(runner, tmp_path, "--json").stdout)
    assert report["format"] == "trl" and report["verifier"] == "TRL reward function 'parity_reward'"
    alarm = [w for w in report["warnings"] if w["code"] == "silent_verifier"]
    assert [(w["step"], w["metric"]) for w in alarm] == [(10, "reward/mean")]  # TRL's "reward", all 0
    assert "the verifier (TRL reward function 'parity_reward')" in alarm[0]["message"]
