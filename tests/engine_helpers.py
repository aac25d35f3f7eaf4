"""Small picklable verifiers and process helpers for engine, CLI and DoS tests.

Worker processes import this module by name (``engine_helpers``), so tests put this folder on
``PYTHONPATH`` before starting an engine; see ``use_helpers`` in engine/test_engine.py.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier

TESTS_DIR = str(Path(__file__).resolve().parent)

# An output equal to this makes the misbehaving verifiers below misbehave.
TRIGGER = "BOOM"


class ExactMatch(BaseVerifier):
    """Correct when the stripped output equals ``str(answer)``; the reason names the comparison."""

    name = "exact"
    required_fields = ("output", "answer")

    def check(self, sample: Sample) -> Verdict:
        got = sample.output.strip()
        want = str(sample.answer).strip()
        if got == want:
            return Verdict.correct("output equals the reference", extracted=got)
        return Verdict.incorrect(
            f"output {got[:40]!r} differs from reference {want[:40]!r}", extracted=got[:40]
        )


class ReportsCpus(BaseVerifier):
    """Correct, with the CPUs this process may run on and its pid: where the engine put it."""

    name = "cpus"

    def check(self, sample: Sample) -> Verdict:
        time.sleep(0.01)  # long enough that both workers of a pool get chunks
        return Verdict.correct("ran", cpus=sorted(os.sched_getaffinity(0)), pid=os.getpid())


class SleepsForever(ExactMatch):
    """Never returns on the trigger sample."""

    def check(self, sample: Sample) -> Verdict:
        if sample.output == TRIGGER:
            while True:
                time.sleep(3600)
        return super().check(sample)


class Exits(ExactMatch):
    """Kills its own process on the trigger sample: ``how`` is "exit" (os._exit(1)) or "kill9"."""

    def __init__(self, how: str = "exit") -> None:
        self.how = how

    def check(self, sample: Sample) -> Verdict:
        if sample.output == TRIGGER:
            if self.how == "exit":
                os._exit(1)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().check(sample)


class Raises(ExactMatch):
    """A BaseVerifier whose check raises on the trigger sample (BaseVerifier turns it into error)."""

    def check(self, sample: Sample) -> Verdict:
        if sample.output == TRIGGER:
            raise ValueError("helper verifier bug")
        return super().check(sample)


class PlainRaises:
    """A protocol-only verifier (no BaseVerifier) that raises on the trigger sample."""

    def verify(self, sample: Sample) -> Verdict:
        if sample.output == TRIGGER:
            raise ValueError("plain verifier bug")
        return ExactMatch().verify(sample)


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def child_pids(pid: int | None = None) -> set[int]:
    """Direct children of ``pid`` (default: this process), zombies included."""
    pid = os.getpid() if pid is None else pid
    try:
        import psutil  # type: ignore[import-not-found]

        return {c.pid for c in psutil.Process(pid).children(recursive=False)}
    except ImportError:
        pass
    task_dir = Path(f"/proc/{pid}/task")
    files = list(task_dir.glob("*/children"))
    if files:
        out: set[int] = set()
        for f in files:
            try:
                out.update(int(x) for x in f.read_text().split())
            except OSError:
                continue
        return out
    # Kernels without CONFIG_PROC_CHILDREN: scan every process for its parent id.
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and len(fields) > 1 and int(fields[1]) == pid:
            out.add(int(entry.name))
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far, or None if it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # After the ')' split, utime and stime are fields 12 and 13 (0-based) — stat(5) fields 14, 15.
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (R running, S sleeping, Z zombie, ...), or None if gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    fields = _stat_fields(pid)
    state = fields[0] if fields else "?"
    return f"pid {pid} state {state}: {cmd[:200]}"


def wait_for_no_new_children(before: set[int], timeout: float = 5.0) -> set[int]:
    """Children not in ``before`` that are still there after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        extra = child_pids() - before
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)
