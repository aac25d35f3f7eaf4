"""The lab's job schedule: prep and arm jobs on worker processes give the numbers one process gives."""

from __future__ import annotations

import json

import pytest

from rlvr.lab import lab_config
from rlvr.lab.jobs import job_cost
from rlvr.lab.study import run_lab, workers_for

TINY = {"n_pretrain": 200, "pretrain_steps": 30, "n_pool": 64, "n_test": 12, "n_shifted": 12, "steps": 3,
        "prompts_per_step": 4, "group_size": 2, "n_samples": 4, "n_boot": 50, "band": (0.0, 1.0),
        "trajectory_every": 1, "trajectory_problems": 4, "progress": False}


def test_job_costs_order_the_long_jobs_first():
    quick = lab_config("quick")
    countdown = lab_config("quick", task="countdown")
    assert job_cost(countdown, None) > job_cost(quick, None)  # longer sequences warm up slower
    assert job_cost(countdown, "trained") > job_cost(quick, "trained")
    assert job_cost(lab_config("quick", steps=200), "trained") == pytest.approx(
        2 * job_cost(quick, "trained") - 1.0)  # linear in RL steps (+1 s of sampling)


def test_workers_never_exceed_jobs():
    cfg = lab_config("quick", seeds=1, workers=8, format_control=False)
    assert workers_for(cfg) == 3  # 1 prep + 2 arms
    assert workers_for(cfg, jobs=1) == 1
    assert workers_for(lab_config("quick", workers=1)) == 1


@pytest.mark.slow
def test_parallel_jobs_give_the_numbers_of_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    got = {}
    for workers in (1, 2):
        cfg = lab_config("quick", **TINY, seeds=2, workers=workers, out_dir=str(tmp_path / f"w{workers}"))
        s = run_lab(cfg, quiet=True)
        assert s["timings"]["workers"] == workers and s["timings"]["job_seconds"] > 0
        got[workers] = json.dumps({k: s[k] for k in ("arms", "per_seed", "spurious", "trajectory", "verdict")},
                                  sort_keys=True, default=str)
    assert got[1] == got[2]
    assert (tmp_path / "w2" / "seed1" / "train_format" / "metrics.jsonl").is_file()
