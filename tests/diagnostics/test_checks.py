"""The checks table, the silent-verifier alarm on hand-built metric streams, and KL at beta = 0."""

from __future__ import annotations

from dataclasses import fields

import pytest
from health_helpers import healthy_row, run

from rlvr.diagnostics import CHECKS, HEALTH_CODES, HealthConfig, HealthMonitor, keys

CONFIG_FIELDS = {f.name for f in fields(HealthConfig)}


def test_every_check_names_real_config_fields_and_codes() -> None:
    for check in CHECKS:
        assert check.threshold is None or check.threshold in CONFIG_FIELDS, check
        assert check.patience in CONFIG_FIELDS, check
        assert check.code in HEALTH_CODES
        assert all(m in keys.METRIC_KEYS for m in check.metrics), check
    assert HEALTH_CODES[-1] == "non_finite" and len(set(HEALTH_CODES)) == len(HEALTH_CODES)


# --- the silent-verifier alarm -------------------------------------------------------------------


def pass_rates(*values: float) -> list[dict[str, float]]:
    """Rows as the trainer logs them: a pass rate and the mean reward it implies (binary rewards)."""
    return [{"reward/correct_frac": v, "reward/mean": v, "reward/std": 0.0 if v in (0, 1) else 0.4} for v in values]


def silent(warnings: list) -> list[tuple[int, str, float]]:
    return [(w.step, w.metric, w.value) for w in warnings if w.code == "silent_verifier"]


def alarms(warnings: list) -> list:
    return [w for w in warnings if w.code == "silent_verifier"]


def test_fires_at_exactly_patience_steps_not_before() -> None:
    _, warnings = run(pass_rates(0.3, 0.2, *[0.0] * 3), silent_verifier_patience=4)
    assert silent(warnings) == []
    _, warnings = run(pass_rates(0.3, 0.2, *[0.0] * 4), silent_verifier_patience=4)
    assert silent(warnings) == [(6, "reward/correct_frac", 0.0)]
    assert alarms(warnings)[0].threshold is None  # no threshold: exactly 0 or exactly 1


def test_default_patience_is_ten_steps() -> None:
    assert HealthConfig().silent_verifier_patience == 10
    _, warnings = run(pass_rates(*[0.0] * 9))
    assert silent(warnings) == []
    _, warnings = run(pass_rates(*[0.0] * 10))
    assert silent(warnings) == [(10, "reward/correct_frac", 0.0)]


def test_a_pass_rate_just_off_zero_or_one_never_fires() -> None:
    _, warnings = run(pass_rates(*[0.0] * 3, 0.01, *[0.0] * 3, 0.99, *[1.0] * 3), silent_verifier_patience=4)
    assert silent(warnings) == []
    _, warnings = run(pass_rates(*[0.01] * 20, *[0.99] * 20), silent_verifier_patience=4)
    assert silent(warnings) == []


def test_stuck_at_one_fires_and_a_switch_from_zero_to_one_starts_over() -> None:
    _, warnings = run(pass_rates(*[0.0] * 3, *[1.0] * 3), silent_verifier_patience=4)
    assert silent(warnings) == []
    _, warnings = run(pass_rates(*[0.0] * 3, *[1.0] * 4), silent_verifier_patience=4)
    assert silent(warnings) == [(7, "reward/correct_frac", 1.0)]
    message = alarms(warnings)[0].message
    assert "has been exactly 1 for 4 steps: every completion passed the verifier" in message
    assert "accepts everything" in message


def test_clears_on_one_healthy_step_and_reminds_while_it_lasts() -> None:
    # Like every other check: not repeated while active, a new episode after one healthy reading.
    _, warnings = run(pass_rates(*[0.0] * 7, 0.2, *[0.0] * 4), silent_verifier_patience=4, repeat_every=0)
    assert [s for s, _, _ in silent(warnings)] == [4, 12]
    _, warnings = run(pass_rates(*[0.0] * 25), silent_verifier_patience=4, repeat_every=10)
    assert [s for s, _, _ in silent(warnings)] == [4, 14, 24]
    assert "exactly 0 for 24 steps" in alarms(warnings)[-1].message  # the message counts the whole run


def test_warmup_steps_are_not_judged() -> None:
    _, warnings = run(pass_rates(*[0.0] * 8), silent_verifier_patience=4, warmup_steps=3)
    assert [s for s, _, _ in silent(warnings)] == [7]


def test_zero_patience_turns_the_alarm_off() -> None:
    mon, warnings = run(pass_rates(*[0.0] * 30), silent_verifier_patience=0)
    assert silent(warnings) == []
    assert "silent_verifier" in mon.summary()["checks_without_data"]


