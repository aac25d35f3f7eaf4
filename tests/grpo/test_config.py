"""Config: TOML → frozen dataclasses, presets, overrides, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlvr.diagnostics import HealthConfig
from rlvr.errors import ConfigError
from rlvr.grpo.config import GRPOConfig, apply_overrides, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = {"model": {"name": "tiny"}, "data": {"task": "arithmetic"}}


def test_example_config_loads():
    cfg = load_config(ROOT / "examples" / "train_tiny.toml")
    assert isinstance(cfg, GRPOConfig)
    assert cfg.model.name == "tiny" and cfg.data.task == "arithmetic"
    assert isinstance(cfg.health, HealthConfig)
    # the dapo preset fills what the file leaves unset, the file wins elsewhere
    assert cfg.loss.eps_high == 0.28 and cfg.loss.agg == "token-mean"
    assert cfg.rollout.dynamic_sampling is False
    # DAPO as published: overlong filtering and the soft overlong punishment (20% buffer)
    assert cfg.rollout.overlong_filter is True and cfg.rollout.overlong_buffer == 0.2
    assert cfg.rollout.overlong_buffer_tokens == 1  # of max_new_tokens = 4
    assert cfg.loss.kl_every == 1  # policy/kl is read at beta = 0 too


def test_only_dapo_turns_on_the_overlong_rules():
    for algo in ("grpo", "dr_grpo", "rloo", "gspo", "median"):
        cfg = config_from_dict({**MINIMAL, "algorithm": algo})
        assert not cfg.rollout.overlong_filter and cfg.rollout.overlong_buffer == 0.0, algo
    cfg = config_from_dict({**MINIMAL, "algorithm": "dapo", "rollout": {"overlong_buffer": 0.0}})
    assert cfg.rollout.overlong_filter and cfg.rollout.overlong_buffer_tokens == 0  # the file wins


def test_round_trip_through_dict():
    cfg = config_from_dict({**MINIMAL, "algorithm": "dr_grpo", "health": {"kl_max": 5.0}})
    again = config_from_dict(cfg.to_dict())
    assert again == cfg
    assert cfg.advantage.scale == "none" and cfg.loss.agg == "seq-mean-token-sum-norm"
    assert cfg.health.kl_max == 5.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**MINIMAL, "optim": {"lr": 1e-3}}, "unknown key 'lr' in [optim]; did you mean 'learning_rate'?"),
        ({**MINIMAL, "rollout": {"num_generations": 8}}, "did you mean 'group_size'?"),
        ({**MINIMAL, "rollout": {"overlong_buffer": 1.5}}, "overlong_buffer is a fraction of max_new_tokens"),
        ({**MINIMAL, "loss": {"kl_every": -1}}, "kl_every must be >= 0"),
        ({**MINIMAL, "optim": {"learning_rate": "fast"}}, "[optim] learning_rate must be a number"),
        ({**MINIMAL, "loss": {"agg": "token_mean"}}, "did you mean 'token-mean'?"),
        ({**MINIMAL, "rollout": {"group_size": 1}}, "group_size must be >= 2"),
        ({**MINIMAL, "trainer": {}}, "unknown key 'trainer' in the top level"),
        ({"data": {"task": "arithmetic"}}, "missing section or key 'model'"),
        ({**MINIMAL, "model": {"name": "tiny", "path": "x"}}, "exactly one of"),
        ({**MINIMAL, "algorithm": "ppo"}, "algorithm = 'ppo' is unknown"),
        ({**MINIMAL, "health": {"kl_max": -1.0}}, "kl_max"),
        ({**MINIMAL, "run": {"steps": True}}, "[run] steps must be an integer"),
        ({**MINIMAL, "optim": {"minibatches": 1000}}, "minibatches=1000 exceeds"),
        ({**MINIMAL, "advantage": {"exclude": ["oops"]}}, "unknown statuses"),
    ],
)
def test_bad_configs_name_the_fix(data, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_overrides_parse_toml_values():
    data = apply_overrides(MINIMAL, ["optim.learning_rate=3e-4", "rollout.dynamic_sampling=true", "algorithm=rloo", 'run.out_dir="x y"'])
    cfg = config_from_dict(data)
    assert cfg.optim.learning_rate == 3e-4 and cfg.rollout.dynamic_sampling is True
    assert cfg.advantage.baseline == "rloo" and cfg.run.out_dir == "x y"
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides(MINIMAL, ["nonsense"])


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname = 1\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[model]\nname = "tiny"\n[data]\ntask = "arithmetic"\n[optim]\nlr = 1\n')
    with pytest.raises(ConfigError, match=r"wrong.toml: unknown key 'lr' in \[optim\]"):
        load_config(wrong)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


def test_yaml_config(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model:\n  name: tiny\ndata:\n  task: arithmetic\nrun:\n  steps: 3\n")
    assert load_config(p).run.steps == 3
