"""The run directory: an empty health.jsonl for a healthy run, no lock file left behind."""

from __future__ import annotations

import fcntl

import pytest
from grpo_helpers import DigitShare, small_config

from rlvr.errors import ConfigError
from rlvr.grpo import train
from rlvr.grpo.rundir import RunDir


def test_a_run_with_no_warnings_has_an_empty_health_log_and_no_lock_file(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.open({"x": 1}, tensorboard=False)
    assert (tmp_path / "run" / ".lock").exists()  # held while the run is open
    rd.log({"step": 1, "reward/mean": 0.5}, [])
    rd.close()
    assert (tmp_path / "run" / "health.jsonl").read_text() == ""  # checked, nothing wrong
    assert not (tmp_path / "run" / ".lock").exists()
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_reopening_keeps_the_warnings_already_logged(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.open({}, tensorboard=False)
    (tmp_path / "run" / "health.jsonl").write_text('{"step": 1, "code": "x"}\n')
    rd.close()
    RunDir(tmp_path / "run").open({}, tensorboard=False)
    assert (tmp_path / "run" / "health.jsonl").read_text() == '{"step": 1, "code": "x"}\n'


def test_a_held_lock_is_still_refused_and_a_removed_one_is_not_trusted(tmp_path):
    first = RunDir(tmp_path / "run")
    first.lock()
    with pytest.raises(ConfigError, match="in use by another training process"):
        RunDir(tmp_path / "run").lock()
    # A second process opened the old lock file just before the first one finished and removed it:
    # its lock on the removed file must not count, so it locks the path anew.
    stale = (tmp_path / "run" / ".lock").open("a+")
    first.unlock()
    fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # succeeds on the removed file ...
    second = RunDir(tmp_path / "run")
    second.lock()  # ... and a third process still gets the directory: the stale lock guards nothing
    assert (tmp_path / "run" / ".lock").exists()
    second.unlock()
    stale.close()


def test_a_healthy_train_run_writes_an_empty_health_log_and_leaves_no_lock(tmp_path):
    cfg = small_config(tmp_path, run={"steps": 2, "checkpoint_every": 0})
    summary = train(cfg, verifier=DigitShare(), quiet=True)
    run = tmp_path / "run"
    assert summary["health"]["healthy"] and summary["health"]["warnings"] == 0
    assert (run / "health.jsonl").is_file() and (run / "health.jsonl").read_text() == ""
    assert not (run / ".lock").exists()
