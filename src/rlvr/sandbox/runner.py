"""The verifier-side half of the sandbox: warm zygote processes and one run at a time on each.

See ``rlvr.sandbox`` for the threat model. A ``Sandbox`` is cheap to create and picklable (it is
only its config); the zygotes live in a per-process pool keyed by config, so engine workers and
threads each check one out, use it for one run, and give it back.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, IsolationUnavailableError
from rlvr.sandbox import _zygote
from rlvr.sandbox._zygote import _HEADER

__all__ = ["ISOLATION_TIERS", "RunOutcome", "Sandbox", "SandboxConfig", "probe_isolation"]

ISOLATION_TIERS = ("auto", "namespaces", "bwrap", "none")
_ZYGOTE_PATH = str(Path(_zygote.__file__).resolve())


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and isolation for every run of one sandbox."""

    isolation: str = "auto"
    """"auto" (namespaces, else bwrap, else refuse), "namespaces", "bwrap", or "none" (unsafe)."""
    timeout: float = 10.0
    """Wall-clock seconds for one program run (a test suite, or one stdin/stdout case)."""
    total_timeout: float = 20.0
    """Wall-clock seconds for a whole check (all stdin/stdout cases together)."""
    memory_mb: int = 1024
    """Address-space limit of each sandboxed process, MiB."""
    max_output_bytes: int = 1 << 20
    """Most stdout bytes kept per program run; more is an output-limit failure."""
    max_file_mb: int = 16
    """Largest file a run may write (RLIMIT_FSIZE), MiB."""
    max_processes: int = 32
    """Processes the run's uid may have (RLIMIT_NPROC); forks beyond fail."""
    max_open_files: int = 64
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    site_packages: bool = False
    """Let candidates import installed packages (and read site-packages). Off by default:
    site-packages may hold benchmark data (HumanEval ships its tests there)."""
    python: str = ""
    """Interpreter for the zygote; default: this one."""
    extra_read_paths: tuple[str, ...] = field(default_factory=tuple)
    """More paths candidates may read."""

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATION_TIERS:
            raise ConfigError(f"isolation must be one of {', '.join(ISOLATION_TIERS)}; got {self.isolation!r}")
        if not self.timeout > 0 or not self.total_timeout > 0:
            raise ConfigError("timeout and total_timeout must be > 0 seconds")
        if self.total_timeout < self.timeout:
            raise ConfigError(
                f"total_timeout ({self.total_timeout:g}s) must be >= timeout ({self.timeout:g}s); raise it"
            )
        if self.memory_mb < 64:
            raise ConfigError(f"memory_mb must be >= 64 (a Python process needs that much), got {self.memory_mb}")
        if self.max_output_bytes < 1 or self.max_file_mb < 1:
            raise ConfigError("max_output_bytes and max_file_mb must be >= 1")
        if self.max_processes < 2 or self.max_open_files < 16:
            raise ConfigError("max_processes must be >= 2 and max_open_files >= 16")

    def limits(self) -> dict[str, Any]:
        return {
            "cpu_s": self.timeout + 1,
            "timeout_s": self.timeout,
            "memory_bytes": self.memory_mb << 20,
            "file_bytes": max(self.max_file_mb << 20, self.max_output_bytes + 4096),
            "open_files": self.max_open_files,
            "processes": self.max_processes,
            "max_output_bytes": self.max_output_bytes,
            "max_value_bytes": max(self.max_output_bytes * 4, 16 << 20),
        }


@dataclass
class RunOutcome:
    """What one sandboxed run produced, before any judgement."""

    messages: list[dict[str, Any]]
    """Messages from the harness, in order (results, stdio cases, done)."""
    timed_out: bool = False
    died: str | None = None
    """Why the harness stopped talking early (crash, setup failure), if it did."""
    setup_error: str | None = None
    token_ok: bool = False
    """The harness echoed this run's token after its last test."""
    elapsed_s: float = 0.0
    leftovers: int = 0
    """Processes the zygote had to reap outside the run's PID namespace (0 when contained)."""
    isolation: str = ""
    harness_pid: int | None = None
    """The harness's pid (in the verifier's PID namespace); each run has its own."""


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


