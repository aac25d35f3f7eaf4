"""Agent health checks: each fires on a metric stream that should fire it and stays silent on a
healthy tool-using run; single-turn runs (no ``tools/*`` keys) never see them."""

from __future__ import annotations

import json

import pytest
from health_helpers import healthy_agent_row, healthy_row, run

from rlvr.diagnostics import AGENT_CODES, HealthConfig, HealthMonitor, keys
from rlvr.diagnostics.agent import HERMES_OBSERVATION_MARKERS, agent_metrics, forged_markup
from rlvr.env import ToolEnv, play_script


def fired(warnings: list, code: str) -> list[tuple[int, str, float]]:
    return [(w.step, w.metric, w.value) for w in warnings if w.code == code]


def agent_rows(n: int, **over: object) -> list[dict[str, float]]:
    """``n`` healthy agent steps; ``over`` replaces a metric with a value or a function of the step."""
    rows = []
    for i in range(1, n + 1):
        row = healthy_agent_row(i)
        for key, value in over.items():
            row[f"tools/{key}"] = value(i) if callable(value) else value  # type: ignore[operator]
        rows.append(row)
    return rows


def test_agent_codes_are_the_tools_checks() -> None:
    assert {
        "tool_errors", "tool_parse_failures", "turn_explosion", "observation_truncation",
        "forged_observations", "tool_abandonment",
    } == AGENT_CODES


def test_a_healthy_tool_using_run_is_quiet_and_every_agent_check_ran() -> None:
    mon, warnings = run([{**healthy_row(i), **healthy_agent_row(i)} for i in range(1, 61)])
    assert warnings == []
    assert mon.summary()["checks_without_data"] == []


def test_single_turn_runs_never_list_the_agent_checks() -> None:
    mon, warnings = run([healthy_row(i) for i in range(1, 30)])
    assert warnings == [] and mon.summary()["checks_without_data"] == []
    # One agent key is enough to make it an agent run: the checks it cannot judge are then listed.
    mon, _ = run([{**healthy_row(i), "tools/error_rate": 0.1} for i in range(1, 30)])
    missing = set(mon.summary()["checks_without_data"])
    assert missing == AGENT_CODES - {"tool_errors"}


# --- tool errors -----------------------------------------------------------------------------------


def test_a_tool_that_always_errors_warns_with_default_settings() -> None:
    _, warnings = run(agent_rows(2) + agent_rows(4, error_rate=1.0))
    assert fired(warnings, "tool_errors") == [(5, "tools/error_rate", 1.0)]  # patience 3: steps 3, 4, 5
    w = next(w for w in warnings if w.code == "tool_errors")
    assert w.threshold == 0.5
    assert w.message.startswith("tools/error_rate is 100% > 50%: every tool call (")
    assert "a tool may be broken" in w.message
    assert "audit the environment: `rlvr audit --env NAME`" in w.message


def test_clumsy_calls_at_a_moderate_error_rate_stay_silent() -> None:
    _, warnings = run(agent_rows(20, error_rate=0.45))
    assert fired(warnings, "tool_errors") == []
    _, warnings = run(agent_rows(3, error_rate=0.6))
    assert fired(warnings, "tool_errors") == [(3, "tools/error_rate", 0.6)]
    assert "most tool calls" in next(w.message for w in warnings if w.code == "tool_errors")


class BrokenCalculator(ToolEnv):
    """A calculator whose backend is down: every call raises."""

    def calculate(self, expression: str) -> str:
        """Evaluate an arithmetic expression.

        Args:
            expression: e.g. "6 * 7".
        """
        raise ConnectionError("calculator backend unreachable")


def test_real_episodes_of_a_broken_tool_raise_the_warning() -> None:
    env = BrokenCalculator()
    turn = '<tool_call>{"name": "calculate", "arguments": {"expression": "6*7"}}</tool_call>'
    monitor = HealthMonitor(verifier="math", env="tests:BrokenCalculator")
    warnings = []
    for step in range(1, 4):
        episodes = [play_script(env, {"id": str(i), "answer": "42"}, [turn, turn, "\\boxed{42}"]) for i in range(4)]
        assert all(c.error and "unreachable" in c.error for ep in episodes for c in ep.calls)
        metrics = agent_metrics(episodes, forged=forged_markup(HERMES_OBSERVATION_MARKERS))
        assert metrics[keys.TOOLS_ERROR_RATE] == 1.0 and metrics[keys.TOOLS_CALLS_PER_EPISODE] == 2.0
        warnings += monitor.update(step, metrics)
    assert [(w.step, w.code) for w in warnings] == [(3, "tool_errors")]
    assert "every tool call (2 calls per episode) came back as an error" in warnings[0].message
    assert "`rlvr audit --env tests:BrokenCalculator`" in warnings[0].message


# --- parse failures, truncation --------------------------------------------------------------------


def test_parse_failures_high() -> None:
    _, warnings = run(agent_rows(5, parse_failure_rate=0.35))
    assert fired(warnings, "tool_parse_failures") == [(3, "tools/parse_failure_rate", 0.35)]
    assert "do not parse" in warnings[0].message and "chat template" in warnings[0].message
    _, warnings = run(agent_rows(20, parse_failure_rate=0.2))  # at the threshold: not above
    assert fired(warnings, "tool_parse_failures") == []


