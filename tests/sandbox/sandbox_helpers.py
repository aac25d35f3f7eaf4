"""Process, file and network checks shared by the sandbox tests."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

RUN_UID_MIN = 1_000_000  # the zygote gives every run a random uid at or above this


def spare_harnesses() -> set[int]:
    """The zygotes' prepared next harnesses. Each exists between runs by design, with its waiting
    candidate under it (possibly still being set up), and holds nothing of any run; the leftover
    checks exclude those two processes."""
    from rlvr.sandbox import runner

    return {z.spare_pid for lst in runner._POOL.idle.values() for z in lst if z.spare_pid}


def _parent(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _is_spare(pid: int, spares: set[int]) -> bool:
    """``pid`` is a spare harness or that harness's candidate (never anything deeper)."""
    if pid in spares:
        return True
    if _parent(pid) in spares:
        assert descendants(pid) == [], f"a spare's candidate {pid} has children"
        return True
    return False


def run_uid_processes() -> list[int]:
    """Pids of live processes owned by a sandbox run uid, other than the zygotes' spares (there
    must be none between runs)."""
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
    spares = spare_harnesses()
    return [p for p in found if not _is_spare(p, spares)]


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
    """A zygote's descendants other than its spare (there must be none between runs)."""
    found = descendants(zygote_pid)
    spares = spare_harnesses()
    return [p for p in found if not _is_spare(p, spares)]


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
