"""The candidate: one fresh process per check, forked by the candidate zygote, runs the model's code.

``become_candidate`` runs right after the fork, as root (or user-namespace root), and ends
unprivileged. Inherited from the candidate zygote: its PID, IPC and mount namespaces (the run
directories' tmpfs), the seccomp filter, the shared rlimits, stdio on /dev/null, default signal
handlers. Applied here: every descriptor closed but its socket to the harness and the standard
library's; the check's random uid (RLIMIT_NPROC then counts this check alone; the switch from
root clears every capability); outside a PID namespace its own session and the parent-death
signal; its own run directory as cwd; CPU and process rlimits; Landlock: with ``namespaces``
a domain nested in the candidate zygote's (read the standard library, write only beneath the
candidates' tmpfs, where unix permissions leave it only its own run directory, no TCP) that
scopes signals and abstract sockets to itself; otherwise a domain of its own with the same
rules and its run directory as the only writable place; not dumpable. Then it warms up and waits, holding nothing, for one
message from the harness: ``A`` and the code (serve calls: ``serve``), or ``S`` with stdin,
stdout and stderr descriptors and the code (run it as a script: ``run_script``).
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import socket
import sys
import traceback

from . import kernel
from .importer import DirFdFinder
from .wire import (
    JSON_ENCODER,
    MAX_MESSAGE,
    FrameBuffer,
    FrameError,
    Unserialisable,
    decode_value,
    encode_value,
    pack,
    unpack,
)

_BOX_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def become_candidate(sock: socket.socket, rundir: str, uid: int | None, req: dict, keep: set[int],
                     read_rules: list[tuple[int, bool, bool]]) -> None:
    """Apply every restriction the candidate zygote did not already apply to itself (its
    seccomp filter, shared rlimits, default signal handlers and IPC namespace are inherited), in
    this order: each step needs the privileges the next drops. Every step costs page faults in a
    fresh fork, so nothing here is done that is already true."""
    # First: the candidate zygote's SIGCHLD handler writes a pipe we are about to close.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    pidns = bool(req.get("pidns"))
    if not pidns:
        os.setsid()  # its own process group: the sweep kills it whole (in a PID namespace, kill(-1) does)
    kernel.close_other_fds({sock.fileno(), *keep, *[fd for fd, _, _ in read_rules]})  # stdio: /dev/null already
    abi = int(req.get("landlock_abi") or 0)
    own_domain = abi and not req.get("cz_landlock")  # else: nested in the candidate zygote's domain
    rules = [*read_rules, *kernel.open_rule_paths([], [rundir, "/dev/null"])] if own_domain else []
    if uid is not None:
        # From root to another uid: the kernel clears every capability and dumpability with it.
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        fds, paths = req["stdlib_fds"], req["stdlib_paths"]
        if fds and max(fds) >= 0:
            sys.meta_path.insert(0, DirFdFinder(fds[0], paths[0], fds[1], paths[1]))
    if not pidns:  # in a PID namespace the kernel kills us with its pid 1 anyway
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL, what="prctl(PDEATHSIG)")  # after the uid change
        if os.getppid() != req.get("parent_pid", os.getppid()):  # the candidate zygote died meanwhile
            os._exit(0)
    os.chdir(rundir)
    kernel.set_rlimits(req["limits"], shared=False)
    if own_domain:
        kernel.apply_landlock(abi, rules)
    else:
        for fd, _, _ in read_rules:
            os.close(fd)
        if abi:
            kernel.apply_landlock_scope(abi)
    if req.get("seccomp") and not req.get("seccomp_inherited"):
        kernel.apply_seccomp()
    if req["isolation"] != "none":
        if uid is None:
            try:
                kernel.drop_capabilities()
            except kernel.SetupError:
                pass
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0, what="prctl(DUMPABLE)")
    sys.path[:] = [p for p in sys.path if p != _BOX_PARENT]  # the sandbox's own sources are not its business


def candidate_main(sock: socket.socket) -> int:
    """Warm up, wait for the one message, and do what it says. Returns the exit status."""
    try:
        _warm_up()
    except Exception:  # pragma: no cover - only a speed-up
        pass
    try:
        data, fds, _, _ = socket.recv_fds(sock, 1, 3)
    except OSError:
        return 0
    if data == b"S" and len(fds) == 3:
        body = _recv(sock, FrameBuffer(MAX_MESSAGE))
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
            os.close(fd)
        sock.close()  # the model's program has no channel back to the harness
        code = body.get("code") if isinstance(body, dict) else None
        return run_script(code if isinstance(code, str) else "")
    for fd in fds:
        os.close(fd)
    if data == b"A":
        buf = FrameBuffer(MAX_MESSAGE)  # may already hold the first call, sent right behind the code
        body = _recv(sock, buf)
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            entry = body.get("entry")
            serve(sock, body["code"], entry if isinstance(entry, str) else None, buf)
    return 0


def _recv(sock: socket.socket, buf: FrameBuffer) -> object:
    """One message from the harness, or None when it is gone or garbled."""
    try:
        while True:
            body = buf.pop()
            if body is not None:
                return unpack(body)
            chunk = sock.recv(max(1 << 16, min(buf.need() - len(buf.buf), 1 << 22)))
            if not chunk:
                return None
            buf.feed(chunk)
    except (OSError, FrameError):
        return None


def _warm_up() -> None:
    """The hot path once on dummy code: its first use faults in (copies) the pages it touches,
    which would otherwise land on the check's critical path."""
    ns: dict[str, object] = {"__name__": "__warmup__", "__builtins__": builtins}
    exec(compile("def f(a, b):\n    return [a, b]\n", "candidate.py", "exec"), ns)
    pack({"op": "loaded", "names": {"f": ["H", 1, "function", callable(ns["f"])]}})
    decode_value(json.loads(JSON_ENCODER.encode({"seq": 1, "value": encode_value(ns["f"](1, (2.0, "x")))}))["value"])