class _Channel:
    """The verifier's end of the socket to the harness (``wfd`` and a dup as ``rfd``), with
    deadlines on every operation."""

    def __init__(self, wfd: int, rfd: int, limit: int) -> None:
        self.wfd, self.rfd, self.limit = wfd, rfd, limit
        os.set_blocking(wfd, False)
        self.buf = bytearray()
        self.eof = False

    def _fill(self) -> None:
        chunk = os.read(self.rfd, 1 << 20)
        if not chunk:
            self.eof = True
        self.buf += chunk
        if len(self.buf) > self.limit + _HEADER.size:
            raise _Eof(f"the harness sent more than {self.limit} bytes")

    def send(self, obj: Any, deadline: float) -> None:
        self.send_raw(_zygote.pack(obj), deadline)

    def send_raw(self, raw: bytes, deadline: float) -> None:
        data = memoryview(raw)
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout()
            rl = [] if self.eof else [self.rfd]
            r, w, _ = select.select(rl, [self.wfd], [], left)
            if r:
                self._fill()
            if w:
                try:
                    n = os.write(self.wfd, data)
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise _Eof("the harness stopped reading") from None
                data = data[n:]

    def recv(self, deadline: float) -> dict[str, Any]:
        while True:
            if len(self.buf) >= _HEADER.size:
                (n,) = _HEADER.unpack_from(self.buf)
                if n > self.limit:
                    raise _Eof(f"the harness sent a {n}-byte message")
                if len(self.buf) >= _HEADER.size + n:
                    body = bytes(self.buf[_HEADER.size : _HEADER.size + n])
                    del self.buf[: _HEADER.size + n]
                    msg = json.loads(body.decode("utf-8", "surrogatepass"))
                    if not isinstance(msg, dict):
                        raise _Eof("the harness sent a malformed message")
                    return msg
            if self.eof:
                raise _Eof("the harness exited")
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout()
            r, _, _ = select.select([self.rfd], [], [], left)
            if r:
                self._fill()

    def close(self) -> None:
        for fd in (self.wfd, self.rfd):
            try:
                os.close(fd)
            except OSError:
                pass


