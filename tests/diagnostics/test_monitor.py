"""Health monitor: each warning fires on a synthetic metric stream, healthy streams stay quiet."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from health_helpers import healthy_row, run

from rlvr.diagnostics import HEALTH_CODES, HealthConfig
from rlvr.errors import ConfigError


def test_healthy_run_is_quiet() -> None:
    mon, warnings = run([healthy_row(i) for i in range(60)])
    assert warnings == []
    summary = mon.summary()
    assert summary["healthy"] is True
    assert summary["warnings"] == 0
    assert summary["updates"] == 60
    assert (summary["first_step"], summary["last_step"]) == (1, 60)
    assert summary["checks_without_data"] == []


def test_reward_variance_collapse_fires_after_patience() -> None:
    rows = [{"reward/mean": 0.4, "reward/std": 0.45}] * 4 + [{"reward/mean": 0.0, "reward/std": 0.02}] * 6
    _, warnings = run(rows, patience=3)
    assert [(w.step, w.code, w.metric) for w in warnings] == [(7, "reward_variance_collapse", "reward/std")]
    w = warnings[0]
    assert w.value == 0.02 and w.threshold == 0.1
    assert "too hard" in w.message  # mean reward 0: the message names the likely cause


def test_reward_variance_message_names_too_easy() -> None:
    _, warnings = run([{"reward/mean": 1.0, "reward/std": 0.0}] * 3)
    assert "too easy" in warnings[0].message


def test_entropy_absolute_floor() -> None:
    _, warnings = run([{"policy/entropy": 0.01}] * 3, patience=3)
    assert [(w.step, w.code, w.threshold) for w in warnings] == [(3, "entropy_collapse", 0.03)]


def test_entropy_relative_drop_uses_first_steps_mean() -> None:
    # Baseline = mean of the first 5 readings = 2.0, so the relative threshold is 0.3 * 2.0 = 0.6.
    start = [1.8, 2.2, 2.0, 1.9, 2.1]
    mon, warnings = run([{"policy/entropy": h} for h in [*start, 0.7, 0.65, 0.61]], patience=1)
    assert warnings == []
    assert mon.baseline("policy/entropy") == pytest.approx(2.0)
    _, warnings = run([{"policy/entropy": h} for h in [*start, 0.59]], patience=1)
    assert len(warnings) == 1
    assert warnings[0].threshold == pytest.approx(0.6)
    assert "under 30% of its start 2" in warnings[0].message


def test_kl_explosion_threshold_is_strict() -> None:
    _, quiet = run([{"policy/kl": 10.0}] * 5, patience=1)
    assert quiet == []
    _, warnings = run([{"policy/kl": 10.5}] * 5, patience=1)
    assert [(w.step, w.code, w.value) for w in warnings] == [(1, "kl_explosion", 10.5)]


def test_length_explosion_against_start_and_truncation() -> None:
    rows = [{"gen/len_mean": 50.0}] * 5 + [{"gen/len_mean": 99.0}, {"gen/len_mean": 101.0}]
    _, warnings = run(rows, patience=1)
    assert [(w.step, w.metric, w.threshold) for w in warnings] == [(7, "gen/len_mean", 100.0)]
    _, warnings = run([{"gen/truncated_frac": 0.9}] * 2, patience=2)
    assert [(w.step, w.code, w.metric) for w in warnings] == [(2, "length_explosion", "gen/truncated_frac")]


def test_zero_variance_groups_explains_zero_loss() -> None:
    _, warnings = run([{"groups/frac_zero_std": 0.95}] * 3)
    assert len(warnings) == 1
    assert warnings[0].code == "zero_variance_groups"
    assert warnings[0].message.startswith("loss is ~0 because every group agreed: 95% of groups")


def test_verifier_error_spike() -> None:
    _, warnings = run([{"verify/error_rate": 0.01}] * 3 + [{"verify/error_rate": 0.2}] * 3)
    assert [(w.step, w.code) for w in warnings] == [(6, "verifier_errors")]
    assert "20%" in warnings[0].message


def test_non_finite_fires_at_once_and_ignores_timings() -> None:
    mon, warnings = run([{"policy/kl": float("nan"), "time/step_s": float("inf")}], patience=5)
    assert [(w.code, w.metric) for w in warnings] == [("non_finite", "policy/kl")]
    assert math.isnan(warnings[0].value)
    assert warnings[0].to_dict()["value"] == "nan"
    json.dumps(warnings[0].to_dict(), allow_nan=False)  # health.jsonl lines must stay strict JSON
    assert mon.summary()["by_code"]["non_finite"]["metrics"] == ["policy/kl"]


def test_one_noisy_step_does_not_fire() -> None:
    rows = [{"policy/kl": 50.0 if i % 2 else 0.1} for i in range(20)]
    _, warnings = run(rows, patience=2)
    assert warnings == []


def test_no_repeat_until_cleared() -> None:
    bad, good = {"policy/kl": 20.0}, {"policy/kl": 1.0}
    _, warnings = run([bad] * 20, patience=1, repeat_every=0)
    assert [w.step for w in warnings] == [1]
    _, warnings = run([bad] * 3 + [good] + [bad] * 3, patience=1, repeat_every=0)
    assert [w.step for w in warnings] == [1, 5]  # a new episode after the condition cleared


def test_reminder_every_n_steps_while_condition_persists() -> None:
    _, warnings = run([{"policy/kl": 20.0}] * 25, patience=3, repeat_every=10)
    assert [w.step for w in warnings] == [3, 13, 23]


def test_warmup_steps_are_not_judged() -> None:
    _, warnings = run([{"policy/kl": 20.0}] * 6, patience=1, warmup_steps=4)
    assert [w.step for w in warnings] == [5]


def test_missing_keys_skip_checks() -> None:
    mon, warnings = run([{"reward/std": 0.3}] * 5)
    assert warnings == []
    missing = mon.summary()["checks_without_data"]
    assert "reward_variance_collapse" not in missing
    assert {"entropy_collapse", "kl_explosion", "length_explosion"} <= set(missing)


def test_summary_counts_and_worst_values() -> None:
    rows = [{"policy/kl": v, "reward/std": s} for v, s in [(12, 0.05), (30, 0.01), (1, 0.3), (15, 0.3)]]
    mon, warnings = run(rows, patience=1)
    assert [(w.step, w.code) for w in warnings] == [
        (1, "reward_variance_collapse"),
        (1, "kl_explosion"),
        (4, "kl_explosion"),
    ]
    s = mon.summary()
    assert s["counts"] == {"reward_variance_collapse": 1, "kl_explosion": 2}
    assert s["by_code"]["kl_explosion"] == {
        "count": 2,
        "first_step": 1,
        "last_step": 4,
        "worst": 30.0,
        "worst_step": 2,
        "threshold": 10.0,
        "metrics": ["policy/kl"],
    }
    assert s["by_code"]["reward_variance_collapse"]["worst"] == 0.01  # lowest is worst here
    assert s["healthy"] is False
    assert set(s["counts"]) <= set(HEALTH_CODES)


def test_none_threshold_turns_a_check_off() -> None:
    _, warnings = run([{"policy/kl": 1e6}] * 5, kl_max=None, patience=1)
    assert warnings == []


def test_never_triggering_bounds_turn_checks_off() -> None:
    """TOML has no None: 0 / inf / 1 are accepted and can never fire."""
    rows = [{"policy/kl": 1e6, "reward/std": 0.0, "policy/entropy": 0.0, "gen/len_mean": 1e4 if i > 5 else 1.0,
             "gen/truncated_frac": 1.0, "groups/frac_zero_std": 1.0, "verify/error_rate": 1.0,
             "reward/correct_frac": 0.0, "tools/error_rate": 1.0, "tools/parse_failure_rate": 1.0,
             "tools/turns_mean": 1e4 if i > 5 else 1.0, "tools/budget_end_rate": 1.0,
             "tools/obs_truncated_rate": 1.0, "tools/forged_obs_rate": 1.0 if i > 5 else 0.0,
             "tools/answer_without_tool_rate": 1.0 if i > 5 else 0.0,
             "tools/calls_per_episode": 0.0 if i > 5 else 2.0} for i in range(10)]
    off = {"kl_max": math.inf, "reward_std_min": 0.0, "entropy_min": 0.0, "entropy_drop_ratio": 0.0,
           "length_growth_max": math.inf, "truncated_frac_max": 1.0, "zero_std_frac_max": 1.0, "error_rate_max": 1.0,
           "silent_verifier_patience": 0, "tool_error_rate_max": 1.0, "parse_failure_rate_max": 1.0,
           "turns_growth_max": math.inf, "budget_end_rate_max": 1.0, "obs_truncated_rate_max": 1.0,
           "forged_obs_rate_max": 1.0, "forged_obs_rise": 1.0, "tool_abandon_rise": 1.0}
    _, warnings = run(rows, patience=1, **off)
    assert warnings == []
    _, warnings = run(rows, patience=1)
    assert {w.code for w in warnings} == set(HEALTH_CODES) - {"non_finite"}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"entropy_drop_ratio": 1.5}, "entropy_drop_ratio must be in [0, 1)"),
        ({"length_growth_max": 0.5}, "length_growth_max must be in (1, inf]"),
        ({"kl_max": "big"}, "kl_max must be a number or None"),
        ({"zero_std_frac_max": 1.5}, "or None to turn the check off"),
        ({"entropy_min": float("nan")}, "entropy_min must be a number or None"),
        ({"repeat_every": True}, "repeat_every must be an integer"),
        ({"silent_verifier_patience": -1}, "silent_verifier_patience must be an integer >= 0"),
    ],
)
def test_config_validation_names_the_fix(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        HealthConfig(**kwargs)
    assert needle in str(info.value)


def test_health_module_does_not_import_torch() -> None:
    code = "import sys, rlvr.diagnostics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
