"""The verl agent-loop tool adapter, without verl installed."""

from __future__ import annotations

import asyncio
import json

import pytest

from rlvr.errors import ConfigError
from rlvr.integrations.verl_env import VerlEnvTool


def test_lifecycle_with_the_calculator():
    tool = VerlEnvTool({"env": "calculator", "type": "native"})
    assert tool.get_openai_tool_schema()["function"]["name"] == "calculate"

    async def episode():
        iid, _ = await tool.create(None, create_kwargs={"ground_truth": "42"})
        resp, step_reward, metrics = await tool.execute(iid, {"expression": "6*7"})
        bad, _, bad_metrics = await tool.execute(iid, {"expr": "1"})
        reward = await tool.calc_reward(iid, final_answer="\\boxed{42}")
        await tool.release(iid)
        return resp, step_reward, metrics, bad, bad_metrics, reward, iid

    resp, step_reward, metrics, bad, bad_metrics, reward, iid = asyncio.run(episode())
    text = resp["text"] if isinstance(resp, dict) else resp.text
    assert text == "42" and step_reward == 0.0 and metrics["error"] == 0
    bad_text = bad["text"] if isinstance(bad, dict) else bad.text
    assert "malformed arguments" in json.loads(bad_text)["error"] and bad_metrics["error"] == 1
    assert reward == 1.0
    assert iid not in tool.instances


def test_unknown_tool_is_a_config_error():
    with pytest.raises(ConfigError, match="no tool"):
        VerlEnvTool({"env": "calculator", "tool": "run_python"})
