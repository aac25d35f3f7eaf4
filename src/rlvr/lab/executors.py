"""Where the lab's jobs run: in this process, on a local process pool, or as Ray tasks.

Each executor has the same tiny interface, all ``rlvr.lab.jobs`` needs: ``submit(fn, *args)``
returns a ``concurrent.futures.Future`` of ``fn(*args)`` (so one ``wait(FIRST_COMPLETED)`` serves
every executor), ``close()`` stops what it started, and ``here`` says whether jobs run in this
process (where their per-phase progress bars may show). A job is a module-level function of
picklable arguments, deterministic on its own, so its executor never changes its numbers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from rlvr.errors import ConfigError

__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "ProcessExecutor", "RayExecutor", "open_executor"]

EXECUTORS = ("local", "ray")
"""``--executor`` choices: local processes (or this process with one worker), or a local Ray cluster."""


class Executor(Protocol):
    here: bool
    """Whether jobs run in this process."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]: ...

    def close(self) -> None: ...


def done_future(value: Any) -> Future[Any]:
    """A future that already holds ``value`` (a job whose result is known without running it)."""
    fut: Future[Any] = Future()
    fut.set_result(value)
    return fut


class InlineExecutor:
    """One worker: each job runs in this process when submitted, one after the other."""

    here = True

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:  # raised again by fut.result(), as a pool's job error is
            fut.set_exception(exc)
        return fut

    def close(self) -> None:
        pass


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when the study's process dies (Linux). A study
    killed with SIGKILL cannot stop its workers, and an orphaned job would go on writing into the
    folder that ``--resume`` cleans and reruns it in."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(1)


class ProcessExecutor:
    """``workers`` local processes, each ending with this one."""

    here = False

    def __init__(self, workers: int) -> None:
        # Fork is cheap (no second torch import, seconds on a busy machine) and safe while this
        # process has not loaded torch: each child imports it after the fork. Once torch is loaded
        # (its thread pool may have run), forking can deadlock, so spawn instead. A fork pool
        # starts all its workers on the first submit, so nothing forks later.
        import multiprocessing

        safe_fork = "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if safe_fork else "spawn")
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(),)
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self.pool.submit(fn, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Jobs as Ray tasks (one CPU each) on the Ray instance already connected, else on a private
    local one of ``workers`` CPUs, on loopback, started as ``rlvr verify --executor ray`` starts
    it, and stopped by ``close``. Ray workers must import rlvr (they inherit this environment)."""

    here = False

    def __init__(self, workers: int) -> None:
        from rlvr.engine import EngineConfig
        from rlvr.engine.ray import import_ray, init_ray  # the verify executor's Ray start-up

        self.ray = import_ray()
        self.owned = init_ray(self.ray, EngineConfig(workers=workers, executor="ray"))
        self.tasks: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if fn not in self.tasks:
            self.tasks[fn] = self.ray.remote(num_cpus=1, max_retries=0)(fn)
        out: Future[Any] = Future()

        def relay(done: Future[Any]) -> None:
            exc = done.exception()
            if exc is None:
                out.set_result(done.result())
                return
            # A task's own error arrives wrapped (RayTaskError); the job's error is the user's message.
            cause = getattr(exc, "cause", None)
            out.set_exception(cause if isinstance(cause, Exception) else exc)

        self.tasks[fn].remote(*args).future().add_done_callback(relay)
        return out

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def open_executor(kind: str, workers: int) -> Executor:
    """The executor ``kind`` (one of ``EXECUTORS``) running ``workers`` jobs at once."""
    if kind == "local":
        return InlineExecutor() if workers <= 1 else ProcessExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers)
    raise ConfigError(f"unknown executor {kind!r}; executors: {', '.join(EXECUTORS)}")
