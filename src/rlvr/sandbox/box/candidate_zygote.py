"""The candidate zygote: a small clean process that forks one fresh candidate per check.

A pair has two; they and nothing else are parents of candidates, and each holds nothing of any check: it never receives a
check's code, tests, token, inputs or expected outputs (the harness talks to each candidate over
a socket the candidate zygote creates, hands over and closes). Its whole protocol with the
harness, over a SOCK_SEQPACKET socket, is:

    CZ -> H   {"op": "candidate", "pid": P, "uid": U}  + the harness's end of P's socket
    H  -> CZ  {"op": "finish", "pid": P, "wait_s": S}  (wait up to S s for P to exit, then kill)
    CZ -> H   {"op": "finished", "pid": P, "status": exit code or null, "leftovers": N}

then the next "candidate". "finished" also comes unasked as soon as P exits by itself (a stdio
program that ends, a candidate that crashes): then everything P started is killed at once and
the harness need not ask; a "finish" for a P already finished is ignored.

"finished" means every process of the check has been killed. In a PID namespace that is
``kill(-1, SIGKILL)`` having returned: each process in it has SIGKILL pending and never runs
another instruction of its own; the kernel's teardown of their memory (the exit of a process
this size costs ~1 ms) completes after the reply, and this process reaps them all and removes
their files and System V objects before it forks its next candidate. Outside one (tiers none and
bwrap) the sweep kills and reaps before the reply.

With ``isolation="namespaces"`` it is pid 1 of a PID namespace of its own, so ``kill(-1)`` reaches exactly what the last candidate started and the kernel kills
everything in it if this process dies; without one (tiers none and bwrap) it is a child
subreaper and kills the candidate's process group and everything that was reparented to it.
Each candidate gets a fresh random uid (when we are root) and a fresh run directory, removed
after the check; with ``namespaces`` the run directories live on a size-capped tmpfs in a mount
namespace of this process's own. The candidates share one IPC namespace, this process's own (making one per
candidate costs a millisecond or two of CPU): one candidate at a time, and every System V object
in it is removed after each check, before the next candidate exists.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time
import traceback

from . import kernel
from .candidate import become_candidate, candidate_main
from .wire import pack


class CandidateZygote:
    def __init__(self, hsock: socket.socket, pairdir: str, req: dict) -> None:
        self.hsock, self.pairdir, self.req = hsock, pairdir, req
        self.use_pidns = bool(req.get("pidns"))
        self.current: tuple[int, str] | None = None
        self.dirty: str | None = None  # the last candidate's run directory, until _clean
        self.keep = {fd for fd in req.get("stdlib_fds", []) if fd >= 0}
        # With a domain of our own (see candidate_zygote_main) candidates need no file rules.
        self.read_rules = [] if req.get("cz_landlock") else \
            [(int(fd), False, bool(d)) for fd, _, d in req.get("read_rules", [])]
        self.switch_uid = bool(req.get("switch_uid"))
        # SIGCHLD wakes select() through this pipe (a candidate's exit), alongside the harness.
        self.wake, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)  # both ends non-blocking
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the pipe is written

    def serve(self) -> None:
        while True:
            self._spawn()
            pid = self.current[0] if self.current else 0
            while self.current is not None:
                ready, _, _ = select.select([self.hsock, self.wake], [], [])
                if self.wake in ready:
                    self._drain()
                    if self._exited(pid):  # by itself: no need to wait to be asked
                        self._reply(pid, *self._finish(0.0))
                        break
                if self.hsock not in ready:
                    continue
                try:
                    data = self.hsock.recv(1 << 12)
                except OSError:
                    data = b""
                if not data:  # the harness is gone: so is every candidate
                    self._finish(0.0)
                    self._clean()
                    return
                try:
                    msg = json.loads(data)
                    wait_s = min(max(float(msg.get("wait_s") or 0.0), 0.0), 60.0)
                    asked = msg.get("op") == "finish" and msg.get("pid") == pid
                except (ValueError, TypeError, AttributeError):
                    self._finish(0.0)
                    self._clean()
                    return
                if asked:
                    self._reply(pid, *self._finish(wait_s))
                # else: a "finish" for a candidate already finished unasked
            self._clean()  # after the reply, before the next candidate exists

    def _reply(self, pid: int, status: int | None, leftovers: int) -> None:
        reply = {"op": "finished", "pid": pid, "status": status, "leftovers": leftovers}
        try:
            self.hsock.sendall(json.dumps(reply).encode())
        except OSError:
            pass  # the harness is gone; the next recv says so

    def _drain(self) -> None:
        try:
            while os.read(self.wake, 4096):
                pass
        except BlockingIOError:
            pass

    def _exited(self, pid: int) -> bool:
        """Whether the current candidate has exited (it stays a zombie for ``_finish`` to reap)."""
        try:
            return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _spawn(self) -> None:
        """Fork the next candidate (it sets itself up and waits) and hand its socket over."""
        # os.urandom, not secrets: secrets would pull OpenSSL into the zygote and slow every fork.
        uid = None
        if self.switch_uid and os.geteuid() == 0:
            uid = 1_000_000 + int.from_bytes(os.urandom(4), "little") % (1 << 30)
        rundir = os.path.join(self.pairdir, "c" + os.urandom(6).hex())
        os.mkdir(rundir, 0o700)
        if uid is not None:
            os.chown(rundir, uid, uid)
        ours, theirs = socket.socketpair()
        me = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the candidate
            code = 70
            try:
                self.hsock.detach()
                ours.detach()
                kernel.set_name("rlvr-candidate")
                become_candidate(theirs, rundir, uid, dict(self.req, parent_pid=me), self.keep, self.read_rules)
                code = candidate_main(theirs)
            except BaseException:
                try:  # the harness reports it as the sandbox's failure, not the model's
                    theirs.sendall(pack({"op": "setup_error", "msg": traceback.format_exc(limit=4)[-1500:]}))
                except BaseException:
                    pass
            os._exit(code)
        theirs.close()
        self.current = (pid, rundir)
        msg = json.dumps({"op": "candidate", "pid": pid, "uid": uid}).encode()
        try:
            socket.send_fds(self.hsock, [msg], [ours.fileno()])
        except OSError:
            pass  # the harness is gone; the next recv says so
        ours.close()

    def _finish(self, wait_s: float) -> tuple[int | None, int]:
        """Wait up to ``wait_s`` for the candidate to exit, then kill everything it started
        (outside a PID namespace, reap it all too; in one, ``_clean`` reaps). Returns (exit code
        or None, processes swept outside a PID namespace)."""
        if self.current is None:
            return None, 0
        pid, rundir = self.current
        self.current = None
        status = None
        deadline = time.monotonic() + wait_s
        while True:
            try:
                done, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done == pid:
                status = os.waitstatus_to_exitcode(st)
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            select.select([self.wake], [], [], left)  # a child's exit (SIGCHLD) writes the pipe
            self._drain()
        leftovers = 0
        if self.use_pidns:  # pid 1 of the namespace: -1 is exactly the candidate's processes
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        else:
            leftovers = sweep(pid)
        self.dirty = rundir
        return status, leftovers

    def _clean(self) -> None:
        """Remove what the last candidate left: first its processes, killed already (wait for the
        kernel to tear each down: in a PID namespace each is ours once its parent dies, we are its
        pid 1), then its SysV objects and its files."""
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        if self.req.get("ipcns"):  # this namespace is ours alone: nothing in it survives a check
            kernel.remove_sysv_objects()
        if self.dirty:
            _remove_tree(self.dirty)
            self.dirty = None
        with os.scandir(self.pairdir) as entries:  # anything else a candidate made here goes too
            for entry in list(entries):
                if entry.is_dir(follow_symlinks=False):
                    _remove_tree(entry.path)
                else:
                    try:
                        os.unlink(entry.path)
                    except OSError:
                        pass


def sweep(pid: int | None) -> int:
    """Kill ``pid``'s process group and ``pid``, then every child we have (the candidate's
    orphans were reparented to us: we are a child subreaper), until nothing is left. Returns
    how many others there were."""
    if pid:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    count = 0
    me = os.getpid()
    for _ in range(10_000):
        try:
            with open(f"/proc/self/task/{me}/children") as f:
                kids = [int(p) for p in f.read().split()]
        except OSError:
            kids = []
        for kid in kids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(kid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            got, _ = os.waitpid(-1, 0 if kids else os.WNOHANG)
        except ChildProcessError:
            return count
        if got == 0:
            return count
        count += got != pid
    return count  # pragma: no cover


def _remove_tree(path: str) -> None:
    try:
        os.rmdir(path)  # the common case: the check wrote nothing
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def candidate_zygote_main(hsock: socket.socket, pairdir: str, req: dict) -> int:
    """Set up (no secrets, no untrusted code here: only process hygiene) and serve."""
    kernel.set_name("rlvr-cand-zyg")
    keep = {hsock.fileno(), *[fd for fd in req.get("stdlib_fds", []) if fd >= 0],
            *[fd for fd, _, _ in req.get("read_rules", [])]}
    parent = os.getppid()
    kernel.close_other_fds(keep)
    kernel.devnull_stdio()
    os.setsid()
    kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL, what="prctl(PDEATHSIG)")
    if os.getppid() != parent and not req.get("pidns"):  # the zygote died before the line above
        return 0
    kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1, what="prctl(CHILD_SUBREAPER)")
    if req.get("ipcns"):  # one IPC namespace for this process's candidates, emptied after each
        kernel.unshare(kernel.CLONE_NEWIPC, "CLONE_NEWIPC")
        limits = req["limits"]
        kernel.private_tmpfs(pairdir, max(64 << 20, 4 * int(limits["file_bytes"])))
    kernel.prctl(kernel.PR_SET_DUMPABLE, 0, what="prctl(DUMPABLE)")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # What every candidate would otherwise apply to itself, applied once here and inherited: the
    # rlimits that are not per check, and (when there is one) the seccomp filter, which also holds
    # this process to the same small set of system calls.
    kernel.set_rlimits(req["limits"], cpu=False)
    abi = int(req.get("landlock_abi") or 0)
    if req.get("ipcns") and abi:
        # Our own Landlock domain, inherited by every candidate: read the standard library (and
        # /proc/sysvipc, for the sweep above), write only beneath the candidates' tmpfs and
        # /dev/null, no TCP. A candidate can write only its own run directory there (the
        # directory above is root's, mode 711), the only candidate's at any time, and everything
        # in the tmpfs is removed after each check; each candidate adds a nested domain that
        # scopes its signals and abstract sockets to itself.
        rules = [(int(fd), False, bool(d)) for fd, _, d in req.get("read_rules", [])]
        rules += kernel.open_rule_paths(["/proc/sysvipc"], [pairdir, "/dev/null"])
        kernel.apply_landlock(abi, rules)
        req = dict(req, cz_landlock=True)
    if req.get("seccomp"):
        kernel.apply_seccomp()
        req = dict(req, seccomp_inherited=True)
    CandidateZygote(hsock, pairdir, req).serve()
    return 0
