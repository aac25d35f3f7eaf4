"""bench/agent_step.py: the summary arithmetic by hand, the fit's training sequences, and one real
run of both sides (1 step each, the smallest sizes) in which both sides' episodes call the tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import agent_step  # noqa: E402  (bench/ is not a package)


def _step(wall: float, gen: float, tools: float, reward: float, update: float, calls: int, with_calls: int) -> dict:
    other = wall - gen - tools - reward - update
    return {"wall_s": wall, "cpu_s": 2 * wall, "tool_calls": calls, "episodes_with_calls": with_calls,
            "phases_s": {"generation": gen, "tools": tools, "reward": reward, "update": update, "other": other}}


def _run(steps: list[dict], rewards: list[float], lens: list[float], peak: float = 100.0) -> dict:
    return {"side": "rlvr", "episodes_per_step": 4, "peak_rss_mib": peak, "steps": steps,
            "reward_mean": rewards, "len_mean": lens, "len_max": [2 * x for x in lens],
            "own_calls_per_episode": [1.0] * len(steps)}


def test_summarise_drops_warmup_and_pools_shares_calls_and_rewards():
    raw = _run([_step(9.0, 9.0, 0.0, 0.0, 0.0, 0, 0),  # warm-up: left out of every number
                _step(1.0, 0.5, 0.1, 0.1, 0.2, 4, 4),
                _step(3.0, 1.5, 0.1, 0.1, 1.0, 2, 1)], [0.0, 0.5, 0.25], [1.0, 20.0, 30.0])
    s = agent_step.summarise([raw], warmup=1)
    assert s["timed_steps"] == 2 and s["rounds"] == 1
    assert s["median_step_s"] == 2.0 and s["min_step_s"] == 1.0 and s["mean_step_s"] == 2.0
    assert s["median_cpu_s"] == 4.0
    assert s["shares"]["generation"] == pytest.approx(2.0 / 4.0)
    assert s["shares"]["update"] == pytest.approx(1.2 / 4.0)
    assert s["shares"]["other"] == pytest.approx((0.1 + 0.3) / 4.0)
    assert sum(s["shares"].values()) == pytest.approx(1.0)
    assert s["phases_s"]["generation"] == pytest.approx(1.0)  # median of 0.5 and 1.5
    assert s["tool_calls_per_episode"] == pytest.approx(6 / 8)
    assert s["episodes_with_calls"] == pytest.approx(5 / 8)
    assert s["reward_mean"] == pytest.approx(0.375)
    assert s["completion_tokens_mean"] == pytest.approx(25.0)
    assert s["completion_tokens_max"] == pytest.approx(50.0)


def test_summarise_pools_rounds_each_without_its_warmup():
    a = _run([_step(9.0, 9.0, 0, 0, 0, 0, 0), _step(1.0, 1.0, 0, 0, 0, 4, 4)], [0.0, 1.0], [5.0, 10.0])
    b = _run([_step(8.0, 8.0, 0, 0, 0, 0, 0), _step(2.0, 2.0, 0, 0, 0, 0, 0), _step(4.0, 4.0, 0, 0, 0, 2, 2)],
             [0.0, 0.0, 0.5], [5.0, 20.0, 30.0], peak=300.0)
    s = agent_step.summarise([a, b], warmup=1)
    assert s["rounds"] == 2 and s["timed_steps"] == 3
    assert s["median_step_s"] == 2.0 and s["min_step_s"] == 1.0
    assert s["tool_calls_per_episode"] == pytest.approx(6 / 12)
    assert s["reward_mean"] == pytest.approx(0.5)
    assert s["completion_tokens_mean"] == pytest.approx(20.0)
    assert s["peak_rss_mib"] == 300.0
    assert s["step_s"] == [[9.0, 1.0], [8.0, 2.0, 4.0]]


def test_summarise_passes_errors_through_and_refuses_no_timed_step():
    ok = _run([_step(1.0, 1.0, 0, 0, 0, 0, 0), _step(1.0, 1.0, 0, 0, 0, 0, 0)], [0, 0], [1, 1])
    assert agent_step.summarise([ok, {"side": "trl", "error": "exit 1: boom"}], warmup=1)["error"] == "exit 1: boom"
    assert "no timed step" in agent_step.summarise([_run([_step(1.0, 1.0, 0, 0, 0, 0, 0)], [0], [1])], warmup=1)["error"]


def test_compare_is_trl_over_rlvr():
    results = {"rlvr": {"median_step_s": 2.0, "min_step_s": 1.0, "median_cpu_s": 3.0},
               "trl": {"median_step_s": 5.0, "min_step_s": 4.0, "median_cpu_s": 6.0}}
    assert agent_step.compare(results) == {"ratio_median": 2.5, "ratio_min": 4.0, "ratio_cpu": 2.0}
    assert agent_step.compare({"rlvr": results["rlvr"], "trl": {"error": "x"}}) == {}


def test_fit_sequences_supervise_the_assistant_turns_only():
    pytest.importorskip("trl")
    import agent_model

    records = agent_model.make_records(40, seed=3)
    tok = agent_model.build_tokenizer(records, 400)
    rec = records[0]
    ids, mask = agent_model.episode_ids(tok, rec, agent_model.tool_schemas())
    supervised = tok.decode([t for t, m in zip(ids, mask) if m])
    call = agent_model.call_text(rec["expression"])
    assert supervised == call + "<|im_end|>" + f"The answer is {rec['answer']}.<|im_end|>"
    # The whole sequence is the conversation as the chat template renders it (tool turn included).
    assert tok.decode(ids) == agent_model.render(agent_model.conversation(rec), agent_model.tool_schemas()).rstrip("\n")


@pytest.mark.slow
def test_one_step_each_side_with_tool_calls(tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, str(ROOT / "bench" / "agent_step.py"), "--steps", "1", "--warmup", "0", "--prompts", "1",
           "--group", "2", "--hidden", "64", "--fit-steps", "150", "--threads", "1", "--timeout", "300", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ratio_median"] > 0
    for side in ("rlvr", "trl"):
        r = report["results"][side]
        assert r["timed_steps"] == 1 and r["median_step_s"] > 0
        assert r["tool_calls_per_episode"] > 0, f"{side}: the fitted model made no tool call"
        assert r["completion_tokens_mean"] > 0
        assert sum(r["shares"].values()) == pytest.approx(1.0)
        assert r["shares"]["generation"] > 0 and r["shares"]["update"] > 0
