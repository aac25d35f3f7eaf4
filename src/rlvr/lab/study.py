"""The study behind ``rlvr lab``: orchestration only (the pieces live below it).

For each seed (``cfg.seeds`` independent replicates, in parallel processes where cores allow),
``rlvr.lab.arms.run_seed`` runs, in ``<out>/seed<s>/``:

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
verdict; ``summary.json`` and ``report.html`` go to ``<out>``.

``--model PATH --data FILE --verifier NAME`` runs the same study on a transformers model and the
user's prompts (no warm-up; ``--shifted FILE`` adds a shifted set).
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.io import write_json
from rlvr.lab.arms import RUN_DIRS, Phases, run_seed
from rlvr.lab.config import LabConfig
from rlvr.lab.summary import lab_summary

__all__ = ["run_lab", "workers_for"]


def workers_for(cfg: LabConfig) -> int:
    """Seeds run at once: the config's, else one per core for the tiny model (each process on one
    thread: its ops are too small to gain from more) and 1 for a transformers model."""
    if cfg.workers is not None:
        return min(cfg.workers, cfg.seeds)
    if cfg.custom:
        return 1
    return max(1, min(cfg.seeds, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _seed_job(cfg: LabConfig, out: str) -> dict[str, Any]:
    """A worker's job: one seed, quiet, on one thread (top-level so it pickles)."""
    return run_seed(cfg, Path(out))


def run_lab(config: LabConfig, *, quiet: bool = False) -> dict[str, Any]:
    """Run the whole study; returns the summary (also written to ``<out_dir>/summary.json``)."""
    cfg = config
    out = Path(cfg.out_dir)
    _claim_out_dir(out, cfg.seed_list())
    t_start = time.perf_counter()
    seed_cfgs = [replace(cfg, seed=s, seeds=1) for s in cfg.seed_list()]
    workers = workers_for(cfg)
    show = cfg.progress and not quiet
    results: list[dict[str, Any]] = []
    phases = Phases(show)
    try:
        if workers > 1:
            # Fork is cheap (no second torch import, seconds on a busy machine) and safe while this
            # process has not loaded torch: each child imports it after the fork. Once torch is
            # loaded (its thread pool may have run), forking can deadlock, so spawn instead.
            import multiprocessing
            import sys

            safe_fork = "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if safe_fork else "spawn")

            def run_all(advance: Any) -> list[dict[str, Any]]:
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                    futures = [pool.submit(_seed_job, c, str(out / f"seed{c.seed}")) for c in seed_cfgs]
                    got = []
                    for f in futures:
                        got.append(f.result())
                        advance(1, info=f"seed {got[-1]['seed']} done")
                    return got

            results = phases.run("seeds", f"{len(seed_cfgs)} seeds on {workers} processes", len(seed_cfgs), run_all)
        else:
            for c in seed_cfgs:
                seed_phases = Phases(show)
                try:
                    results.append(run_seed(c, out / f"seed{c.seed}", seed_phases))
                finally:
                    seed_phases.stop()
                for name, sec in seed_phases.timings.items():
                    if name != "total":
                        phases.timings[name] = round(phases.timings.get(name, 0.0) + sec, 3)
        summary = phases.run("evaluate", "evaluate", 1, lambda adv: lab_summary(cfg, results))
    finally:
        phases.stop()
    timings = dict(phases.timings)
    timings["workers"] = workers
    timings["per_seed"] = {str(r["seed"]): r["timings"] for r in results}
    summary["timings"] = timings
    first = f"seed{cfg.seed}/"
    summary["files"] = {
        "summary": "summary.json", "report": "report.html", "seeds": [f"seed{s}/" for s in cfg.seed_list()],
        "samples": first + "samples/", "data": first + "data/",
        "base_model": cfg.model if cfg.custom else first + "base/",
        "trained_run": first + "train_real/", "random_control_run": first + "train_random/",
    }
    if cfg.format_control:
        summary["files"]["format_control_run"] = first + "train_format/"
    from rlvr.report.lab import write_lab_report

    t0 = time.perf_counter()
    write_json(out / "summary.json", summary)
    write_lab_report(out / "report.html", summary)
    summary["timings"]["report"] = round(time.perf_counter() - t0, 3)
    summary["timings"]["total"] = round(time.perf_counter() - t_start, 3)
    write_json(out / "summary.json", summary)
    write_lab_report(out / "report.html", summary)
    return summary


def _claim_out_dir(out: Path, seeds: list[int]) -> None:
    """A lab folder holds one run: refuse to mix a new run into an old one (no data lost)."""
    if (out / "summary.json").exists() or any((out / f"seed{s}" / "train_real" / "metrics.jsonl").exists() for s in seeds):
        raise ConfigError(f"{out} already holds a lab run; choose another --out or delete it")
    for s in seeds:
        for sub in (*RUN_DIRS.values(), "samples", "data"):
            shutil.rmtree(out / f"seed{s}" / sub, ignore_errors=True)  # leftovers of an interrupted run
    out.mkdir(parents=True, exist_ok=True)
