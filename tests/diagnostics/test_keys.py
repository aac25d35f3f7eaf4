"""Metric keys: one constant per key, namespaced, and every key a trainer step logs has one."""

from __future__ import annotations

import pytest

from rlvr.diagnostics import keys


def test_keys_are_unique_and_namespaced() -> None:
    assert len(set(keys.ALL_KEYS)) == len(keys.ALL_KEYS)
    assert keys.REWARD_CORRECT_FRAC in keys.ALL_KEYS and keys.STEP in keys.ALL_KEYS
    for key in keys.ALL_KEYS:
        assert key == keys.STEP or key.count("/") == 1, key
    assert set(keys.METRIC_KEYS) <= set(keys.ALL_KEYS)
    # Everything judged lives in a namespace where NaN/inf is reported; timings are never judged.
    assert all(k.startswith(keys.CHECKED_PREFIXES) for k in keys.METRIC_KEYS)
    assert not keys.TIME_STEP.startswith(keys.CHECKED_PREFIXES)


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.0, 0.02])
def test_every_key_a_trainer_step_logs_is_a_constant(beta: float) -> None:
    from rlvr.grpo import Trainer, load_config

    config = load_config(
        None,
        model={"name": "tiny", "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 12}},
        data={"task": "arithmetic", "n_prompts": 20, "max_operand": 9},
        run={"steps": 1, "seed": 0, "progress": False, "threads": 1},
        rollout={"prompts_per_step": 4, "group_size": 4, "max_new_tokens": 3},
        loss={"beta": beta},
    )
    metrics = Trainer(config, run_dir=None, quiet=True).step()
    missing = sorted(set(metrics) - set(keys.ALL_KEYS))
    assert not missing, f"add a constant to rlvr.diagnostics.keys for {missing}"
