"""Process, file and network checks shared by the sandbox tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

RUN_UID_MIN = 1_000_000  # the zygote gives every run a random uid at or above this


def _pairs() -> list:
    from rlvr.sandbox import runner

    return [z for lst in runner._POOL.idle.values() for z in lst if z.harness_pid]


def resident() -> tuple[set[int], set[int]]:
    """The idle zygotes' long-lived harnesses and candidate zygotes. Each exists between checks
    by design; so does each candidate zygote's one waiting candidate (holding nothing)."""
    pairs = _pairs()
    return {z.harness_pid for z in pairs}, {cz for z in pairs for cz in z.cz_pids}


def _parent(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_until(cond, timeout: float, step: float = 0.005) -> bool:  # noqa: ANN001
    """Poll ``cond()`` until it holds or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(step)
    return bool(cond())


def killed(pid: int) -> bool:
    """``pid`` can run no instruction of its own again: gone, a zombie, exiting (PF_EXITING), or
    with SIGKILL pending. A check's processes are all at least this when its verdict returns; the
    candidate zygote reaps them a moment later (before it forks its next candidate)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    if stat[0] in ("Z", "X") or int(stat[6]) & 0x4:  # PF_EXITING
        return True
    return any(line.startswith(("SigPnd:", "ShdPnd:")) and int(line.split()[1], 16) & (1 << 8)
               for line in status.splitlines())


def _is_resident(pid: int) -> bool:
    """``pid`` is a harness, a candidate zygote, or a candidate zygote's single waiting candidate
    (which has no children of its own). Killed processes of the last check are not resident."""
    harnesses, czs = resident()
    if pid in harnesses or pid in czs:
        return True
    parent = _parent(pid)
    if parent in czs and not killed(pid):
        live = [k for k in children_of(parent) if not killed(k)]
        assert live == [pid], f"candidate zygote {parent} has more than one live candidate: {live}"
        assert [d for d in descendants(pid) if not killed(d)] == [], f"a waiting candidate {pid} has children"
        return True
    return False


def uid_processes() -> list[int]:
    """Pids of this checkout's processes owned by a sandbox run uid, zombies left out."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                if int(line.split()[1]) >= RUN_UID_MIN and "State:\tZ" not in status:
                    found.append(int(entry))
                break
    return [p for p in found if not _another_checkouts_sandbox(p)]


def run_uid_processes() -> list[int]:
    """Pids of live processes owned by a sandbox run uid, other than the resident harnesses and
    waiting candidates (there must be none between checks): any that is not killed yet, and any
    killed one still there a few seconds later."""
    others = uid_processes()
    dying = [p for p in others if killed(p)]
    left = [p for p in others if p not in dying and not _is_resident(p)]
    # A zygote closed by an earlier test takes its pair down by parent-death signal, a moment
    # after the close returns; a process that escaped a check is still there a second later.
    deadline = time.monotonic() + 1.0
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    wait_until(lambda: not any(_alive(p) for p in dying), 5.0)  # a teardown takes about a millisecond
    return left + [p for p in dying if _alive(p)]


def settled(cz: int, timeout: float = 10.0) -> list[int]:
    """Wait until candidate zygote ``cz`` has reaped its last check's (killed) processes and
    forked its next candidate; returns its children then (one, when all is well)."""
    def one_live_child() -> bool:
        kids = children_of(cz)
        return len(kids) == 1 and not killed(kids[0])

    wait_until(one_live_child, timeout)
    return children_of(cz)


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _another_checkouts_sandbox(pid: int) -> bool:
    """A sandbox process started from another checkout's sources (another test run sharing
    this machine): not ours to judge."""
    from rlvr.sandbox import runner

    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "/rlvr/sandbox/" in cmd and os.path.dirname(runner._BOX_DIR) not in cmd


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for kid in children_of(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def run_descendants(zygote_pid: int) -> list[int]:
    """A zygote's descendants other than its pair and the waiting candidate (there must be none
    between checks, once the candidate zygotes have reaped what they killed)."""
    wait_until(lambda: not any(killed(p) for p in descendants(zygote_pid)), 5.0)
    return [p for p in descendants(zygote_pid) if not _is_resident(p)]


def sysv_shm_count() -> int:
    try:
        return max(0, len(Path("/proc/sysvipc/shm").read_text().splitlines()) - 1)
    except OSError:
        return 0


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            try:
                conn.sendall(b"3")
            finally:
                conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()
