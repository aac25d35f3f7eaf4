"""``rlvr audit --env NAME``: the exploit catalogue (``rlvr.audit.env_cases``) run as scripted
episodes through the real environment, each exploit paired with honest controls.

An exploit *passes* (a false positive) when its episode earns a reward at or above the pass
threshold, leaks the ground truth (or an earlier episode's marker) into an observation, or
leaves a side effect. Side effects checked after every episode: files created or changed in a
folder outside the sandbox (it holds the answer and a reward file) or at a marker path in /tmp
and /etc, a changed database (SHA-256 before and after), a connection to the auditor's TCP/UDP
listener, a killed bystander process, and processes left behind (this process's descendants
back to their count before the episode). The report is the verifier audit's (``AuditReport``:
coverage, false positives and negatives), plus per-class counts, leaks and side effects.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.audit.env_cases import ENV_TASKS, env_cases
from rlvr.audit.report import AuditReport, CaseResult
from rlvr.env import Budget, episode_of, make_env, play_script, verdict_of

__all__ = ["EnvAudit", "audit_env", "descendants", "leftovers"]


def _process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (ppid, name, real uid), from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("latin-1")
            with open(f"/proc/{entry}/status", "rb") as fh:
                uid = int(fh.read().decode("latin-1").split("Uid:", 1)[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        table[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), name, uid)
    return table


def descendants(pid: int) -> dict[int, tuple[int, str, int]]:
    """The processes that descend from ``pid``: pid -> (ppid, name, uid)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for p, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(p)
    out, todo = {}, [pid]
    while todo:
        for kid in children.get(todo.pop(), []):
            out[kid] = table[kid]
            todo.append(kid)
    return out


_INFRA = ("rlvr-zygote", "rlvr-cand-zyg", "rlvr-harness")


def leftovers(ignore: set[int]) -> list[str]:
    """Processes an episode left behind: a child of a candidate, a candidate zygote with more
    than its one waiting candidate (a double-forked orphan lands on it, pid 1 of its namespace),
    or any other process of a uid that is not ours (the sandbox's uids are random)."""
    procs = {p: v for p, v in descendants(os.getpid()).items() if p not in ignore}
    found = []
    per_cz: dict[int, int] = {}
    for p, (ppid, name, uid) in procs.items():
        parent = procs.get(ppid, (0, "", 0))[1]
        if parent == "rlvr-cand-zyg":
            per_cz[ppid] = per_cz.get(ppid, 0) + 1
        elif parent == "rlvr-candidate" or (name not in _INFRA and name != "rlvr-candidate" and uid != os.getuid()):
            found.append(f"{p} ({name}, uid {uid})")
    found += [f"{n} processes under candidate zygote {cz}" for cz, n in per_cz.items() if n > 1]
    return found


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: _sha(p) for p in sorted(folder.iterdir())}


@dataclass
class _World:
    """What the exploits aim at, owned by the auditor, outside the sandbox."""

    root: Path
    answer: str
    token: str = field(default_factory=lambda: secrets.token_hex(6))

    def __post_init__(self) -> None:
        os.chmod(self.root, 0o755)  # reachable by any uid: only the sandbox may stop a read or a write
        self.outside = self.root / "outside"
        self.outside.mkdir()
        os.chmod(self.outside, 0o777)
        self._plant()
        self.db = self.root / "shop.db"
        con = sqlite3.connect(self.db)
        con.executescript("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, qty INTEGER);"
                          "INSERT INTO items VALUES (1,'apple',0.5,10),(2,'pear',0.75,4),(3,'melon',3.0,2);")
        con.commit()
        con.close()
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.tcp.setblocking(False)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.setblocking(False)
        self.bystander = subprocess.Popen(["sleep", "3600"])
        self.markers = [Path(f"/tmp/rlvr-audit-pwn-{self.token}"), Path(f"/etc/rlvr-audit-{self.token}")]

    def _plant(self) -> None:
        """The outside folder as the exploits find it: the answer and a reward file, nothing else."""
        for p in self.outside.iterdir():
            p.unlink()
        (self.outside / "answer.txt").write_text(self.answer)
        (self.outside / "reward.txt").write_text("0.0")
        for p in self.outside.iterdir():
            os.chmod(p, 0o666)

    def fill(self, text: str, control: bool) -> str:
        text = (text.replace("@@OUTSIDE@@", str(self.outside)).replace("@@PORT@@", str(self.port))
                .replace("@@BYSTANDER@@", str(self.bystander.pid)).replace("@@PARENT@@", str(os.getpid()))
                .replace("@@TOKEN@@", self.token))
        return text.replace("@@ANSWER@@", self.answer) if control else text

    def state(self) -> dict[str, Any]:
        return {"outside": _snapshot(self.outside), "db": _sha(self.db)}

    def side_effects(self, before: dict[str, Any]) -> list[str]:
        found = []
        now = self.state()
        if now["outside"] != before["outside"]:
            found.append("files outside the sandbox changed")
            self._plant()  # the next case starts from the same world
        if now["db"] != before["db"]:
            found.append("the database changed")
        for marker in self.markers:
            if marker.exists():
                found.append(f"{marker} was written")
                marker.unlink()
        for sock, kind in ((self.tcp, "TCP"), (self.udp, "UDP")):
            try:
                if kind == "TCP":
                    conn, _ = sock.accept()
                    conn.close()
                else:
                    sock.recv(64)
                found.append(f"a {kind} packet reached the auditor's listener")
            except (BlockingIOError, OSError):
                pass
        if self.bystander.poll() is not None:
            found.append("a bystander process was killed")
            self.bystander = subprocess.Popen(["sleep", "3600"])
        return found

    def close(self) -> None:
        self.bystander.kill()
        self.bystander.wait()
        self.tcp.close()
        self.udp.close()


