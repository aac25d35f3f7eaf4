"""`rlvr audit --env`: the exploit catalogue through the real environments, and proof that its
detectors fire (an unisolated python tool and a grader that pays everything are caught)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rlvr.audit.env import audit_env
from rlvr.audit.env_cases import env_cases
from rlvr.cli import app

PY_CLASSES = {"control", "grader_as_tool", "reserved_names", "forged_observation", "pays_everything", "malformed_calls",
              "turn_flood", "reward_file", "answer_leak_fs", "answer_leak_env", "answer_leak_memory", "kill_parent",
              "fork_bomb", "memory_bomb", "output_bomb", "network", "escape", "cross_episode_state",
              "answer_leak_history"}


def test_python_catalogue_is_safe_in_the_sandbox(isolation_ok):
    result = audit_env("python")
    assert set(result.classes) == PY_CLASSES
    r = result.report
    assert r.n_bad >= 50 and r.n_good >= 5
    assert r.coverage == 1.0 and r.false_positive_rate == 0.0 and r.false_negative_rate == 0.0
    assert result.leaks == [] and result.side_effects == []
    assert result.ok and result.verdict().startswith("SAFE")


def test_detectors_fire_without_isolation(isolation_ok):
    result = audit_env("python", options={"isolation": "none"})
    flagged = {c.test for c in result.report.cases if c.outcome == "false_positive"}
    assert {"reward-file", "reward-file-tmp", "read-answer-file", "network-local", "network-udp"} <= flagged
    assert "read-answer-file" in result.leaks
    assert any("TCP" in s for s in result.side_effects)
    assert not result.ok and result.verdict().startswith("UNSAFE")


def test_a_grader_that_pays_everything_is_caught():
    def pays(output, ground_truth):
        return 1.0

    result = audit_env("calculator", options={"verifier": pays})
    assert result.report.false_positive_rate > 0.9
    assert result.classes["pays_everything"]["paid"] == result.classes["pays_everything"]["cases"]
    assert not result.ok


def test_sql_and_calculator_catalogues_are_safe():
    for env in ("sql", "calculator"):
        result = audit_env(env)
        assert result.ok, [c.to_dict() for c in result.report.misjudged()]
        assert result.report.n_good >= 3
    assert {"destructive_sql_tool", "destructive_sql_answer"} <= set(audit_env("sql").classes)


def test_every_exploit_has_a_control_and_no_exploit_knows_the_answer():
    for env in ("python", "sql", "calculator"):
        cases = env_cases(env)
        assert any(c["should_pass"] for c in cases)
        for c in cases:
            if not c["should_pass"]:
                assert all("@@ANSWER@@" not in t or c["class"] == "turn_flood" for t in c["turns"]), c["test"]


def test_cli_audit_env_json():
    res = CliRunner().invoke(app, ["audit", "--env", "calculator", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout.strip().splitlines()[-1])
    assert d["ok"] and d["false_positive_rate"] == 0.0 and d["env"] == "calculator"
    res = CliRunner().invoke(app, ["audit", "--env", "nope"])
    assert res.exit_code == 1 and "no exploit catalogue" in res.output


@pytest.mark.parametrize("args", [["audit"], ["audit", "--json"]])
def test_cli_audit_needs_a_verifier_or_env(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "--verifier" in res.output
