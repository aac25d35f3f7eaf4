"""Killable worker processes: the one mechanism behind hard timeouts in rlvr.

A worker is a fresh ``python -m rlvr.engine.verify_main`` process (or ``-m rlvr.engine.worker``,
which only answers ``call`` and imports no verifier) in its own session, talking to its parent
over pipes with length-prefixed pickles (the sandbox's framing, ``rlvr.sandbox.box.wire``). The parent enforces deadlines with ``select`` and kills
the worker's whole process group when one passes — no signals in the parent, so every caller is
thread-safe. The worker only ever runs *trusted* code (our verifiers, sympy); untrusted model
code goes through ``rlvr.sandbox``.

This module sits below the verifiers: it imports nothing from ``rlvr.verifiers``. The one place
that does (for ``safe_verify``) is the batch worker's main, ``rlvr.engine.verify_main``.

Messages parent → worker:  ("init", verifier) | ("verify", [(idx, sample), ...]) | ("call", "mod:fn", args)
Messages worker → parent:  ("ready",) | ("result", idx, verdict) | ("ret", value) | ("exc", "Type: msg")
                           | ("setup", "msg")  (the verifier broke its contract: the parent raises
                             VerifierContractError with msg; the rest of the chunk is not checked)
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlvr.sandbox.box import wire

_MAX_FRAME = (1 << 32) - 1  # the header's limit: a worker's own messages are trusted

VERIFY_MAIN = "rlvr.engine.verify_main"
"""The batch worker: answers ``init`` / ``verify`` (and ``call``)."""
CALL_MAIN = "rlvr.engine.worker"
"""A bare worker: answers ``call`` only, imports no verifier."""


class WorkerDied(Exception):
    """The worker exited (crash, OOM kill) before answering."""


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


def _src_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


class WorkerProcess:
    """One killable Python worker. Not shared between threads: check it out, use it, return it."""

    def __init__(
        self, *, env: dict[str, str] | None = None, cpu: int | None = None, main: str = VERIFY_MAIN
    ) -> None:
        """``cpu``: pin the worker to this CPU (what it starts later, a sandbox included, inherits it).
        ``main``: the module the worker runs (``-m``); ``CALL_MAIN`` answers only ``call``."""
        child_env = dict(os.environ if env is None else env)
        # Make `-m rlvr.engine...` importable even when rlvr runs from a source tree.
        root = _src_root()
        child_env["PYTHONPATH"] = root + (
            os.pathsep + child_env["PYTHONPATH"] if child_env.get("PYTHONPATH") else ""
        )
        child_env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", main],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env,
            start_new_session=True,  # own process group: a kill takes every descendant
            close_fds=True,
        )
        if cpu is not None:
            try:  # before it has started anything of its own: its children inherit the mask
                os.sched_setaffinity(self.proc.pid, {cpu})
            except OSError:
                pass  # a CPU that went offline, a container that forbids it: unpinned is fine
        self._buf = wire.FrameBuffer(_MAX_FRAME)
        self.fd = self.proc.stdout.fileno()  # type: ignore[union-attr]

    # -- I/O -----------------------------------------------------------------------------------
    def send(self, msg: Any) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(wire.frame(data))  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(self._death_reason()) from exc

    def poll_message(self) -> Any | None:
        """A complete message if one is buffered, else None (never blocks)."""
        data = self._buf.pop()
        return None if data is None else pickle.loads(data)

    def read_available(self) -> None:
        """Read what the pipe has (call when select says readable). Raises WorkerDied on EOF."""
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise WorkerDied(self._death_reason())
        self._buf.feed(chunk)

    def recv(self, deadline: float | None) -> Any:
        """Block until one message arrives or ``deadline`` (time.monotonic) passes."""
        while True:
            msg = self.poll_message()
            if msg is not None:
                return msg
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                self.kill()
                raise WorkerTimeout()
            self.read_available()

    def request(self, msg: Any, timeout: float | None) -> Any:
        self.send(msg)
        return self.recv(None if timeout is None else time.monotonic() + timeout)

    # -- lifecycle -----------------------------------------------------------------------------
    def _death_reason(self) -> str:
        code = self.proc.poll()
        if code is None:
            try:
                code = self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                return "worker stopped answering"
        if code < 0:
            try:
                return f"worker killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"worker killed by signal {-code}"
        return f"worker exited with code {code}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        for kill in (os.killpg, os.kill):  # the group first: it takes every descendant
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            pass

    def close(self) -> None:
        """Stop the worker. It holds no state worth flushing, so this is a kill: instant, and it
        takes anything the worker started with it."""
        self.kill()


def call_in_worker(worker: WorkerProcess, func: str, args: tuple[Any, ...], timeout: float) -> Any:
    """Run ``func`` (``"module:name"``) in ``worker`` with a hard deadline.

    Raises WorkerTimeout (worker killed), WorkerDied, or RuntimeError carrying the remote error.
    """
    reply = worker.request(("call", func, args), timeout)
    if reply[0] == "ret":
        return reply[1]
    raise RuntimeError(reply[1])


class Raw:
    """Ships an already-pickled object (a verifier) without pickling it again per worker."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __reduce__(self) -> tuple[Any, ...]:
        return (pickle.loads, (self.payload,))


# ---------------------------------------------------------------------------------------------
# Worker side
# ---------------------------------------------------------------------------------------------


def _read_exact(stream: Any, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def write_message(stream: Any, msg: Any) -> None:
    """Send one framed pickle to the parent."""
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(wire.frame(data))
    stream.flush()


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def serve(handle: Callable[[Any, Any], bool] | None = None) -> None:  # pragma: no cover - in a child
    """The worker's loop: read framed requests from stdin, answer on stdout, until EOF.

    ``call`` requests are answered here; any other message goes to ``handle(msg, stdout)``, which
    answers it with ``write_message`` and returns False for a message it does not know."""
    # Die with the parent even while busy: a worker started by a worker lives in its own process
    # group, so killing the parent's group would otherwise leave it running.
    parent = os.getppid()

    def watchdog() -> None:
        while True:
            time.sleep(0.25)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watchdog, name="rlvr-parent-watchdog", daemon=True).start()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Anything a verifier prints must not corrupt the protocol stream.
    sys.stdout = sys.stderr
    while True:
        header = _read_exact(stdin, wire.HEADER.size)
        if header is None:
            return
        (n,) = wire.HEADER.unpack(header)
        payload = _read_exact(stdin, n)
        if payload is None:
            return
        try:
            msg = pickle.loads(payload)
        except Exception as exc:
            write_message(stdout, ("exc", f"cannot unpickle request: {type(exc).__name__}: {exc}"))
            continue
        if msg[0] == "call":
            try:
                value = _resolve(msg[1])(*msg[2])
                write_message(stdout, ("ret", value))
            except Exception as exc:
                write_message(stdout, ("exc", f"{type(exc).__name__}: {exc}"[:1000]))
        elif handle is None or not handle(msg, stdout):
            write_message(stdout, ("exc", f"unknown request {msg[0]!r}"))


if __name__ == "__main__":
    serve()
