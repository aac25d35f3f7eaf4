"""The sandbox itself: isolation features, confinement, limits, cleanup, tiers, the value codec."""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import time
from pathlib import Path

import pytest
from sandbox_helpers import killed, run_descendants, run_uid_processes, settled, wait_until

from rlvr.errors import ConfigError, IsolationUnavailableError
from rlvr.sandbox import Sandbox, SandboxConfig, runner
from rlvr.sandbox.box import kernel, testrun, wire
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier


def _verify(v: CodeVerifier, code: str, tests, entry_point=None):
    meta = {"tests": tests}
    if entry_point:
        meta["entry_point"] = entry_point
    return v.verify(Sample(code, None, meta))


@pytest.fixture(scope="module")
def verifier(namespaces_ok):
    v = CodeVerifier(isolation="namespaces", timeout=3.0, total_timeout=6.0)
    yield v
    v.close()


# -- what the kernel gave us ------------------------------------------------------------------
def test_kernel_features_are_reported(features):
    assert set(features) >= {"landlock_abi", "seccomp", "userns", "pidns", "netns", "errors"}
    assert isinstance(features["landlock_abi"], int)
    if features["seccomp"]:
        assert features["arch"] == "x86_64"


PROBE = r'''
import errno, os, socket
def probe():
    out = {}
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        out["tcp"] = "connected"
    except OSError as e:
        out["tcp"] = "blocked"
    try:
        open("/tmp/rlvr_sandbox_probe_pwned", "w").write("x")
        out["write_tmp"] = "allowed"
    except OSError:
        out["write_tmp"] = "blocked"
    try:
        open("inside.txt", "w").write("ok")
        out["write_cwd"] = open("inside.txt").read()
    except OSError as e:
        out["write_cwd"] = repr(e)
    try:
        open("/etc/hostname").read()
        out["read_etc"] = "allowed"
    except OSError:
        out["read_etc"] = "blocked"
    try:
        os.listdir("/proc")
        out["proc"] = "allowed"
    except OSError:
        out["proc"] = "blocked"
    out["uid_root"] = os.getuid() == 0
    out["ppid"] = os.getppid()
    import glob
    out["import_glob"] = glob.__name__
    return out
'''


def test_candidate_is_confined(verifier):
    tests = (
        "r = probe()\n"
        "assert r['tcp'] == 'blocked'\n"
        "assert r['write_tmp'] == 'blocked'\n"
        "assert r['write_cwd'] == 'ok'\n"
        "assert r['read_etc'] == 'blocked'\n"
        "assert r['proc'] == 'blocked'\n"
        "assert r['uid_root'] == False\n"
        "assert r['ppid'] == 1\n"  # in a PID namespace of its own: its parent, the candidate zygote, is pid 1
        "assert r['import_glob'] == 'glob'\n"
    )
    v = _verify(verifier, PROBE, tests)
    assert v.status == "correct", v.details.get("tests")
    assert v.details["total"] == 8


def test_timeout_kills_every_descendant(verifier):
    code = (
        "import os, time\n"
        "def f():\n"
        "    for _ in range(3):\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            time.sleep(60)\n"
        "    while True:\n"
        "        pass\n"
    )
    t0 = time.monotonic()
    v = _verify(verifier, code, "assert f() == 1\n")
    elapsed = time.monotonic() - t0
    assert v.status == "timeout" and v.score == 0.0
    assert "3s" in v.reason
    assert elapsed < 3.0 + 5.0  # the deadline plus generous slack for a loaded machine
    assert run_uid_processes() == []
    for lst in runner._POOL.idle.values():
        for z in lst:
            assert run_descendants(z.proc.pid) == []


def test_correct_but_slow_solution_passes(verifier):
    code = (
        "import time\n"
        "def slow_sum(xs):\n"
        "    end = time.monotonic() + 1.0\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "    return sum(xs)\n"
    )
    v = _verify(verifier, code, "assert slow_sum([1, 2, 3]) == 6\n")
    assert v.status == "correct", v
    assert v.details["elapsed_s"] >= 1.0


