"""The harness: one long-lived, sandboxed process per zygote that runs each check's tests.

It talks to the verifier over its own socket (the zygote handed the other end to the verifier
and kept none) and gets one fresh candidate per check from its two candidate zygotes in turn
(while one's candidate runs a check, the other's next candidate is forked and set up). It is never the
parent of a candidate: it holds every check's tests and token, so it must not be. Per check::

    verifier -> H   {"op": "run", "mode": "assert", "code", "tests", "entry_point", "token"}
    H -> C          "A" + {"code", "entry"}, then RPC calls while the tests run (``testrun``)
    H -> CZ         "finish" at once after the last test (no grace: exit codes are no evidence
                    here); CZ SIGKILLs every process of the check and says "finished"
    H -> verifier   {"op": "results", ..., "token"}        (the token only after the last test)

or, for stdin/stdout programs, per case: a fresh candidate gets "S" with stdin (a memfd), a
stdout pipe and a stderr memfd and runs the program; H reads stdout with a deadline and reports
the raw case to the verifier, which compares it with the expected output (never sent here).

State between checks: each check's tests run in a fresh namespace, and afterwards ``StateGuard``
puts back what a test can change by accident (builtins, ``sys.modules`` and every module's
attributes, ``sys.path``, the recursion limit, the environment, timers and signal handlers, the
working directory's files) and names what it restored. A check that leaves a thread running
retires the harness (the verifier starts a fresh one). Test code is trusted; a test that sets
out to corrupt the harness (patching a class in place) is outside this guard.
"""

from __future__ import annotations

import builtins
import gc
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
import traceback

from . import kernel
from .importer import DirFdFinder
from .rpc import CandidateDied, Handle, LoadFailed, Rpc
from .testrun import compile_tests, run_tests
from .wire import FrameError, pack, read_msg, write_msg

# How long the harness waits for the "finished" of a candidate that wrote before its check began
# (it died while waiting, or failed its setup) before it asks for the kill anyway.
_GRACE_S = 0.05


class CandidateZygoteGone(Exception):
    """The candidate zygote stopped answering: this harness cannot run checks any more."""


