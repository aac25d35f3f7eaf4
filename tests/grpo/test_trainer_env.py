"""The trainer with a tool environment: multi-turn rollouts, masked updates, config errors."""

from __future__ import annotations

from functools import partial

import pytest

from rlvr.env import CalculatorEnv
from rlvr.errors import ConfigError
from rlvr.grpo.config import config_from_dict
from rlvr.grpo.trainer import Trainer
from rlvr.policy.tiny import TinyConfig, TinyPolicy

PROMPTS = [{"id": f"p{i}", "prompt": f"{i + 11}*{i + 3}=", "answer": str((i + 11) * (i + 3))} for i in range(8)]


def env_config(**env):
    return config_from_dict({
        "model": {"name": "tiny", "tiny": {"block_size": 48}}, "data": {"task": "arithmetic"},
        "run": {"steps": 2, "seed": 0, "progress": False, "out_dir": None},
        "env": {"name": "calculator", "max_turns": 3, **env},
        "rollout": {"prompts_per_step": 4, "group_size": 4, "max_new_tokens": 12},
        "optim": {"learning_rate": 1e-3, "epochs": 2}, "loss": {"beta": 0.1},
    })


def digit_share(output, ground_truth):
    """A graded reward a random model gets varied scores on (so groups disagree and the update moves)."""
    return sum(c.isdigit() for c in output) / len(output) if output else 0.0


def test_a_multi_turn_step_updates_on_the_models_tokens_only():
    policy = TinyPolicy(TinyConfig(block_size=48), seed=0)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    trainer = Trainer(env_config(), policy=policy, prompts=PROMPTS, run_dir=None, quiet=True,
                      environment=partial(CalculatorEnv, verifier=digit_share))
    m = trainer.step()
    # Sampling and scoring agree on the model's tokens (observations never enter the ratio).
    assert m["policy/logprob_gap"] < 1e-5
    assert m["optim/updates"] == 2 and m["policy/kl"] >= 0.0
    assert any((policy.state_dict()[k] != v).any() for k, v in before.items())
    assert m["time/verify"] > 0.0


def test_env_config_errors_name_the_fix():
    with pytest.raises(ConfigError, match="max_turns"):
        env_config(max_turns=0)
    with pytest.raises(ConfigError, match="set max_turns directly"):
        env_config(options={"max_turns": 2})
    with pytest.raises(ConfigError, match="unknown environment"):
        Trainer(env_config(name="nope"), policy=TinyPolicy(TinyConfig(block_size=48)), prompts=PROMPTS,
                run_dir=None, quiet=True)
