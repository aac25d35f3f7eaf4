"""The zygote: the warm root of the sandbox, which starts a harness and a candidate zygote.

The verifier starts it as ``python -I -S .../box FD CONFIG`` (isolated mode, no site-packages,
standard library only), so it stays small (~17 MB) and forks stay cheap. It never holds a
check's code, tests, token or data: the verifier talks to the harness directly, over a socket
whose other end this process passes on (SCM_RIGHTS) and closes. Protocol with the verifier
(SOCK_SEQPACKET, one JSON object per packet)::

    Z -> V  {"op": "ready", "features": {...}}                          once, after setup
    V -> Z  {"op": "start", <limits and isolation>}                     (re)start the pair
    Z -> V  {"op": "started", "harness": pid, "cz": [pid, pid], "dir": path}  + the harness's socket
    V -> Z  {"op": "stop"}   ->   Z -> V  {"op": "stopped", "leftovers": n}
    EOF: stop and exit.

"The pair" is one harness (H) and two candidate zygotes (CZ), all forked from here before any
check exists, with a SOCK_SEQPACKET socket between H and each CZ. H takes its candidates from
the two in turn, so one CZ forks and sets up its next candidate while the other's candidate runs
a check: back-to-back checks never wait for a fork. With ``isolation="namespaces"`` each CZ is
pid 1 of a fresh PID namespace of its own (its candidates live and die in it) and everything
shares this process's empty network namespace. A pair serves checks until the verifier stops it: after a
timeout, a crash, a protocol error or a harness that retires itself. Stopping kills both; the
kernel kills whatever is left in CZ's PID namespace, and this process (a child subreaper)
sweeps anything that ended up under it. All run directories of a pair live in one directory,
removed with the pair.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import sys

from . import kernel
from .candidate_zygote import candidate_zygote_main, sweep
from .harness import harness_main

# A few modules nearly every candidate imports. Kept short on purpose: fork and exit cost grows
# with the zygote's resident size; everything else is imported lazily by the candidate, through
# ``importer.DirFdFinder`` when its uid cannot walk there. typing costs ~15 ms of CPU to import
# and HumanEval-style prompts use it.
CANDIDATE_ZYGOTES = 2  # taken in turn by the harness: see the module docstring

PRELOAD = ["typing", "math", "heapq", "bisect", "re", "string", "functools", "collections", "itertools",
           "operator", "copy"]


class Zygote:
    def __init__(self, sock: socket.socket, config: dict) -> None:
        self.sock, self.config = sock, config
        self.pair: tuple[int, list[int], str] | None = None  # (harness pid, CZ pids, pair dir)
        self.pidns_fd: int | None = None
        self.broken = False

    def setup(self) -> dict:
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        # Where this interpreter's standard library really is (the parent may be a venv).
        self.stdlib = os.path.dirname(os.__file__)
        self.dynload = next((p for p in sys.path if p.endswith("lib-dynload")), "")
        self.stdlib_fds = []
        for path in (self.stdlib, self.dynload):
            try:
                self.stdlib_fds.append(os.open(path, os.O_PATH | os.O_DIRECTORY) if path else -1)
            except OSError:
                self.stdlib_fds.append(-1)
        if kernel.seccomp_supported():
            kernel.prepare_seccomp()  # built once here, inherited by every fork
        # Forked children share our pages copy-on-write; a garbage collection there would write
        # to every object header and copy them all. Frozen objects are never traversed.
        gc.collect()
        gc.freeze()
        try:  # hand free heap pages back: fewer page-table entries for every fork to copy
            kernel.libc.malloc_trim(0)
        except AttributeError:  # pragma: no cover - not glibc
            pass
        # No parent-death signal here: it would fire when the *thread* that started us exits
        # (a thread pool), not the process. The control socket's EOF is our parent's death.
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1, what="prctl(CHILD_SUBREAPER)")
        errors: dict[str, str] = {}
        netns = False
        if self.config.get("inside_bwrap"):
            # bwrap already gave us user, network, PID, IPC and mount namespaces; nested ones are
            # not allowed in its chroot, so candidates share these and are swept by process group.
            netns = True
            self.config["mapped_root"] = True
        elif self.config["isolation"] != "none":
            try:
                if os.geteuid() != 0:
                    kernel.map_self_to_root()
                    self.config["mapped_root"] = True
                kernel.unshare(kernel.CLONE_NEWNET, "CLONE_NEWNET")
                netns = True
            except (kernel.SetupError, OSError) as exc:
                errors["netns"] = str(exc)
            try:
                self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                errors["pidns"] = str(exc)
        self.config["netns"] = netns
        feats = kernel.probe(self.config) if self.config["isolation"] != "none" else {"landlock_abi": 0}
        feats["netns"] = netns
        if self.config.get("inside_bwrap"):
            feats["bwrap"] = True
            feats["pidns"] = False  # no PID namespace per pair: see above
        feats.setdefault("errors", {}).update(errors)  # type: ignore[union-attr]
        self.features = feats
        return feats

    def serve(self) -> None:
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
            except OSError:
                msg, fds = b"", []
            for fd in fds:
                os.close(fd)
            if not msg:  # the verifier is gone: take the pair down with us
                self._stop()
                return
            req = json.loads(msg)
            op = req.get("op")
            if op == "start":
                self._stop()
                try:
                    vsock = self._start(req)
                except (kernel.SetupError, OSError) as exc:
                    self._stop()
                    self.sock.sendall(json.dumps({"op": "error", "msg": f"cannot start the sandbox: {exc}"}).encode())
                    continue
                assert self.pair is not None
                reply = {"op": "started", "harness": self.pair[0], "cz": self.pair[1], "dir": self.pair[2]}
                socket.send_fds(self.sock, [json.dumps(reply).encode()], [vsock.fileno()])
                vsock.close()  # from now on only the verifier can talk to this harness
            elif op == "stop":
                leftovers = self._stop()
                self.sock.sendall(json.dumps({"op": "stopped", "leftovers": leftovers}).encode())
                if self.broken:
                    return
            else:
                self.sock.sendall(json.dumps({"op": "error", "msg": f"unknown op {op!r}"}).encode())

    def _uid(self) -> int | None:
        # A fresh unprivileged uid for the harness when we are real root (candidates get their own).
        if self.config.get("switch_uid") and os.geteuid() == 0 and not self.config.get("mapped_root"):
            return 1_000_000 + int.from_bytes(os.urandom(4), "little") % (1 << 30)
        return None

    def _read_rules(self, req: dict) -> list[tuple[int, bool, bool]]:
        """Landlock read rules as O_PATH descriptors, opened once per zygote (each process
        inherits them and closes its copies after use) instead of a dozen path walks each."""
        paths = tuple([*req["read_paths"], *[p for p in (self.stdlib, self.dynload) if p]])
        cached = getattr(self, "_rules_cache", None)
        if cached is None or cached[0] != paths:
            if cached is not None:
                for fd, _, _ in cached[1]:
                    os.close(fd)
            self._rules_cache = (paths, kernel.open_rule_paths(list(paths), []))
        return self._rules_cache[1]

    def _start(self, req: dict) -> socket.socket:
        base = self.config.get("tmp_base") or os.environ.get("TMPDIR") or "/tmp"
        pairdir = os.path.join(base, "rlvr-run-" + os.urandom(8).hex())
        os.mkdir(pairdir, 0o711)  # candidates may pass through to their own directory, not list it
        hdir = os.path.join(pairdir, "h")
        os.mkdir(hdir, 0o700)
        cdirs = [os.path.join(pairdir, f"c{i}") for i in range(CANDIDATE_ZYGOTES)]
        for cdir in cdirs:
            os.mkdir(cdir, 0o711)  # one CZ's candidates' directories (a private tmpfs there, with namespaces)
        huid = self._uid()
        if huid is not None:
            os.chown(hdir, huid, huid)
        use_pidns = self.pidns_fd is not None and bool(self.features.get("pidns"))
        req = dict(req, stdlib_fds=self.stdlib_fds, stdlib_paths=[self.stdlib, self.dynload],
                   read_rules=self._read_rules(req) if req.get("landlock_abi") else [],
                   switch_uid=bool(self.config.get("switch_uid")) and not self.config.get("mapped_root"),
                   pidns=use_pidns, zygote_pid=os.getpid(), harness_uid=huid)
        vsock, hsock = socket.socketpair()
        links = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in cdirs]  # (H's end, CZ's)
        czs: list[int] = []
        self.pair = (0, czs, pairdir)
        for i, cdir in enumerate(cdirs):
            if use_pidns:
                kernel.unshare(kernel.CLONE_NEWPID, "CLONE_NEWPID")
            cz = os.fork()
            if cz == 0:  # pragma: no cover - a candidate zygote
                code = 70
                try:
                    for s in (self.sock, vsock, hsock, *[end for pair in links for end in pair if end is not links[i][1]]):
                        s.detach()
                    code = candidate_zygote_main(links[i][1], cdir, req)
                except BaseException:
                    code = 70
                os._exit(code)
            czs.append(cz)
            if use_pidns and kernel.libc.setns(self.pidns_fd, kernel.CLONE_NEWPID) != 0:
                self.broken = True  # later forks would land in that namespace: stop after this pair
                raise kernel.SetupError("setns(CLONE_NEWPID) back to the zygote's namespace failed")
        hpid = os.fork()
        if hpid == 0:  # pragma: no cover - the harness
            code = 70
            try:
                for s in (self.sock, vsock, *[pair[1] for pair in links]):
                    s.detach()
                code = harness_main(hsock.detach(), [pair[0].detach() for pair in links], hdir, req)
            except BaseException:
                code = 70
            os._exit(code)
        self.pair = (hpid, czs, pairdir)
        for s in (hsock, *[end for pair in links for end in pair]):
            s.close()
        return vsock

    def _stop(self) -> int:
        """Kill the pair (CZ is pid 1 of its namespace: the kernel kills the rest), reap
        everything, remove the pair's directory. Returns how many others had to be swept."""
        if self.pair is None:
            return 0
        hpid, czs, pairdir = self.pair
        self.pair = None
        for pid in (*czs, hpid):
            if not pid:
                continue
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for pid in (*czs, hpid):
            if pid:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
        leftovers = sweep(None) if not self.features.get("pidns") or self.config.get("inside_bwrap") else 0
        shutil.rmtree(pairdir, ignore_errors=True)
        return leftovers


def zygote_main(argv: list[str]) -> None:  # pragma: no cover - runs as its own process
    kernel.set_name("rlvr-zygote")
    fd = int(argv[1])
    config = json.loads(argv[2])
    sock = socket.socket(fileno=fd)
    z = Zygote(sock, config)
    feats = z.setup()
    sock.sendall(json.dumps({"op": "ready", "features": feats, "pid": os.getpid()}).encode())
    z.serve()
