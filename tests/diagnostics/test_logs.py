"""Log readers: TRL / verl / generic logs become the same keys and the same warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from health_helpers import healthy_row

from rlvr.diagnostics import HealthConfig, HealthWarning, check_metrics, parse_key_map, read_metrics
from rlvr.errors import ConfigError, InputError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier

DATA = Path(__file__).resolve().parent / "data"


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


def _run_dir(tmp_path: Path, pass_rate: float, steps: int = 10) -> Path:
    rows = [{"step": s, "reward/mean": pass_rate, "reward/std": 0.0, "reward/correct_frac": pass_rate}
            for s in range(1, steps + 1)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_run_dir_names_its_verifier_from_config_json(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, 0.0)
    assert read_metrics(run_dir).verifier is None  # no config.json: unknown
    (run_dir / "config.json").write_text(json.dumps({"verifier": {"name": "sql", "options": {}}}))
    log = read_metrics(run_dir / "metrics.jsonl")
    assert log.verifier == "sql"
    assert log.keys["reward/correct_frac"] == "reward/correct_frac"
    mon = check_metrics(log.rows, verifier=log.verifier)
    alarm = [w for w in mon.warnings if w.code == "silent_verifier"]
    assert [w.step for w in alarm] == [10] and "`rlvr verify FILE --verifier sql`" in alarm[0].message
    # summary.json, when it names the verifier the trainer actually used, wins over the config.
    (run_dir / "summary.json").write_text(json.dumps({"verifier": "tests.helpers:Broken", "steps": 10}))
    assert read_metrics(run_dir).verifier == "tests.helpers:Broken"
    (run_dir / "summary.json").write_text("{not json")
    assert read_metrics(run_dir).verifier == "sql"  # context only: a broken file is not an error


def test_trl_reward_function_names_the_verifier(tmp_path: Path) -> None:
    log = read_metrics(DATA / "trl_trainer_state.json")
    assert log.verifier == "TRL reward function 'parity_reward'"  # a user's function: described
    entries = [{"step": i, "reward": 1.0, "reward_std": 0.0, "rewards/rlvr_code/mean": 1.0,
                "rewards/rlvr_code/frac_correct": 1.0} for i in range(1, 11)]
    state = {"log_history": entries + [{"step": 10, "train_loss": 0.0}]}
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    log = read_metrics(tmp_path)
    assert log.verifier == "code"
    assert log.keys["reward/correct_frac"] == "rewards/rlvr_code/frac_correct"
    alarm = [w for w in check_metrics(log.rows, verifier=log.verifier).warnings if w.code == "silent_verifier"]
    assert [(w.step, w.value) for w in alarm] == [(10, 1.0)]
    assert "every completion passed the verifier 'code'" in alarm[0].message


@pytest.mark.slow
def test_a_real_run_with_a_silent_verifier_raises_the_alarm(tmp_path: Path) -> None:
    """A trainer run on a verifier that turns its own timeouts into 0s: the alarm fires online, and
    ``rlvr health RUN_DIR`` names the verifier from the run's config.json."""
    from rlvr.grpo import Trainer, load_config

    run_dir = tmp_path / "run"
    config = load_config(
        None,
        model={"name": "tiny", "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 12}},
        data={"task": "arithmetic", "n_prompts": 20, "max_operand": 9},
        verifier={"name": "health_helpers:SwallowsTimeouts"},
        run={"steps": 4, "seed": 0, "out_dir": str(run_dir), "checkpoint_every": 0, "progress": False,
             "threads": 1},
        rollout={"prompts_per_step": 4, "group_size": 4, "max_new_tokens": 3},
        health={"silent_verifier_patience": 3},
    )
    Trainer(config, quiet=True).train()
    online = [json.loads(line) for line in (run_dir / "health.jsonl").read_text().splitlines()]
    assert [(w["step"], w["metric"]) for w in online if w["code"] == "silent_verifier"] == [
        (3, "reward/correct_frac")
    ]
    # the trainer names the verifier it trained with in its own warnings and in summary.json
    silent = next(w for w in online if w["code"] == "silent_verifier")
    assert "the verifier 'health_helpers:SwallowsTimeouts'" in silent["message"]
    assert "`rlvr audit --verifier health_helpers:SwallowsTimeouts`" in silent["message"]
    assert json.loads((run_dir / "summary.json").read_text())["verifier"] == "health_helpers:SwallowsTimeouts"
    log = read_metrics(run_dir)
    assert log.verifier == "health_helpers:SwallowsTimeouts"
    offline = [w for w in check_metrics(log.rows, config.health, verifier=log.verifier).warnings
               if w.code == "silent_verifier"]
    assert [w.step for w in offline] == [3]
    assert "`rlvr audit --verifier health_helpers:SwallowsTimeouts`" in offline[0].message


def test_trl_tool_keys_run_the_agent_checks(tmp_path: Path) -> None:
    """TRL 1.16 with tools logs ``tools/call_frequency`` and ``tools/failure_frequency``: a tool that
    fails every call from step 4 on raises the tool-error warning on the TRL log."""
    entries = [{"step": i, "tools/call_frequency": 1.5, "tools/failure_frequency": 0.1 if i < 4 else 1.0}
               for i in range(1, 9)]
    log = read_metrics(_trl_state(tmp_path, entries))
    assert log.format == "trl"
    assert log.keys["tools/calls_per_episode"] == "tools/call_frequency"
    assert log.keys["tools/error_rate"] == "tools/failure_frequency"
    assert log.rows[4][1]["tools/error_rate"] == 1.0 and log.rows[4][1]["tools/calls_per_episode"] == 1.5
    mon = check_metrics(log.rows, HealthConfig(patience=3))
    errors = [w for w in mon.warnings if w.code == "tool_errors"]
    assert [(w.step, w.value) for w in errors] == [(6, 1.0)]
    assert "every tool call (1.5 calls per episode) came back as an error" in errors[0].message
    # The agent checks TRL has no metric for are listed as not checked; the fixture (no tools) lists none.
    assert "tool_abandonment" in mon.summary()["checks_without_data"]
    plain = check_metrics(read_metrics(DATA / "trl_trainer_state.json").rows)
    assert not {"tool_errors", "tool_abandonment"} & set(plain.summary()["checks_without_data"])


def test_our_agent_metrics_are_read_and_mappable(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "reward/std": 0.3, "tools/parse_failure_rate": 0.5} for s in range(1, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mon = check_metrics(read_metrics(path).rows)
    assert [(w.step, w.code) for w in mon.warnings] == [(3, "tool_parse_failures")]
    assert parse_key_map(["bad_calls=tools/parse_failure_rate"]) == {"bad_calls": "tools/parse_failure_rate"}
