"""Running the lab's replicates as jobs, finer than one seed per process.

A replicate (one seed of one study) is one *prep* job (data, base warm-up, curation, base samples;
``rlvr.lab.arms.prepare_seed``) and then one job per RL arm (``run_arm``), which may all run at once
once the prep is done. ``run_studies`` schedules the jobs of several studies (the seeds of ``rlvr
lab``, or every scenario × seed of ``rlvr lab calibrate``) on one executor (``rlvr.lab.executors``:
this process, local processes, or Ray tasks): whenever a worker is free it takes the ready job with
the largest estimated cost (longest-first keeps the last core from idling alone at the end: 3 seeds
on 2 cores no longer leave one core idle for the whole third seed). Each job is deterministic on
its own (it seeds everything it samples), so where and when it runs never changes the numbers.

Each finished job is stored in the study's folder as it finishes (``rlvr.lab.store``), and a job
already stored by an interrupted run of the study (``StudyRun.stored``, ``--resume``) is not run
again: its stored result takes its place.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr.lab.arms import Phases, assemble_seed, prepare_seed, run_arm, seed_arms
from rlvr.lab.config import LabConfig
from rlvr.lab.executors import done_future, open_executor
from rlvr.lab.results import ArmRun, SeedPrep, SeedResult, job_record
from rlvr.lab.store import save_job

__all__ = ["Job", "StudyRun", "job_cost", "run_studies"]


@dataclass(eq=False)
class StudyRun:
    """One study's seeds as they complete: results in seed order once ``done``."""

    cfg: LabConfig
    out: Path
    results: dict[int, SeedResult] = field(default_factory=dict)
    stored: dict[tuple[int, str], SeedPrep | ArmRun] = field(default_factory=dict)
    """Results of jobs an earlier run of this study finished, (seed, job name) -> its record (read
    back from its job file, ``rlvr.lab.study.stored_jobs``): reused."""
    seconds: float = 0.0
    """Wall seconds from the start of the schedule until this study's last job finished."""
    job_seconds: float = 0.0
    """Seconds its jobs run now took, summed (its share of the machine: job_seconds / workers)."""
    jobs_run: int = 0
    jobs_reused: int = 0

    def seed_cfgs(self) -> list[LabConfig]:
        return [replace(self.cfg, seed=s, seeds=1) for s in self.cfg.seed_list()]

    @property
    def done(self) -> bool:
        return len(self.results) == self.cfg.seeds

    def ordered(self) -> list[SeedResult]:
        return [self.results[s] for s in sorted(self.results)]


@dataclass(frozen=True)
class Job:
    """A seed's prep (``arm`` None) or one of its RL arms."""

    study: int
    cfg: LabConfig
    """The seed's config (``seeds=1``)."""
    arm: str | None
    order: int
    """Queue order: ties in cost go to the job queued first."""

    @property
    def name(self) -> str:
        return "prep" if self.arm is None else self.arm


def job_cost(cfg: LabConfig, arm: str | None) -> float:
    """Rough seconds of a job (only its order matters): warm-up steps for a prep, RL steps for an
    arm, scaled by sequence width (measured on the tiny model: ~30 ms per warm-up step and ~0.13 s
    per RL step of 256 completions at 16 positions; countdown's 32 positions cost ~1.5x and ~2x)."""
    spec = cfg.spec()
    width = (spec.block_size if spec is not None else 64) / 16
    if arm is None:
        return (cfg.pretrain_steps if not cfg.custom else 1) * 0.03 * width**0.6 + 2.0
    rollout = cfg.grpo.rollout
    return cfg.grpo.run.steps * rollout.prompts_per_step * rollout.group_size / 256 * 0.13 * width + 1.0


def priority(job: Job, workers: int) -> tuple[float, ...]:
    """Sort key of ready jobs: longest first on several workers; on one, seed after seed (each
    study then completes, and is summarised, as early as it can)."""
    if workers <= 1:
        return (job.study, job.cfg.seed, job.order)
    return (-job_cost(job.cfg, job.arm), job.order)