def test_falls_back_to_the_mean_reward_only_when_every_reward_agrees() -> None:
    rows = [{"reward/mean": 0.0, "reward/std": 0.0}] * 4  # e.g. TRL: reward, reward_std
    _, warnings = run(rows, silent_verifier_patience=4)
    assert silent(warnings) == [(4, "reward/mean", 0.0)]
    # A mean of 0 from rewards of -1 and +1 is not a pass rate of 0.
    _, warnings = run([{"reward/mean": 0.0, "reward/std": 0.5}] * 8, silent_verifier_patience=4)
    assert silent(warnings) == []
    # The pass rate wins over the mean reward when both are logged (shaped rewards, penalties).
    _, warnings = run([{"reward/correct_frac": 0.25, "reward/mean": 0.0, "reward/std": 0.0}] * 8,
                      silent_verifier_patience=4)
    assert silent(warnings) == []


def test_message_names_the_verifier_and_what_to_run() -> None:
    mon = HealthMonitor(HealthConfig(silent_verifier_patience=3), verifier="math")
    fired = [w for step, row in enumerate(pass_rates(0.0, 0.0, 0.0), start=1) for w in mon.update(step, row)]
    message = alarms(fired)[0].message
    assert message.startswith("reward/correct_frac has been exactly 0 for 3 steps: no completion passed the "
                              "verifier 'math', so every group has zero variance")
    assert "`rlvr audit --verifier math`" in message
    assert "`rlvr verify FILE --verifier math` on a few sampled outputs" in message
    assert "timeout or exception scored as 0" in message


def test_message_without_a_verifier_name_or_with_a_description() -> None:
    _, warnings = run(pass_rates(0.0, 0.0, 0.0), silent_verifier_patience=3)
    message = alarms(warnings)[0].message
    assert "no completion passed the verifier, so" in message
    assert "`rlvr audit --verifier NAME`" in message
    mon = HealthMonitor(HealthConfig(silent_verifier_patience=1), verifier="TRL reward function 'parity'")
    message = alarms(mon.update(1, pass_rates(1.0)[0]))[0].message
    assert "the verifier (TRL reward function 'parity')" in message and "--verifier NAME" in message


def test_zero_pass_rate_with_verifier_errors_says_so_and_both_checks_fire() -> None:
    rows = [{"reward/correct_frac": 0.0, "verify/error_rate": 0.75}] * 3
    mon = HealthMonitor(HealthConfig(silent_verifier_patience=3), verifier="code")
    fired = [w for step, row in enumerate(rows, start=1) for w in mon.update(step, row)]
    assert [(w.step, w.code) for w in fired] == [(3, "verifier_errors"), (3, "silent_verifier")]
    errors, stuck = fired
    assert "the verifier 'code' itself is failing" in errors.message
    assert "`rlvr verify FILE --verifier code`" in errors.message and "75% > 5%" in errors.message
    assert "(75% of verdicts were errors)" in stuck.message


def test_a_healthy_run_never_raises_the_alarm() -> None:
    rows = [{**healthy_row(i), "reward/correct_frac": healthy_row(i)["reward/mean"]} for i in range(60)]
    mon, warnings = run(rows)
    assert warnings == [] and "silent_verifier" not in mon.summary()["checks_without_data"]


# --- KL at beta = 0 -------------------------------------------------------------------------------


def beta_zero_row(step: int, kl: float) -> dict[str, float]:
    """One step as the trainer logs it with loss.beta = 0: policy/kl is measured, no KL term in the loss."""
    return {
        "step": step, "reward/mean": 0.4, "reward/std": 0.3, "reward/correct_frac": 0.4,
        "groups/frac_zero_std": 0.3, "policy/entropy": 1.0, "policy/kl": kl, "loss/total": -0.01,
        "loss/pg": -0.01, "loss/clip_frac": 0.0, "loss/ratio_mean": 1.0, "optim/grad_norm": 0.5,
        "gen/len_mean": 20.0, "gen/truncated_frac": 0.0, "verify/error_rate": 0.0,
    }


@pytest.mark.parametrize("patience", [1, 3])
def test_kl_check_runs_on_beta_zero_metrics(patience: int) -> None:
    quiet, warnings = run([beta_zero_row(s, 0.01 * s) for s in range(1, 11)], patience=patience)
    assert warnings == []
    assert "kl_explosion" not in quiet.summary()["checks_without_data"]
    rows = [beta_zero_row(s, 0.5 if s < 5 else 14.0) for s in range(1, 11)]
    mon, warnings = run(rows, patience=patience)
    assert [(w.step, w.code, w.value, w.threshold) for w in warnings] == [(4 + patience, "kl_explosion", 14.0, 10.0)]
    assert mon.summary()["counts"] == {"kl_explosion": 1}