def serve(sock: socket.socket, code: str, entry: str | None = None, buf: FrameBuffer | None = None) -> None:
    """In C: run the model's code as a module, then answer calls from the harness. ``entry``: the
    function the tests call, which gets handle 1 (the harness may have sent calls to it before
    the code was loaded); handle 1 is nobody else's, even when ``entry`` is missing."""
    handles: dict[int, object] = {}
    next_id = [2 if entry else 1]

    def handle(obj: object, hid: int = 0) -> list:
        if not hid:
            hid = next_id[0]
            next_id[0] += 1
        handles[hid] = obj
        return ["H", hid, type(obj).__name__, callable(obj)]

    ns: dict[str, object] = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        exec(compile(code, "candidate.py", "exec"), ns)
        names = {}
        if entry and callable(ns.get(entry)):
            names[entry] = handle(ns[entry], 1)
        for k, v in list(ns.items()):
            if not k.startswith("__") and callable(v) and k not in names:
                names[k] = handle(v)
        load = {"op": "loaded", "names": names}
    except BaseException as exc:  # SystemExit included: exiting early is a failure, not a pass
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=3)
        load = {"op": "load_error", "exc": type(exc).__name__, "msg": str(exc)[:300],
                "traceback": "".join(tb)[-1500:]}
    try:
        sock.sendall(pack(load))
    except OSError:
        return
    buf = buf or FrameBuffer(MAX_MESSAGE)
    while True:
        req = _recv(sock, buf)
        if not isinstance(req, dict):
            return
        reply: dict[str, object] = {"seq": req.get("seq")}
        try:
            target = handles[int(req["target"])]  # type: ignore[arg-type]
            op = req.get("op")
            if op == "call":
                args = [decode_value(a) for a in req.get("args", [])]  # type: ignore[union-attr]
                kwargs = {k: decode_value(v) for k, v in req.get("kwargs", {}).items()}  # type: ignore[union-attr]
                result = target(*args, **kwargs)  # type: ignore[operator]
                mutated = {}
                for i, a in enumerate(args):
                    if type(a) in (list, dict, set):
                        try:
                            mutated[str(i)] = encode_value(a)
                        except Unserialisable:
                            pass
                if mutated:
                    reply["mutated"] = mutated
            elif op == "getattr":
                result = getattr(target, str(req.get("name")))
            elif op == "getitem":
                result = target[decode_value(req.get("key"))]  # type: ignore[index]
            elif op == "materialise":
                result = list(target)  # type: ignore[call-overload]
            else:
                raise ValueError(f"unknown op {op!r}")
            reply["value"] = encode_value(result, handle)
        except BaseException as exc:
            reply.pop("value", None)
            reply["exc"] = type(exc).__name__
            try:
                reply["msg"] = str(exc)[:300]
            except BaseException:
                reply["msg"] = ""
        try:
            sock.sendall(pack(reply))
        except (OSError, TypeError, ValueError):
            return




def run_script(code: str) -> int:
    """In the candidate: run ``code`` as a script (stdio mode) and return its exit status."""
    sys.argv = ["main.py"]
    glb = {"__name__": "__main__", "__builtins__": builtins, "__file__": "main.py"}
    status = 0
    try:
        exec(compile(code, "main.py", "exec"), glb)
    except SystemExit as exc:
        c = exc.code
        status = c if isinstance(c, int) else (0 if c is None else 1)
        if c is not None and not isinstance(c, int):
            try:
                sys.stderr.write(str(c) + "\n")
            except Exception:
                pass
    except BaseException:
        try:
            traceback.print_exc(limit=5)
        except Exception:
            pass
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    return status & 0xFF


