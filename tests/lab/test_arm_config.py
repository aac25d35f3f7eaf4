"""The lab's GRPOConfig template: every arm's trainer config equals the one the lab built before the
template existed (captured in data/arm_configs.json from ``rlvr.lab.arms._train_config`` at commit
93423db), and the flat settings read back as before (summary.json's ``config``, job fingerprints)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rlvr.errors import ConfigError
from rlvr.grpo.config import GRPOConfig, config_from_dict
from rlvr.lab.config import LabConfig, lab_config, train_template, trainer_values

ADDED_SINCE = {"no_tool_control", "impossible_control", "tool_share", "impossible_threshold", "env", "unreachable_share"}
"""LabConfig settings added after the capture (the tool task's)."""
CASES = json.loads((Path(__file__).parent / "data" / "arm_configs.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['profile']}-{'-'.join(c['overrides'])}" for c in CASES])
def test_arm_config_equals_the_config_the_lab_built_before(case):
    cfg = lab_config(case["profile"], **case["overrides"])
    arm = cfg.arm_config(Path(case["run_dir"]))
    assert isinstance(cfg.grpo, GRPOConfig)
    # Every captured setting is unchanged; fields GRPOConfig gained since (e.g. [env]) hold their defaults.
    assert _subset(case["config"], arm.to_dict())
    assert arm == config_from_dict(case["config"])
    flat = json.loads(json.dumps(cfg.flat(), default=str))
    assert _subset(case["flat"], flat)
    assert set(flat) - set(case["flat"]) <= ADDED_SINCE  # settings added since the capture, at their defaults
    assert all(flat[k] == getattr(LabConfig(), k) for k in set(flat) - set(case["flat"]))


def test_the_off_policy_case_is_among_the_captured_ones():
    off = [c for c in CASES if c["overrides"].get("epochs") == 2]
    assert off and off[0]["config"]["optim"]["minibatches"] == 2 and off[0]["config"]["loss"]["eps_high"] == 0.28
    # grpo's preset clip is symmetric (0.2, 0.2): 0.28 is the user's asymmetric clip, kept in the flat view
    assert lab_config("quick").arm_config("r").loss.eps_high == 0.2
    assert lab_config("quick", eps_high=0.28).flat()["eps_high"] == 0.28


def test_flat_names_map_onto_the_template():
    cfg = lab_config("quick", steps=7, learning_rate=1e-3, kl_beta=0.0, temperature=0.7, group_size=4)
    assert (cfg.grpo.run.steps, cfg.grpo.optim.learning_rate, cfg.grpo.loss.beta) == (7, 1e-3, 0.0)
    assert (cfg.grpo.rollout.temperature, cfg.grpo.rollout.group_size) == (0.7, 4)
    assert cfg.grpo.run.checkpoint_every == 0 and cfg.grpo.run.progress is False
    flat = cfg.flat()
    assert "grpo" not in flat and flat["kl_beta"] == 0.0 and flat["eps_low"] is None and flat["steps"] == 7


def test_updated_takes_flat_names_and_round_trips():
    cfg = lab_config("quick", eps_high=0.28)
    assert cfg.updated() == cfg
    assert cfg.updated(steps=50).grpo.run.steps == 50 and cfg.updated(steps=50).n_boot == cfg.n_boot
    dapo = lab_config("quick", algorithm="dapo")  # an unset clip follows the preset (dapo: 0.2 / 0.28)
    assert (dapo.grpo.loss.eps_low, dapo.grpo.loss.eps_high) == (0.2, 0.28)
    assert trainer_values(dapo.grpo)["eps_high"] is None
    assert lab_config("quick", algorithm="dapo").updated(algorithm="grpo").grpo.loss.eps_high == 0.2


def test_default_template_is_the_labs_defaults():
    assert LabConfig().grpo == train_template()
    t = train_template()
    assert (t.algorithm, t.run.steps, t.rollout.prompts_per_step, t.optim.learning_rate, t.loss.beta) == (
        "grpo", 200, 32, 2e-4, 0.1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stepz": 3}, "unknown lab setting 'stepz'"),
        ({"epochs": 0}, "epochs and minibatches must be >= 1"),
        ({"eps_high": 1.5}, "eps_high must be in [0, 1), got 1.5"),
        ({"kl_beta": -1}, "kl_beta must be >= 0"),
        ({"prompts_per_step": 0}, "prompts_per_step must be >= 1, got 0"),
    ],
)
def test_bad_trainer_settings_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        lab_config("quick", **overrides)
    with pytest.raises(ConfigError, match=re.escape(message)):
        lab_config("quick").updated(**overrides)


def _subset(old, new):
    """Every key of ``old`` is in ``new`` with the same value (nested)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _subset(v, new[k]) for k, v in old.items())
    return old == new
