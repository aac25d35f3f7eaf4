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


class _Scripted:
    """A policy whose n samples of a prompt are fixed texts (the prompt's script, in order)."""

    def __init__(self, script):
        self.script = script

    def generate(self, prompts, *, n=1, **_):
        return [self.script[p][:n] for p in prompts]


class _Judge:
    """Correct on 'ok', incorrect on 'no', the verifier's own failure (error) on 'err'."""

    name = "judge"

    def verify(self, sample):
        from rlvr.types import Verdict

        if sample.output == "err":
            return Verdict.error("the judge failed")
        return Verdict(1.0, "correct", "ok") if sample.output == "ok" else Verdict(0.0, "incorrect", "no")


def test_judged_flags_leave_unjudged_samples_out_of_n():
    from rlvr.lab.sampling import judged_flags
    from rlvr.types import Verdict

    ok, no, err = Verdict(1.0, "correct", "r"), Verdict(0.0, "incorrect", "r"), Verdict.error("r")
    skip = Verdict(0.0, "skipped", "r")
    # a: 3 judged of 3; b loses one to an error, c one to a skip: fewer than n = 3, dropped.
    assert judged_flags(["a", "b", "c"], [ok, no, ok, ok, err, no, skip, ok, ok], 3) == {"a": [True, False, True]}
    assert judged_flags(["a", "b"], [ok, no, no, no], 2) == {"a": [True, False], "b": [False, False]}
    assert judged_flags(["a"], [err, skip], 2) == {}


def test_trajectory_probes_read_outcomes_as_test_sampling_does(tmp_path):
    """An error verdict is the verifier's fault: the probe leaves it out of n (was: a failure), the
    same rule as the test samples, so pass@1 of the same outputs agrees between the two."""
    from rlvr.lab.sampling import probe, sample_set

    cfg = lab_config("quick", n_samples=2, trajectory_samples=2)
    records = [{"id": "p1", "prompt": "1+1=", "answer": "2"}, {"id": "p2", "prompt": "2+2=", "answer": "4"},
               {"id": "p3", "prompt": "3+3=", "answer": "6"}]
    # p1: ok, err and p3: err, no have 1 judged sample of 2 (dropped); p2: no, ok. Counting the errors as
    # failures instead would give pass@1 (1/2 + 1/2 + 0) / 3.
    policy = _Scripted({"1+1=": ["ok", "err"], "2+2=": ["no", "ok"], "3+3=": ["err", "no"]})
    point = probe(cfg, policy, {"in_distribution": records, "shifted": []}, _Judge(), step=5)
    flags, use = sample_set(cfg, "x", policy, records, _Judge(), tmp_path / "s.jsonl", lambda *a: None)
    assert use is None  # a single-turn task reports no tool use
    assert flags == {"p2": [False, True]}  # p1 and p3 lost a sample to an error: fewer than n = 2
    assert point["pass1_in_distribution"] == pytest.approx(0.5) and point["passk_in_distribution"] == 1.0
    assert point["pass1_shifted"] is None and point["step"] == 5
    none_judged = probe(cfg, _Scripted({p["prompt"]: ["err", "err"] for p in records}),
                         {"in_distribution": records}, _Judge(), step=1)
    assert none_judged["pass1_in_distribution"] is None and none_judged["passk_in_distribution"] is None
