"""How a batch is verified (``EngineConfig``) and how many workers this machine offers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rlvr.errors import ConfigError

__all__ = ["EngineConfig", "default_workers", "worker_cpus"]


@dataclass(frozen=True)
class EngineConfig:
    """How a batch is verified."""

    workers: int = 0
    """Worker processes; 0 verifies in the calling thread. Default for the CLI: the CPU count.
    With executor="ray": Ray actors, 0 = one per CPU in the cluster."""
    timeout: float = 30.0
    """Hard wall-clock limit per sample, seconds; the worker is killed when it passes."""
    chunk_size: int = 16
    """Samples sent to a worker per message (results still come back one by one)."""
    window: int = 0
    """Most samples read ahead of the oldest unfinished one; 0 picks 8 chunks per worker."""
    start_timeout: float = 60.0
    """How long a new worker may take to start and load the verifier."""
    executor: str = "local"
    """Where workers run: "local" (processes on this machine) or "ray" (Ray actors)."""
    address: str | None = None
    """Ray cluster to join ("auto", "ray://host:10001"); None starts a private local instance."""
    pin: bool = True
    """Local workers only: when there are at least as many CPUs as workers, pin each worker (and
    the sandbox processes it starts) to a CPU of its own. A code check hands off between four
    processes about ten times; on one CPU each handoff is a plain context switch with warm caches
    instead of a cross-CPU wakeup (``bench/code_sandbox.py``: whole-process HumanEval ~10% faster
    on 2 cores)."""

    def __post_init__(self) -> None:
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"executor must be 'local' or 'ray', got {self.executor!r}")
        if self.address is not None and self.executor != "ray":
            raise ConfigError("address only applies to executor='ray'; set executor='ray' or drop address")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if not self.timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {self.chunk_size}")


def worker_cpus(n: int) -> list[int | None]:
    """A CPU of its own for each of ``n`` workers, or no pinning when there are too few CPUs."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return [None] * n
    if n > len(cpus):
        return [None] * n
    return list(cpus[:n])


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