def test_observation_truncation_high() -> None:
    _, warnings = run(agent_rows(4, obs_truncated_rate=0.6))
    assert fired(warnings, "observation_truncation") == [(3, "tools/obs_truncated_rate", 0.6)]
    assert "max_observation_chars" in warnings[0].message
    _, warnings = run(agent_rows(20, obs_truncated_rate=0.25))
    assert fired(warnings, "observation_truncation") == []


# --- turn explosion -------------------------------------------------------------------------------


def test_turns_doubling_against_the_start_fires() -> None:
    # Start = mean of the first 5 steps = 3.0 (the wobble sums to 0), so the threshold is 6.0.
    quiet = agent_rows(5) + agent_rows(10, turns_mean=5.9)
    _, warnings = run(quiet)
    assert fired(warnings, "turn_explosion") == []
    mon, warnings = run(agent_rows(5) + agent_rows(3, turns_mean=6.5, turns_max=8.0))
    assert mon.baseline(keys.TOOLS_TURNS_MEAN) == pytest.approx(3.0)
    assert fired(warnings, "turn_explosion") == [(8, "tools/turns_mean", 6.5)]
    w = warnings[0]
    assert w.threshold == pytest.approx(6.0)
    assert "2.17x its start 3; the longest has 8" in w.message


def test_most_episodes_ending_on_the_budget_fires() -> None:
    _, warnings = run(agent_rows(3, budget_end_rate=0.75))
    assert fired(warnings, "turn_explosion") == [(3, "tools/budget_end_rate", 0.75)]
    assert "turn limit or a tool budget" in warnings[0].message


# --- forged observations --------------------------------------------------------------------------


def test_forging_that_starts_after_a_clean_start_fires() -> None:
    _, warnings = run(agent_rows(5) + agent_rows(3, forged_obs_rate=0.02))
    assert fired(warnings, "forged_observations") == [(8, "tools/forged_obs_rate", 0.02)]
    assert warnings[0].threshold == 0.0
    assert "rose to 2% of episodes from 0% at the start" in warnings[0].message
    assert "<tool_response>" in warnings[0].message


def test_forging_rising_from_a_nonzero_start_fires_a_constant_low_rate_does_not() -> None:
    _, warnings = run(agent_rows(30, forged_obs_rate=0.02))  # a template quirk, not rising, under 10%
    assert fired(warnings, "forged_observations") == []
    _, warnings = run(agent_rows(5, forged_obs_rate=0.02) + agent_rows(3, forged_obs_rate=0.05))
    assert fired(warnings, "forged_observations") == [(8, "tools/forged_obs_rate", 0.05)]


def test_a_high_forging_rate_fires_before_the_start_is_known() -> None:
    _, warnings = run(agent_rows(3, forged_obs_rate=0.3))
    assert fired(warnings, "forged_observations") == [(3, "tools/forged_obs_rate", 0.3)]
    assert warnings[0].threshold == 0.1 and "is 30% of episodes (> 10%)" in warnings[0].message


# --- tool abandonment -----------------------------------------------------------------------------


def test_answers_without_tools_rising_while_calls_fall_fires() -> None:
    # Starts: answer_without_tool_rate 0.08, calls_per_episode 2.0; threshold 0.08 + 0.2 = 0.28.
    rows = agent_rows(5) + agent_rows(3, answer_without_tool_rate=0.4, calls_per_episode=1.1)
    _, warnings = run(rows)
    assert fired(warnings, "tool_abandonment") == [(8, "tools/answer_without_tool_rate", 0.4)]
    w = warnings[0]
    assert w.threshold == pytest.approx(0.28)
    assert "rose to 40% from 8% at the start (> 28%) while tools/calls_per_episode fell to 1.1 from 2" in w.message


def test_answers_without_tools_rising_while_calls_hold_stays_silent() -> None:
    rows = agent_rows(5) + agent_rows(10, answer_without_tool_rate=0.4, calls_per_episode=2.3)
    _, warnings = run(rows)
    assert fired(warnings, "tool_abandonment") == []
    # Without the calls metric there is no "while calls fall": silent, not failing.
    rows = [{"tools/answer_without_tool_rate": 0.1 if i <= 5 else 0.9} for i in range(1, 16)]
    mon, warnings = run(rows)
    assert warnings == [] and "tool_abandonment" not in mon.summary()["counts"]


def test_a_small_rise_is_noise() -> None:
    rows = agent_rows(5) + agent_rows(10, answer_without_tool_rate=0.25, calls_per_episode=1.5)
    _, warnings = run(rows)
    assert fired(warnings, "tool_abandonment") == []


def test_agent_thresholds_turn_off_and_validate() -> None:
    off = {"tool_error_rate_max": None, "forged_obs_rise": 1.0, "forged_obs_rate_max": 1.0}
    _, warnings = run(agent_rows(5) + agent_rows(5, error_rate=1.0, forged_obs_rate=1.0), **off)
    assert warnings == []
    from rlvr.errors import ConfigError

    with pytest.raises(ConfigError, match="turns_growth_max must be in"):
        HealthConfig(turns_growth_max=0.5)
    with pytest.raises(ConfigError, match="tool_abandon_rise must be in"):
        HealthConfig(tool_abandon_rise=-0.1)


def test_agent_warnings_are_strict_json() -> None:
    _, warnings = run(agent_rows(5) + agent_rows(3, error_rate=1.0, answer_without_tool_rate=0.9,
                                                   calls_per_episode=0.2, forged_obs_rate=0.5))
    assert {w.code for w in warnings} == {"tool_errors", "tool_abandonment", "forged_observations"}
    for w in warnings:
        json.dumps(w.to_dict(), allow_nan=False)
