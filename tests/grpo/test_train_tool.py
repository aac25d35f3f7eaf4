"""``rlvr train examples/train_tool.toml``: tool-use RL learns, every agent metric is logged, and a
broken environment (a tool that always errors) raises a health warning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr.diagnostics import keys
from rlvr.env import CalculatorEnv, ToolError
from rlvr.grpo.build import build_policy
from rlvr.grpo.config import load_config
from rlvr.grpo.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "train_tool.toml"


class BrokenCalculator(CalculatorEnv):
    """The calculator with a tool that always fails (a backend down, a bad deployment)."""

    def calculate(self, expression: str) -> str:
        """Evaluate an arithmetic expression.

        Args:
            expression: The expression.
        """
        raise ToolError("calculator backend unavailable")


@pytest.mark.slow
def test_the_tool_example_learns_to_call_the_tool(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rlvr.cli", "train", str(EXAMPLE), "--out", str(out), "--set", "run.steps=40", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 40
    for key in keys.AGENT_KEYS:
        assert all(key in r for r in rows), key
    first = sum(r[keys.REWARD_MEAN] for r in rows[:5]) / 5
    last = sum(r[keys.REWARD_MEAN] for r in rows[-5:]) / 5
    calls_first = sum(r["tools/calls_per_episode"] for r in rows[:5]) / 5
    calls_last = sum(r["tools/calls_per_episode"] for r in rows[-5:]) / 5
    assert last > first + 0.3, (first, last)
    assert calls_last > calls_first + 0.3, (calls_first, calls_last)
    assert all(r[keys.POLICY_LOGPROB_GAP] < 1e-4 for r in rows)


@pytest.mark.slow
def test_a_tool_that_always_errors_raises_a_warning():
    cfg = load_config(EXAMPLE, overrides=["run.steps=6"])
    policy = build_policy(cfg)  # the example's warm-up: it calls the tool on ~10% of episodes
    trainer = Trainer(cfg, policy=policy, run_dir=None, quiet=True, environment=BrokenCalculator)
    rates = [trainer.step()["tools/error_rate"] for _ in range(6)]
    assert max(rates) == 1.0 and min(rates) in (0.0, 1.0)  # every call that was made failed
    summary = trainer.monitor.summary()
    assert "tool_errors" in json.dumps(summary), summary
