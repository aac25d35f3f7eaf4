"""The lean warm sandbox process ("zygote") and everything that runs inside a sandboxed run.

Standard library only, and importable on its own: the zygote starts as
``python -I -S _zygote.py FD`` (isolated mode, no site-packages), so it never imports rlvr,
sympy or torch, and stays small (~17 MB) so forks stay cheap. The parent (``rlvr.sandbox.Sandbox``) also
imports this file for the wire format and the value codec.

Process tree of one run (``isolation="namespaces"``)::

    zygote Z        root or user-ns root; in an empty network namespace; child subreaper
     └─ harness H   pid 1 of a fresh PID namespace; random unprivileged uid; new user + IPC
        │           namespaces; rlimits; Landlock layer 1; seccomp; no capabilities;
        │           runs the *tests* (trusted) and talks to the verifier over a private socket
        └─ candidate C   forked by H *before* H receives code, tests or the token; Landlock
                         layer 2 (cannot signal or ptrace H); runs the *model's code*

Pre-forked spare. Z prepares each run's H *before* the run is asked for: it makes the run
directory, forks H into a fresh PID namespace, and H applies all of its isolation, forks its C
(which waits for its code) and warms up its hot path, then blocks on a socket. Z passes the
other end of that socket to the verifier (SCM_RIGHTS) and closes its own, so the verifier talks
to H directly and code, tests and tokens never pass through Z; a forked child of Z cannot find
them in inherited memory, and a spare holds nothing of any run until its own. When the verifier
starts a run on the spare it tells Z ("run"), which records that H as the current run and
forks the next spare while this run works. A spare serves exactly one run; it dies with Z
(parent-death signal) or when the verifier closes its socket. Killing H (pid 1) makes the
kernel kill every process left in its PID namespace; Z reaps H only after all of them are gone.

Wire format everywhere: 4-byte big-endian length + UTF-8 JSON object.
Values that cross from C to H use a tagged JSON codec of *plain data only* (``encode_value`` /
``decode_value``): exact builtin types, bounded depth and size; anything else stays in C and H
gets an opaque handle that refuses comparison and truth tests.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import errno
import importlib.machinery
import importlib.util
import json
import math
import os
import re
import resource
import select
import signal
import socket
import struct
import sys
import time
import traceback

# A few modules nearly every candidate imports. Kept short on purpose: fork and exit cost grows
# with the zygote's resident size (about 0.2 ms per MB, twice per check); everything else is
# imported lazily by the candidate, through ``_DirFdFinder`` when its uid cannot walk there.
# typing is here because importing it costs ~15 ms of CPU and HumanEval-style prompts use it.
_PRELOAD = ["typing", "math", "heapq", "bisect", "re", "string", "functools", "collections", "itertools", "operator", "copy"]

class _DirFdFinder:
    """Imports standard library modules through directory descriptors opened by the zygote.

    A run's random uid may not be allowed to walk the path to the standard library (a pyenv or
    conda Python under a home directory of mode 700); a lookup that starts at an open descriptor
    only checks the components below it. Pure-Python modules are read through the descriptor;
    extension modules are loaded by a relative path after a brief ``fchdir`` into lib-dynload.
    Landlock still confines reads to the standard library.
    """

    def __init__(self, dirfd: int, root: str, dyn_fd: int, dyn_root: str) -> None:
        self.dirfd, self.root, self.dyn_fd, self.dyn_root = dirfd, root, dyn_fd, dyn_root

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if self.dyn_fd >= 0 and "." not in name:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                try:
                    os.stat(name + suffix, dir_fd=self.dyn_fd)
                except OSError:
                    continue
                loader = _ExtLoader(self.dyn_fd, name + suffix)
                return importlib.util.spec_from_loader(name, loader, origin=os.path.join(self.dyn_root, name + suffix))
        if self.dirfd < 0:
            return None
        rel = name.replace(".", "/")
        for cand, is_pkg in ((rel + "/__init__.py", True), (rel + ".py", False)):
            try:
                fd = os.open(cand, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dirfd)
            except OSError:
                continue
            try:
                with os.fdopen(fd, "rb") as f:
                    source = f.read()
                    st = os.fstat(f.fileno())
            except OSError:
                return None
            origin = os.path.join(self.root, cand)
            code = self._cached_code(cand, st)
            spec = importlib.util.spec_from_loader(name, _SourceLoader(source, origin, code), origin=origin,
                                                   is_package=is_pkg)
            if spec is not None and is_pkg:
                spec.submodule_search_locations = [os.path.join(self.root, rel)]
            if spec is not None:
                spec.has_location = True
            return spec
        return None


    def _cached_code(self, source_rel: str, st: os.stat_result) -> object | None:
        """The compiled module from its ``__pycache__`` file when that matches the source
        (compiling typing.py from source costs tens of milliseconds)."""
        import marshal

        head, _, tail = source_rel.rpartition("/")
        pyc = (head + "/" if head else "") + "__pycache__/" + tail[:-3] + "." + sys.implementation.cache_tag + ".pyc"
        try:
            fd = os.open(pyc, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dirfd)
            with os.fdopen(fd, "rb") as f:
                data = f.read()
        except OSError:
            return None
        if (len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER or data[4:8] != b"\0\0\0\0"
                or int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF):
            return None
        try:
            return marshal.loads(data[16:])
        except (ValueError, EOFError, TypeError):
            return None


class _SourceLoader:
    def __init__(self, source: bytes, origin: str, code: object | None = None) -> None:
        self.source, self.origin, self.code = source, origin, code

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: object) -> None:
        module.__file__ = self.origin  # type: ignore[attr-defined]
        code = self.code or compile(self.source, self.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _ExtLoader:
    def __init__(self, dyn_fd: int, fname: str) -> None:
        self.dyn_fd, self.fname = dyn_fd, fname

    def create_module(self, spec: object) -> object:
        import _imp
        import types

        cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        os.fchdir(self.dyn_fd)
        try:
            rel = types.SimpleNamespace(name=spec.name, origin="./" + self.fname)  # type: ignore[attr-defined]
            return _imp.create_dynamic(rel)
        finally:
            os.fchdir(cwd)
            os.close(cwd)

    def exec_module(self, module: object) -> None:
        import _imp

        _imp.exec_dynamic(module)


_HEADER = struct.Struct("!I")
MAX_MESSAGE = 256 << 20

# -- Linux constants ---------------------------------------------------------------------------
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWCGROUP = 0x02000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
SYS_LANDLOCK_CREATE_RULESET = 444  # same number on every architecture (new syscall table)
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SetupError(Exception):
    """A sandbox feature could not be applied (the message names it)."""


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what} failed: {os.strerror(err)} (errno {err})")
    return ret


def _prctl(option: int, arg: int = 0, what: str = "prctl") -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


# -- framing -----------------------------------------------------------------------------------
_JSON = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps(sep=...) builds one per call


def pack(obj: object) -> bytes:
    data = _JSON.encode(obj).encode("utf-8", "surrogatepass")
    return _HEADER.pack(len(data)) + data


def write_msg(fd: int, obj: object) -> None:
    data = memoryview(pack(obj))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def read_exact(fd: int, n: int) -> bytes | None:
    """Exactly ``n`` bytes, or None on EOF. Never reads past them (the next message may be a
    secret that must not be in memory yet when this process forks)."""
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_msg(fd: int, limit: int = MAX_MESSAGE) -> object | None:
    head = read_exact(fd, _HEADER.size)
    if head is None:
        return None
    (n,) = _HEADER.unpack(head)
    if n > limit:
        raise ValueError(f"message of {n} bytes is over the {limit}-byte limit")
    body = read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body.decode("utf-8", "surrogatepass"))


# -- plain-data codec ----------------------------------------------------------------------------
# JSON arrays are always tagged containers: ["L", ...] list, ["T", ...] tuple, ["S", ...] set,
# ["F", ...] frozenset, ["D", [k, v], ...] dict, ["B", latin1] bytes, ["C", re, im] complex,
# ["I", "digits"] huge int, ["H", id, type, callable] handle. Scalars are JSON scalars.
MAX_DEPTH = 60
MAX_ITEMS = 2_000_000
_BIG_INT_BITS = 4000


class Unserialisable(Exception):
    """A value is not plain data (or is too large or deep to send)."""


_SCALARS = (type(None), bool, str, float)
_TAGS = {list: "L", tuple: "T", set: "S", frozenset: "F"}


def _enc(v: object, depth: int, budget: list[int]) -> object:
    t = type(v)  # exact types only: a subclass may override __eq__
    if t in _SCALARS:
        return v
    if t is int:
        return v if v.bit_length() <= _BIG_INT_BITS else ["I", hex(v)]
    budget[0] -= 1
    if budget[0] < 0:
        raise Unserialisable("value has too many items")
    if depth > MAX_DEPTH:
        raise Unserialisable("value is nested too deeply")
    tag = _TAGS.get(t)
    if tag is not None:
        budget[0] -= len(v)  # type: ignore[arg-type]
        return [tag, *[_enc(x, depth + 1, budget) for x in v]]  # type: ignore[attr-defined]
    if t is dict:
        budget[0] -= len(v)  # type: ignore[arg-type]
        return ["D", *[[_enc(k, depth + 1, budget), _enc(x, depth + 1, budget)] for k, x in v.items()]]  # type: ignore[attr-defined]
    if t is bytes or t is bytearray:
        return ["B" if t is bytes else "A", bytes(v).decode("latin-1")]  # type: ignore[call-overload]
    if t is complex:
        return ["C", v.real, v.imag]  # type: ignore[attr-defined]
    raise Unserialisable(f"a {t.__name__} object is not plain data")


def encode_value(value: object, handle=None) -> object:
    """Plain data to tagged JSON. ``handle(obj)`` turns a non-plain top-level value into a handle
    reference; nested non-plain values are never sent (they raise Unserialisable)."""
    t = type(value)
    if t in _SCALARS or (t is int and value.bit_length() <= _BIG_INT_BITS):  # type: ignore[attr-defined]
        return value  # the common case, without the recursion machinery
    if handle is not None:
        try:
            return _enc(value, 0, [MAX_ITEMS])
        except Unserialisable:
            return handle(value)
    return _enc(value, 0, [MAX_ITEMS])


def _dec(x: object, depth: int, make_handle) -> object:
    t = type(x)
    if t in _SCALARS or t is int:
        return x
    if depth > MAX_DEPTH + 2:
        raise ValueError("value nested too deeply")
    if t is not list or not x or type(x[0]) is not str:  # type: ignore[index]
        raise ValueError("malformed value")
    tag, rest = x[0], x[1:]  # type: ignore[index]
    if tag == "L":
        return [_dec(i, depth + 1, None) for i in rest]
    if tag == "T":
        return tuple(_dec(i, depth + 1, None) for i in rest)
    if tag in ("S", "F"):
        items = [_dec(i, depth + 1, None) for i in rest]
        return set(items) if tag == "S" else frozenset(items)
    if tag == "D":
        out = {}
        for pair in rest:
            if type(pair) is not list or len(pair) != 2:
                raise ValueError("malformed dict item")
            out[_dec(pair[0], depth + 1, None)] = _dec(pair[1], depth + 1, None)
        return out
    if tag in ("B", "A") and len(rest) == 1 and type(rest[0]) is str:
        raw = rest[0].encode("latin-1")
        return raw if tag == "B" else bytearray(raw)
    if tag == "C" and len(rest) == 2:
        return complex(float(rest[0]), float(rest[1]))
    if tag == "I" and len(rest) == 1 and type(rest[0]) is str:
        return int(rest[0], 16)
    if tag == "H" and make_handle is not None and depth == 0 and len(rest) == 3:
        return make_handle(int(rest[0]), str(rest[1])[:100], bool(rest[2]))
    raise ValueError(f"unknown value tag {tag!r}")


def decode_value(data: object, make_handle=None) -> object:
    """Tagged JSON back to plain data; strict: anything unexpected raises ValueError."""
    t = type(data)
    if t in _SCALARS or t is int:
        return data
    try:
        return _dec(data, 0, make_handle)
    except RecursionError:
        raise ValueError("value nested too deeply") from None


def short_repr(value: object, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - plain data always has a repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- isolation primitives ------------------------------------------------------------------------
def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    ret = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(0, int(ret))


_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_WRITE_FILE = 1 << 1
_FS_TRUNCATE = 1 << 14
_FS_IOCTL_DEV = 1 << 15


def _fs_all(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _ruleset(abi: int, fs: int, net: int, scoped: int) -> int:
    attr = _RulesetAttr(fs, net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    return _check(int(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                                    ctypes.c_size_t(size), ctypes.c_uint32(0))),
                  "landlock_create_ruleset")


def open_rule_paths(read_paths: list[str], write_paths: list[str]) -> list[tuple[int, bool, bool]]:
    """O_PATH descriptors for the Landlock rules, as (fd, writable, is_dir). Opened before the
    uid switch: the new uid may not be able to walk to them (a Python under /root)."""
    out = []
    for paths, writable in ((read_paths, False), (write_paths, True)):
        for path in paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a missing optional path (/lib64 on some systems) is fine
            out.append((fd, writable, os.path.isdir(path)))
    return out


def apply_landlock(abi: int, rules: list[tuple[int, bool, bool]]) -> None:
    """Layer 1: read only the read rules, write only beneath the write rules; no TCP; no signals
    or abstract unix sockets out of the domain (ABI 6+). Execution is denied everywhere."""
    handled = _fs_all(abi)
    net = 3 if abi >= 4 else 0  # BIND_TCP | CONNECT_TCP, with no rule allowing any port
    scoped = 3 if abi >= 6 else 0  # ABSTRACT_UNIX_SOCKET | SIGNAL
    fd = _ruleset(abi, handled, net, scoped)
    try:
        file_only = _FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV | 1
        for pfd, writable, is_dir in rules:
            allowed = (handled & ~1) if writable else (_FS_READ_FILE | _FS_READ_DIR)
            allowed &= handled
            if not is_dir:
                allowed &= file_only
            rule = _PathBeneath(allowed, pfd)
            _check(int(_libc.syscall(SYS_LANDLOCK_ADD_RULE, fd, LANDLOCK_RULE_PATH_BENEATH,
                                     ctypes.byref(rule), 0)), "landlock_add_rule")
        _check(int(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0)), "landlock_restrict_self")
    finally:
        os.close(fd)
        for pfd, _, _ in rules:
            os.close(pfd)


def apply_landlock_layer2(abi: int) -> None:
    """Layer 2 (candidate only): a nested domain, so the candidate cannot ptrace, read the
    memory of, or (ABI 6+) signal the harness, which sits in the outer domain."""
    # ABI 6+: scope signals and abstract sockets. Older: handle MAKE_BLOCK and allow none
    # (harmless; it only makes the nested domain).
    fd = _ruleset(abi, 0, 0, 3) if abi >= 6 else _ruleset(abi, 1 << 11, 0, 0)
    try:
        _check(int(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0)), "landlock_restrict_self")
    finally:
        os.close(fd)


# seccomp: x86_64 syscall numbers (the only table built in; other architectures report seccomp
# as unavailable rather than guess).
AUDIT_ARCH_X86_64 = 0xC000003E
_X86_64_DENY = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165, "umount2": 166,
    "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "kexec_load": 246,
    "kexec_file_load": 320, "bpf": 321, "perf_event_open": 298, "keyctl": 250, "add_key": 248,
    "request_key": 249, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "swapon": 167, "swapoff": 168, "reboot": 169, "execve": 59, "execveat": 322, "connect": 42,
    "pidfd_getfd": 438, "open_by_handle_at": 304, "name_to_handle_at": 303, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "acct": 163, "settimeofday": 164, "clock_settime": 227, "adjtimex": 159,
    "clock_adjtime": 305, "syslog": 103, "kcmp": 312, "personality": 135, "iopl": 172, "ioperm": 173,
    "quotactl": 179, "vhangup": 153, "lookup_dcookie": 212, "mbind": 237,
    "migrate_pages": 256, "move_pages": 279, "set_mempolicy": 238, "memfd_secret": 447,
    "pidfd_open": 434, "seccomp": 317, "ioprio_set": 251,
}
_X86_SOCKET, _X86_SOCKETPAIR, _X86_CLONE = 41, 53, 56
_NS_FLAGS = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWCGROUP


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_supported() -> bool:
    return os.uname().machine == "x86_64"


def seccomp_program(exempt: tuple[str, ...] = ()) -> list[tuple[int, int, int, int]]:
    """The BPF program, as (code, jt, jf, k). Denied calls fail with EPERM (a clean Python
    error, not a kill); socket()/socketpair() only for AF_UNIX SOCK_STREAM; clone() may not
    create namespaces; the x32 ABI and foreign architectures are killed."""
    LD, JEQ, JSET, RET, AND = 0x20, 0x15, 0x45, 0x06, 0x54
    JGE = 0x35
    ALLOW, KILL = 0x7FFF0000, 0x80000000
    EPERM = 0x00050000 | errno.EPERM
    prog: list[tuple[int, int, int, int]] = [
        (LD, 0, 0, 4),  # arch
        (JEQ, 1, 0, AUDIT_ARCH_X86_64),
        (RET, 0, 0, KILL),
        (LD, 0, 0, 0),  # nr
        (JGE, 0, 1, 0x40000000),  # x32 syscalls
        (RET, 0, 0, KILL),
    ]
    for name, nr in sorted(_X86_64_DENY.items()):
        if name in exempt:
            continue
        prog += [(JEQ, 0, 1, nr), (RET, 0, 0, EPERM)]
    # clone3 passes its flags in memory BPF cannot read: answer ENOSYS so libc falls back to clone.
    prog += [(JEQ, 0, 1, 435), (RET, 0, 0, 0x00050000 | errno.ENOSYS)]
    # socket / socketpair: args[0] (domain) == AF_UNIX and (args[1] & 0xf) == SOCK_STREAM
    for nr in (_X86_SOCKET, _X86_SOCKETPAIR):
        prog += [
            (JEQ, 0, 7, nr),
            (LD, 0, 0, 16),  # args[0] low 32 bits
            (JEQ, 0, 4, socket.AF_UNIX),
            (LD, 0, 0, 24),  # args[1] low 32 bits
            (AND, 0, 0, 0xF),
            (JEQ, 0, 1, socket.SOCK_STREAM),
            (RET, 0, 0, ALLOW),
            (RET, 0, 0, EPERM),
        ]
    # clone(flags, ...): no namespace flags (args[0] low word on x86_64)
    prog += [
        (JEQ, 0, 4, _X86_CLONE),
        (LD, 0, 0, 16),
        (JSET, 0, 1, _NS_FLAGS),
        (RET, 0, 0, EPERM),
        (RET, 0, 0, ALLOW),
        (RET, 0, 0, ALLOW),
    ]
    return prog


_PROGRAMS: dict[tuple[str, ...], tuple[object, object]] = {}


def apply_seccomp(exempt: tuple[str, ...] = ()) -> None:
    # Built once per zygote (ctypes array types are slow to create), reused by every run.
    if exempt not in _PROGRAMS:
        prog = seccomp_program(exempt)
        arr = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
        _PROGRAMS[exempt] = (arr, _SockFprog(len(prog), arr))
    fprog = _PROGRAMS[exempt][1]
    _prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl(NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp filter")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def unshare(flags: int, what: str) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({what})")


def set_rlimits(limits: dict) -> None:
    def lim(res: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        cur_soft, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(res, (soft, hard))

    cpu = int(math.ceil(limits["cpu_s"]))
    lim(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU first, SIGKILL a second later
    lim(resource.RLIMIT_AS, limits["memory_bytes"])
    lim(resource.RLIMIT_FSIZE, limits["file_bytes"])
    lim(resource.RLIMIT_NOFILE, limits["open_files"])
    lim(resource.RLIMIT_NPROC, limits["processes"])
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_MEMLOCK, 0)
    lim(resource.RLIMIT_MSGQUEUE, 0)


# -- the zygote ------------------------------------------------------------------------------
def _map_self_to_root() -> None:
    """After unshare(CLONE_NEWUSER) as a non-root user: become root of the new namespace."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER, "CLONE_NEWUSER")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def probe(config: dict) -> dict:
    """What this kernel provides: try every feature in a throwaway child."""
    feats: dict[str, object] = {"landlock_abi": landlock_abi(), "seccomp": False, "userns": False,
                                "pidns": False, "netns": config.get("netns", False),
                                "arch": os.uname().machine, "kernel": os.uname().release,
                                "root": os.geteuid() == 0 and not config.get("mapped_root"), "errors": {}}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        out: dict[str, object] = {}
        try:
            unshare(CLONE_NEWPID, "CLONE_NEWPID")
            out["pidns"] = True
        except SetupError as exc:
            out["pidns_error"] = str(exc)
        try:
            if os.geteuid() == 0 and not config.get("mapped_root"):
                os.setgroups([])
                probe_uid = 1_000_000 + os.getpid()
                os.setresgid(probe_uid, probe_uid, probe_uid)
                os.setresuid(probe_uid, probe_uid, probe_uid)
            unshare(CLONE_NEWUSER | CLONE_NEWIPC, "CLONE_NEWUSER|CLONE_NEWIPC")
            out["userns"] = True
        except (SetupError, OSError) as exc:
            out["userns_error"] = str(exc)
        if seccomp_supported():
            try:
                apply_seccomp()
                out["seccomp"] = True
            except SetupError as exc:
                out["seccomp_error"] = str(exc)
        else:
            out["seccomp_error"] = f"no seccomp syscall table for {os.uname().machine}"
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    res = json.loads(data or b"{}")
    for key in ("pidns", "userns", "seccomp"):
        feats[key] = bool(res.get(key))
        if f"{key}_error" in res:
            feats["errors"][key] = res[f"{key}_error"]  # type: ignore[index]
    return feats