class StateGuard:
    """A snapshot of the harness's shared state, taken before its first check, and its restore."""

    _TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
    _SIGNALS = (signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGINT, signal.SIGTERM,
                signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD, signal.SIGPIPE)

    def __init__(self, rundir: str) -> None:
        # It empties this directory after every check: never anything but a pair's harness dir.
        if os.path.basename(rundir) != "h" or not os.path.basename(os.path.dirname(rundir)).startswith("rlvr-run-"):
            raise ValueError(f"not a harness run directory: {rundir}")
        self.rundir = rundir
        self.builtins = dict(builtins.__dict__)
        self.modules = dict(sys.modules)
        self.module_dicts = [(m.__dict__, dict(m.__dict__)) for m in self.modules.values()
                             if isinstance(getattr(m, "__dict__", None), dict)]
        self.by_top: dict[str, list] = {}
        for d, snap in self.module_dicts:
            self.by_top.setdefault(str(snap.get("__name__")).split(".")[0], []).append((d, snap))
        self.sys_lists = [(lst, list(lst)) for lst in (sys.path, sys.meta_path, sys.path_hooks)]
        self.recursion_limit = sys.getrecursionlimit()
        self.environ = dict(os.environ._data)  # type: ignore[attr-defined]
        self.dir_mtime = os.stat(rundir).st_mtime_ns
        self.handlers = {s: signal.getsignal(s) for s in self._SIGNALS}

    def restore(self, imported: set[str] | None = None) -> list[str]:
        """Put everything back; returns the names of what had changed. ``imported``: the modules
        the check's tests imported (None: unknown). Tests that imported nothing beyond ``PLAIN``
        modules cannot have reached the environment, signals, timers, ``sys`` or other modules'
        attributes without going out of their way, so only what they imported is compared (a
        full comparison of every module costs a few hundred microseconds)."""
        changed: list[str] = []
        full = imported is None or any(n.lstrip(".").split(".")[0] not in PLAIN for n in imported)
        if builtins.__dict__ != self.builtins:
            builtins.__dict__.clear()
            builtins.__dict__.update(self.builtins)
            changed.append("builtins")
        if sys.modules != self.modules:
            for name in [n for n in sys.modules if n not in self.modules or sys.modules[n] is not self.modules[n]]:
                del sys.modules[name]
            sys.modules.update(self.modules)
            changed.append("sys.modules")
        if full:
            dicts = self.module_dicts
        else:
            tops = {n.split(".")[0] for n in imported}  # type: ignore[union-attr]
            dicts = [pair for top in tops for pair in self.by_top.get(top, ())]
        for d, snap in dicts:
            if d != snap:
                name = str(snap.get("__name__"))
                d.clear()
                d.update(snap)
                changed.append(name)
        if full:
            changed += self._restore_process_state()
        st = os.stat(self.rundir)
        if os.getcwd() != self.rundir:
            os.chdir(self.rundir)
            changed.append("cwd")
        if st.st_mtime_ns != self.dir_mtime:  # something was created or removed in it
            with os.scandir(self.rundir) as entries:
                leftovers = list(entries)
            for entry in leftovers:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    try:
                        os.unlink(entry.path)
                    except OSError:
                        pass
            if leftovers:
                changed.append("files")
            self.dir_mtime = os.stat(self.rundir).st_mtime_ns
        return sorted(set(changed))

    def _restore_process_state(self) -> list[str]:
        changed = []
        for lst, snap in self.sys_lists:
            if lst != snap:
                lst[:] = snap
                changed.append("sys.path")
        if sys.getrecursionlimit() != self.recursion_limit:
            sys.setrecursionlimit(self.recursion_limit)
            changed.append("recursion limit")
        if os.environ._data != self.environ:  # type: ignore[attr-defined]  # the bytes dict: no decoding
            os.environ.clear()
            os.environ._data.update(self.environ)  # type: ignore[attr-defined]
            changed.append("environment")
        # Disarm a timer a test left running (the harness itself never times anything with signals;
        # deadlines are the parent's).
        for timer in self._TIMERS:
            if signal.getitimer(timer) != (0.0, 0.0):
                signal.setitimer(timer, 0)
                changed.append("timers")
        for sig, handler in self.handlers.items():
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
                changed.append("signal handlers")
        if not gc.isenabled():
            gc.enable()
            changed.append("gc")
        return changed


# Modules whose import does not by itself reach process state (see ``StateGuard.restore``).
PLAIN = frozenset({
    "math", "cmath", "re", "string", "collections", "itertools", "functools", "heapq", "bisect",
    "typing", "operator", "copy", "fractions", "decimal", "statistics", "random", "datetime",
    "json", "hashlib", "numbers", "array", "unicodedata", "textwrap", "dataclasses", "enum", "abc",
})


