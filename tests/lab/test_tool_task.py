"""The lab's tool task: its config and arms, the impossible-task prompts, the summary's tool section
(from simulated seeds: tool use, tool vs no tool, the impossible control's call), and its calibration's
judging and mutants."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from lab_fakes import fake_seed

from rlvr.errors import ConfigError
from rlvr.lab.arms import impossible_prompts, seed_arms
from rlvr.lab.calibrate import judge
from rlvr.lab.config import lab_config
from rlvr.lab.summary import lab_summary
from rlvr.lab.tool_calibration import TOOL_MUTANTS, TOOL_SCENARIOS


def test_the_tool_task_takes_its_own_profile_settings_and_arms():
    cfg = lab_config("quick", task="tool")
    assert cfg.tool_task and cfg.random_p == 0.5 and cfg.band == (0.0, 1.0) and not cfg.format_control
    assert seed_arms(cfg) == ["trained", "no_tool", "random_control", "impossible_control"]
    assert lab_config("quick", task="tool", steps=7).grpo.run.steps == 7  # the user's value wins
    arm = cfg.arm_config("r", tools=False)
    assert (arm.env.name, arm.env.tools, arm.env.max_turns) == ("calculator", False, 3)
    assert cfg.arm_config("r").env.tools is True
    assert lab_config("quick").arm_config("r").env.name is None  # single-turn tasks keep no [env]
    env = cfg.environment()()
    env.reset(prompt="12*34=", answer="408")
    assert env.calculate("12*34") == "408"
    assert lab_config("quick", task="tool", env="rlvr.lab.plants:LeakyCalculatorEnv").arm_config("r").env.name.endswith(":LeakyCalculatorEnv")
    with pytest.raises(ConfigError, match="tool tasks only"):
        lab_config("quick", unreachable_share=0.5)
    with pytest.raises(ConfigError, match="unreachable_share"):
        lab_config("quick", task="tool", unreachable_share=1.0)


def test_impossible_answers_keep_the_length_and_never_equal_the_truth():
    recs = [{"id": str(i), "prompt": f"{a}*{b}=", "answer": str(a * b)}
            for i, (a, b) in enumerate((random.Random(0).randint(100, 999), random.Random(1).randint(10, 99)) for _ in range(300))]
    out = impossible_prompts(recs, seed=3)
    assert out == impossible_prompts(recs, seed=3)  # deterministic per seed
    assert all(o["answer"] != r["answer"] and len(o["answer"]) == len(r["answer"]) for o, r in zip(out, recs))
    assert all(o["prompt"] == r["prompt"] and o["stratum"] == "unreachable" for o, r in zip(out, recs))


def _tool_seed(seed: int, impossible_reward: float, *, trained: float = 0.7, no_tool: float = 0.0):
    n = 80

    def probs(rng):
        base = np.full(n, 0.06)
        return {arm: {"in_distribution": p, "shifted": p} for arm, p in {
            "base": base, "trained": np.full(n, trained), "no_tool": np.full(n, no_tool),
            "random_control": base, "impossible_control": base}.items()}

    s = fake_seed(seed, probs)
    runs = dict(s.runs)
    runs["impossible_control"] = dataclasses.replace(
        runs["impossible_control"], curves={**runs["impossible_control"].curves, "reward/mean": [impossible_reward] * 20})
    use = {arm: {"in_distribution": {"calls_per_episode": c, "answers_using_tool": a, "episodes": 640},
                 "shifted": {"calls_per_episode": c, "answers_using_tool": a, "episodes": 640}}
           for arm, (c, a) in {"base": (0.1, 0.08), "trained": (0.95, 0.9), "no_tool": (0.05, 0.0),
                               "random_control": (0.1, 0.08), "impossible_control": (0.1, 0.08)}.items()}
    return dataclasses.replace(s, runs=runs, tool_use=use)


def test_the_summary_reports_tool_use_the_tool_difference_and_the_impossible_call():
    cfg = lab_config("quick", task="tool", n_boot=200)
    clean = lab_summary(cfg, [_tool_seed(s, 0.0) for s in (1, 2, 3)])
    assert set(clean["arms"]) == {"base", "trained", "random_control", "no_tool", "impossible_control"}
    assert clean["arms"]["trained"]["tool_use"]["in_distribution"] == {"calls_per_episode": 0.95, "answers_using_tool": 0.9}
    vs = clean["tool"]["tool_vs_no_tool"]
    assert vs["direction"] == "up" and vs["pass_at_1_ci"][0] > 0.5  # ~0.7 vs 0.0 on 80 problems x 3 seeds
    assert clean["tool"]["impossible"]["label"] == "no_impossible_reward" and not clean["tool"]["impossible"]["flag"]
    leaky = lab_summary(cfg, [_tool_seed(s, r) for s, r in ((1, 0.3), (2, 0.0), (3, 0.2))])
    imp = leaky["tool"]["impossible"]
    assert imp["flag"] and imp["label"] == "impossible_reward" and imp["reward_mean"] == pytest.approx(0.5 / 3, abs=1e-6)
    assert imp["per_seed"] == {"1": 0.3, "2": 0.0, "3": 0.2}
    assert "audit it" in imp["reason"]
    # A single-turn study has no tool section.
    assert "tool" not in lab_summary(lab_config("quick", n_boot=200), [fake_seed(s, lambda rng: {
        a: {"in_distribution": np.full(40, 0.5), "shifted": np.full(40, 0.5)} for a in ("base", "trained")}) for s in (1, 2)])


def test_the_hack_scenario_is_judged_on_the_impossible_call_and_the_audit():
    cfg = lab_config("quick", task="tool", n_boot=200)
    hack = next(s for s in TOOL_SCENARIOS if s.name == "tool_hack")
    leaky = lab_summary(cfg, [_tool_seed(s, 0.4) for s in (1, 2, 3, 4)])
    assert judge(hack, leaky, "quick", audit_flags=True)["met"]
    assert not judge(hack, leaky, "quick", audit_flags=False)["met"]  # the audit must flag it too
    clean = lab_summary(cfg, [_tool_seed(s, 0.0) for s in (1, 2, 3, 4)])
    row = judge(hack, clean, "quick", audit_flags=True)
    assert not row["met"] and row["recovered"] == 0
    capability = next(s for s in TOOL_SCENARIOS if s.name == "tool_capability")
    assert judge(capability, clean, "quick")["met"]
    # Each tool mutant breaks a scenario that met the bar.
    names = {m.name: m for m in TOOL_MUTANTS}
    assert not judge(hack, names["impossible_call_always_clean"].summary(leaky), "quick", audit_flags=True)["met"]
    assert not judge(capability, names["impossible_call_always_fires"].summary(clean), "quick")["met"]
    dead = names["dead_impossible_arm"].seeds([_tool_seed(s, 0.4) for s in (1, 2, 3, 4)])
    assert not judge(hack, lab_summary(cfg, dead), "quick", audit_flags=True)["met"]


@pytest.mark.slow
def test_the_tool_study_runs_every_arm_as_episodes(tmp_path, monkeypatch):
    """The whole pipeline at toy scale (a short warm-up: the wiring, not a finding): every arm is
    sampled, trained and evaluated as multi-turn episodes and summary.json has the tool contract."""
    import json

    from rlvr.lab import run_lab

    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "lab"
    cfg = lab_config("quick", task="tool", seeds=2, pretrain_steps=300, steps=4, n_pool=32, n_test=16, n_shifted=8,
                     n_samples=4, n_boot=50, out_dir=str(out), progress=False)
    summary = run_lab(cfg, quiet=True)
    assert set(summary["arms"]) == {"base", "trained", "no_tool", "random_control", "impossible_control"}
    for arm, entry in summary["arms"].items():
        use = entry["tool_use"]["in_distribution"]
        assert 0.0 <= use["answers_using_tool"] <= 1.0 and use["calls_per_episode"] >= 0.0, arm
    assert set(summary["tool"]) == {"tool_use", "tool_vs_no_tool", "impossible"}
    assert summary["tool"]["impossible"]["label"] == "no_impossible_reward"  # the honest calculator pays nothing
    lines = [json.loads(x) for x in (out / "seed0" / "samples" / "trained_in_distribution.jsonl").read_text().splitlines()]
    assert len(lines) == 16 * 4 and all("n_tool_calls" in x and x["ended"] in ("answer", "max_turns", "budget") for x in lines)
    assert any(x["n_tool_calls"] for x in lines)
    config = json.loads((out / "seed0" / "train_no_tool" / "config.json").read_text())
    assert config["env"] == {"name": "calculator", "max_turns": 3, "tools": False, "options": {}}
    metrics = (out / "seed0" / "train_real" / "metrics.jsonl").read_text().splitlines()
    assert "tools/calls_per_episode" in json.loads(metrics[-1])
    assert (out / "report.html").read_text().count("Tool use") >= 1
