"""A killed study resumes: finished jobs are stored as they finish, reused with ``--resume`` (never
rerun), unfinished ones rerun clean, and the numbers equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import SMALL
from typer.testing import CliRunner

from rlvr.cli import app
from rlvr.errors import ConfigError
from rlvr.lab import jobs, lab_config
from rlvr.lab.jobs import run_studies
from rlvr.lab.results import ArmRun, SeedPrep, TrainingRun
from rlvr.lab.study import run_lab, start_lab

ARMS = ("trained", "random_control", "format_control")


class Scripted:
    """Stand-ins for the prep and arm jobs: record each call, fail at ``fail_at`` (seed, job)."""

    def __init__(self, fail_at: tuple[int, str] | None = None) -> None:
        self.calls: list[tuple[int, str]] = []
        self.fail_at = fail_at

    def prep(self, cfg: Any, out: str, show: bool) -> SeedPrep:
        self._call(cfg.seed, "prep")
        return SeedPrep(seed=cfg.seed, base_outcomes={"in_distribution": {"p": [True, False]}}, kept=[{"id": "k"}],
                        curation={}, hit_rate=0.25 + cfg.seed, verifier="math", data={}, test_sets={},
                        timings={"total": 1.0}, seconds=1.0)

    def arm(self, cfg: Any, out: str, arm: str, prep: SeedPrep, show: bool) -> ArmRun:
        self._call(cfg.seed, arm)
        # The arm's numbers come from its prep's, as a real arm's do (the random reward's hit rate).
        return ArmRun(arm=arm, outcomes={"in_distribution": {"p": [prep.hit_rate > 1, True]}},
                      run=TrainingRun(summary={"hit_rate": prep.hit_rate}, curves={}), timings={arm: 0.5}, seconds=0.5)

    def _call(self, seed: int, job: str) -> None:
        if (seed, job) == self.fail_at:
            raise RuntimeError(f"killed during seed {seed} {job}")
        self.calls.append((seed, job))


def scripted_study(monkeypatch, tmp_path: Path, script: Scripted, *, resume: bool = False, **overrides: Any):
    monkeypatch.setattr(jobs, "prep_job", script.prep)
    monkeypatch.setattr(jobs, "arm_job", script.arm)
    cfg = lab_config("quick", **{"seeds": 2, "workers": 1, "out_dir": str(tmp_path / "study"), "progress": False,
                                 **overrides})
    study = start_lab(cfg, resume=resume)
    run_studies([study], 1)
    return study


def test_resume_reruns_only_the_unfinished_jobs(monkeypatch, tmp_path):
    full = scripted_study(monkeypatch, tmp_path / "full", Scripted())
    out = tmp_path / "cut" / "study"
    with pytest.raises(RuntimeError, match="killed during seed 1 random_control"):
        scripted_study(monkeypatch, tmp_path / "cut", Scripted(fail_at=(1, "random_control")))
    stored = sorted(p.relative_to(out).as_posix() for p in out.glob("seed*/jobs/*.json"))
    assert stored == ["seed0/jobs/format_control.json", "seed0/jobs/prep.json", "seed0/jobs/random_control.json",
                      "seed0/jobs/trained.json", "seed1/jobs/prep.json", "seed1/jobs/trained.json"]
    mtimes = {p: (out / p).stat().st_mtime_ns for p in stored}
    # What the killed arm left, and a finished arm's files, before the resume.
    for partial in ("seed1/train_random/metrics.jsonl", "seed1/samples/random_control_shifted.jsonl",
                    "seed1/train_real/metrics.jsonl", "seed1/samples/trained_shifted.jsonl"):
        (out / partial).parent.mkdir(parents=True, exist_ok=True)
        (out / partial).write_text("{}\n")

    with pytest.raises(ConfigError, match=r"already holds a lab run, unfinished \(6 jobs finished\); rerun with --resume"):
        start_lab(lab_config("quick", seeds=2, out_dir=str(out)))
    again = Scripted()
    resumed = scripted_study(monkeypatch, tmp_path / "cut", again, resume=True)
    assert again.calls == [(1, "random_control"), (1, "format_control")]
    assert (resumed.jobs_run, resumed.jobs_reused) == (2, 6)
    assert {p: (out / p).stat().st_mtime_ns for p in stored} == mtimes  # reused, never rewritten
    assert not (out / "seed1/train_random").exists() and not (out / "seed1/samples/random_control_shifted.jsonl").exists()
    assert (out / "seed1/train_real/metrics.jsonl").exists() and (out / "seed1/samples/trained_shifted.jsonl").exists()
    assert resumed.ordered() == full.ordered()
    assert resumed.ordered()[1].runs["random_control"].summary == {"hit_rate": 1.25}  # from seed 1's stored prep


def test_resume_refuses_another_config_before_touching_anything(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError):
        scripted_study(monkeypatch, tmp_path, Scripted(fail_at=(0, "format_control")))
    out = tmp_path / "study"
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(ConfigError, match=r"seed0/jobs/prep.json was run with another config \(steps: 100 -> 7\)"):
        start_lab(lab_config("quick", seeds=2, steps=7, out_dir=str(out)), resume=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    # Where it runs and what only the summary reads may change; seed 1 never started, seed 2 is new.
    again = Scripted()
    scripted_study(monkeypatch, tmp_path, again, resume=True, n_boot=20, seeds=3)
    assert again.calls == [(0, "format_control"), *((s, j) for s in (1, 2) for j in ("prep", *ARMS))]


def test_a_run_without_finished_jobs_is_cleaned_and_rerun(monkeypatch, tmp_path):
    out = tmp_path / "study"
    (out / "seed0" / "train_real").mkdir(parents=True)
    (out / "seed0" / "data").mkdir()
    (out / "seed0" / "train_real" / "log.txt").write_text("killed mid-prep")
    script = Scripted()
    scripted_study(monkeypatch, tmp_path, script)
    assert len(script.calls) == 8 and not (out / "seed0" / "train_real").exists()


def test_cli_refuses_a_run_folder_and_names_resume(tmp_path):
    out = tmp_path / "run"
    (out / "seed0" / "jobs").mkdir(parents=True)
    (out / "seed0" / "jobs" / "prep.json").write_text("{}")
    res = CliRunner().invoke(app, ["lab", "--quick", "--out", str(out)])
    assert res.exit_code == 1 and "already holds a lab run, unfinished (1 jobs finished); rerun with --resume" in res.output
    (out / "summary.json").write_text("{}")
    res = CliRunner().invoke(app, ["lab", "--quick", "--out", str(out)])
    assert res.exit_code == 1 and "already holds a lab run (finished); rerun with --resume" in res.output
    res = CliRunner().invoke(app, ["lab", "--quick", "--executor", "slurm", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "--executor must be one of local, ray, got 'slurm'" in res.output
    assert not (tmp_path / "x").exists()
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "calibration.json").write_text("{}")
    res = CliRunner().invoke(app, ["lab", "calibrate", "--quick", "--out", str(tmp_path / "cal")])
    assert res.exit_code == 1 and "already holds a calibration; rerun with --resume" in res.output


# Runs the SMALL study in a process the test can kill: argv = JSON LabConfig overrides.
RUNNER = "import json, sys\nfrom rlvr.lab import lab_config, run_lab\nrun_lab(lab_config('quick', **json.loads(sys.argv[1])), quiet=True)\n"


def children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def numbers(summary: dict[str, Any]) -> str:
    return json.dumps({k: summary[k] for k in ("arms", "per_seed", "spurious", "trajectory", "verdict")},
                      sort_keys=True)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the killed study's workers")
def test_a_study_killed_with_sigkill_resumes_to_the_uninterrupted_numbers(tmp_path, lab_cache, small_local):
    settings = {**SMALL, "workers": 2, "cache_dir": str(lab_cache)}
    whole = small_local
    out = tmp_path / "cut"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps({**settings, "out_dir": str(out)})],
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(out.glob("seed*/jobs/*.json")) or proc.poll() is not None, 120, "a finished job")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        workers = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    t_killed = time.perf_counter() - t0
    # Its job processes die with it: none goes on writing into the folder the resume cleans.
    wait_until(lambda: not any(alive(p) for p in workers), 15, f"the killed study's processes {sorted(workers)}")
    stored = sorted(out.glob("seed*/jobs/*.json"))
    assert 1 <= len(stored) < 8 and not (out / "summary.json").exists()
    mtimes = {p: p.stat().st_mtime_ns for p in stored}

    res = CliRunner().invoke(app, ["lab", "--quick", "--resume", "--out", str(out)])
    assert res.exit_code == 1 and "was run with another config (" in res.output
    assert "pretrain_steps: 500 -> 1000" in res.output.replace("\n", "")

    t0 = time.perf_counter()
    resumed = run_lab(lab_config("quick", **settings, out_dir=str(out)), quiet=True, resume=True)
    t_resumed = time.perf_counter() - t0
    assert resumed["timings"]["jobs"] == {"run": 8 - len(stored), "reused": len(stored)}
    assert {p: p.stat().st_mtime_ns for p in stored} == mtimes  # the finished jobs were not rerun
    for arm, a in whole["arms"].items():
        assert resumed["arms"][arm]["pass_at_k"] == a["pass_at_k"], arm  # every arm, test set and k
    assert numbers(resumed) == numbers(whole)

    # Resuming a finished study only summarises it again.
    again = run_lab(lab_config("quick", **settings, out_dir=str(out)), quiet=True, resume=True)
    assert again["timings"]["jobs"] == {"run": 0, "reused": 8} and numbers(again) == numbers(whole)
    print(f"\nkilled after {t_killed:.1f} s with {len(stored)} of 8 jobs stored, resumed in {t_resumed:.1f} s "
          f"(uninterrupted: {whole['timings']['total']:.1f} s)")


@pytest.mark.slow
def test_calibration_resumes_from_its_stored_jobs(tmp_path, lab_cache):
    from rlvr.lab.calibrate import run_calibration

    base = {k: v for k, v in SMALL.items() if k != "seeds"} | {"workers": 2, "cache_dir": str(lab_cache)}
    first = run_calibration(tmp_path, profile="quick", seeds=1, names=["null"], base=base)
    stored = sorted(tmp_path.glob("null/seed*/jobs/*.json"))
    assert [p.name for p in stored] == ["prep.json", "random_control.json", "trained.json"]  # no format arm here
    mtimes = {p: p.stat().st_mtime_ns for p in stored}
    with pytest.raises(ConfigError, match="already holds a calibration; rerun with --resume"):
        run_calibration(tmp_path, profile="quick", seeds=1, names=["null"], base=base)
    again = run_calibration(tmp_path, profile="quick", seeds=1, names=["null"], base=base, resume=True)
    (sc,), (sc0,) = again["scenarios"], first["scenarios"]
    assert sc["job_seconds"] == 0 and {p: p.stat().st_mtime_ns for p in stored} == mtimes  # nothing rerun
    assert sc["observed"] == sc0["observed"] and sc["pass_at_k"] == sc0["pass_at_k"]
