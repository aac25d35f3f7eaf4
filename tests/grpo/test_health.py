"""Health monitor: each warning fires on a synthetic metric stream, healthy streams stay quiet,
and the readers turn TRL / verl / generic logs into the same keys."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr.errors import ConfigError, InputError
from rlvr.grpo.health import (
    HEALTH_CODES,
    HealthConfig,
    HealthMonitor,
    HealthWarning,
    check_metrics,
    parse_key_map,
    read_metrics,
)
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier

DATA = Path(__file__).resolve().parent / "data"


def healthy_row(i: int) -> dict[str, float]:
    """A run that learns: reward rises, entropy eases down, KL and length grow a little."""
    return {
        "reward/mean": 0.2 + 0.01 * i,
        "reward/std": 0.4 - 0.002 * i,
        "groups/frac_zero_std": 0.25 + 0.005 * i,
        "policy/entropy": 1.2 - 0.01 * i,
        "policy/kl": 0.001 * i,
        "loss/clip_frac": 0.02,
        "optim/grad_norm": 0.8,
        "gen/len_mean": 40.0 + 0.5 * i,
        "gen/truncated_frac": 0.05,
        "verify/error_rate": 0.01 if i % 7 else 0.04,
        "time/step_s": 1.5,
    }


def run(rows: list[dict[str, float]], **cfg) -> tuple[HealthMonitor, list[HealthWarning]]:
    mon = HealthMonitor(HealthConfig(**cfg))
    out: list[HealthWarning] = []
    for step, metrics in enumerate(rows, start=1):
        out.extend(mon.update(step, metrics))
    return mon, out


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
             "gen/truncated_frac": 1.0, "groups/frac_zero_std": 1.0, "verify/error_rate": 1.0} for i in range(10)]
    off = {"kl_max": math.inf, "reward_std_min": 0.0, "entropy_min": 0.0, "entropy_drop_ratio": 0.0,
           "length_growth_max": math.inf, "truncated_frac_max": 1.0, "zero_std_frac_max": 1.0, "error_rate_max": 1.0}
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
    ],
)
def test_config_validation_names_the_fix(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        HealthConfig(**kwargs)
    assert needle in str(info.value)


def test_health_module_does_not_import_torch() -> None:
    code = "import sys, rlvr.grpo.health; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# --- readers ------------------------------------------------------------------------------------


def test_trl_trainer_state_fixture_maps_trl_keys() -> None:
    """``trl_trainer_state.json`` was written by a real TRL GRPOTrainer run (bench/grpo_vs_trl.py)."""
    log = read_metrics(DATA / "trl_trainer_state.json")
    assert log.format == "trl"
    state = json.loads((DATA / "trl_trainer_state.json").read_text())
    train_entries = [e for e in state["log_history"] if "reward" in e]
    assert len(log.rows) == len(train_entries) and log.skipped_rows == len(state["log_history"]) - len(train_entries)
    first_step, first = log.rows[0]
    src = train_entries[0]
    assert first_step == src["step"]
    assert first["reward/std"] == src["reward_std"]
    assert first["groups/frac_zero_std"] == src["frac_reward_zero_std"]
    assert first["policy/entropy"] == src["entropy"]
    assert first["gen/len_mean"] == src["completions/mean_length"]
    assert first["gen/truncated_frac"] == src["completions/clipped_ratio"]
    assert first["optim/grad_norm"] == src["grad_norm"]
    assert log.keys["reward/std"] == "reward_std"


def _trl_state(tmp_path: Path, entries: list[dict]) -> Path:
    state = json.loads((DATA / "trl_trainer_state.json").read_text())
    template = next(e for e in state["log_history"] if "reward" in e)
    state["log_history"] = [{**template, **e} for e in entries] + [
        {"step": len(entries), "total_flos": 0.0, "train_loss": 0.0, "train_runtime": 1.0}
    ]
    out = tmp_path / "run" / "checkpoint-20"
    out.mkdir(parents=True)
    (out / "trainer_state.json").write_text(json.dumps(state, indent=2))
    return tmp_path / "run"


def test_trl_run_dir_with_collapse_warns_like_ours(tmp_path: Path) -> None:
    entries = [{"step": i, "frac_reward_zero_std": 0.2 if i < 5 else 1.0, "kl": None} for i in range(1, 11)]
    run_dir = _trl_state(tmp_path, entries)
    log = read_metrics(run_dir)  # finds checkpoint-20/trainer_state.json
    assert log.path.endswith("checkpoint-20/trainer_state.json")
    assert all("policy/kl" not in m for _, m in log.rows)  # TRL's None means "not logged"
    mon = check_metrics(log.rows, HealthConfig(patience=3))
    zero = [w for w in mon.warnings if w.code == "zero_variance_groups"]
    assert [w.step for w in zero] == [7]


def test_verl_file_logger_lines(tmp_path: Path) -> None:
    path = tmp_path / "exp.jsonl"
    lines = [
        {"step": s, "data": {"critic/score/mean": 0.5, "actor/entropy": e, "actor/kl_loss": 0.01,
                             "response_length/mean": 200.0, "response_length/clip_ratio": 0.0,
                             "timing_s/gen": 3.0}}
        for s, e in [(1, 0.9), (2, 0.8), (3, 0.02), (4, 0.01), (5, 0.01)]
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    log = read_metrics(path)
    assert log.format == "verl"
    assert log.rows[2] == (3, {"reward/mean": 0.5, "policy/entropy": 0.02, "policy/kl": 0.01,
                               "gen/len_mean": 200.0, "gen/truncated_frac": 0.0})
    mon = check_metrics(log.rows, HealthConfig(patience=3))
    assert [(w.step, w.code) for w in mon.warnings] == [(5, "entropy_collapse")]
    assert "reward_variance_collapse" in mon.summary()["checks_without_data"]


def test_generic_jsonl_with_key_map(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"it": i, "rstd": 0.0, "kl_div": 1.0}) + "\n" for i in range(4)))
    with pytest.raises(InputError, match="no known metric keys .*--map theirs=ours"):
        read_metrics(path)
    log = read_metrics(path, key_map=parse_key_map(["rstd=reward/std", "kl_div=policy/kl"]))
    assert log.format == "jsonl"
    assert [s for s, _ in log.rows] == [1, 2, 3, 4]  # no step key: the row number
    assert log.rows[0][1] == {"reward/std": 0.0, "policy/kl": 1.0}


def test_trl_logs_as_jsonl_are_recognised(tmp_path: Path) -> None:
    """TRL's log entries dumped one per line (e.g. by a callback) read like trainer_state.json."""
    state = json.loads((DATA / "trl_trainer_state.json").read_text())
    path = tmp_path / "trl_logs.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in state["log_history"]))
    log = read_metrics(path)
    assert log.format == "trl"
    assert log.rows == read_metrics(DATA / "trl_trainer_state.json").rows


