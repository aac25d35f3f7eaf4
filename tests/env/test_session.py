"""The sandbox's ``session`` run mode as the python tool uses it (rlvr.env.pysession): one
fresh, fully restricted candidate per session, many cells, killed at the end."""

from __future__ import annotations

import ast

import pytest

from rlvr.env.pysession import PythonSession, SessionLost
from rlvr.sandbox import SandboxConfig

CFG = SandboxConfig(timeout=10.0, total_timeout=600.0, memory_mb=512)


def facts(session):
    out, err, exc = session.run(
        "import os\ntry:\n    procs = [p for p in os.listdir('/proc') if p.isdigit()]\nexcept OSError:\n    procs = []\n"
        "print(repr((os.getuid(), os.getpid(), procs)))")
    assert not exc, exc
    return ast.literal_eval(out.strip())


def test_a_session_is_one_restricted_process_and_the_next_is_another(isolation_ok):
    a = PythonSession(CFG, call_timeout=5.0)
    uid_a, pid_a, procs_a = facts(a)
    assert uid_a != 0 and pid_a < 100  # its own uid; pid inside the candidate zygote's PID namespace
    assert len(procs_a) <= 3  # /proc is closed to it, or shows its namespace only: no harness, no auditor
    assert a.run("x = 41")[2] == ""
    assert a.run("x + 1")[0] == "42\n"
    out, _, exc = a.run("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)")
    assert "PermissionError" in exc or "OSError" in exc or "refused" in exc.lower() or "unreachable" in exc.lower()
    a.close()
    assert a.outcome is not None and a.outcome.token_ok and not a.outcome.timed_out
    assert a.outcome.messages[-1]["calls"] == 4
    b = PythonSession(CFG, call_timeout=5.0)
    uid_b, _, _ = facts(b)
    assert uid_b != uid_a
    assert "NameError" in b.run("x")[2]
    b.close()
    assert not b.outcome.fresh_pair  # the pair (harness + candidate zygotes) served both sessions


def test_timeout_and_exit_lose_the_session(isolation_ok):
    s = PythonSession(CFG, call_timeout=1.0)
    with pytest.raises(SessionLost, match="1 s limit"):
        s.run("while True: pass")
    with pytest.raises(SessionLost):
        s.run("1")
    s = PythonSession(CFG, call_timeout=5.0)
    with pytest.raises(SessionLost, match="exited"):
        s.run("import os; os._exit(0)")
    s.close()
