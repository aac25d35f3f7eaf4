"""The local pool: worker processes on this machine, chunks handed to whichever is idle.

Each sample has a hard deadline: a worker that overruns it is killed (with everything it started)
and replaced, the sample gets a ``timeout`` verdict, and the rest of that worker's chunk is
re-queued. A worker that dies (segfault, OOM) costs its current sample an ``error`` verdict.
"""

from __future__ import annotations

import select
import time
from collections import deque
from collections.abc import Iterator

from rlvr.engine.config import EngineConfig, worker_cpus
from rlvr.engine.window import InOrderWindow, OnResult
from rlvr.engine.worker import Raw, WorkerDied, WorkerProcess
from rlvr.errors import ConfigError, VerifierContractError
from rlvr.types import Sample, Verdict

__all__ = ["run_pool", "timeout_verdict"]


def timeout_verdict(timeout: float) -> Verdict:
    """The verdict for a sample that overran its deadline (the same text on the pool and on Ray)."""
    return Verdict.timeout(f"verification took longer than {timeout:g}s and was stopped", timeout_s=timeout)


class _Slot:
    """A worker and the chunk it is working through."""

    def __init__(self, payload: bytes, start_timeout: float, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.worker = WorkerProcess(cpu=cpu)
        self.worker.send(("init", Raw(payload)))
        self.current: deque[tuple[int, Sample]] = deque()
        self.deadline = time.monotonic() + start_timeout
        self.ready = False


def run_pool(
    source: Iterator[Sample], payload: bytes, cfg: EngineConfig, on_result: OnResult
) -> Iterator[Verdict]:
    """Verify ``source`` on ``cfg.workers`` local processes; yield verdicts in input order."""
    win = InOrderWindow(source, cfg.window or 8 * cfg.chunk_size * cfg.workers)
    slots: list[_Slot] = []

    def replace(slot: _Slot, verdict: Verdict) -> None:
        # The sample at the head of the chunk caused it; the rest go back to the queue front.
        idx, _ = slot.current.popleft()
        win.put(idx, verdict)
        win.requeue(slot.current)
        slot.worker.kill()
        slots[slots.index(slot)] = _Slot(payload, cfg.start_timeout, slot.cpu)

    try:
        win.fill()
        n = min(cfg.workers, max(1, len(win.queue)))
        cpus = worker_cpus(n) if cfg.pin else [None] * n
        slots.extend(_Slot(payload, cfg.start_timeout, cpu) for cpu in cpus)
        while True:
            # Hand chunks to idle, ready workers.
            for slot in slots:
                if slot.ready and not slot.current and win.queue:
                    size = cfg.chunk_size
                    if win.exhausted:  # the tail: smaller chunks, so no worker idles while one finishes a big one
                        size = max(1, min(size, len(win.queue) // (2 * len(slots))))
                    chunk = win.take(size)
                    slot.current.extend(chunk)
                    slot.deadline = time.monotonic() + cfg.timeout
                    try:
                        slot.worker.send(("verify", chunk))
                    except WorkerDied as exc:
                        replace(slot, Verdict.error(f"verifier worker died: {exc}"))
            # Yield what is ready, in order.
            yield from win.pop_ready(on_result)
            win.fill()
            busy = [s for s in slots if s.current or not s.ready]
            if win.done:
                return
            if not busy:
                if win.queue:
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
                        win.put(idx, verdict)
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
                    replace(slot, timeout_verdict(cfg.timeout))
    finally:
        for slot in slots:
            slot.worker.close()
