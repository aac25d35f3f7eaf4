"""Batch verification: many samples, a pool of killable workers, results in input order.

``verify_iter`` streams: it reads samples lazily and keeps at most a bounded window in flight,
so a multi-gigabyte JSONL file verifies in constant memory. Each sample has a hard per-sample
deadline: a worker that overruns it is killed (with everything it started) and replaced, the
sample gets a ``timeout`` verdict, and the rest of that worker's chunk is re-queued. A worker
that dies (segfault, OOM) costs its current sample an ``error`` verdict, nothing else. Results are
deterministic: the same input gives the same verdicts in the same order, whatever the scheduling.

``workers=0`` verifies in the calling thread (the verifier's own timeouts still apply).

``executor="ray"`` runs the same chunks on Ray actors instead (``rlvr.engine_ray``): same
verdicts, same order, same per-sample deadlines, each enforced by the actor's own killable worker.
"""

from __future__ import annotations

import os
import pickle
import select
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rlvr._worker import WorkerDied, WorkerProcess
from rlvr.errors import ConfigError, VerifierContractError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import Verifier, get_verifier, safe_verify

__all__ = ["EngineConfig", "verify", "verify_iter"]


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


def _worker_cpus(n: int) -> list[int | None]:
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


class _Slot:
    """A worker and the chunk it is working through."""

    def __init__(self, payload: bytes, start_timeout: float, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.worker = WorkerProcess(cpu=cpu)
        self.worker.send(("init", _Raw(payload)))
        self.current: deque[tuple[int, Sample]] = deque()
        self.deadline = time.monotonic() + start_timeout
        self.ready = False


class _Raw:
    """Ships an already-pickled verifier without pickling it again per worker."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __reduce__(self) -> tuple[Any, ...]:
        return (pickle.loads, (self.payload,))


def verify_iter(
    samples: Iterable[Sample],
    verifier: Verifier | str,
    config: EngineConfig | None = None,
    *,
    on_result: Callable[[Verdict], None] | None = None,
    **verifier_options: Any,
) -> Iterator[Verdict]:
    """Verify ``samples`` and yield one verdict per sample, in input order."""
    cfg = config or EngineConfig()
    v = verifier if isinstance(verifier, Verifier) else get_verifier(verifier, **verifier_options)
    if cfg.workers == 0 and cfg.executor == "local":
        for sample in samples:
            verdict = safe_verify(v, sample)
            if on_result:
                on_result(verdict)
            yield verdict
        return
    try:
        payload = pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ConfigError(
            f"verifier {v!r} cannot be sent to worker processes ({exc}); "
            "use workers=0 or make it picklable (define it at module level)"
        ) from exc
    if cfg.executor == "ray":
        from rlvr.engine_ray import run_ray

        yield from run_ray(iter(samples), payload, cfg, on_result)
        return
    yield from _run_pool(iter(samples), payload, cfg, on_result)


def read_ahead(
    source: Iterator[Sample], queue: deque[tuple[int, Sample]], next_read: int, next_out: int, window: int
) -> tuple[int, bool]:
    """Append ``(index, sample)`` pairs to ``queue`` until ``window`` samples are read ahead of the
    oldest verdict not yet yielded (``next_out``) or queued; return the new ``next_read`` and
    whether ``source`` ran out. Shared by the local pool and the Ray executor."""
    while next_read - next_out < window and len(queue) < window:
        try:
            sample = next(source)
        except StopIteration:
            return next_read, True
        queue.append((next_read, sample))
        next_read += 1
    return next_read, False


def _run_pool(
    source: Iterator[Sample],
    payload: bytes,
    cfg: EngineConfig,
    on_result: Callable[[Verdict], None] | None,
) -> Iterator[Verdict]:
    window = cfg.window or 8 * cfg.chunk_size * cfg.workers
    queue: deque[tuple[int, Sample]] = deque()  # read but not yet assigned (re-queued go first)
    results: dict[int, Verdict] = {}
    next_read = 0  # index of the next sample to read from source
    next_out = 0  # index of the next verdict to yield
    exhausted = False
    slots: list[_Slot] = []

    def fill_queue() -> None:
        nonlocal next_read, exhausted
        if not exhausted:
            next_read, exhausted = read_ahead(source, queue, next_read, next_out, window)

    def replace(slot: _Slot, verdict: Verdict) -> None:
        # The sample at the head of the chunk caused it; the rest go back to the queue front.
        idx, _ = slot.current.popleft()
        results[idx] = verdict
        queue.extendleft(reversed(slot.current))
        slot.worker.kill()
        slots[slots.index(slot)] = _Slot(payload, cfg.start_timeout, slot.cpu)

    try:
        fill_queue()
        n = min(cfg.workers, max(1, len(queue)))
        cpus = _worker_cpus(n) if cfg.pin else [None] * n
        slots.extend(_Slot(payload, cfg.start_timeout, cpu) for cpu in cpus)
        while True:
            # Hand chunks to idle, ready workers.
            for slot in slots:
                if slot.ready and not slot.current and queue:
                    size = cfg.chunk_size
                    if exhausted:  # the tail: smaller chunks, so no worker idles while one finishes a big one
                        size = max(1, min(size, len(queue) // (2 * len(slots))))
                    chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
                    slot.current.extend(chunk)
                    slot.deadline = time.monotonic() + cfg.timeout
                    try:
                        slot.worker.send(("verify", chunk))
                    except WorkerDied as exc:
                        replace(slot, Verdict.error(f"verifier worker died: {exc}"))
            # Yield what is ready, in order.
            while next_out in results:
                verdict = results.pop(next_out)
                next_out += 1
                if on_result:
                    on_result(verdict)
                yield verdict
            fill_queue()
            busy = [s for s in slots if s.current or not s.ready]
            if exhausted and not queue and next_out == next_read:
                return
            if not busy:
                if queue:
                    continue
                # Nothing in flight and nothing queued but results outstanding cannot happen.
                raise RuntimeError("engine stalled")  # pragma: no cover
            now = time.monotonic()
            wait = max(0.0, min(s.deadline for s in busy) - now)
            readable, _, _ = select.select([s.worker.fd for s in busy], [], [], wait)
            by_fd = {s.worker.fd: s for s in busy}
            for fd in readable:
                slot = by_fd[fd]
                try:
                    slot.worker.read_available()
                except WorkerDied as exc:
                    if slot.current:
                        replace(
                            slot, Verdict.error(f"verifier worker died while checking this sample ({exc})")
                        )
                    else:
                        raise ConfigError(f"verifier worker failed to start: {exc}") from None
                    continue
                while (msg := slot.worker.poll_message()) is not None:
                    if msg[0] == "ready":
                        slot.ready = True
                    elif msg[0] == "result":
                        idx, verdict = msg[1], msg[2]
                        if slot.current and slot.current[0][0] == idx:
                            slot.current.popleft()
                        results[idx] = verdict
                        slot.deadline = time.monotonic() + cfg.timeout
                    elif msg[0] == "setup":
                        raise VerifierContractError(msg[1])
                    elif msg[0] == "exc":
                        raise ConfigError(f"verifier worker failed: {msg[1]}")
            now = time.monotonic()
            for slot in list(slots):
                if now < slot.deadline:
                    continue
                if not slot.ready:
                    raise ConfigError(f"verifier worker did not start within {cfg.start_timeout:.0f}s")
                if slot.current:
                    replace(
                        slot,
                        Verdict.timeout(
                            f"verification took longer than {cfg.timeout:g}s and was stopped",
                            timeout_s=cfg.timeout,
                        ),
                    )
    finally:
        for slot in slots:
            slot.worker.close()


def verify(
    samples: Iterable[Sample | dict[str, Any]],
    verifier: Verifier | str,
    *,
    workers: int | None = None,
    timeout: float = 30.0,
    **verifier_options: Any,
) -> list[Verdict]:
    """Verify a batch and return its verdicts in order.

    ``samples`` are ``Sample`` objects or JSONL-style dicts; ``verifier`` is a verifier or a
    registry name (``"math"``) or a plain function, with ``verifier_options`` passed to its factory.
    ``workers=None`` verifies small batches in this thread and large ones on a process pool (in this
    thread too when the verifier cannot be sent to one, such as a function defined in a notebook).
    """
    items = [s if isinstance(s, Sample) else Sample.from_record(s) for s in samples]
    v = verifier if isinstance(verifier, Verifier) else get_verifier(verifier, **verifier_options)
    if workers is None:
        workers = 0 if len(items) < 256 or not _can_ship(v) else default_workers()
    cfg = EngineConfig(workers=workers, timeout=timeout)
    return list(verify_iter(items, v, cfg))


def _can_ship(v: Verifier) -> bool:
    try:
        pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return True