class Harness:
    def __init__(self, vfd: int, czs: list[socket.socket], rundir: str, req: dict) -> None:
        self.vfd, self.czs, self.rundir, self.req = vfd, czs, rundir, req
        self.turn = 0  # the candidate zygote whose waiting candidate goes next
        self.cz = czs[0]  # the candidate zygote of the current candidate
        self.pid = 0  # the current candidate (as its candidate zygote numbers it)
        self.limits = req["limits"]
        self.max_msg = int(self.limits["max_value_bytes"]) + (1 << 20)
        self.guard = StateGuard(rundir)

    def serve(self) -> None:
        while True:
            try:
                msg = read_msg(self.vfd, self.max_msg)
            except FrameError:
                return
            if not isinstance(msg, dict) or msg.get("op") != "run":
                return  # the verifier closed the socket (or spoke nonsense): this harness is done
            try:
                if msg.get("mode") == "stdio":
                    final = self.run_stdio(msg)
                    final["restored"] = self.guard.restore(None)  # nothing of the harness's ran: a full check is cheap
                elif msg.get("mode") == "session":
                    final = self.run_session(msg)
                else:
                    final = self.run_assert(msg)  # returns with every process of the check killed
            except CandidateZygoteGone:
                final = {"op": "setup_error", "msg": "the candidate zygote is gone", "retire": True}
            if len(sys._current_frames()) > 1:  # a test left a thread running: start afresh
                final["retire"] = True
            write_msg(self.vfd, final)
            if final.get("retire"):
                return

    # ---- candidates ----
    def _candidate(self) -> socket.socket:
        """The next fresh candidate's socket, from the candidate zygotes in turn (usually forked
        and waiting already); ``self.cz`` and ``self.pid`` say which one it is."""
        for _ in range(3):
            self.cz = self.czs[self.turn]
            self.turn = (self.turn + 1) % len(self.czs)
            try:
                data, fds, _, _ = socket.recv_fds(self.cz, 1 << 12, 1)
            except OSError:
                data, fds = b"", []
            if not data or not fds:
                for fd in fds:
                    os.close(fd)
                raise CandidateZygoteGone()
            msg = json.loads(data)
            self.pid = int(msg.get("pid") or 0)
            sock = socket.socket(fileno=fds[0])
            if select.select([sock], [], [], 0)[0]:  # a waiting candidate never writes: it died idle
                sock.close()
                self._end(_GRACE_S)
                continue
            return sock
        raise CandidateZygoteGone()

    def _ask_kill(self) -> None:
        """Ask the current candidate's zygote to kill it (and all it started) now."""
        try:
            self.cz.sendall(json.dumps({"op": "finish", "pid": self.pid, "wait_s": 0.0}).encode())
        except OSError:
            raise CandidateZygoteGone() from None

    def _end(self, wait_s: float = 0.0, asked: bool = False) -> dict:
        """The current candidate's end: the candidate zygote's "finished", which comes unasked
        once the candidate exits by itself; after ``wait_s`` without it, ask for the kill
        (``asked``: that was done already)."""
        if not asked and not select.select([self.cz], [], [], max(0.0, wait_s))[0]:
            self._ask_kill()
        try:
            data = self.cz.recv(1 << 12)
        except OSError:
            data = b""
        if not data:
            raise CandidateZygoteGone()
        return json.loads(data)

    # ---- the two modes ----
    def run_assert(self, msg: dict) -> dict:
        code, tests, entry = msg.get("code"), msg.get("tests"), msg.get("entry_point")
        entry = entry if isinstance(entry, str) else None
        imported: set[str] = set()  # what the tests import (``StateGuard.restore``)
        sock = self._candidate()
        try:
            rpc = Rpc(sock, self.limits["max_value_bytes"])
            try:  # the entry point gets handle 1: the tests may call it before the load report is in
                sock.sendall(b"A" + pack({"code": code if isinstance(code, str) else "", "entry": entry}))
            except OSError:
                pass  # it died; the tests report that
            program = compile_tests(tests if isinstance(tests, str) else "")  # while the candidate loads its code
            report = run_tests(rpc, program, entry, imported)
            # The kill at once, not a wait for the candidate to exit by itself: the teardown of its
            # memory (~1 ms) then runs after the check instead of on its critical path.
            self._ask_kill()
            report["restored"] = self.guard.restore(imported)  # meanwhile
            report["leftovers"] = self._end(asked=True).get("leftovers", 0)
        finally:
            # Closed only after the kill: a candidate woken by EOF would start its own exit and
            # compete for the CPU with the kill the check waits for.
            sock.close()
        # Only now, with every process of the check killed, do the results (and the token) leave.
        report.update(op="results", candidate=self.pid, token=msg.get("token"))
        return report

    def run_session(self, msg: dict) -> dict:
        """An interpreter session (``rlvr.env``'s python tool): ONE candidate loads ``code`` (a
        module whose ``entry`` function runs one cell), then serves the verifier's
        ``{"op": "call", "args": [...]}`` messages, one call into ``entry`` each, until
        ``{"op": "stop", "token"}``. Plain data only crosses, as in assert mode; no test code
        runs here, so the candidate sees nothing it did not send itself. The candidate is killed
        (and its processes with it) before "done" goes back, as for every other run."""
        code = msg.get("code") if isinstance(msg.get("code"), str) else ""
        entry = msg.get("entry") if isinstance(msg.get("entry"), str) else "cell"
        sock = self._candidate()
        cmd: object = None
        calls = 0
        try:
            rpc = Rpc(sock, self.limits["max_value_bytes"])
            rpc.entry = entry  # the first reply read is the load report
            try:
                sock.sendall(b"A" + pack({"code": code, "entry": entry}))
            except OSError:
                pass  # it died; the first call says so
            while True:
                cmd = read_msg(self.vfd, self.max_msg)
                if not isinstance(cmd, dict) or cmd.get("op") != "call":
                    break
                args = cmd.get("args") if isinstance(cmd.get("args"), list) else []
                calls += 1
                try:
                    reply = {"op": "value", "value": Handle(rpc, 1, "function", True)(*args)}
                except LoadFailed:
                    reply = {"op": "value", "died": "the session's code did not load"}
                except CandidateDied as exc:
                    reply = {"op": "value", "died": str(exc)}
                except Exception as exc:  # mirrored builtin errors, CandidateRaised, TypeError
                    reply = {"op": "value", "exc": f"{type(exc).__name__}: {exc}"[:500]}
                value = reply.get("value", [])
                if type(value) is not list or any(type(x) is not str for x in value):  # noqa: E721
                    reply = {"op": "value", "exc": "the session's entry returned something other than a list of str"}
                write_msg(self.vfd, reply)
                if "died" in reply:
                    cmd = read_msg(self.vfd, self.max_msg)
                    break
            self._ask_kill()
            restored = self.guard.restore(set())
            leftovers = self._end(asked=True).get("leftovers", 0)
        finally:
            sock.close()
        token = cmd.get("token") if isinstance(cmd, dict) else None
        return {"op": "done", "token": token, "calls": calls, "candidate": self.pid,
                "restored": restored, "leftovers": leftovers}

    def run_stdio(self, msg: dict) -> dict:
        code = msg.get("code") if isinstance(msg.get("code"), str) else ""
        inputs = msg.get("inputs") if isinstance(msg.get("inputs"), list) else []
        cap = int(self.limits["max_output_bytes"])
        timeout = float(self.limits["timeout_s"])
        done = 0
        for i, stdin_text in enumerate(inputs):
            result = self._run_program(code, str(stdin_text), cap, timeout)
            result.update(op="case", index=i)
            write_msg(self.vfd, result)
            done = i + 1
            cmd = read_msg(self.vfd, self.max_msg)
            if not isinstance(cmd, dict) or cmd.get("op") != "next":
                return {"op": "done", "token": cmd.get("token") if isinstance(cmd, dict) else None, "cases": done}
        cmd = read_msg(self.vfd, self.max_msg)
        return {"op": "done", "token": cmd.get("token") if isinstance(cmd, dict) else None, "cases": done}

    def _run_program(self, code: str, stdin_text: str, cap: int, timeout: float) -> dict:
        inp = os.memfd_create("stdin", 0)
        data = stdin_text.encode("utf-8", "surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(inp, view):]
        os.lseek(inp, 0, 0)
        err = os.memfd_create("stderr", 0)
        out_r, out_w = os.pipe()
        start = time.monotonic()
        sock = self._candidate()
        try:
            socket.send_fds(sock, [b"S"], [inp, out_w, err])
            sock.sendall(pack({"code": code}))
        except OSError:
            pass  # it died: the empty output and its exit status say so
        os.close(out_w)
        os.close(inp)
        sock.close()
        chunks: list[bytes] = []
        size = 0
        truncated = timed_out = False
        deadline = start + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([out_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(out_r, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                chunks.append(chunk[: len(chunk) - (size - cap)])
                truncated = True
                break
            chunks.append(chunk)
        wait = 0.0 if (timed_out or truncated) else max(0.0, deadline - time.monotonic())
        fin = self._end(wait)
        status = fin.get("status")
        if status is None and not truncated:
            timed_out = True  # it closed stdout but did not exit in time
        elapsed = time.monotonic() - start
        os.close(out_r)
        os.lseek(err, max(0, os.fstat(err).st_size - 2000), 0)
        err_tail = os.read(err, 2000)
        os.close(err)
        return {
            "stdout": b"".join(chunks).decode("latin-1"),
            "stderr_tail": err_tail.decode("utf-8", "replace"),
            "exit_code": status if status is not None else -9,
            "timed_out": timed_out,
            "truncated": truncated,
            "elapsed_s": round(elapsed, 4),
            "leftovers": fin.get("leftovers", 0),
            "candidate": self.pid,
        }


def _setup(vfd: int, czfds: list[int], rundir: str, req: dict) -> Harness:
    """The harness's own sandbox, applied once: like a candidate's, with its own uid and domain,
    but no CPU-time limit (it lives across checks; each check has a wall-clock deadline)."""
    kernel.set_name("rlvr-harness")
    os.setsid()
    lib_fds = [int(x) for x in req.get("stdlib_fds", [])]
    read_rules = [(int(fd), False, bool(is_dir)) for fd, _, is_dir in req.get("read_rules", [])]
    kernel.close_other_fds({vfd, *czfds, *lib_fds, *[fd for fd, _, _ in read_rules]})
    kernel.devnull_stdio()
    uid = req.get("harness_uid")
    abi = int(req.get("landlock_abi") or 0)
    rules = [*read_rules, *kernel.open_rule_paths([], [rundir, "/dev/null"])] if abi else []
    if req.get("ipcns"):
        kernel.unshare(kernel.CLONE_NEWIPC, "CLONE_NEWIPC")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if lib_fds and max(lib_fds) >= 0:
            paths = req["stdlib_paths"]
            sys.meta_path.insert(0, DirFdFinder(lib_fds[0], paths[0], lib_fds[1], paths[1]))
    kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL, what="prctl(PDEATHSIG)")
    if os.getppid() != req.get("zygote_pid"):  # the zygote died before the line above took effect
        os._exit(0)
    os.chdir(rundir)
    kernel.set_rlimits(req["limits"], cpu=False)
    procs = int(req["limits"]["processes"])  # it never forks; a test may start threads
    resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))
    if abi:
        kernel.apply_landlock(abi, rules)
    else:
        for fd, _, _ in read_rules:
            os.close(fd)
    for fd in lib_fds:
        if fd >= 0 and uid is None:
            os.close(fd)
    if req.get("seccomp"):
        kernel.apply_seccomp()
    if req["isolation"] != "none":
        try:
            kernel.drop_capabilities()
        except kernel.SetupError:
            pass
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0, what="prctl(DUMPABLE)")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    return Harness(vfd, [socket.socket(fileno=fd) for fd in czfds], rundir, req)


def harness_main(vfd: int, czfds: list[int], rundir: str, req: dict) -> int:
    """Set up, then serve checks until the verifier closes the socket. Returns the exit code."""
    try:
        h = _setup(vfd, czfds, rundir, req)
    except BaseException:
        error = traceback.format_exc(limit=4)[-1500:]
        try:
            if read_msg(vfd) is not None:
                write_msg(vfd, {"op": "setup_error", "msg": error, "retire": True})
        except (OSError, FrameError):
            pass
        return 70
    h.serve()
    return 0