class _Spare:
    """A harness prepared ahead of its request: isolation applied, candidate forked, run dir
    made. It holds no secret (nothing of a run reaches it before its own) and serves exactly
    one run."""

    __slots__ = ("pid", "sock", "rundir", "uid")

    def __init__(self, pid: int, sock: socket.socket | None, rundir: str, uid: int | None) -> None:
        self.pid, self.sock, self.rundir, self.uid = pid, sock, rundir, uid


class Zygote:
    def __init__(self, sock: socket.socket, config: dict) -> None:
        self.sock = sock
        self.config = config
        self.harness_pid: int | None = None
        self.rundir: str | None = None
        self.pidns_fd: int | None = None
        self.spare: _Spare | None = None
        self.template: dict = {}
        self.broken = False

    def setup(self) -> dict:
        for name in _PRELOAD:
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
        if seccomp_supported():
            prog = seccomp_program()
            arr = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
            _PROGRAMS[()] = (arr, _SockFprog(len(prog), arr))
        # Forked children share our pages copy-on-write; a garbage collection there would write
        # to every object header and copy them all. Frozen objects are never traversed.
        import gc

        gc.collect()
        gc.freeze()
        try:  # hand free heap pages back: fewer page-table entries for every fork to copy
            _libc.malloc_trim(0)
        except AttributeError:  # pragma: no cover - not glibc
            pass
        # No parent-death signal here: it would fire when the *thread* that started us exits
        # (a thread pool), not the process. The control socket's EOF is our parent's death.
        _prctl(PR_SET_CHILD_SUBREAPER, 1, what="prctl(CHILD_SUBREAPER)")
        errors: dict[str, str] = {}
        netns = False
        if self.config.get("inside_bwrap"):
            # bwrap already gave us user, network, PID, IPC and mount namespaces; nested user
            # namespaces are not allowed in its chroot, so runs share these and are cleaned up by
            # process-group kills plus the subreaper sweep.
            netns = True
            self.config["mapped_root"] = True
        elif self.config["isolation"] != "none":
            try:
                if os.geteuid() != 0:
                    _map_self_to_root()
                    self.config["mapped_root"] = True
                unshare(CLONE_NEWNET, "CLONE_NEWNET")
                netns = True
            except (SetupError, OSError) as exc:
                errors["netns"] = str(exc)
            try:
                self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                errors["pidns"] = str(exc)
        self.config["netns"] = netns
        feats = probe(self.config) if self.config["isolation"] != "none" else {"landlock_abi": 0}
        feats["netns"] = netns
        if self.config.get("inside_bwrap"):
            feats["bwrap"] = True
            feats["pidns"] = False  # no per-run PID namespace: see above
        feats.setdefault("errors", {}).update(errors)  # type: ignore[union-attr]
        self.features = feats
        return feats

    def serve(self) -> None:
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 8)
            except (ConnectionError, OSError):
                msg, fds = b"", []
            if not msg:  # the verifier is gone: take the current run and the spare down with us
                self._finish()
                self._drop_spare()
                return
            req = json.loads(msg)
            op = req.get("op")
            if op == "prepare":
                for fd in fds:
                    os.close(fd)
                self._prepare(req)
            elif op == "run":
                for fd in fds:
                    os.close(fd)
                self._start()
            elif op == "finish":
                for fd in fds:
                    os.close(fd)
                self.sock.sendall(json.dumps(self._finish()).encode())
                if self.broken:
                    self._drop_spare()
                    return
            else:
                for fd in fds:
                    os.close(fd)
                self.sock.sendall(json.dumps({"op": "error", "msg": f"unknown op {op!r}"}).encode())

    def _make_spare(self, req: dict) -> _Spare:
        """Fork a harness that sets itself up and forks its candidate, then waits for a run."""
        # A fresh unprivileged uid per run when we are real root: RLIMIT_NPROC then counts this
        # run alone, and no run can signal or read another's processes or files. (os.urandom, not
        # secrets/tempfile: those would pull OpenSSL into the zygote and slow every fork.)
        uid = None
        if self.config.get("switch_uid") and os.geteuid() == 0 and not self.config.get("mapped_root"):
            uid = 1_000_000 + int.from_bytes(os.urandom(4), "little") % (1 << 30)
        base = self.config.get("tmp_base") or os.environ.get("TMPDIR") or "/tmp"
        rundir = os.path.join(base, "rlvr-run-" + os.urandom(8).hex())
        use_pidns = self.pidns_fd is not None and bool(self.features.get("pidns"))
        read_rules = self._read_rules(req) if req.get("landlock_abi") else []
        ours, theirs = socket.socketpair()
        unshared = False
        try:
            os.mkdir(rundir, 0o700)
            if uid is not None:
                os.chown(rundir, uid, uid)
            if use_pidns:
                unshare(CLONE_NEWPID, "CLONE_NEWPID")
                unshared = True
            pid = os.fork()
        except BaseException:
            ours.close()
            theirs.close()
            try:
                os.rmdir(rundir)
            except OSError:
                pass
            raise
        if pid == 0:  # pragma: no cover - runs in the child
            code = 70
            try:
                self.sock.detach()
                ours.detach()
                if self.spare is not None and self.spare.sock is not None:
                    self.spare.sock.detach()
                req = dict(req, uid=uid)
                req["stdlib_fds"], req["stdlib_paths"] = self.stdlib_fds, [self.stdlib, self.dynload]
                req["read_rules"] = read_rules
                code = harness_main(theirs.detach(), rundir, req)
            except BaseException:
                code = 70
            os._exit(code)
        theirs.close()
        if unshared and _libc.setns(self.pidns_fd, CLONE_NEWPID) != 0:
            # Later forks would land in this run's namespace: finish this run, then exit (the
            # verifier starts a fresh zygote).
            self.broken = True
        return _Spare(pid, ours, rundir, uid)

    def _read_rules(self, req: dict) -> list[tuple[int, bool, bool]]:
        """Landlock read rules as O_PATH descriptors, opened once per zygote (each run inherits
        them and closes its copies after use) instead of a dozen path walks per run."""
        paths = tuple([*req["read_paths"], *[p for p in (self.stdlib, self.dynload) if p]])
        cached = getattr(self, "_rules_cache", None)
        if cached is None or cached[0] != paths:
            if cached is not None:
                for fd, _, _ in cached[1]:
                    os.close(fd)
            self._rules_cache = (paths, open_rule_paths(list(paths), []))
        return self._rules_cache[1]

    def _drop_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is None:
            return
        if spare.sock is not None:
            spare.sock.close()
        for kill in (os.killpg, os.kill):
            try:
                kill(spare.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.waitpid(spare.pid, 0)
        except ChildProcessError:
            pass
        _remove_rundir(spare.rundir)

    def _prepare(self, req: dict) -> None:
        """Make a spare for runs like ``req`` (limits, isolation; the same for every run of one
        zygote) and hand the verifier its end of the spare's socket."""
        self._drop_spare()
        self.template = req
        try:
            self.spare = self._make_spare(req)
        except (SetupError, OSError) as exc:
            self.sock.sendall(json.dumps({"op": "error", "msg": f"cannot start the run: {exc}"}).encode())
            return
        self._send_spare({"op": "prepared"})

    def _send_spare(self, reply: dict) -> None:
        """Reply, passing the verifier the current spare's socket (ours is closed: from now on
        only the verifier can talk to that harness)."""
        spare = self.spare
        reply["spare"] = spare.pid if spare else None
        data = [json.dumps(reply).encode()]
        if spare is not None and spare.sock is not None:
            socket.send_fds(self.sock, data, [spare.sock.fileno()])
            spare.sock.close()
            spare.sock = None
        else:
            self.sock.sendall(data[0])

    def _start(self) -> None:
        """The verifier has started talking to the spare (directly: the run's code, tests and
        token never pass through here). It is now this run's harness; prepare the next one."""
        spare, self.spare = self.spare, None
        if spare is None:
            self.sock.sendall(json.dumps({"op": "error", "msg": "no prepared harness"}).encode())
            return
        self.harness_pid, self.rundir = spare.pid, spare.rundir
        if not self.broken:
            try:  # the next run's harness, prepared while this run works
                self.spare = self._make_spare(self.template)
            except (SetupError, OSError):
                self.spare = None
        self._send_spare({"op": "started", "pid": spare.pid, "uid": spare.uid})

    def _finish(self) -> dict:
        status = None
        pid = self.harness_pid
        if pid is not None:
            for kill in (os.killpg, os.kill):  # pid 1 of its namespace: the kernel kills the rest
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            _, status = os.waitpid(pid, 0)
        self.harness_pid = None
        leftovers = self._reap_all()
        if self.rundir:
            _remove_rundir(self.rundir)
            self.rundir = None
        return {"op": "finished", "status": status, "leftovers": leftovers,
                "spare": self.spare.pid if self.spare else None}  # None: the verifier drops its socket

    def _reap_all(self) -> int:
        """Kill and reap every process that ended up under us (the subreaper): descendants that
        escaped their process group when no PID namespace held them. Returns how many there were.
        The spare is left alone. With per-run PID namespaces nothing can end up here (no process
        leaves its namespace, and a namespace dies with its pid 1), so only the cheap check runs."""
        spare = self.spare.pid if self.spare else None
        count = 0
        use_pidns = self.pidns_fd is not None and bool(self.features.get("pidns"))
        for _ in range(1000):
            kids: list[int] = []
            if not use_pidns:
                try:
                    with open(f"/proc/self/task/{os.getpid()}/children") as f:
                        kids = [int(p) for p in f.read().split() if int(p) != spare]
                except OSError:
                    kids = []
            for kid in kids:
                try:
                    os.kill(kid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                # P_ALL would reap a dead spare behind our back; wait for the listed ones, then
                # poll the rest without blocking.
                if kids:
                    pid, _ = os.waitpid(kids[0], 0)
                else:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                if kids:
                    continue
                return count
            if pid == 0 and not kids:
                return count
            if pid == spare and self.spare is not None:  # it died idle: forget it
                if self.spare.sock is not None:
                    self.spare.sock.close()
                _remove_rundir(self.spare.rundir)
                self.spare = None
                spare = None
                continue
            count += 1
        return count  # pragma: no cover


def _remove_rundir(path: str) -> None:
    try:
        os.rmdir(path)  # the common case: the run wrote nothing
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def zygote_main(argv: list[str]) -> None:  # pragma: no cover - runs as its own process
    fd = int(argv[1])
    config = json.loads(argv[2])
    sock = socket.socket(fileno=fd)
    z = Zygote(sock, config)
    feats = z.setup()
    sock.sendall(json.dumps({"op": "ready", "features": feats, "pid": os.getpid()}).encode())
    z.serve()


# -- inside a run: the harness (H) -------------------------------------------------------------
def _close_other_fds(keep: set[int]) -> None:
    """Close every descriptor above 2 except ``keep`` (close_range: a few syscalls, no /proc)."""
    lo = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > lo:
            os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 20)


def _devnull_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def harness_main(ctl: int, rundir: str, req: dict) -> int:
    """One run's harness: set up the sandbox and fork the candidate (the *spare* state, holding
    no secret), then wait on ``ctl``, a socket the zygote hands to the verifier, for the run's
    messages, and run the tests. Returns the exit code."""
    setup_error = None
    h = None
    try:
        h = _setup_harness(ctl, rundir, req)
    except BaseException:
        setup_error = traceback.format_exc(limit=4)[-1500:]
    if h is None:
        if read_msg(ctl) is not None:
            write_msg(ctl, {"op": "setup_error", "msg": setup_error})
        return 70
    h.to_h = h.from_h = ctl
    h.run()
    return 0


def _setup_harness(ctl: int, rundir: str, req: dict) -> Harness:
    os.setsid()
    lib_fds = [int(x) for x in req.get("stdlib_fds", [])]
    read_rules = [(int(fd), False, bool(is_dir)) for fd, _, is_dir in req.get("read_rules", [])]
    _close_other_fds({ctl, *lib_fds, *[fd for fd, _, _ in read_rules]})
    _devnull_stdio()
    iso = req["isolation"]
    uid = req.get("uid")
    abi = int(req.get("landlock_abi") or 0)
    rules = [*read_rules, *open_rule_paths([], [rundir, "/dev/null"])] if abi else []
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if lib_fds and max(lib_fds) >= 0:
            paths = req["stdlib_paths"]
            sys.meta_path.insert(0, _DirFdFinder(lib_fds[0], paths[0], lib_fds[1], paths[1]))
    # Set after the uid change (which clears it); the zygote dying now kills this run too.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, what="prctl(PDEATHSIG)")
    if os.getppid() == 1:  # the zygote died before the line above took effect
        os._exit(0)
    if req.get("userns"):
        unshare(CLONE_NEWUSER | CLONE_NEWIPC, "CLONE_NEWUSER|CLONE_NEWIPC")
    os.chdir(rundir)
    set_rlimits(req["limits"])
    if abi:
        apply_landlock(abi, rules)
    if req.get("seccomp"):
        apply_seccomp()
    if iso != "none":
        try:
            drop_capabilities()
        except SetupError:
            pass
        _prctl(PR_SET_DUMPABLE, 0, what="prctl(DUMPABLE)")
    # Init of a PID namespace: signals from inside it are dropped unless handled. Keep it so.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    h = Harness(ctl, rundir, req, abi)
    h.keep = {fd for fd in lib_fds if fd >= 0}
    h.prefork()
    try:
        _warm_up_harness()
    except Exception:  # pragma: no cover - only a speed-up
        pass
    return h


def _warm_up_harness() -> None:
    """Run the hot path once on a dummy test while idle: its first use in a fresh process
    faults in (copies) the pages it touches, which would otherwise land on the next check."""
    tree = _AssertRewriter("def check(c):\n    assert c(1) == [2]\n    assert c\n").visit(
        ast.parse("def check(c):\n    assert c(1) == [2]\n    assert c\n"))
    for stmt in tree.body:
        compile(ast.Module([stmt], []), "tests.py", "exec")
    rec = _Recorder()
    rec.eq(1, [2], [2], "x")
    rec.truth(2, True, "y")
    pack({"op": "results", "tests": [{"test": 1}], "records": rec.records})
    decode_value(json.loads(_JSON.encode(encode_value({"a": (1, 2.0, [None])}))))
    _describe(AssertionError("x"))


class CandidateDied(Exception):
    """The candidate process exited or sent garbage during a call."""


class CandidateRaised(Exception):
    """The candidate raised an exception that is not a standard builtin error."""


_MIRRORED = {
    cls.__name__: cls
    for cls in (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, AttributeError,
                RuntimeError, NotImplementedError, OverflowError, RecursionError, ArithmeticError,
                LookupError, UnicodeError, FileNotFoundError, OSError, MemoryError)
}


class Harness:
    """Runs in H: talks to the verifier (to_h/from_h) and to the candidate (an RPC socket)."""

    def __init__(self, ctl: int, rundir: str, req: dict, abi: int) -> None:
        self.ctl, self.rundir, self.req, self.abi = ctl, rundir, req, abi
        self.to_h = self.from_h = -1  # the verifier's socket (both ways), set when the run starts
        self.limits = req["limits"]
        self.keep: set[int] = set()
        self.cand_pid = 0
        self.cand_sock: socket.socket | None = None

    def prefork(self) -> None:
        """Fork the candidate now, before this process holds code, tests or the token: it
        waits for its code on the RPC socket (assert mode; stdio mode discards it)."""
        parent_sock, child_sock = socket.socketpair()
        pid = self._fork_candidate({child_sock.fileno()}, None)
        if pid == 0:  # pragma: no cover - candidate process
            try:
                parent_sock.detach()  # its descriptor is already closed
                _candidate_main(child_sock)
            finally:
                os._exit(0)
        child_sock.close()
        self.cand_pid, self.cand_sock = pid, parent_sock

    def run(self) -> None:
        first = read_msg(self.to_h)
        if not isinstance(first, dict):
            return
        if first.get("mode") == "stdio":
            self._discard_candidate()
            self.run_stdio(first)
        else:
            self.run_assert(first)

    def _discard_candidate(self) -> None:
        if self.cand_pid:
            try:
                os.kill(self.cand_pid, signal.SIGKILL)
                os.waitpid(self.cand_pid, 0)
            except OSError:
                pass
            self.cand_pid = 0
        if self.cand_sock is not None:
            self.cand_sock.close()
            self.cand_sock = None

    # ---- candidate processes ----
    def _fork_candidate(self, keep: set[int], stdio: tuple[int, int, int] | None) -> int:
        pid = os.fork()
        if pid:
            return pid
        # In the candidate: nothing of the harness's may remain reachable.
        code = 71
        try:
            for fd in {self.ctl, self.to_h, self.from_h}:
                if fd >= 0 and fd not in keep and not (stdio and fd in stdio):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            _close_other_fds(keep | self.keep | (set(stdio) if stdio else set()))
            if stdio:
                for i, fd in enumerate(stdio):
                    os.dup2(fd, i)
                for fd in set(stdio):
                    if fd > 2:
                        os.close(fd)
            if self.abi:
                apply_landlock_layer2(self.abi)
            code = 0
        except BaseException:
            try:  # fd 2 is the run's stderr capture in stdio mode
                os.write(2, traceback.format_exc(limit=3).encode()[-1000:])
            finally:
                os._exit(code)
        return 0

    def run_assert(self, first: dict) -> None:
        code = first.get("code", "")
        sock, pid = self.cand_sock, self.cand_pid
        assert sock is not None
        try:
            _send_sock(sock, {"op": "code", "code": code if isinstance(code, str) else ""})
        except OSError:
            pass  # it died; the tests report that
        # Only now, with the candidate long forked, do the tests and the token enter this process.
        second = read_msg(self.to_h)
        if not isinstance(second, dict):
            return
        rpc = _Rpc(sock, self.limits["max_value_bytes"])
        report = run_tests(rpc, second.get("tests", ""), second.get("entry_point"))
        report["op"] = "results"
        report["token"] = second.get("token")  # written only after the last test
        _kill_run(pid)
        write_msg(self.from_h, report)

    def run_stdio(self, first: dict) -> None:
        code = first.get("code", "")
        inputs = first.get("inputs", [])
        cap = int(self.limits["max_output_bytes"])
        timeout = float(self.limits["timeout_s"])
        for i, stdin_text in enumerate(inputs):
            result = self._run_program(code, stdin_text, cap, timeout)
            result["op"] = "case"
            result["index"] = i
            write_msg(self.from_h, result)
            cmd = read_msg(self.to_h)
            if not isinstance(cmd, dict) or cmd.get("op") != "next":
                token = cmd.get("token") if isinstance(cmd, dict) else None
                _kill_run(None)
                write_msg(self.from_h, {"op": "done", "token": token, "cases": i + 1})
                return
        cmd = read_msg(self.to_h)
        token = cmd.get("token") if isinstance(cmd, dict) else None
        _kill_run(None)
        write_msg(self.from_h, {"op": "done", "token": token, "cases": len(inputs)})

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
        pid = self._fork_candidate(set(), (inp, out_w, err))
        if pid == 0:  # pragma: no cover - candidate process
            os._exit(_run_script(code))
        os.close(out_w)
        os.close(inp)
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
        if timed_out or truncated:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        elapsed = time.monotonic() - start
        os.close(out_r)
        os.lseek(err, max(0, os.fstat(err).st_size - 2000), 0)
        err_tail = os.read(err, 2000)
        os.close(err)
        exit_code = os.waitstatus_to_exitcode(status)
        return {
            "stdout": b"".join(chunks).decode("latin-1"),
            "stderr_tail": err_tail.decode("utf-8", "replace"),
            "exit_code": exit_code,
            "timed_out": timed_out,
            "truncated": truncated,
            "elapsed_s": round(elapsed, 4),
        }


def _kill_run(candidate: int | None) -> None:
    """Kill and reap what the run started, before reporting. As pid 1 of the run's own PID
    namespace, kill(-1) reaches exactly the run's processes; reaping them here is far quicker
    than leaving them to the kernel's namespace teardown. Outside a PID namespace (tiers none
    and bwrap) kill(-1) would reach far more, so only the candidate is killed; the zygote
    sweeps the rest."""
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except OSError:  # pragma: no cover
                return
    if candidate:
        try:
            os.kill(candidate, signal.SIGKILL)
            os.waitpid(candidate, 0)
        except OSError:
            pass


def _run_script(code: str) -> int:
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


# ---- RPC between harness and candidate ----
def _send_sock(sock: socket.socket, obj: object) -> None:
    sock.sendall(pack(obj))


_RECV_BUFS: dict[int, bytearray] = {}  # per socket fd: bytes received past the last message


def _recv_sock(sock: socket.socket, limit: int) -> object:
    """One message; usually one recv() call (header and body arrive together)."""
    buf = _RECV_BUFS.setdefault(sock.fileno(), bytearray())
    need = _HEADER.size
    while True:
        if len(buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(buf)
            if n > limit:
                raise CandidateDied(f"the candidate sent a {n}-byte value, over the {limit}-byte limit")
            need = _HEADER.size + n
            if len(buf) >= need:
                body = bytes(buf[_HEADER.size:need])
                del buf[:need]
                break
        chunk = sock.recv(max(1 << 16, min(need - len(buf), 1 << 22)))
        if not chunk:
            raise CandidateDied("the candidate process exited")
        buf += chunk
    try:
        return json.loads(body.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        raise CandidateDied("the candidate sent a malformed message") from None


class _Rpc:
    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock, self.limit, self.seq = sock, limit, 0

    def request(self, op: str, **kw: object) -> dict:
        self.seq += 1
        kw["op"], kw["seq"] = op, self.seq
        try:
            _send_sock(self.sock, kw)
        except OSError:
            raise CandidateDied("the candidate process exited") from None
        reply = _recv_sock(self.sock, self.limit)
        if not isinstance(reply, dict) or reply.get("seq") != self.seq:
            raise CandidateDied("the candidate sent an out-of-order reply")
        return reply

    def value(self, reply: dict) -> object:
        if "exc" in reply:
            name, msg = str(reply.get("exc"))[:80], str(reply.get("msg", ""))[:300]
            cls = _MIRRORED.get(name, CandidateRaised)
            raise cls(f"{name}: {msg}" if cls is CandidateRaised else msg)
        try:
            return decode_value(reply.get("value"), lambda h, t, c: _Handle(self, h, t, c))
        except (ValueError, TypeError, OverflowError) as exc:
            raise CandidateDied(f"the candidate sent an invalid value ({exc})") from None


class _Handle:
    """A non-plain object living in the candidate process. Calls and attribute reads are
    forwarded; comparison and truth tests are refused, so no object can fake equality."""

    __slots__ = ("_rpc", "_id", "_type", "_callable")

    def __init__(self, rpc: _Rpc, hid: int, type_name: str, is_callable: bool) -> None:
        object.__setattr__(self, "_rpc", rpc)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_callable", is_callable)

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            enc_args = [encode_value(a) for a in args]
            enc_kw = {str(k): encode_value(v) for k, v in kwargs.items()}
        except Unserialisable as exc:
            raise TypeError(f"cannot pass a non-plain argument to the candidate: {exc}") from None
        reply = self._rpc.request("call", target=self._id, args=enc_args, kwargs=enc_kw)
        # In-place mutation of list/dict/set arguments is mirrored back.
        for i, new in (reply.get("mutated") or {}).items():
            try:
                old, val = args[int(i)], decode_value(new)
            except (ValueError, IndexError, TypeError):
                continue
            if type(old) is list and type(val) is list:
                old[:] = val
            elif type(old) is dict and type(val) is dict or type(old) is set and type(val) is set:
                old.clear()
                old.update(val)
        return self._rpc.value(reply)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._rpc.value(self._rpc.request("getattr", target=self._id, name=name))

    def __iter__(self):  # noqa: ANN204
        return iter(self._rpc.value(self._rpc.request("materialise", target=self._id)))

    def __len__(self) -> int:
        return len(self._rpc.value(self._rpc.request("materialise", target=self._id)))  # type: ignore[arg-type]

    def __getitem__(self, key: object) -> object:
        return self._rpc.value(self._rpc.request("getitem", target=self._id, key=encode_value(key)))

    def _refuse(self, *_: object) -> bool:
        raise TypeError(f"the candidate returned an object of type {self._type}, not plain data; it cannot be "
                        "compared or used as a truth value")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = _refuse  # type: ignore[assignment]
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<candidate {self._type}>"


def _candidate_main(sock: socket.socket) -> None:
    """In C, forked ahead of its run: warm up, wait for the model's code, then serve it."""
    _devnull_stdio()
    try:
        _warm_up_candidate()
    except Exception:  # pragma: no cover - only a speed-up
        pass
    try:
        req = _recv_sock(sock, MAX_MESSAGE)
    except CandidateDied:
        return
    if isinstance(req, dict) and req.get("op") == "code" and isinstance(req.get("code"), str):
        _candidate_serve(sock, req["code"])


def _warm_up_candidate() -> None:
    """The candidate's hot path once on dummy code (see ``_warm_up_harness``)."""
    ns: dict[str, object] = {"__name__": "__warmup__", "__builtins__": builtins}
    exec(compile("def f(a, b):\n    return [a, b]\n", "candidate.py", "exec"), ns)
    pack({"op": "loaded", "names": {"f": ["H", 1, "function", callable(ns["f"])]}})
    decode_value(json.loads(_JSON.encode({"seq": 1, "value": encode_value(ns["f"](1, (2.0, "x")))}))["value"])


def _candidate_serve(sock: socket.socket, code: str) -> None:
    """In C: run the model's code as a module, then answer calls from the harness."""
    handles: dict[int, object] = {}

    def handle(obj: object) -> list:
        hid = len(handles) + 1
        handles[hid] = obj
        return ["H", hid, type(obj).__name__, callable(obj)]

    ns: dict[str, object] = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        exec(compile(code, "candidate.py", "exec"), ns)
        names = {}
        for k, v in list(ns.items()):
            if not k.startswith("__") and callable(v):
                names[k] = handle(v)
        load = {"op": "loaded", "names": names}
    except BaseException as exc:  # SystemExit included: exiting early is a failure, not a pass
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=3)
        load = {"op": "load_error", "exc": type(exc).__name__, "msg": str(exc)[:300],
                "traceback": "".join(tb)[-1500:]}
    try:
        _send_sock(sock, load)
    except OSError:
        return
    while True:
        try:
            req = _recv_sock(sock, MAX_MESSAGE)
        except CandidateDied:
            return
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
            _send_sock(sock, reply)
        except (OSError, TypeError, ValueError):
            return


# ---- tests, evaluated in H ----
class _Recorder:
    """Collects assertion outcomes; the rewritten asserts call into it."""

    def __init__(self, max_records: int = 200) -> None:
        self.records: list[dict] = []
        self.count = 0
        self.max_records = max_records
        self.current_test = 0

    def _add(self, rec: dict) -> None:
        self.count += 1
        rec["test"] = self.current_test
        rec["n"] = self.count
        if rec["passed"] and len(self.records) >= self.max_records:
            return
        if len(self.records) < self.max_records * 2:
            self.records.append(rec)

    def eq(self, idx: int, left: object, right: object, src: str) -> None:
        try:
            passed = bool(left == right)
        except TypeError as exc:
            self._add({"assert": idx, "kind": "eq", "passed": False, "src": src, "error": str(exc)[:300]})
            raise AssertionError(str(exc)) from None
        rec = {"assert": idx, "kind": "eq", "passed": passed, "src": src}
        try:
            rec["got"] = encode_value(left)
            rec["expected"] = encode_value(right)
        except Unserialisable as exc:
            rec["passed"], passed = False, False
            rec["error"] = f"not plain data: {exc}"
        if not passed:
            rec["got_repr"], rec["expected_repr"] = short_repr(left), short_repr(right)
        self._add(rec)
        if not passed:
            raise AssertionError(src)

    def truth(self, idx: int, value: object, src: str) -> None:
        try:
            passed = bool(value)
        except TypeError as exc:
            self._add({"assert": idx, "kind": "truth", "passed": False, "src": src, "error": str(exc)[:300]})
            raise AssertionError(str(exc)) from None
        self._add({"assert": idx, "kind": "truth", "passed": passed, "src": src})
        if not passed:
            raise AssertionError(src)


class _AssertRewriter(ast.NodeTransformer):
    """``assert a == b`` -> ``__rlvr_rec.eq(i, a, b, src)``; other asserts -> ``.truth``.
    The recorder keeps both sides as plain data, so the verifier can recheck every equality."""

    def __init__(self, source: str) -> None:
        # Split once, as the parser counts lines (\r\n, \r, \n): ast.get_source_segment splits
        # the whole source again, in a character loop, on every call (quadratic in the tests).
        self.lines = re.split(r"(?<=\n)|(?<=\r)(?!\n)", source)
        self.n = 0

    def _segment(self, node: ast.AST) -> str:
        """``ast.get_source_segment(source, node)``, cut to 200 characters."""
        try:
            first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined,operator]
            col, end_col = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
            if end_col is None:
                return "?"
            if first == last:
                return self.lines[first].encode()[col:end_col].decode()[:200]
            parts = [self.lines[first].encode()[col:].decode(), *self.lines[first + 1:last],
                     self.lines[last].encode()[:end_col].decode()]
            return "".join(parts)[:200]
        except (AttributeError, IndexError, TypeError, UnicodeDecodeError):
            return "?"

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.n += 1
        src = self._segment(node.test) or "?"
        # Every new node gets the assert's location here (ast.fix_missing_locations would walk the
        # whole tree again, which costs more than the rewrite itself on HumanEval-sized tests).
        def at(new: ast.AST) -> ast.AST:
            return ast.copy_location(new, node)

        rec = at(ast.Name("__rlvr_rec", ast.Load()))
        t = node.test
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
            call = ast.Call(at(ast.Attribute(rec, "eq", ast.Load())),
                            [at(ast.Constant(self.n)), t.left, t.comparators[0], at(ast.Constant(src))], [])
        else:
            call = ast.Call(at(ast.Attribute(rec, "truth", ast.Load())),
                            [at(ast.Constant(self.n)), t, at(ast.Constant(src))], [])
        return at(ast.Expr(at(call)))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CandidateRaised):
        return f"the candidate raised {exc}"
    if isinstance(exc, CandidateDied):
        return str(exc)
    if isinstance(exc, AssertionError):
        return f"assertion failed: {exc}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def run_tests(rpc: _Rpc, tests: str, entry_point: str | None) -> dict:
    """Load the candidate's names, then run the test code with proxies for them."""
    report: dict[str, object] = {"tests": [], "records": []}
    try:
        load = _recv_sock(rpc.sock, rpc.limit)
    except CandidateDied as exc:
        report["load_error"] = f"{exc} before the tests ran"
        return report
    if not isinstance(load, dict) or load.get("op") not in ("loaded", "load_error"):
        report["load_error"] = "the candidate sent a malformed first message"
        return report
    if load["op"] == "load_error":
        report["load_error"] = (f"the candidate code raised {str(load.get('exc'))[:80]}: "
                                f"{str(load.get('msg'))[:300]}")
        report["traceback"] = str(load.get("traceback", ""))[-1500:]
        return report
    names = load.get("names") if isinstance(load.get("names"), dict) else {}
    proxies: dict[str, object] = {}
    for name, ref in names.items():  # type: ignore[union-attr]
        try:
            proxies[str(name)] = decode_value(ref, lambda h, t, c: _Handle(rpc, h, t, c))
        except ValueError:
            continue
    report["names"] = sorted(proxies)[:50]
    cand = proxies.get(entry_point) if entry_point else None
    if entry_point and cand is None:
        report["tests"] = [{"test": 1, "status": "error", "check": True,
                            "message": f"the candidate defines no function named {entry_point!r}"}]
        return report
    try:
        tree = ast.parse(tests, "tests.py")
    except SyntaxError as exc:
        report["test_error"] = f"the test code does not parse: {exc}"
        return report
    rewriter = _AssertRewriter(tests)
    tree = rewriter.visit(tree)
    rec = _Recorder()
    glb: dict[str, object] = {"__name__": "__tests__", "__builtins__": builtins, **proxies,
                              "__rlvr_rec": rec}
    if cand is not None:
        glb.setdefault("candidate", cand)  # asserts written against ``candidate(...)`` (no check())
    tests_out: list[dict] = []
    for stmt in tree.body:
        is_test = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
            stmt.value.func, ast.Attribute) and isinstance(stmt.value.func.value, ast.Name) and \
            stmt.value.func.value.id == "__rlvr_rec"
        rec.current_test = len(tests_out) + 1
        before = rec.count
        try:
            exec(compile(ast.Module([stmt], []), "tests.py", "exec"), glb)
            if is_test or rec.count > before:  # a loop or helper call that asserted is a test too
                tests_out.append({"test": len(tests_out) + 1, "status": "passed"})
        except BaseException as exc:
            entry = {"test": len(tests_out) + 1, "status": "failed" if isinstance(exc, AssertionError) else "error",
                     "message": _describe(exc)[:500], "line": getattr(stmt, "lineno", 0)}
            if is_test or rec.count > before:
                tests_out.append(entry)
            else:
                entry["status"] = "error"
                entry["setup"] = True
                tests_out.append(entry)
                if isinstance(exc, CandidateDied):
                    break
    check = glb.get("check")
    if cand is not None and callable(check):
        rec.current_test = len(tests_out) + 1
        try:
            check(cand)
            tests_out.append({"test": rec.current_test, "status": "passed", "check": True})
        except BaseException as exc:
            tests_out.append({"test": rec.current_test, "check": True,
                              "status": "failed" if isinstance(exc, AssertionError) else "error",
                              "message": _describe(exc)[:500]})
    elif cand is not None and not any(not t.get("setup") for t in tests_out):
        tests_out.append({"test": len(tests_out) + 1, "status": "error", "check": True, "data_error": True,
                          "message": "the test code defines no check(candidate) function and no "
                                     "top-level assert"})
    report["tests"] = tests_out
    report["records"] = rec.records
    report["assertions"] = rec.count
    return report


if __name__ == "__main__":  # pragma: no cover
    zygote_main(sys.argv)
