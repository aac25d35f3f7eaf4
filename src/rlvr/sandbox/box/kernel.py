"""Kernel restrictions, applied with ctypes: namespaces, Landlock, seccomp, capabilities, rlimits.

Each function applies one restriction to the calling process (and everything it forks later) and
raises ``SetupError`` naming what failed. Nothing here decides anything about a check; the
zygote, harness and candidate modules choose what to apply and in which order. ``probe()`` tries
each feature in a throwaway child and reports what this kernel provides.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import resource
import socket

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
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
SYS_LANDLOCK_CREATE_RULESET = 444  # same number on every architecture (new syscall table)
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

libc = _libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SetupError(Exception):
    """A sandbox feature could not be applied (the message names it)."""


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what} failed: {os.strerror(err)} (errno {err})")
    return ret


def prctl(option: int, arg: int = 0, what: str = "prctl") -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


def set_name(name: str) -> None:
    """This process's name as ``ps``, ``top`` and ``perf`` show it (at most 15 bytes): which part
    of the sandbox a process is, at a glance. Best effort."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)

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
    """Read only the read rules, write only beneath the write rules; no TCP; no signals or
    abstract unix sockets out of the domain (ABI 6+). Execution is denied everywhere. Closes
    the rule descriptors."""
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl(NO_NEW_PRIVS)")  # required without CAP_SYS_ADMIN
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


def apply_landlock_scope(abi: int) -> None:
    """A nested Landlock domain that only scopes (ABI 6+): no signals to, and no abstract unix
    sockets of, any process outside it (the candidate zygote included). File and network rules
    stay those of the domain we are nested in."""
    if abi < 6:
        return
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl(NO_NEW_PRIVS)")
    fd = _ruleset(abi, 0, 0, 3)  # ABSTRACT_UNIX_SOCKET | SIGNAL
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


def prepare_seccomp(exempt: tuple[str, ...] = ()) -> None:
    """Build the filter once (ctypes array types are slow to create); forks inherit it."""
    if exempt not in _PROGRAMS:
        prog = seccomp_program(exempt)
        arr = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
        _PROGRAMS[exempt] = (arr, _SockFprog(len(prog), arr))


def apply_seccomp(exempt: tuple[str, ...] = ()) -> None:
    prepare_seccomp(exempt)
    fprog = _PROGRAMS[exempt][1]
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl(NO_NEW_PRIVS)")
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


def set_rlimits(limits: dict, cpu: bool = True, shared: bool = True) -> None:
    """``cpu``: CPU seconds and processes per uid (a candidate's own); ``shared``: address space,
    file size, open files, no core files, no locked memory or POSIX message queues (the candidate
    zygote sets these once on itself and its candidates inherit them; the long-lived harness sets
    only these: the verifier's wall-clock deadline bounds each of its checks instead)."""
    def lim(res: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        cur_soft, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(res, (soft, hard))

    if cpu:
        seconds = int(math.ceil(limits["cpu_s"]))
        lim(resource.RLIMIT_CPU, seconds, seconds + 1)  # SIGXCPU first, SIGKILL a second later
        lim(resource.RLIMIT_NPROC, limits["processes"])
    if shared:
        lim(resource.RLIMIT_AS, limits["memory_bytes"])
        lim(resource.RLIMIT_FSIZE, limits["file_bytes"])
        lim(resource.RLIMIT_NOFILE, limits["open_files"])
        lim(resource.RLIMIT_CORE, 0)
        lim(resource.RLIMIT_MEMLOCK, 0)
        lim(resource.RLIMIT_MSGQUEUE, 0)


def map_self_to_root() -> None:
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


IPC_RMID = 0
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18


def private_tmpfs(path: str, size_bytes: int) -> None:
    """A mount namespace of our own with a size-capped tmpfs on ``path`` (our children inherit it;
    no other process sees it, and it disappears with the last of us). Run directories there cost
    microseconds to make and remove (an ext4 rmdir costs about a millisecond) and cannot fill a disk."""
    unshare(CLONE_NEWNS, "CLONE_NEWNS")
    _check(_libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None), "mount(private /)")
    opts = f"size={int(size_bytes)},mode=0711".encode()
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC), opts),
           f"mount(tmpfs on {path})")


def remove_sysv_objects() -> int:
    """Remove every System V shared memory segment, semaphore set and message queue in this
    process's IPC namespace (``/proc/sysvipc`` lists the reader's namespace). Returns how many."""
    count = 0
    for kind, rm in (("shm", lambda i: _libc.shmctl(i, IPC_RMID, None)),
                     ("sem", lambda i: _libc.semctl(i, 0, IPC_RMID)),
                     ("msg", lambda i: _libc.msgctl(i, IPC_RMID, None))):
        try:  # raw reads: this runs after every check, and the io stack costs page faults
            fd = os.open(f"/proc/sysvipc/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                chunks = [os.read(fd, 1 << 16)]
                while chunks[-1]:
                    chunks.append(os.read(fd, 1 << 16))
            finally:
                os.close(fd)
        except OSError:
            continue
        for row in b"".join(chunks).splitlines()[1:]:  # the first line is the header
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                rm(int(fields[1]))
                count += 1
    return count


def close_other_fds(keep: set[int]) -> None:
    """Close every descriptor above 2 except ``keep`` (close_range: a few syscalls, no /proc)."""
    lo = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > lo:
            os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 20)


def devnull_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)