def test_memory_limit_is_enforced(namespaces_ok):
    v = CodeVerifier(isolation="namespaces", memory_mb=256, timeout=5, total_timeout=8)
    code = "def f():\n    x = bytearray(512 << 20)\n    return len(x)\n"
    verdict = _verify(v, code, "assert f() == 536870912\n")
    assert verdict.status == "incorrect"
    assert "MemoryError" in verdict.reason


def test_stdio_output_limit_and_runtime_error(verifier):
    bomb = _verify(verifier, "while True:\n    print('x' * 1000)\n", [{"input": "", "output": "x"}])
    assert bomb.status == "incorrect" and "printed more than" in bomb.reason
    crash = _verify(verifier, "raise ValueError('bad input')\n", [{"input": "", "output": "1"}])
    assert crash.status == "incorrect"
    assert crash.reason == "test 1 error: exited with code 1: ValueError: bad input"


def test_threads_work_in_the_sandbox(verifier):
    code = (
        "import threading\n"
        "def f():\n"
        "    out = []\n"
        "    ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
        "    [t.start() for t in ts]; [t.join() for t in ts]\n"
        "    return sorted(out)\n"
    )
    assert _verify(verifier, code, "assert f() == [0, 1, 2, 3]\n").status == "correct"


# -- tiers ------------------------------------------------------------------------------------
def test_missing_kernel_features_are_refused_with_the_override(monkeypatch):
    fake = {"landlock_abi": 0, "seccomp": False, "userns": True, "pidns": True, "netns": True,
            "errors": {"seccomp": "no seccomp syscall table for riscv64"}}
    monkeypatch.setattr(runner, "probe_isolation", lambda python="", config=None: fake)
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    with pytest.raises(IsolationUnavailableError) as err:
        Sandbox(isolation="auto").tier  # noqa: B018
    msg = str(err.value)
    assert "Landlock" in msg and "seccomp filters (no seccomp syscall table for riscv64)" in msg
    assert "isolation='none'" in msg and "isolation='bwrap'" in msg
    with pytest.raises(IsolationUnavailableError):
        CodeVerifier(isolation="namespaces")


def test_unknown_tier_and_bad_limits_are_config_errors():
    with pytest.raises(ConfigError, match="isolation must be one of"):
        SandboxConfig(isolation="docker")
    with pytest.raises(ConfigError, match="total_timeout"):
        SandboxConfig(timeout=5, total_timeout=2)
    with pytest.raises(ConfigError, match="30 s per-sample limit"):
        CodeVerifier(total_timeout=40, isolation="none")


def test_none_tier_still_judges_and_cleans_up():
    v = CodeVerifier(isolation="none", timeout=3, total_timeout=6)
    assert v.isolation == "none"
    good = _verify(v, "def add(a, b):\n    return a + b\n", "assert add(2, 2) == 4\n")
    assert good.status == "correct" and good.details["isolation"] == "none"
    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "def add(a, b):\n    return a - b\n"
    )
    bad = _verify(v, daemon, "assert add(2, 2) == 4\n")
    assert bad.status == "incorrect"
    for lst in runner._POOL.idle.values():
        for z in lst:
            assert run_descendants(z.proc.pid) == []
    v.close()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_bwrap_tier(tmp_path):
    v = CodeVerifier(isolation="bwrap", timeout=3, total_timeout=6)
    assert v.isolation == "bwrap"
    assert v.sandbox.features().get("bwrap") is True
    assert _verify(v, "def add(a, b):\n    return a + b\n", "assert add(2, 2) == 4\n").status == "correct"
    marker = tmp_path / "m"
    marker.mkdir()
    code = (
        "import os, socket\n"
        f"for p in ({str(marker / 'x')!r}, '/tmp/rlvr_bwrap_pwned'):\n"
        "    try:\n        open(p, 'w').write('x')\n    except OSError:\n        pass\n"
        "def add(a, b):\n    return a - b\n"
    )
    assert _verify(v, code, "assert add(2, 2) == 4\n").status == "incorrect"
    assert list(marker.iterdir()) == []
    stdio = _verify(v, "print(int(input()) + 1)", [{"input": "41\n", "output": "42\n"}])
    assert stdio.status == "correct"
    v.close()


