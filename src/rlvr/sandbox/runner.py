"""The verifier-side half of the sandbox: warm zygote processes and one run at a time on each.

See ``rlvr.sandbox.box`` for the process tree and the threat model. A ``Sandbox`` is cheap to
create and picklable (it is only its config); the zygotes live in a per-process pool keyed by
config, so engine workers and threads each check one out, use it for one run, and give it back.
Each zygote keeps one harness + candidate-zygote pair across runs; a run talks to the harness
directly, and any anomaly (deadline, crash, protocol error, a harness that retires itself) stops
the pair before the run returns, so the next run gets a fresh one.
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
from rlvr.sandbox.box import wire

__all__ = ["ISOLATION_TIERS", "RunOutcome", "Sandbox", "SandboxConfig", "probe_isolation"]

ISOLATION_TIERS = ("auto", "namespaces", "bwrap", "none")
_BOX_DIR = str(Path(wire.__file__).resolve().parent)


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
            # A backstop behind the wall-clock deadlines (the harness's `timeout`, the verifier's
            # `timeout + 1`): it must fire after them, or an endless loop reads as a crash, not a
            # timeout (a pre-forked candidate starts the tests within a millisecond of the send).
            "cpu_s": self.timeout + 2,
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
    """Processes that had to be swept outside a PID namespace (0 when contained)."""
    isolation: str = ""
    harness_pid: int | None = None
    """The pair's harness (in the verifier's PID namespace); it serves many runs."""
    candidates: list[int] = field(default_factory=list)
    """The run's candidate pids, in the candidate zygote's PID namespace: fresh for every run."""
    restored: list[str] = field(default_factory=list)
    """Harness state this run's tests changed and the harness put back."""
    fresh_pair: bool = False
    """This run started a new harness + candidate zygote pair."""


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


