"""A persistent Python interpreter session in rlvr's sandbox, for the ``run_python`` tool.

One sandboxed candidate process per episode (the sandbox's ``session`` run mode): forked fresh by
a candidate zygote, with every kernel restriction of a code check (namespaces, Landlock,
seccomp, rlimits, no network, its own uid), it loads ``SERVER`` and then runs one cell per call,
in one namespace, so variables persist like an interpreter's. Nothing survives the episode: the
next episode gets another fresh process. The cells are the only thing sent; the ground truth
never is.

A ``Sandbox.run`` is one synchronous conversation, so the session holds it open on a daemon
thread and hands it cells through a queue. A call over its time limit stops the whole process
pair (the sandbox's rule for any deadline): the session is lost, the call says so, and the next
call starts a new one. Cost: a cell is one round trip parent -> harness -> candidate and back
(sub-millisecond) plus the cell's own time; starting a session is taking a pre-forked candidate.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from typing import Any

from rlvr.sandbox import Sandbox, SandboxConfig

__all__ = ["SERVER", "PythonSession", "SessionLost"]

SERVER = r'''
import ast, io, sys, traceback

_ns = {"__name__": "__main__", "__builtins__": __builtins__}


class _Cap(io.TextIOBase):
    def __init__(self, cap):
        self.parts, self.n, self.cap, self.dropped = [], 0, cap, 0

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        room = self.cap - self.n
        if room > 0:
            self.parts.append(s[:room])
            self.n += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self):
        t = "".join(self.parts)
        return t + (f"…[truncated {self.dropped} chars]" if self.dropped else "")


def cell(src, cap=20000):
    out, err = _Cap(cap), _Cap(cap)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    error = ""
    try:
        tree = ast.parse(src, "<cell>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<cell>", "exec"), _ns)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), _ns)
            if value is not None:
                print(repr(value))
    except BaseException as exc:
        try:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<cell>"]
            where = f"line {frames[-1].lineno}: " if frames else ""
            error = (where + "".join(traceback.format_exception_only(type(exc), exc)))[-3000:].strip()
        except BaseException:
            error = type(exc).__name__
    finally:
        sys.stdout, sys.stderr = saved
    return [out.text(), err.text(), error]
'''


class SessionLost(Exception):
    """The session's process is gone (a timeout, a crash, an exit): its variables are lost."""


_STOP = object()


class PythonSession:
    """One interpreter session (see the module docstring); ``run`` one cell at a time."""

    def __init__(self, config: SandboxConfig, call_timeout: float, max_output_chars: int = 20000) -> None:
        self.sandbox = Sandbox(config)
        self.call_timeout = call_timeout
        self.cap = max_output_chars
        self.cells: queue.Queue[Any] = queue.Queue()
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.lost: str | None = None
        self.outcome: Any = None
        self.thread = threading.Thread(target=self._serve, name="rlvr-python-session", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        def converse(send: Any, recv: Any, token: str, outcome: Any) -> None:
            while True:
                item = self.cells.get()
                if item is _STOP:
                    break
                send({"op": "call", "args": [item, self.cap]})
                reply = recv(time.monotonic() + self.call_timeout)
                self.replies.put(reply)
                if "died" in reply:
                    break
            send({"op": "stop", "token": token})
            done = recv(time.monotonic() + 10.0)
            outcome.messages.append(done)
            # The harness echoes the token only after the candidate and all it started are killed.
            outcome.token_ok = done.get("op") == "done" and secrets.compare_digest(str(done.get("token")), token)

        why = "the session ended"
        try:
            self.outcome = self.sandbox.run({"mode": "session", "code": SERVER, "entry": "cell"}, converse)
            o = self.outcome
            if o.timed_out:
                why = f"the call ran past its {self.call_timeout:g} s limit and the interpreter was stopped"
            elif o.setup_error or o.died:
                why = f"the interpreter stopped ({o.setup_error or o.died})"
        except Exception as exc:  # the sandbox could not start: every call gets this reason
            why = f"the sandbox could not start: {exc}"
        self.lost = self.lost or why
        self.replies.put({"op": "value", "died": why})

    def run(self, code: str) -> tuple[str, str, str]:
        """stdout, stderr and the exception (``""`` when none) of one cell."""
        if self.lost is not None or not self.thread.is_alive():
            raise SessionLost(self.lost or "the session ended")
        self.cells.put(code)
        try:
            reply = self.replies.get(timeout=self.call_timeout + 30.0)
        except queue.Empty:  # a backstop: the sandbox enforces the deadline itself
            self.lost = "the interpreter did not answer"
            raise SessionLost(self.lost) from None
        if "died" in reply:
            self.lost = self.lost or str(reply["died"])
            if self.lost.startswith("the session's code") or "exited" in self.lost:
                self.lost = "the interpreter process exited (its variables are lost)"
            self.thread.join(timeout=self.call_timeout + 15.0)
            raise SessionLost(self.lost)
        if "exc" in reply:  # the process lives on; this cell's answer was not plain text
            return "", "", f"the interpreter's reply was unusable: {reply['exc']}"
        out, err, exc = (list(reply.get("value") or []) + ["", "", ""])[:3]
        return out, err, exc

    def close(self) -> None:
        """End the session: the process is killed before this returns (or soon after, on a timeout)."""
        if self.thread.is_alive():
            self.cells.put(_STOP)
            self.thread.join(timeout=15.0)