# -- the long-lived harness, the candidate zygote and its waiting candidate -----------------------
def _memory_contains(pid: int, needle: bytes) -> bool:
    """Whether ``needle`` is anywhere in the writable memory of ``pid`` (read as root)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, OverflowError, ValueError):
                continue
            if needle in data:
                return True
    return False


def _idle_zygote(v: CodeVerifier) -> runner._ZygoteProc:
    return runner._POOL.idle[v.sandbox._key()][-1]


def _waiting_candidates(z: runner._ZygoteProc) -> list[int]:
    """Each candidate zygote's one waiting candidate (the pair has two zygotes, taken in turn)."""
    assert len(z.cz_pids) == 2
    out = []
    for cz in z.cz_pids:
        kids = settled(cz)  # it may still be reaping its last check and forking (a loaded machine)
        assert len(kids) == 1, f"the candidate zygote has {len(kids)} children between checks"
        out.append(kids[0])
    return out


def test_no_parent_of_a_candidate_ever_holds_a_check_secret(namespaces_ok):
    """The invariant: the zygote, the candidate zygote and the next (waiting) candidate never held
    the last check's tests, token or code; the harness did (the positive control for the scan)."""
    v = CodeVerifier(isolation="namespaces", timeout=3.5, total_timeout=7.0)  # its own zygote
    try:
        secret, mark = secrets.token_hex(16), secrets.token_hex(16)
        code = f"def f(x):\n    return x + 1  # {mark}\n"
        tests = f"SECRET = {secret!r}\nassert f(1) == 2\n"
        tokens: list[str] = []
        real = runner.secrets.token_hex
        runner.secrets.token_hex = lambda n: tokens.append(real(n)) or tokens[-1]  # type: ignore[assignment]
        try:
            first = v.sandbox.run_tests(code, tests, None)
        finally:
            runner.secrets.token_hex = real  # type: ignore[assignment]
        assert first.token_ok and first.harness_pid and len(first.candidates) == 1
        z = _idle_zygote(v)
        waiting = _waiting_candidates(z)
        assert _memory_contains(z.harness_pid, secret.encode())  # the scan can see it where it is
        for pid in waiting:
            assert _memory_contains(pid, b"rlvr-run-")  # and can see into the waiting candidates
        for pid in (z.proc.pid, *z.cz_pids, *waiting):
            for needle in (secret, mark, tokens[0]):
                assert not _memory_contains(pid, needle.encode()), f"pid {pid} holds the last check's {needle}"
        second = v.sandbox.run_tests(code, tests, None)
        assert second.token_ok and second.harness_pid == first.harness_pid  # the harness lives on
        assert len(second.candidates) == 1  # (pids are per candidate zygote's namespace: not compared)
        # One of the two waiting candidates ran the second check: killed before the verdict
        # returned (it runs no instruction of its own again), reaped a moment later.
        assert sorted(killed(w) for w in waiting) == [False, True]
        wait_until(lambda: sum(os.path.exists(f"/proc/{w}") for w in waiting) <= 1, 5.0)
        assert sorted(os.path.exists(f"/proc/{w}") for w in waiting) == [False, True]
    finally:
        v.close()


def test_close_and_zygote_death_take_the_pair_down(namespaces_ok):
    v = CodeVerifier(isolation="namespaces", timeout=3.25, total_timeout=7.0)
    assert _verify(v, "def f():\n    return 1\n", "assert f() == 1\n").status == "correct"
    z = _idle_zygote(v)
    pids = [z.harness_pid, *z.cz_pids, *_waiting_candidates(z)]
    pair_dir = z.pair_dir
    assert pair_dir and os.path.isdir(pair_dir) and os.path.basename(pair_dir).startswith("rlvr-run-")
    v.close()  # graceful: the zygote stops its pair and removes the pair's directory
    assert not os.path.exists(pair_dir)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
    # A zygote killed outright takes its pair down too (parent-death signal, PID namespace).
    v2 = CodeVerifier(isolation="namespaces", timeout=3.25, total_timeout=7.0)
    assert _verify(v2, "def f():\n    return 1\n", "assert f() == 1\n").status == "correct"
    z2 = _idle_zygote(v2)
    pids2, dir2 = [z2.harness_pid, *z2.cz_pids, *_waiting_candidates(z2)], z2.pair_dir
    z2.kill()
    deadline = time.monotonic() + 5.0
    while any(os.path.exists(f"/proc/{p}") for p in pids2) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids2)
    shutil.rmtree(dir2, ignore_errors=True)  # the one trace a SIGKILLed zygote leaves
    v2.close()


