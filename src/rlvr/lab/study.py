"""The study behind ``rlvr lab``: orchestration only (the pieces live below it).

For each seed (``cfg.seeds`` independent replicates; ``rlvr.lab.jobs`` runs them as jobs on
parallel processes where cores allow: a prep job per seed, then one job per RL arm), in
``<out>/seed<s>/``:

1. **data**: disjoint splits of a generated task (worked solutions for warm-up, an RL prompt pool,
   an in-distribution test set with a hard stratum, a *shifted* set of the same length);
2. **base**: the built-in tiny model, warmed up on the worked solutions (cached), right *sometimes*;
3. **curate**: keep the pool prompts whose base pass rate lies in a band;
4. **sample base** on both test sets (n per problem);
5. **train** with GRPO and the real verifier, then **sample** the trained model;
6. **controls**, same settings and budget: a random reward paying 1 with probability p = the base's
   pass rate on the curated prompts, and a format-only reward (a well-formed answer, its value
   never checked); each is sampled too.

Then ``rlvr.lab.summary`` pools the seeds (intervals over seeds and problems), labels floor/ceiling
comparisons uninformative, calls each control (spurious gain / none / unstable) and writes the
verdict; ``summary.json`` and ``report.html`` go to ``<out>``. Each job's result is stored in
``<out>/seed<s>/jobs/`` as it finishes (``rlvr.lab.store``), so ``--resume`` finishes a killed study
with the numbers it would have given uninterrupted.

``--model PATH --data FILE --verifier NAME`` runs the same study on a transformers model and the
user's prompts (no warm-up; ``--shifted FILE`` adds a shifted set).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.io import write_json
from rlvr.lab.arms import RUN_DIRS, Phases, seed_arms
from rlvr.lab.config import LabConfig
from rlvr.lab.jobs import StudyRun, run_studies
from rlvr.lab.results import ArmRun, SeedPrep, job_record
from rlvr.lab.store import JOBS_DIR, load_job
from rlvr.lab.summary import lab_summary

__all__ = ["finish_lab", "run_lab", "start_lab", "stored_jobs", "workers_for"]


def workers_for(cfg: LabConfig, jobs: int | None = None) -> int:
    """Processes running the study's jobs: the config's, else one per core for the tiny model
    (each process on one thread: its ops are too small to gain from more) and 1 for a transformers
    model; never more than there are jobs (``jobs``; default: the prep and arm jobs of every seed)."""
    if jobs is None:
        jobs = cfg.seeds * (1 + len(seed_arms(cfg)))
    if cfg.workers is not None:
        return max(1, min(cfg.workers, jobs))
    if cfg.custom:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(jobs, cores))


def run_lab(config: LabConfig, *, quiet: bool = False, resume: bool = False, executor: str = "local") -> dict[str, Any]:
    """Run the whole study; returns the summary (also written to ``<out_dir>/summary.json``).
    ``resume``: reuse the jobs an interrupted run of the same config finished in ``out_dir``;
    ``executor``: ``local`` processes or ``ray`` (``rlvr.lab.executors``), same numbers."""
    cfg = config
    study = start_lab(cfg, resume=resume)
    workers = workers_for(cfg)
    run_studies([study], workers, show=cfg.progress and not quiet, executor=executor)
    return finish_lab(study, workers, quiet=quiet)


def start_lab(cfg: LabConfig, *, resume: bool = False) -> StudyRun:
    """Claim the study's folder; its seeds are then run by ``rlvr.lab.jobs.run_studies`` and
    summarised by ``finish_lab``. A folder that holds a run is refused unless ``resume``: then every
    job it finished with the same config (``rlvr.lab.store``) is reused, and only the folders of
    unfinished jobs are cleaned for their rerun."""
    out = Path(cfg.out_dir)
    study = StudyRun(cfg, out)
    if resume:
        study.stored = stored_jobs(study)  # a config mismatch fails here, before anything is cleaned
    else:
        _refuse_a_run(out)
    _clean_unfinished(study)
    out.mkdir(parents=True, exist_ok=True)
    return study


def stored_jobs(study: StudyRun) -> dict[tuple[int, str], SeedPrep | ArmRun]:
    """The jobs of ``study`` an earlier run finished, (seed, job) -> result (an arm counts only
    with its seed's prep: arms start from it)."""
    found: dict[tuple[int, str], SeedPrep | ArmRun] = {}
    for c in study.seed_cfgs():
        seed_dir = study.out / f"seed{c.seed}"
        prep = load_job(seed_dir, "prep", c)
        if prep is None:
            continue
        found[(c.seed, "prep")] = job_record("prep", prep)
        for arm in seed_arms(c):
            res = load_job(seed_dir, arm, c)
            if res is not None:
                found[(c.seed, arm)] = job_record(arm, res)
    return found


def finish_lab(study: StudyRun, workers: int, *, quiet: bool = False) -> dict[str, Any]:
    """Pool a finished study's seeds into ``summary.json`` and ``report.html``; returns the summary."""
    from rlvr.report.lab import write_lab_report

    cfg, out = study.cfg, study.out
    results = study.ordered()
    phases = Phases(cfg.progress and not quiet)
    try:
        summary = phases.run("evaluate", "evaluate", 1, lambda adv: lab_summary(cfg, results))
    finally:
        phases.stop()
    timings: dict[str, Any] = {"seeds": study.seconds}
    if workers <= 1:  # seeds ran one after the other here: their phases add up to the wall time
        timings = {}
        for r in results:
            for name, sec in r.timings.items():
                if name != "total":
                    timings[name] = round(timings.get(name, 0.0) + sec, 3)
    timings.update(phases.timings)
    timings["workers"] = workers
    timings["job_seconds"] = study.job_seconds
    timings["jobs"] = {"run": study.jobs_run, "reused": study.jobs_reused}
    timings["per_seed"] = {str(r.seed): r.timings for r in results}
    summary["timings"] = timings
    first = f"seed{cfg.seed}/"
    summary["files"] = {
        "summary": "summary.json", "report": "report.html", "seeds": [f"seed{s}/" for s in cfg.seed_list()],
        "samples": first + "samples/", "data": first + "data/",
        "base_model": cfg.model if cfg.custom else first + "base/",
        "trained_run": first + "train_real/",
    }
    if cfg.random_control:
        summary["files"]["random_control_run"] = first + "train_random/"
    if cfg.format_control:
        summary["files"]["format_control_run"] = first + "train_format/"
    t0 = time.perf_counter()
    write_json(out / "summary.json", summary)
    write_lab_report(out / "report.html", summary)
    summary["timings"]["report"] = round(time.perf_counter() - t0, 3)
    summary["timings"]["total"] = round(study.seconds + sum(
        v for k, v in summary["timings"].items() if k in ("evaluate", "report")), 3)
    write_json(out / "summary.json", summary)
    write_lab_report(out / "report.html", summary)
    return summary


def _refuse_a_run(out: Path) -> None:
    """A lab folder holds one run: refuse to mix a new run into an old one (no data lost)."""
    if (out / "summary.json").exists():
        raise ConfigError(f"{out} already holds a lab run (finished); rerun with --resume to summarise it again, "
                          "or choose another --out")
    finished = sorted(out.glob(f"seed*/{JOBS_DIR}/*.json"))
    if finished or any(out.glob("seed*/train_*/metrics.jsonl")):
        raise ConfigError(f"{out} already holds a lab run, unfinished ({len(finished)} jobs finished); rerun with "
                          "--resume to finish it, or choose another --out")


def _clean_unfinished(study: StudyRun) -> None:
    """Remove what unfinished jobs left (an interrupted run's partial folders) so they rerun clean."""
    for c in study.seed_cfgs():
        seed_dir = study.out / f"seed{c.seed}"
        if (c.seed, "prep") not in study.stored:
            for sub in (*RUN_DIRS.values(), "samples", "data", "base", JOBS_DIR):
                shutil.rmtree(seed_dir / sub, ignore_errors=True)
            continue
        for arm in seed_arms(c):
            if (c.seed, arm) not in study.stored:
                shutil.rmtree(seed_dir / RUN_DIRS[arm], ignore_errors=True)
                for path in (seed_dir / "samples").glob(f"{arm}_*.jsonl"):
                    path.unlink()