@functools.lru_cache(maxsize=32)
def _read_paths(cfg: SandboxConfig) -> list[str]:
    paths = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    if cfg.site_packages:
        paths |= {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    paths |= {"/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache",
              "/dev/urandom", "/dev/zero", "/dev/null"}
    paths |= set(cfg.extra_read_paths)
    return sorted(paths)


class _ZygoteProc:
    """One warm zygote process and its control socket."""

    def __init__(self, cfg: SandboxConfig, tier: str) -> None:
        self.tier = tier
        python = cfg.python or sys.executable
        ours, theirs = socket.socketpair()
        # A per-run unprivileged uid even for "none": it costs nothing and keeps a root verifier from
        # running model code as root (kill(-1), fork bombs that ignore RLIMIT_NPROC).
        zconf = {"isolation": tier, "switch_uid": tier in ("namespaces", "none"),
                 "tmp_base": None if tier != "bwrap" else "/tmp", "inside_bwrap": tier == "bwrap"}
        if tier == "bwrap":
            python = os.path.realpath(python)  # inside bwrap only the real install is mounted
        cmd = [python, "-I", "-S", _ZYGOTE_PATH, str(theirs.fileno()), json.dumps(zconf)]
        if tier == "bwrap":
            cmd = _bwrap_prefix(python) + cmd
        self.proc = subprocess.Popen(
            cmd,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("RLVR_SANDBOX_DEBUG") else subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        theirs.close()
        self.sock = ours
        self.spare_pid: int | None = None
        """The zygote's prepared next harness (see ``_zygote.Zygote``)."""
        self.spare_sock: socket.socket | None = None
        """Our end of the spare's socket: the next run's channel to its harness."""
        try:
            ready = self._recv(60.0)
        except (_Eof, _Timeout, OSError, ValueError) as exc:
            self.kill()
            raise IsolationUnavailableError(
                f"the {tier} sandbox process failed to start ({exc or 'no answer'}); "
                "set RLVR_SANDBOX_DEBUG=1 to see its error output"
            ) from None
        if ready.get("op") != "ready":
            self.kill()
            raise IsolationUnavailableError(f"the sandbox process failed to start: {ready}")
        self.features: dict[str, Any] = ready["features"]

    def _recv(self, timeout: float) -> dict[str, Any]:
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            raise _Timeout()
        data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 1)
        if not data:
            for fd in fds:
                os.close(fd)
            code = self.proc.poll()
            raise _Eof(f"the sandbox process exited (code {code})")
        msg = json.loads(data)
        if fds:  # a new spare's socket comes with "prepared" and "started"
            self.drop_spare()
            self.spare_sock = socket.socket(fileno=fds[0])
            self.spare_pid = msg.get("spare")
        return msg

    def prepare(self, request: dict[str, Any]) -> None:
        """Have the zygote make a spare harness for runs like ``request``."""
        reply = self.request({**request, "op": "prepare"}, [], 30.0)
        if reply.get("op") != "prepared" or self.spare_sock is None:
            raise OSError(str(reply.get("msg", reply))[:1500])

    def drop_spare(self) -> None:
        if self.spare_sock is not None:
            self.spare_sock.close()
            self.spare_sock = None
        self.spare_pid = None

    def request(self, msg: dict[str, Any], fds: list[int], timeout: float) -> dict[str, Any]:
        socket.send_fds(self.sock, [json.dumps(msg).encode()], fds)
        return self._recv(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, graceful: bool = False) -> None:
        """Stop the zygote. ``graceful``: close its socket first and give it a moment, so it
        removes its spare's run directory itself (SIGKILL takes the spare down too, by its
        parent-death signal, but leaves that empty directory behind)."""
        self.drop_spare()  # the spare sees EOF and exits
        if graceful:
            self.sock.close()
            try:
                self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        for kill in (os.killpg, os.kill):
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


def _bwrap_prefix(python: str) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise IsolationUnavailableError(
            "isolation='bwrap' needs bubblewrap (apt install bubblewrap); or use isolation='namespaces'"
        )
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))
    binds = ["/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", prefix, os.path.dirname(_ZYGOTE_PATH)]
    paths = sysconfig.get_paths()
    binds += [paths["stdlib"], paths["platstdlib"]]
    args = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", "--new-session"]
    if os.geteuid() == 0:
        args.append("--unshare-user")
    # The private /tmp first: a bind mounted before it would be hidden by it (a checkout under /tmp).
    args += ["--tmpfs", "/tmp"]
    seen: set[str] = set()
    for path in binds:
        if path in seen or not os.path.exists(path):
            continue
        seen.add(path)
        args += ["--ro-bind", path, path]
    args += ["--dev", "/dev", "--proc", "/proc", "--chdir", "/tmp"]
    return [*args, "--"]


class _Pool:
    """Idle zygotes per (config, tier); a forked child starts with an empty pool."""

    def __init__(self) -> None:
        self.idle: dict[tuple[Any, ...], list[_ZygoteProc]] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Any) -> _ZygoteProc:
        with self.lock:
            lst = self.idle.get(key)
            while lst:
                z = lst.pop()
                if z.alive():
                    return z
                z.kill()
        return make()

    def put(self, key: tuple[Any, ...], z: _ZygoteProc) -> None:
        with self.lock:
            lst = self.idle.setdefault(key, [])
            if len(lst) < 16:
                lst.append(z)
                return
        z.kill(graceful=True)

    def close(self) -> None:
        with self.lock:
            all_z = [z for lst in self.idle.values() for z in lst]
            self.idle.clear()
        for z in all_z:
            z.drop_spare()
            z.sock.close()  # each zygote sees EOF and cleans up; all of them at once
        for z in all_z:
            z.kill(graceful=True)


_POOL = _Pool()
atexit.register(_POOL.close)
os.register_at_fork(after_in_child=lambda: _POOL.__init__())
_FEATURES: dict[str, dict[str, Any]] = {}


def _missing_for_namespaces(feats: dict[str, Any]) -> list[str]:
    missing = []
    for key, label in (("userns", "user namespaces"), ("netns", "network namespaces"),
                       ("pidns", "PID namespaces"), ("seccomp", "seccomp filters")):
        if not feats.get(key):
            why = feats.get("errors", {}).get(key)
            missing.append(f"{label}{f' ({why})' if why else ''}")
    if not feats.get("landlock_abi"):
        missing.append("Landlock (Linux 5.13+ with landlock in the lsm= list)")
    return missing