def prep_job(cfg: LabConfig, out: str, show: bool) -> SeedPrep:
    """A seed's prep job (a picklable function of plain arguments, run by any executor)."""
    phases = Phases(show)
    t0 = time.perf_counter()
    try:
        prep = prepare_seed(cfg, Path(out), phases)
    finally:
        phases.stop()
    return replace(prep, seconds=round(time.perf_counter() - t0, 3))


def arm_job(cfg: LabConfig, out: str, arm: str, prep: SeedPrep, show: bool) -> ArmRun:
    """One RL arm's job, from its seed's prep result."""
    phases = Phases(show)
    try:
        return run_arm(cfg, Path(out), arm, prep, phases)
    finally:
        phases.stop()


def run_studies(
    studies: Sequence[StudyRun],
    workers: int,
    *,
    show: bool = False,
    on_done: Callable[[StudyRun], None] | None = None,
    executor: str = "local",
) -> None:
    """Run every seed of every study, ``workers`` jobs at once on ``executor`` (``local``: processes,
    or this process with one worker; ``ray``), calling ``on_done(study)`` as each study completes."""
    t_start = time.perf_counter()
    order = itertools.count()
    ready = [Job(i, c, None, next(order)) for i, st in enumerate(studies) for c in st.seed_cfgs()]
    total = sum(st.cfg.seeds * (1 + len(seed_arms(st.cfg))) for st in studies)
    preps: dict[tuple[int, int], SeedPrep] = {}  # (study, seed) -> its prep, until its arms are done
    arms: dict[tuple[int, int], dict[str, ArmRun]] = {}  # (study, seed) -> arm -> its run
    pool = open_executor(executor, workers)
    phases = Phases(show and not pool.here)  # jobs in this process show their own phases instead

    def start(job: Job) -> Future[Any]:
        st = studies[job.study]
        stored = st.stored.get((job.cfg.seed, job.name))
        if stored is not None:
            return done_future(stored)
        out = str(st.out / f"seed{job.cfg.seed}")
        show_job = show and pool.here
        if job.arm is None:
            return pool.submit(prep_job, job.cfg, out, show_job)
        return pool.submit(arm_job, job.cfg, out, job.arm, preps[(job.study, job.cfg.seed)], show_job)

    def schedule(advance: Callable[..., None]) -> None:
        in_flight: dict[Future[Any], Job] = {}
        while ready or in_flight:
            ready.sort(key=lambda j: priority(j, workers))
            while ready and len(in_flight) < workers:
                job = ready.pop(0)
                in_flight[start(job)] = job
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = in_flight.pop(fut)
                st, seed, key = studies[job.study], job.cfg.seed, (job.study, job.cfg.seed)
                # Fresh or stored, a job's record is read back from its JSON (the store's boundary).
                if (seed, job.name) in st.stored:
                    res = fut.result()
                    st.jobs_reused += 1
                else:  # a failed job fails the run (its error is the user's message)
                    res = job_record(job.name, save_job(st.out / f"seed{seed}", job.name, job.cfg, fut.result().to_dict()))
                    st.jobs_run += 1
                    st.job_seconds += res.seconds
                if isinstance(res, SeedPrep):
                    preps[key], arms[key] = res, {}
                    ready.extend(Job(job.study, job.cfg, a, next(order)) for a in seed_arms(job.cfg))
                    advance(1, info=f"{st.out.name} seed {seed}: base ready")
                    continue
                assert job.arm is not None and isinstance(res, ArmRun)
                arms[key][job.arm] = res
                advance(1, info=f"{st.out.name} seed {seed}: {job.arm.replace('_', ' ')} done")
                if len(arms[key]) < len(seed_arms(job.cfg)):
                    continue
                done_arms = arms.pop(key)
                st.results[seed] = assemble_seed(preps.pop(key), [done_arms[a] for a in seed_arms(job.cfg)])
                if st.done:
                    st.seconds = round(time.perf_counter() - t_start, 3)
                    st.job_seconds = round(st.job_seconds, 3)
                    if on_done is not None:
                        on_done(st)

    try:
        phases.run("seeds", f"{total} jobs on {workers} {'Ray CPUs' if executor == 'ray' else 'processes'}",
                   total, schedule)
    finally:
        phases.stop()
        pool.close()