class _Channel:
    """The verifier's end of the socket to the harness (``wfd`` and a dup as ``rfd``), with
    deadlines on every operation. It lives as long as its pair, across runs."""

    def __init__(self, wfd: int, rfd: int, limit: int) -> None:
        self.wfd, self.rfd = wfd, rfd
        os.set_blocking(wfd, False)
        self.buf = wire.FrameBuffer(limit)
        self.eof = False

    def _fill(self) -> None:
        chunk = os.read(self.rfd, 1 << 20)
        if not chunk:
            self.eof = True
        try:
            self.buf.feed(chunk)
        except wire.FrameError as exc:
            raise _Eof(f"the harness sent a bad message ({exc})") from None

    def idle_and_clean(self) -> bool:
        """Nothing unread and nothing pending: a harness between runs never writes (readable
        means it retired, died, or sent something it should not have)."""
        return not self.buf.buf and not self.eof and not select.select([self.rfd], [], [], 0)[0]

    def send(self, obj: Any, deadline: float) -> None:
        self.send_raw(wire.pack(obj), deadline)

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
            try:
                body = self.buf.pop()
            except wire.FrameError as exc:
                raise _Eof(f"the harness sent a bad message ({exc})") from None
            if body is not None:
                try:
                    msg = wire.unpack(body)
                except wire.FrameError:
                    msg = None
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
    """One warm zygote process, its control socket, and the channel to its current pair's harness."""

    def __init__(self, cfg: SandboxConfig, tier: str) -> None:
        self.tier = tier
        python = cfg.python or sys.executable
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # A per-run unprivileged uid even for "none": it costs nothing and keeps a root verifier from
        # running model code as root (kill(-1), fork bombs that ignore RLIMIT_NPROC).
        zconf = {"isolation": tier, "switch_uid": tier in ("namespaces", "none"),
                 "tmp_base": None if tier != "bwrap" else "/tmp", "inside_bwrap": tier == "bwrap"}
        if tier == "bwrap":
            python = os.path.realpath(python)  # inside bwrap only the real install is mounted
        cmd = [python, "-I", "-S", _BOX_DIR, str(theirs.fileno()), json.dumps(zconf)]
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
        self.chan: _Channel | None = None
        """Our end of the current pair's harness socket (None: no pair running)."""
        self.harness_pid: int | None = None
        self.cz_pids: list[int] = []
        """The current pair's candidate zygotes (the only parents of candidates), taken in turn."""
        self.pair_dir: str | None = None
        self.limit = cfg.limits()["max_value_bytes"] + (1 << 20)
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
        if fds:  # the new harness's socket comes with "started"
            self._drop_channel()
            self.chan = _Channel(fds[0], os.dup(fds[0]), self.limit)
        return msg

    def start(self, request: dict[str, Any]) -> None:
        """A fresh harness + candidate zygote pair (the old one, if any, is stopped first)."""
        reply = self.request({**request, "op": "start"}, 30.0)
        if reply.get("op") != "started" or self.chan is None:
            raise OSError(str(reply.get("msg", reply))[:1500])
        self.harness_pid, self.pair_dir = reply.get("harness"), reply.get("dir")
        self.cz_pids = [int(p) for p in reply.get("cz") or []]

    def stop(self) -> int:
        """Kill the pair and everything under it; returns the processes swept outside a PID namespace."""
        self._drop_channel()
        reply = self.request({"op": "stop"}, 10.0)
        if reply.get("op") != "stopped":
            raise OSError(str(reply.get("msg", reply))[:1500])
        return int(reply.get("leftovers") or 0)

    def _drop_channel(self) -> None:
        if self.chan is not None:
            self.chan.close()
            self.chan = None
        self.harness_pid = self.pair_dir = None
        self.cz_pids = []

    def request(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.sock.sendall(json.dumps(msg).encode())
        return self._recv(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, graceful: bool = False) -> None:
        """Stop the zygote. ``graceful``: close its socket first and give it a moment, so it
        stops its pair and removes the pair's directory itself (SIGKILL takes the pair down too,
        by their parent-death signal, but leaves that directory behind)."""
        self._drop_channel()
        if graceful:
            self.sock.close()
            try:
                self.proc.wait(timeout=2.0)
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
    binds = ["/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", prefix, os.path.dirname(_BOX_DIR)]
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
            z._drop_channel()
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


def probe_isolation(python: str = "", config: SandboxConfig | None = None) -> dict[str, Any]:
    """What this kernel provides for the namespaces tier (user/net/PID namespaces, Landlock ABI,
    seccomp), probed once per process by starting a namespaces-tier zygote. With ``config`` (of
    the same ``python``), that zygote is the one its sandbox would start next: when the tier is
    usable it goes to the idle pool instead of being thrown away (one start, not two)."""
    key = python or sys.executable
    if key not in _FEATURES:
        z = _ZygoteProc(config or SandboxConfig(isolation="none", python=python), "namespaces")
        _FEATURES[key] = dict(z.features)
        if config is not None and not _missing_for_namespaces(z.features):
            _POOL.put((config, "namespaces"), z)
        else:
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
        feats = probe_isolation(self.config.python, self.config)
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
            "ipcns": tier == "namespaces",
            "landlock_abi": feats.get("landlock_abi", 0) if tier != "none" else 0,
            "seccomp": tier != "none" and bool(feats.get("seccomp")),
            "read_paths": _read_paths(self.config),
        }

    def run(self, first: dict[str, Any], converse: Any) -> RunOutcome:
        """One run: ``first`` (plus this run's token, for assert mode) goes to the pair's harness,
        then ``converse(send, recv, token, outcome)`` talks to it. Every process the run started
        is killed when this returns (none runs another instruction; the kernel may still be
        tearing one down): the harness reports only after the candidate zygote has killed them,
        and on any anomaly the pair itself is stopped here."""
        t0 = time.monotonic()
        z = self._checkout()
        outcome = RunOutcome(messages=[], isolation=self.tier)
        token = secrets.token_hex(16)
        run_deadline = t0 + self.config.total_timeout
        healthy = True  # the zygote itself
        keep_pair = False
        try:
            msg = {**first, "op": "run"}
            if msg.get("mode") == "assert":
                msg["token"] = token
            raw = wire.pack(msg)
            for attempt in range(2):
                if z.chan is not None and not z.chan.idle_and_clean():
                    z.stop()  # it retired or died while idle
                if z.chan is None:
                    z.start(self._request(z))
                    outcome.fresh_pair = True
                chan = z.chan
                assert chan is not None
                outcome.harness_pid = z.harness_pid
                try:
                    chan.send_raw(raw, run_deadline)
                    break
                except _Eof:
                    z.stop()
                    if attempt:
                        raise
            try:
                converse(lambda m: chan.send(m, run_deadline), lambda d=None: chan.recv(
                    run_deadline if d is None else min(run_deadline, d)), token, outcome)
                last = outcome.messages[-1] if outcome.messages else {}
                keep_pair = not last.get("retire") and last.get("op") in ("results", "done") \
                    and chan.idle_and_clean()
            except _Timeout:
                outcome.timed_out = True
            except (_Eof, ValueError, OSError) as exc:
                outcome.died = str(exc) or type(exc).__name__
            for m in outcome.messages:
                outcome.restored += [str(x) for x in m.get("restored") or []]
                outcome.leftovers += int(m.get("leftovers") or 0)
                if m.get("candidate") is not None:
                    outcome.candidates.append(int(m["candidate"]))
            bad = [m.get("setup_error") or m.get("msg") for m in outcome.messages
                   if m.get("op") == "setup_error" or m.get("setup_error")]
            if bad:
                outcome.setup_error = str(bad[0])[:1500]
                keep_pair = False
            return outcome
        except (OSError, ValueError, _Eof, _Timeout) as exc:
            healthy = False
            outcome.setup_error = f"the sandbox process failed: {exc or type(exc).__name__}"
            return outcome
        finally:
            try:
                if healthy and not keep_pair and z.chan is not None:
                    outcome.leftovers += z.stop()
            except (_Eof, _Timeout, OSError, ValueError):
                healthy = False
            if healthy and z.alive():
                self._checkin(z)
            else:
                z.kill(graceful=healthy)
            outcome.elapsed_s = time.monotonic() - t0

    def run_tests(self, code: str, tests: str, entry_point: str | None) -> RunOutcome:
        """Assert-style or ``check(candidate)`` tests. The candidate was forked, by a process that
        never saw any of it, before the code, tests and token reached the harness; the results
        carry the token back."""

        def converse(send: Any, recv: Any, token: str, outcome: RunOutcome) -> None:
            msg = recv(time.monotonic() + self.config.timeout + 1.0)
            outcome.messages.append(msg)
            outcome.token_ok = msg.get("op") == "results" and secrets.compare_digest(
                str(msg.get("token")), token)

        return self.run({"mode": "assert", "code": code, "tests": tests, "entry_point": entry_point}, converse)

    def run_stdio(self, code: str, inputs: list[str], keep_going: Any) -> RunOutcome:
        """Run ``code`` once per stdin in ``inputs``, a fresh candidate each time;
        ``keep_going(case_msg) -> bool`` decides, in the verifier, whether to run the next case."""

        def converse(send: Any, recv: Any, token: str, outcome: RunOutcome) -> None:
            for _ in inputs:
                msg = recv(time.monotonic() + self.config.timeout + 2.0)
                outcome.messages.append(msg)
                if msg.get("op") != "case" or not keep_going(msg):
                    break
                send({"op": "next"})
            if outcome.messages and outcome.messages[-1].get("op") not in ("case",):
                return  # the harness already ended the run (a setup error)
            send({"op": "stop", "token": token})
            done = recv()
            outcome.messages.append(done)
            outcome.token_ok = done.get("op") == "done" and secrets.compare_digest(
                str(done.get("token")), token)

        return self.run({"mode": "stdio", "code": code, "inputs": inputs}, converse)