def test_a_dead_waiting_candidate_or_harness_is_replaced(namespaces_ok):
    v = CodeVerifier(isolation="namespaces", timeout=3.75, total_timeout=7.0)
    try:
        code, tests = "def f():\n    return 1\n", "assert f() == 1\n"
        assert _verify(v, code, tests).status == "correct"
        z = _idle_zygote(v)
        harness = z.harness_pid
        for waiting in _waiting_candidates(z):  # both: whichever goes next has died idle
            os.kill(waiting, signal.SIGKILL)
        time.sleep(0.2)
        for _ in range(3):
            verdict = _verify(v, code, tests)
            assert verdict.status == "correct", verdict  # the next check gets the next fresh candidate
        assert z.harness_pid == harness
        os.kill(harness, signal.SIGKILL)  # the harness dies between checks: a fresh pair, no error
        deadline = time.monotonic() + 5.0
        while "State:\tZ" not in Path(f"/proc/{harness}/status").read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        verdict = _verify(v, code, tests)
        assert verdict.status == "correct", verdict
        assert z.harness_pid not in (None, harness)
    finally:
        v.close()


def test_assert_rewriter_source_matches_ast_get_source_segment():
    """The rewriter's own (linear-time) segment extraction gives what ast.get_source_segment gives:
    CRLF / CR line ends, multi-line asserts, non-ASCII (byte-based column offsets), form feeds."""
    import ast

    srcs = [
        "x = 1\r\nassert f('é', 2) == [1,\r\n 2]\rassert g(\n  3\n)\nassert (1 ==\n 1)\n",
        "def check(c):\n\tassert c('ü\\u2028x') == 'ß'  # \x0c comment\n\x0cassert True",
        "assert x == '\x0b'\nassert 'a\u2028b' == y\n",
        "assert f(\"\"\"a\nb\u2028c\"\"\") == 'é'\n",
        "assert f('" + "x" * 500 + "') == 1\n",
    ]
    n = 0
    for src in srcs:
        rw = testrun.AssertRewriter(src)
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Assert):
                assert rw._segment(node.test) == (ast.get_source_segment(src, node.test) or "?")[:200]
                n += 1
    assert n == 9


def test_value_codec_roundtrip_and_refusals():
    value = {"a": [1, 2.5, (3, "x")], 4: {5, 6}, "b": frozenset({7}), "c": b"\x00\xff",
             "d": 2 ** 5000, "e": complex(1, -2), "f": None, "g": True, "h": bytearray(b"z")}
    sent = json.loads(json.dumps(wire.encode_value(value)))
    back = wire.decode_value(sent)
    assert back == value
    assert type(back["a"][2]) is tuple and type(back["h"]) is bytearray
    nan = wire.decode_value(json.loads(json.dumps(wire.encode_value(float("nan")))))
    assert math.isnan(nan)

    class Sneaky(int):
        def __eq__(self, other):
            return True

    with pytest.raises(wire.Unserialisable, match="Sneaky"):
        wire.encode_value([Sneaky(1)])
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(wire.Unserialisable, match="deeply"):
        wire.encode_value(deep)
    for bad in ({"x": 1}, ["Q", 1], ["D", [1]], ["H", 1, "f", True]):
        with pytest.raises(ValueError):
            wire.decode_value(bad)


def test_seccomp_program_covers_the_deny_list():
    prog = kernel.seccomp_program()
    assert prog[0] == (0x20, 0, 0, 4) and prog[1][3] == kernel.AUDIT_ARCH_X86_64
    checked = {ins[3] for ins in prog if ins[0] == 0x15}
    for name in ("ptrace", "process_vm_readv", "mount", "unshare", "setns", "execve", "connect", "bpf"):
        assert kernel._X86_64_DENY[name] in checked
    assert 39 not in checked  # getpid must never be filtered (clone is 56 on x86_64)
    assert len(prog) < 4096  # the kernel's BPF_MAXINSNS