def probe_isolation(python: str = "") -> dict[str, Any]:
    """What this kernel provides for the namespaces tier (user/net/PID namespaces, Landlock ABI,
    seccomp), probed once per process with a throwaway zygote."""
    key = python or sys.executable
    if key not in _FEATURES:
        z = _ZygoteProc(SandboxConfig(isolation="none", python=python), "namespaces")
        _FEATURES[key] = dict(z.features)
        z.kill()
    return _FEATURES[key]


class Sandbox:
    """Runs untrusted Python in a fresh sandboxed child of a warm zygote, one run per call."""

    def __init__(self, config: SandboxConfig | None = None, **options: Any) -> None:
        self.config = config or SandboxConfig(**options)
        self._tier: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "_tier": self._tier}

    @property
    def tier(self) -> str:
        """The isolation tier in use; resolving it may start a zygote (and raise
        IsolationUnavailableError when the kernel lacks what the tier needs)."""
        if self._tier is None:
            self._tier = self._resolve_tier()
        return self._tier

    def _resolve_tier(self) -> str:
        want = self.config.isolation
        if want == "none":
            return "none"
        if want == "bwrap":
            _bwrap_prefix(self.config.python or sys.executable)
            return "bwrap"
        feats = probe_isolation(self.config.python)
        missing = _missing_for_namespaces(feats)
        if not missing:
            return "namespaces"
        if want == "auto" and shutil.which("bwrap"):
            return "bwrap"
        raise IsolationUnavailableError(
            f"the sandbox needs {', '.join(missing)}, which this kernel does not provide; "
            "install bubblewrap and pass isolation='bwrap', or pass isolation='none' to run model "
            "code WITHOUT isolation (unsafe; only for code you trust)"
        )

    def features(self) -> dict[str, Any]:
        """The isolation features of the zygote this sandbox uses."""
        z = self._checkout()
        try:
            return dict(z.features)
        finally:
            self._checkin(z)

    # -- zygotes ---------------------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (self.config, self.tier)

    def _checkout(self) -> _ZygoteProc:
        tier = self.tier
        return _POOL.get(self._key(), lambda: _ZygoteProc(self.config, tier))

    def _checkin(self, z: _ZygoteProc) -> None:
        _POOL.put(self._key(), z)

    def close(self) -> None:
        """Stop this process's idle zygotes (they also stop at exit)."""
        _POOL.close()

    # -- runs ------------------------------------------------------------------------------------
    def _request(self, z: _ZygoteProc) -> dict[str, Any]:
        feats = z.features
        tier = self.tier
        return {
            "isolation": tier,
            "limits": self.config.limits(),
            "userns": tier != "none" and bool(feats.get("userns")),
            "landlock_abi": feats.get("landlock_abi", 0) if tier != "none" else 0,
            "seccomp": tier != "none" and bool(feats.get("seccomp")),
            "read_paths": _read_paths(self.config),
        }

    def run(self, first: dict[str, Any], converse: Any, preload: tuple[dict[str, Any], ...] = ()) -> RunOutcome:
        """One run: ``first`` and ``preload`` go to the harness, then ``converse(send, recv,
        token, outcome)`` talks to it. Every process of the run is gone when this returns.

        The harness is the zygote's *spare*, prepared before this call (isolation applied,
        candidate forked); we talk to it directly over the socket the zygote handed us, so its
        code, tests and token never pass through the zygote. Nothing waits on a round trip that
        is not needed: the messages are queued in the socket at once (the harness reads them
        one at a time, exactly)."""
        t0 = time.monotonic()
        z = self._checkout()
        outcome = RunOutcome(messages=[], isolation=self.tier)
        token = secrets.token_hex(16)
        run_deadline = t0 + self.config.total_timeout
        healthy = True
        requested = False
        chan: _Channel | None = None
        try:
            pending = b"".join(_zygote.pack(m) for m in (first, *[p(token) for p in preload]))
            for attempt in range(2):
                if z.spare_sock is not None and select.select([z.spare_sock], [], [], 0)[0]:
                    z.drop_spare()  # an idle spare never writes: readable means it is gone (EOF)
                if z.spare_sock is None:
                    z.prepare(self._request(z))
                spare, z.spare_sock = z.spare_sock, None
                assert spare is not None
                fd = spare.detach()
                chan = _Channel(fd, os.dup(fd), self.config.limits()["max_value_bytes"] + (1 << 20))
                try:
                    sent = os.write(chan.wfd, pending)
                    break
                except BlockingIOError:
                    sent = 0
                    break
                except OSError as exc:  # a spare that died while idle (nothing was sent): use a new one
                    chan.close()
                    chan = None
                    if attempt:
                        raise _Eof(f"the prepared harness is gone ({exc})") from None
            z.sock.sendall(b'{"op": "run"}')  # the zygote marks it running and prepares the next
            requested = True
            try:
                chan.send_raw(pending[sent:], run_deadline)
                converse(lambda m: chan.send(m, run_deadline), lambda d=None: chan.recv(
                    run_deadline if d is None else min(run_deadline, d)), token, outcome)
            except _Timeout:
                outcome.timed_out = True
            except (_Eof, ValueError, OSError) as exc:
                outcome.died = str(exc) or type(exc).__name__
            bad = [m for m in outcome.messages if m.get("op") == "setup_error"]
            if bad:
                outcome.setup_error = str(bad[0].get("msg"))[:1500]
            return outcome
        except (OSError, ValueError, _Eof, _Timeout) as exc:
            healthy = False
            outcome.setup_error = f"the sandbox process failed: {exc or type(exc).__name__}"
            return outcome
        finally:
            if chan is not None:
                chan.close()
            try:
                if requested:
                    # Short waits: the zygote answers in milliseconds; one that does not is
                    # killed, and its harness (parent-death signal) and PID namespace go with it.
                    started = z._recv(10.0)
                    if started.get("op") != "started":
                        outcome.setup_error = outcome.setup_error or str(started.get("msg", started))[:1500]
                        healthy = started.get("op") == "error"
                    else:
                        fin = z.request({"op": "finish"}, [], 5.0)
                        outcome.leftovers = int(fin.get("leftovers") or 0)
                        outcome.harness_pid = started.get("pid")
                        if fin.get("spare") is None:  # the new spare died idle; prepare another next time
                            z.drop_spare()
            except (_Eof, _Timeout, OSError, ValueError):
                healthy = False
            if healthy and z.alive():
                self._checkin(z)
            else:
                z.kill(graceful=healthy)
            outcome.elapsed_s = time.monotonic() - t0

    def run_tests(self, code: str, tests: str, entry_point: str | None) -> RunOutcome:
        """Assert-style or ``check(candidate)`` tests. The candidate is forked before the tests
        and the token reach the harness; the results carry the token back."""

        def converse(send: Any, recv: Any, token: str, outcome: RunOutcome) -> None:
            msg = recv(time.monotonic() + self.config.timeout + 1.0)
            outcome.messages.append(msg)
            outcome.token_ok = msg.get("op") == "results" and secrets.compare_digest(
                str(msg.get("token")), token)

        second = lambda token: {"tests": tests, "entry_point": entry_point, "token": token}  # noqa: E731
        return self.run({"mode": "assert", "code": code}, converse, (second,))

    def run_stdio(self, code: str, inputs: list[str], keep_going: Any) -> RunOutcome:
        """Run ``code`` once per stdin in ``inputs``; ``keep_going(case_msg) -> bool`` decides,
        in the verifier, whether to run the next case."""

        def converse(send: Any, recv: Any, token: str, outcome: RunOutcome) -> None:
            for _ in inputs:
                msg = recv(time.monotonic() + self.config.timeout + 2.0)
                outcome.messages.append(msg)
                if msg.get("op") != "case" or not keep_going(msg):
                    break
                send({"op": "next"})
            send({"op": "stop", "token": token})
            done = recv()
            outcome.token_ok = done.get("op") == "done" and secrets.compare_digest(
                str(done.get("token")), token)

        return self.run({"mode": "stdio", "code": code, "inputs": inputs}, converse)

