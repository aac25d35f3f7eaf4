"""`rlvr train` and `rlvr curate` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr.cli import app

HERE = Path(__file__).resolve().parent
CONFIG = """
[run]
steps = 2
checkpoint_every = 1
progress = false
threads = 1
[model]
name = "tiny"
[model.tiny]
n_layer = 1
n_head = 2
n_embd = 32
block_size = 12
[data]
task = "arithmetic"
n_prompts = 12
max_operand = 9
[verifier]
name = "grpo_helpers:DigitShare"
[rollout]
prompts_per_step = 3
group_size = 4
max_new_tokens = 3
[optim]
learning_rate = 1e-3
"""


@pytest.fixture(autouse=True)
def _helpers_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_train_resume_and_refuse_overwrite(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    r = _run("train", str(cfg), "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["run_dir"] == str(out)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    r = _run("train", str(cfg), "--out", str(out), "--json")
    assert r.exit_code == 1 and "already holds a run; pass --resume" in r.output
    r = _run("train", str(cfg), "--out", str(out), "--resume", "--set", "run.steps=3", "--json")
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_train_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.replace("learning_rate = 1e-3", "lr = 1e-3"))
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr.cli", "train", str(cfg), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert lines == [f"error: {cfg}: unknown key 'lr' in [optim]; did you mean 'learning_rate'?"]
    r = _run("train", str(cfg), "--set", "optim=3")
    assert r.exit_code == 1 and "optim must be a table of settings, got 3" in r.output
    r = _run("train", str(tmp_path / "missing.toml"))
    assert r.exit_code == 1 and "cannot read config" in r.output


def test_curate_writes_kept_set_and_histogram(tmp_path):
    from rlvr.policy.tiny import TinyConfig, TinyPolicy

    model = tmp_path / "m"
    TinyPolicy(TinyConfig(n_layer=1, n_head=2, n_embd=32, block_size=16), seed=0).save(model)
    out = tmp_path / "kept.jsonl"
    r = _run("curate", "--task", "arithmetic", "--n", "6", "--model", str(model), "--verifier",
             "grpo_helpers:DigitShare", "-k", "4", "--band", "0,1", "--max-new-tokens", "3", "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["prompts"] == 6 and summary["kept"] == 6  # band 0..1 keeps everything
    kept = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(kept) == 6 and all(0 <= k["pass_rate"] <= 1 for k in kept)
    saved = json.loads((tmp_path / "kept.summary.json").read_text())
    assert sum(b["count"] for b in saved["histogram"]) == 6 and len(saved["histogram"]) == 5
    r = _run("curate", "--model", str(model), "--verifier", "math", "--out", str(out))
    assert r.exit_code == 1 and "give a prompts FILE or --task" in r.output
    r = _run("curate", "--task", "arithmetic", "--model", str(model), "--verifier", "math", "--band", "x",
             "--out", str(out))
    assert r.exit_code == 2 and "--band expects" in r.output


def test_help_has_examples():
    for cmd in ("train", "curate"):
        r = _run(cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.output


def test_health_warnings_reach_the_console_and_health_jsonl(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.replace("grpo_helpers:DigitShare", "grpo_helpers:FlakyVerifier") + "[health]\npatience = 1\n")
    out = tmp_path / "run"
    r = _run("train", str(cfg), "--out", str(out), "--set", "run.progress=false")
    assert r.exit_code == 0, r.output
    assert "[health] step 1: verifier_errors:" in r.output
    assert "warning(s)" in r.output and "'verifier_errors': 1" in r.output
    rows = [json.loads(x) for x in (out / "health.jsonl").read_text().splitlines()]
    assert (1, "verifier_errors") in [(w["step"], w["code"]) for w in rows]
    assert all(f"[health] step {w['step']}: {w['code']}:" in r.output for w in rows)
