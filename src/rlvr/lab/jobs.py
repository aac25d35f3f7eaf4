"""Running the lab's replicates on worker processes, finer than one seed per process.

A replicate (one seed of one study) is one *prep* job (data, base warm-up, curation, base samples;
``rlvr.lab.arms.prepare_seed``) and then one job per RL arm (``run_arm``), which may all run at once
once the prep is done. ``run_studies`` schedules the jobs of several studies (the seeds of ``rlvr
lab``, or every scenario × seed of ``rlvr lab calibrate``) on one pool: whenever a worker is free it
takes the ready job with the largest estimated cost (longest-first keeps the last core from idling
alone at the end: 3 seeds on 2 cores no longer leave one core idle for the whole third seed). Each
job is deterministic on its own (it seeds everything it samples), so where and when it runs never
changes the numbers.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr.lab.arms import Phases, assemble_seed, prepare_seed, run_arm, run_seed, seed_arms
from rlvr.lab.config import LabConfig

__all__ = ["StudyRun", "job_cost", "run_studies"]


@dataclass(eq=False)
class StudyRun:
    """One study's seeds as they complete: results in seed order once ``done``."""

    cfg: LabConfig
    out: Path
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    """Wall seconds from the start of the schedule until this study's last job finished."""
    job_seconds: float = 0.0
    """Seconds its jobs took, summed (its share of the machine: job_seconds / workers)."""

    def seed_cfgs(self) -> list[LabConfig]:
        return [replace(self.cfg, seed=s, seeds=1) for s in self.cfg.seed_list()]

    @property
    def done(self) -> bool:
        return len(self.results) == self.cfg.seeds

    def ordered(self) -> list[dict[str, Any]]:
        return [self.results[s] for s in sorted(self.results)]


def job_cost(cfg: LabConfig, arm: str | None) -> float:
    """Rough seconds of a job (only its order matters): warm-up steps for a prep, RL steps for an
    arm, scaled by sequence width (measured on the tiny model: ~30 ms per warm-up step and ~0.13 s
    per RL step of 256 completions at 16 positions; countdown's 32 positions cost ~1.5x and ~2x)."""
    spec = cfg.spec()
    width = (spec.block_size if spec is not None else 64) / 16
    if arm is None:
        return (cfg.pretrain_steps if not cfg.custom else 1) * 0.03 * width**0.6 + 2.0
    return cfg.steps * cfg.prompts_per_step * cfg.group_size / 256 * 0.13 * width + 1.0


def _prep_job(cfg: LabConfig, out: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    prep = prepare_seed(cfg, Path(out))
    prep["seconds"] = round(time.perf_counter() - t0, 3)
    return prep


def _arm_job(cfg: LabConfig, out: str, arm: str, prep: dict[str, Any]) -> dict[str, Any]:
    return run_arm(cfg, Path(out), arm, prep)


def run_studies(
    studies: Sequence[StudyRun],
    workers: int,
    *,
    show: bool = False,
    on_done: Callable[[StudyRun], None] | None = None,
) -> None:
    """Run every seed of every study (``workers`` processes; 1: in this process, seed after seed),
    calling ``on_done(study)`` as each study completes."""
    t_start = time.perf_counter()
    if workers <= 1:
        for st in studies:
            for c in st.seed_cfgs():
                phases = Phases(show)
                t0 = time.perf_counter()
                try:
                    st.results[c.seed] = run_seed(c, st.out / f"seed{c.seed}", phases)
                finally:
                    phases.stop()
                st.job_seconds += time.perf_counter() - t0
            st.seconds = round(time.perf_counter() - t_start, 3)
            st.job_seconds = round(st.job_seconds, 3)
            if on_done is not None:
                on_done(st)
        return
    _run_pool(studies, workers, show, on_done, t_start)


def _run_pool(
    studies: Sequence[StudyRun], workers: int, show: bool, on_done: Callable[[StudyRun], None] | None, t_start: float
) -> None:
    # Fork is cheap (no second torch import, seconds on a busy machine) and safe while this process
    # has not loaded torch: each child imports it after the fork. Once torch is loaded (its thread
    # pool may have run), forking can deadlock, so spawn instead. A fork pool starts all its
    # workers on the first submit, so nothing forks later.
    import multiprocessing
    import sys

    safe_fork = "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if safe_fork else "spawn")
    # A ready job: (cost, order, study index, seed cfg, arm or None for the prep, prep).
    order = itertools.count()  # ties go to the job queued first
    ready: list[tuple[float, int, int, LabConfig, str | None, dict[str, Any] | None]] = []
    for i, st in enumerate(studies):
        for c in st.seed_cfgs():
            ready.append((job_cost(c, None), next(order), i, c, None, None))
    total = len(ready) + sum(len(seed_arms(st.cfg)) * st.cfg.seeds for st in studies)
    pending: dict[tuple[int, int], tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}
    phases = Phases(show)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def schedule(advance: Callable[..., None]) -> None:
        in_flight: dict[Future[dict[str, Any]], tuple[int, LabConfig, str | None]] = {}
        while ready or in_flight:
            while ready and len(in_flight) < workers:
                ready.sort(key=lambda j: (-j[0], j[1]))
                _, _, i, c, arm, prep = ready.pop(0)
                out = str(studies[i].out / f"seed{c.seed}")
                fut = pool.submit(_prep_job, c, out) if arm is None else pool.submit(_arm_job, c, out, arm, prep)
                in_flight[fut] = (i, c, arm)
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for fut in finished:
                i, c, arm = in_flight.pop(fut)
                res = fut.result()  # a failed job fails the run (its error is the user's message)
                st = studies[i]
                st.job_seconds += res["seconds"]
                if arm is None:
                    pending[(i, c.seed)] = (res, {})
                    for a in seed_arms(c):
                        ready.append((job_cost(c, a), next(order), i, c, a, res))
                    advance(1, info=f"{st.out.name} seed {c.seed}: base ready")
                    continue
                prep, arms = pending[(i, c.seed)]
                arms[arm] = res
                advance(1, info=f"{st.out.name} seed {c.seed}: {arm.replace('_', ' ')} done")
                if len(arms) == len(seed_arms(c)):
                    del pending[(i, c.seed)]
                    st.results[c.seed] = assemble_seed(prep, [arms[a] for a in seed_arms(c)])
                    if st.done:
                        st.seconds = round(time.perf_counter() - t_start, 3)
                        st.job_seconds = round(st.job_seconds, 3)
                        if on_done is not None:
                            on_done(st)

    try:
        phases.run("seeds", f"{total} jobs on {workers} processes", total, schedule)
    finally:
        phases.stop()
        pool.shutdown(wait=True, cancel_futures=True)