def test_frame_buffer_splits_joins_and_limits_frames():
    buf = wire.FrameBuffer(limit=64)
    data = wire.pack({"a": 1}) + wire.pack([2, 3]) + wire.frame(b"")
    for i in range(0, len(data), 3):  # byte-by-byte-ish arrival
        buf.feed(data[i:i + 3])
    assert [wire.unpack(buf.pop()), wire.unpack(buf.pop())] == [{"a": 1}, [2, 3]]
    assert buf.pop() == b"" and buf.pop() is None
    with pytest.raises(wire.FrameError, match="over the 64-byte limit"):
        wire.FrameBuffer(limit=64).feed(wire.frame(b"x" * 65)[:4])  # refused on the header alone
    with pytest.raises(wire.FrameError):
        wire.unpack(b"{not json")


def test_harness_state_guard_only_ever_cleans_a_harness_dir(tmp_path):
    from rlvr.sandbox.box.harness import StateGuard

    for bad in (str(tmp_path), "/tmp", str(tmp_path / "h")):
        with pytest.raises(ValueError, match="not a harness run directory"):
            StateGuard(bad)


def test_compiled_tests_are_cached_by_source_and_bounded():
    src = "x = 1\nassert f(x) == 2\n"
    first = testrun.compile_tests(src)
    assert testrun.compile_tests(src) is first and [t[1] for t in first] == [False, True]
    assert testrun.compile_tests("assert (").startswith("the test code does not parse")
    for i in range(testrun._CACHE_SIZE + 5):
        testrun.compile_tests(f"assert f({i}) == {i}\n")
    assert len(testrun._COMPILED) == testrun._CACHE_SIZE and src not in testrun._COMPILED


PIPELINED_TESTS = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n"
WAITING_TESTS = PIPELINED_TESTS + "    assert helper() == 1\n"  # reads another of the candidate's names
LOADS = {
    "honest": "def helper():\n    return 1\ndef add(a, b):\n    return a + b\n",
    "wrong": "def helper():\n    return 1\ndef add(a, b):\n    return a - b\n",
    "raises on import": "def helper():\n    return 1\ndef add(a, b):\n    return a + b\nraise ValueError('no')\n",
    "exits on import": "import sys\ndef helper():\n    return 1\ndef add(a, b):\n    return a + b\nsys.exit(0)\n",
    "dies on import": "import os\ndef helper():\n    return 1\ndef add(a, b):\n    return a + b\nos._exit(0)\n",
    "no entry point": "def helper():\n    return 1\ndef plus(a, b):\n    return a + b\n",
    "entry not callable": "def helper():\n    return 1\nadd = 3\n",
    "entry is another's handle": "def helper():\n    return 1\nclass K:\n    def __call__(self, a, b):\n        return a + b\nadd = K()\n",
}


def test_tests_start_before_the_load_report_only_when_they_read_no_other_name():
    assert testrun.pipelined(testrun.compile_tests(PIPELINED_TESTS), "add")
    assert not testrun.pipelined(testrun.compile_tests(WAITING_TESTS), "add")
    assert not testrun.pipelined(testrun.compile_tests(PIPELINED_TESTS), None)
    assert testrun.free_names("import math\nX = 1\ndef check(c):\n    return c(X, math.pi, len([]))\n") == frozenset()
    assert testrun.free_names("def check(c):\n    return c(poly([1]))\n") == {"poly"}
    assert testrun.free_names("for i in range(3):\n    assert f(i) == g\n") == {"f", "g"}


@pytest.mark.parametrize("kind", sorted(LOADS))
def test_pipelined_and_waiting_tests_judge_every_load_alike(kind, namespaces_ok):
    """The first call may go out before the candidate's load report (tests that read only the
    entry point): every way a load can go wrong is reported exactly as when the tests wait."""
    v = CodeVerifier(isolation="namespaces", timeout=3.0, total_timeout=6.0)
    try:
        early, waited = (_verify(v, LOADS[kind], tests, "add") for tests in (PIPELINED_TESTS, WAITING_TESTS))
        assert early.status == waited.status, (early, waited)
        assert early.status == ("correct" if kind in ("honest", "entry is another's handle") else "incorrect")
        if kind != "wrong" and early.status != "correct":
            assert early.reason == waited.reason, (early.reason, waited.reason)
    finally:
        v.close()
