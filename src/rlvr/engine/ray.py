"""The batch engine on a Ray cluster: ``EngineConfig(executor="ray", address=...)``.

Each Ray actor owns one warm, killable ``rlvr.engine.worker`` process (the same mechanism as the local
pool) and checks whole chunks through it. Deadlines are enforced *inside* the actor, per sample:
a sample that overruns gets a ``timeout`` verdict, its worker is killed with everything it started
(sandboxed programs included) and a fresh one takes the rest of the chunk. A worker that dies
costs its current sample an ``error`` verdict. The driver submits chunks in input order, keeps a
bounded window in flight and yields verdicts in input order, so results match the local pool.

Ray is imported lazily; ``address=None`` starts a private local instance (loopback, no dashboard)
and stops it afterwards. Workers on a remote cluster need rlvr (and any plugin verifier's module)
installed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from rlvr.engine.config import EngineConfig, default_workers
from rlvr.engine.local import timeout_verdict
from rlvr.engine.window import InOrderWindow, OnResult
from rlvr.engine.worker import Raw, WorkerDied, WorkerProcess, WorkerTimeout
from rlvr.errors import ConfigError, MissingExtraError, VerifierContractError
from rlvr.types import Sample, Verdict

__all__ = ["import_ray", "init_ray", "run_ray"]

# Chunks queued per actor beyond the running one: keeps actors busy between round trips.
_CHUNKS_PER_ACTOR = 2


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "ray", "running the batch engine on Ray (--executor ray)") from None
    return ray


class ChunkRunner:
    """Body of a Ray actor: one warm worker process, chunks checked with per-sample deadlines."""

    def __init__(self, payload: bytes, timeout: float, start_timeout: float) -> None:
        self.payload = payload
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.worker: WorkerProcess | None = None

    def _start(self) -> str | None:
        """Start a worker and load the verifier; an error message if that fails."""
        worker = WorkerProcess()
        try:
            worker.send(("init", Raw(self.payload)))
            msg = worker.recv(time.monotonic() + self.start_timeout)
        except WorkerTimeout:
            return f"verifier worker did not start within {self.start_timeout:.0f}s"
        except WorkerDied as exc:
            worker.kill()
            return f"verifier worker failed to start: {exc}"
        if msg[0] != "ready":
            worker.kill()
            return f"verifier worker failed: {msg[1] if len(msg) > 1 else msg}"
        self.worker = worker
        return None

    def _drop(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None

    def run(self, chunk: list[tuple[int, Sample]]) -> tuple[str, Any]:
        """("ok", [(idx, verdict), ...]) for every sample of ``chunk``, or ("fail" | "setup", message)."""
        out: list[tuple[int, Verdict]] = []
        todo = deque(chunk)
        while todo:
            if self.worker is None and (err := self._start()) is not None:
                return ("fail", err)
            assert self.worker is not None
            try:
                self.worker.send(("verify", list(todo)))
            except WorkerDied as exc:
                out.append((todo.popleft()[0], Verdict.error(f"verifier worker died: {exc}")))
                self._drop()
                continue
            deadline = time.monotonic() + self.timeout
            while todo:
                try:
                    msg = self.worker.recv(deadline)
                except WorkerTimeout:  # recv has killed the worker and its process group
                    out.append((todo.popleft()[0], timeout_verdict(self.timeout)))
                    self._drop()
                    break
                except WorkerDied as exc:
                    out.append(
                        (
                            todo.popleft()[0],
                            Verdict.error(f"verifier worker died while checking this sample ({exc})"),
                        )
                    )
                    self._drop()
                    break
                if msg[0] == "result":
                    if todo[0][0] == msg[1]:
                        todo.popleft()
                    out.append((msg[1], msg[2]))
                    deadline = time.monotonic() + self.timeout
                elif msg[0] == "setup":
                    return ("setup", msg[1])
                elif msg[0] == "exc":
                    return ("fail", f"verifier worker failed: {msg[1]}")
        return ("ok", out)

    def close(self) -> None:
        self._drop()


def init_ray(ray: Any, cfg: EngineConfig) -> bool:
    """Connect to (or start) Ray; True when this call started it and must shut it down."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if cfg.address is None:
        ray.init(
            num_cpus=cfg.workers or default_workers(),
            include_dashboard=False,
            _node_ip_address="127.0.0.1",  # loopback only: nothing listens on outside interfaces
            **quiet,
        )
    else:
        try:
            ray.init(address=cfg.address, **quiet)
        except Exception as exc:  # ConnectionError, ValueError, ... depending on the Ray version
            raise ConfigError(f"cannot connect to the Ray cluster at {cfg.address!r}: {exc}") from None
    return True


def run_ray(
    source: Iterator[Sample], payload: bytes, cfg: EngineConfig, on_result: OnResult
) -> Iterator[Verdict]:
    """Verify ``source`` on Ray actors; yield verdicts in input order (see the module docstring)."""
    ray = import_ray()
    started = init_ray(ray, cfg)
    actors: list[Any] = []
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        n_actors = min(cfg.workers, cpus) if cfg.workers else cpus
        runner = ray.remote(num_cpus=1, max_restarts=0)(ChunkRunner)
        win = InOrderWindow(source, cfg.window or 8 * cfg.chunk_size * n_actors)
        in_flight: dict[Any, tuple[int, list[tuple[int, Sample]]]] = {}  # ref -> (actor, chunk)
        load = [0] * n_actors
        retried: set[int] = set()  # first index of chunks already resubmitted after an actor loss

        def new_actor() -> Any:
            return runner.remote(payload, cfg.timeout, cfg.start_timeout)

        actors.extend(new_actor() for _ in range(n_actors))
        while True:
            win.fill()
            for i in range(n_actors):
                while win.queue and load[i] < _CHUNKS_PER_ACTOR:
                    chunk = win.take(cfg.chunk_size)
                    in_flight[actors[i].run.remote(chunk)] = (i, chunk)
                    load[i] += 1
            yield from win.pop_ready(on_result)
            if win.done:
                return
            if not in_flight:
                continue  # the window refilled: submit more
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                i, chunk = in_flight.pop(ref)
                load[i] -= 1
                try:
                    kind, value = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    # The actor itself was lost (node failure, OOM kill of the actor): not any one
                    # sample's fault. Retry its chunk once on a fresh actor, then give up on it.
                    _kill(ray, actors[i])
                    actors[i] = new_actor()
                    if chunk[0][0] not in retried:
                        retried.add(chunk[0][0])
                        win.requeue(chunk)
                    else:
                        reason = f"Ray actor died twice while checking this chunk: {type(exc).__name__}"
                        for idx, _ in chunk:
                            win.put(idx, Verdict.error(reason))
                    continue
                if kind == "setup":
                    raise VerifierContractError(value)
                if kind == "fail":
                    raise ConfigError(value)
                for idx, verdict in value:
                    win.put(idx, verdict)
    finally:
        _stop(ray, actors)
        if started:
            ray.shutdown()


def _kill(ray: Any, actor: Any) -> None:
    try:
        ray.kill(actor)
    except Exception:  # already gone
        pass


def _stop(ray: Any, actors: list[Any]) -> None:
    # Ask the actors to kill their worker process groups first, then the actors themselves.
    try:
        ray.get([a.close.remote() for a in actors], timeout=10)
    except Exception:
        pass
    for actor in actors:
        _kill(ray, actor)