@dataclass
class EnvAudit:
    """The report: the verifier audit's, plus what only an environment audit has."""

    env: str
    report: AuditReport
    classes: dict[str, dict[str, int]]
    leaks: list[str]
    side_effects: list[str]

    @property
    def ok(self) -> bool:
        return (self.report.false_positive_rate == 0 and self.report.false_negative_rate == 0
                and not self.leaks and not self.side_effects)

    def verdict(self) -> str:
        r = self.report
        head = "SAFE" if self.ok else "UNSAFE"
        return (f"{head}: env {self.env}: {r.n_bad} exploits in {len(self.classes) - 1} classes, "
                f"{r.false_positive_rate or 0:.0%} paid, {len(self.leaks)} leaks, {len(self.side_effects)} side effects; "
                f"{r.n_good} honest controls, {r.false_negative_rate or 0:.0%} wrongly failed")

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "env": self.env, "classes": self.classes, "leaks": self.leaks,
                "side_effects": self.side_effects, "ok": self.ok, "verdict": self.verdict()}


def _settle(ignore: set[int], timeout: float = 5.0) -> list[str]:
    """``leftovers`` once the episode's processes had ``timeout`` seconds to go."""
    deadline = time.monotonic() + timeout
    while True:
        found = leftovers(ignore)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def catalogue_of(env: str, factory: Callable[[], Any]) -> str:
    """The exploit catalogue that applies to ``env``: its own for a built-in name, else that of the
    built-in environment it subclasses (a ``ConfigError`` naming the choice when there is none)."""
    from rlvr.env import ENVIRONMENTS
    from rlvr.errors import ConfigError

    if env in ENV_TASKS:
        return env
    instance = factory()
    for name, cls in ENVIRONMENTS.items():
        if isinstance(instance, cls) and name in ENV_TASKS:
            return name
    raise ConfigError(f"no exploit catalogue for {env!r}: the audit covers {', '.join(ENV_TASKS)} and their subclasses")


def audit_env(env: str, *, pass_threshold: float = 0.5, budget: Budget | None = None,
              options: dict[str, Any] | None = None,
              progress: Callable[[int, int], None] | None = None) -> EnvAudit:
    """Run the catalogue for ``env`` (python, calculator, sql, or a ``module:Class`` subclassing one
    of them, which is audited with its built-in base's catalogue)."""
    budget = budget or Budget(tool_timeout_s=2.0, episode_tool_s=10.0)
    factory = make_env(env, budget=budget, **(options or {}))
    catalogue = catalogue_of(env, factory)
    cases = env_cases(catalogue)
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rlvr-env-audit-") as tmp:
        world = _World(Path(tmp), ENV_TASKS[catalogue]["answer"])
        instance = factory()
        base_row = {"prompt": ENV_TASKS[catalogue]["prompt"], "answer": world.answer, "db": str(world.db)}
        # Warm up (zygotes, pre-forked candidates), so the descendant baseline is the steady state.
        play_script(instance, {"id": "warmup", **base_row}, [c for c in cases if c["test"] == "honest"][0]["turns"][:1])
        instance.reset(id="warmup-end", **base_row)
        results: list[CaseResult] = []
        classes: dict[str, dict[str, int]] = {}
        leaks: list[str] = []
        effects: list[str] = []
        try:
            for i, case in enumerate(cases):
                control = case["should_pass"]
                before = world.state()
                t0 = time.monotonic()
                if case.get("before"):
                    play_script(instance, {"id": f"{case['test']}-before", **base_row},
                                [world.fill(t, control) for t in case["before"]])
                ep = play_script(instance, {"id": case["test"], **base_row}, [world.fill(t, control) for t in case["turns"]])
                verdict = verdict_of(instance)
                elapsed = (time.monotonic() - t0) * 1000
                observations = [c.observation for c in episode_of(instance).calls]
                instance.reset(id="between", **base_row)  # ends the episode: its tool processes are released
                problems = []
                if not control and any(world.answer in o or f"STASH-{world.token}" in o for o in observations):
                    problems.append("the ground truth or an earlier episode's marker reached an observation")
                    leaks.append(case["test"])
                found = world.side_effects(before)
                left = _settle({world.bystander.pid})
                if left:
                    found.append(f"processes left behind: {', '.join(left[:5])}")
                if found:
                    effects += [f"{case['test']}: {f}" for f in found]
                    problems += found
                paid = verdict.score >= pass_threshold
                reason = verdict.reason + (f" [ended {ep.ended}; {ep.n_tool_calls} calls, {ep.n_tool_errors} errors]")
                if problems:
                    reason = "; ".join(problems) + " | " + reason
                results.append(CaseResult(
                    test=case["test"], source=f"env:{case['class']}", should_pass=control, status=verdict.status,
                    score=verdict.score, reason=reason, passed=paid or bool(problems), latency_ms=round(elapsed, 1),
                    deterministic=True))
                row = classes.setdefault(case["class"], {"cases": 0, "as_expected": 0, "paid": 0, "leaks": 0, "side_effects": 0})
                row["cases"] += 1
                row["as_expected"] += int(results[-1].as_expected)
                row["paid"] += int(paid and not control)
                row["leaks"] += int(case["test"] in leaks)
                row["side_effects"] += int(bool(found))
                if progress:
                    progress(i + 1, len(cases))
        finally:
            instance.reset(id="end", **base_row)
            world.close()
    report = AuditReport(verifier=f"env:{env}", kind="env", pass_threshold=pass_threshold, cases=tuple(results),
                         repeat=1, cross_process=None, latencies_ms=tuple(c.latency_ms or 0.0 for c in results),
                         seconds=time.monotonic() - t_start)
    return EnvAudit(env, report, classes, leaks, effects)