def test_our_metrics_jsonl_in_run_dir(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, **healthy_row(i)}) + "\n" for i in range(1, 6))
    )
    log = read_metrics(tmp_path)
    assert log.format == "rlvr" and len(log.rows) == 5
    assert log.rows[0][1]["reward/std"] == healthy_row(1)["reward/std"]


def test_nan_written_by_a_trainer_becomes_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "reward/std": 0.3, "policy/kl": NaN}\n')
    mon = check_metrics(read_metrics(path).rows)
    assert [w.code for w in mon.warnings] == ["non_finite"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"step": 1, "reward/std": 0.3}\n{"step": 2, "reward/std": \n', "m.jsonl:2: invalid JSON"),
        ('{"step": 1, "reward/std": "high"}\n', 'm.jsonl:1: metric \'reward/std\' is "high", expected a number'),
        ('{"step": "one", "reward/std": 0.3}\n', "m.jsonl:1: 'step' is \"one\", expected an integer step"),
        ("[1, 2]\n", "m.jsonl:1: expected a JSON object"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_metrics(path)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_trainer_state(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text('{\n  "log_history": [\n    {"step": 1,, }\n  ]\n}\n')
    with pytest.raises(InputError, match=r"trainer_state.json:3: invalid JSON"):
        read_metrics(path)
    path.write_text('{"global_step": 3}')
    with pytest.raises(InputError, match="no 'log_history' list"):
        read_metrics(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no metrics.jsonl"):
        read_metrics(tmp_path / "empty")


def test_health_jsonl_given_by_mistake(tmp_path: Path) -> None:
    path = tmp_path / "health.jsonl"
    w = HealthWarning(3, "kl_explosion", "policy/kl is 12 > 10: ...", "policy/kl", 12.0, 10.0)
    path.write_text(json.dumps(w.to_dict()) + "\n")
    with pytest.raises(InputError, match="health.jsonl of warnings; pass the run's metrics.jsonl"):
        read_metrics(path)


def test_parse_key_map_rejects_unknown_targets() -> None:
    assert parse_key_map(["a=reward/std"]) == {"a": "reward/std"}
    with pytest.raises(ConfigError, match="'reward_sd' is not a metric rlvr checks"):
        parse_key_map(["x=reward_sd"])
    with pytest.raises(ConfigError, match="theirs=ours"):
        parse_key_map(["x"])


class _AlwaysWrong(BaseVerifier):
    """Every completion scores 0: every group agrees, the classic "loss is 0" run."""

    name = "always-wrong"

    def check(self, sample: Sample) -> Verdict:
        return Verdict.incorrect("never right")


@pytest.mark.slow
def test_offline_check_of_a_real_run_reproduces_its_health_jsonl(tmp_path: Path) -> None:
    """``rlvr health RUN_DIR`` re-derives exactly the warnings the trainer logged while training."""
    from rlvr.grpo import Trainer, load_config

    run_dir = tmp_path / "run"
    config = load_config(
        None,
        model={"name": "tiny", "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 12}},
        data={"task": "arithmetic", "n_prompts": 20, "max_operand": 9},
        run={"steps": 5, "seed": 0, "out_dir": str(run_dir), "checkpoint_every": 0, "progress": False,
             "threads": 1},
        rollout={"prompts_per_step": 4, "group_size": 4, "max_new_tokens": 3},
        health={"patience": 2, "repeat_every": 3},
    )
    Trainer(config, verifier=_AlwaysWrong(), quiet=True).train()
    online = [json.loads(line) for line in (run_dir / "health.jsonl").read_text().splitlines()]
    log = read_metrics(run_dir)
    assert log.format == "rlvr" and [s for s, _ in log.rows] == [1, 2, 3, 4, 5]
    offline = [w.to_dict() for w in check_metrics(log.rows, config.health).warnings]
    assert offline == online
    # patience 2 -> first warned at step 2; reminded 3 steps later.
    assert [(w["step"], w["code"]) for w in online if w["code"] == "zero_variance_groups"] == [
        (2, "zero_variance_groups"),
        (5, "zero_variance_groups"),
    ]
