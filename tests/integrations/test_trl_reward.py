"""rlvr.integrations.trl without trl: TRL's reward-function conventions and the health callback."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from types import SimpleNamespace

import pytest

from rlvr.diagnostics import HealthConfig, HealthMonitor
from rlvr.errors import ConfigError, MissingExtraError
from rlvr.integrations import trl as rtrl
from rlvr.integrations.trl import completion_text, reward_function, trl_logs_to_metrics
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier


class OnlyMine(BaseVerifier):
    """Skips samples of other tasks (TRL multi-task routing); exact match otherwise."""

    def check(self, sample: Sample) -> Verdict:
        if sample.metadata.get("task") != "mine":
            return Verdict.skipped("not my task")
        if sample.output.strip() == str(sample.answer):
            return Verdict.correct(prompt=sample.metadata.get("prompt"))
        return Verdict.incorrect("differs")


def test_string_completions_with_the_math_verifier():
    reward = reward_function("math")
    assert reward.__name__ == "rlvr_math"
    out = reward(
        prompts=["2+2?", "2+2?", "2+2?", "9-2?"],
        completions=["The answer is 4", "\\boxed{5}", "no idea", "#### 7"],
        completion_ids=[[1], [2], [3], [4]],
        answer=["4", "4", "4", 7],
        trainer_state=None,
    )
    assert out == [1.0, 0.0, 0.0, 1.0]
    assert [v.status for v in reward.last_verdicts] == ["correct", "incorrect", "unparsable", "correct"]
    assert reward.last_counts == {"correct": 2, "incorrect": 1, "unparsable": 1}
    # The prompt travels as metadata; the answer column is the sample's answer, not metadata.
    assert reward.last_samples[3].metadata == {"prompt": "9-2?"}
    assert reward.last_samples[3].answer == 7
    reward(completions=["\\boxed{1}"], answer=["1"])
    assert reward.counts == {"correct": 3, "incorrect": 1, "unparsable": 1}


def test_conversational_completions_use_the_last_assistant_message():
    reward = reward_function("math", name="acc")
    assert reward.__name__ == "acc"
    completions = [
        [{"role": "assistant", "content": "\\boxed{4}"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "the answer is "}, {"type": "text", "text": "7"}]}],
        [
            {"role": "assistant", "content": "I will call a tool: 3"},
            {"role": "tool", "content": "result 9"},
            {"role": "assistant", "content": "so \\boxed{9}"},
        ],
    ]
    prompts = [[{"role": "user", "content": "q"}]] * 3
    assert reward(prompts=prompts, completions=completions, answer=["4", "7", "9"]) == [1.0, 1.0, 1.0]
    assert reward.last_samples[0].metadata["prompt"] == [{"role": "user", "content": "q"}]


def test_trainer_step_reaches_step_dependent_verifiers():
    reward = reward_function("random", p=0.5, seed=1)
    completions, answers = ["same"] * 64, [None] * 64
    first = reward(completions=completions, answer=answers, trainer_state=SimpleNamespace(global_step=1))
    assert reward.last_samples[0].metadata["_step"] == 1
    again = reward(completions=completions, answer=answers, trainer_state=SimpleNamespace(global_step=1))
    assert first == again  # a pure function of (seed, sample, step)
    assert len(set(first)) == 1  # identical samples at one step draw alike
    # Across 64 independent steps a fair coin cannot come up the same every time (p = 2**-63).
    draws = {tuple(reward(completions=["same"], answer=[None], trainer_state=SimpleNamespace(global_step=s)))
             for s in range(64)}
    assert draws == {(0.0,), (1.0,)}


def test_completion_text_shapes():
    assert completion_text("x") == "x"
    assert completion_text({"role": "assistant", "content": "y"}) == "y"
    assert completion_text([{"role": "user", "content": "u"}]) == [{"role": "user", "content": "u"}]
    assert completion_text(5) == 5


def test_non_text_completion_is_unparsable_not_a_crash():
    reward = reward_function("math")
    assert reward(completions=[5, None], answer=["5", "5"]) == [0.0, 0.0]
    assert [v.status for v in reward.last_verdicts] == ["unparsable", "unparsable"]


def test_skipped_is_none_and_columns_become_metadata():
    reward = reward_function(OnlyMine())
    assert reward.__name__ == "rlvr_onlymine"
    out = reward(
        prompts=["p0", "p1", "p2"],
        completions=["a", "a", "b"],
        answer=["a", "a", "a"],
        task=["mine", "other", "mine"],
    )
    assert out == [1.0, None, 0.0]
    assert reward.last_verdicts[0].details["prompt"] == "p0"
    assert reward.last_counts == {"correct": 1, "skipped": 1, "incorrect": 1}


def test_status_fractions_go_through_log_metric_and_log_extra():
    logged: dict[str, list[float]] = {}
    extra: dict[str, list] = {}

    def log_metric(name, value):
        logged.setdefault(name, []).append(value)

    def log_extra(column, values):
        extra.setdefault(column, []).extend(values)

    reward = reward_function(OnlyMine(), name="mine")
    reward(
        completions=["a", "b", "a", "a"],
        answer=["a", "a", "a", "a"],
        task=["mine", "mine", "mine", "x"],
        log_metric=log_metric,
        log_extra=log_extra,
    )
    assert logged["rewards/mine/frac_correct"] == [0.5]
    assert logged["rewards/mine/frac_incorrect"] == [0.25]
    assert logged["rewards/mine/frac_skipped"] == [0.25]
    assert logged["rewards/mine/frac_error"] == [0.0]
    assert logged["verify/error_rate"] == [0.0]
    assert extra == {"mine/status": ["correct", "incorrect", "correct", "skipped"]}


def test_setup_errors_are_loud():
    reward = reward_function("math")
    with pytest.raises(ConfigError, match="'answer'.*answer_field"):
        reward(completions=["1"], solution=["1"])
    with pytest.raises(ConfigError, match="column 'answer' has 1 values for 2 completions"):
        reward(completions=["1", "2"], answer=["1"])
    # A keyword that is not a column (a hook a newer TRL might add) is not mistaken for one.
    assert reward(completions=["\\boxed{1}"], answer=["1"], new_hook=print, step=3) == [1.0]
    assert reward.last_samples[0].metadata == {}
    with pytest.raises(ConfigError, match="workers"):
        reward_function("math", workers=-1)
    with pytest.raises(ConfigError, match="timeout"):
        reward_function("math", timeout=0)

    class Local(OnlyMine):  # defined in a function: cannot be pickled for the process pool
        pass

    with pytest.raises(ConfigError, match="worker processes"):
        reward_function(Local(), workers=2)
    assert reward_function(Local(), workers=0)(completions=["a"], answer=["a"], task=["mine"]) == [1.0]


def test_answer_field_and_process_pool():
    reward = reward_function("math", answer_field="solution", workers=1, timeout=20)
    assert reward(completions=["\\boxed{3}", "\\boxed{4}"], solution=["3", "3"]) == [1.0, 0.0]


def test_trl_logs_map_to_rlvr_keys():
    logs = {
        "reward": 0.25,
        "reward_std": 0.0,
        "frac_reward_zero_std": 1.0,
        "entropy": 1.5,
        "kl": None,  # TRL writes None when a metric had no valid value
        "completions/mean_length": 12.0,
        "completions/clipped_ratio": 0.5,
        "verify/error_rate": 0.1,
        "policy/logprob_gap": math.nan,
        "learning_rate": 1e-5,
    }
    got = trl_logs_to_metrics(logs)
    assert {k: v for k, v in got.items() if k != "policy/logprob_gap"} == {
        "reward/mean": 0.25,
        "reward/std": 0.0,
        "groups/frac_zero_std": 1.0,
        "policy/entropy": 1.5,
        "gen/len_mean": 12.0,
        "gen/truncated_frac": 0.5,
        "verify/error_rate": 0.1,
    }
    assert math.isnan(got["policy/logprob_gap"])
    assert trl_logs_to_metrics({"train_runtime": 3.0, "eval_reward": 1.0}) == {}
    # TRL with tools: the callback feeds the agent checks too
    assert trl_logs_to_metrics({"tools/call_frequency": 2.5, "tools/failure_frequency": 1.0}) == {
        "tools/calls_per_episode": 2.5,
        "tools/error_rate": 1.0,
    }


def test_health_callback_prints_the_monitors_warnings():
    pytest.importorskip("transformers")
    stream = io.StringIO()
    cb = rtrl.HealthCallback(HealthConfig(patience=2), stream=stream)
    monitor = HealthMonitor(HealthConfig(patience=2))
    rows = [
        {"reward": 0.0, "reward_std": 0.0, "frac_reward_zero_std": 1.0, "entropy": 2.0},
        {"reward": 0.0, "reward_std": 0.0, "frac_reward_zero_std": 1.0, "entropy": 2.0},
        {"train_runtime": 3.0},  # the end-of-training entry: no metrics, ignored
    ]
    expected = []
    for step, logs in enumerate(rows, start=1):
        cb.on_log(None, SimpleNamespace(global_step=step, is_world_process_zero=True), None, logs=logs)
        if trl_logs_to_metrics(logs):
            expected += monitor.update(step, trl_logs_to_metrics(logs))
    assert [w.code for w in cb.warnings] == ["reward_variance_collapse", "zero_variance_groups"]
    assert cb.warnings == expected
    assert all(w.step == 2 for w in cb.warnings)
    printed = stream.getvalue().splitlines()
    assert printed == [f"[health] {w}" for w in expected]
    assert cb.logs_seen == 2


def test_health_callback_without_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match="transformers"):
        rtrl._make_health_callback()


def test_importing_the_adapter_does_not_import_trl_or_transformers():
    code = "import sys, rlvr.integrations.trl, rlvr.integrations.verl; print(sorted({'trl', 'transformers', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_rlvr_reward_functions_pass_rate_and_name_reach_the_silent_verifier_alarm():
    pytest.importorskip("transformers")
    reward = reward_function("math")
    logged: dict[str, float] = {}
    reward(completions=["\\boxed{1}", "\\boxed{2}"], answer=["7", "7"], log_metric=logged.__setitem__)
    assert logged[f"rewards/{reward.__name__}/frac_correct"] == 0.0  # what TRL then logs for the step
    entry = {"reward": 0.0, "reward_std": 0.0, **logged}
    assert trl_logs_to_metrics(entry)["reward/correct_frac"] == 0.0
    stream = io.StringIO()
    cb = rtrl.HealthCallback(HealthConfig(silent_verifier_patience=3), stream=stream)
    for step in (1, 2, 3):
        cb.on_log(None, SimpleNamespace(global_step=step, is_world_process_zero=True), None, logs=entry)
    alarm = [w for w in cb.warnings if w.code == "silent_verifier"]
    assert [(w.step, w.metric) for w in alarm] == [(3, "reward/correct_frac")]
    assert cb.monitor.verifier == "math"  # read from the reward function's name, rlvr_math
    assert "`rlvr audit --verifier math`" in alarm[0].message
    assert f"[health] {alarm[0]}" in stream.getvalue().splitlines()
