"""Exploits aimed at what lives across checks (issue 17): the long-lived harness, the candidate
zygote, and the checks before and beside this one. Each scenario runs several checks on one warm
sandbox; every exploit must score 0 and leave no trace, and honest checks after it still pass.

The candidates here are written so that they pass *only if* they found something a previous or
sibling check left behind: a verdict of 0 is the evidence that there was nothing to find.
"""

from __future__ import annotations

import os
import secrets
import threading

import pytest
from sandbox_helpers import (
    _is_resident,
    _pairs,
    children_of,
    descendants,
    killed,
    run_descendants,
    run_uid_processes,
    settled,
    sysv_shm_count,
    uid_processes,
)

from rlvr.audit.suites.code import FORGE_FOR_NEXT, POISON_CACHES, STASHER
from rlvr.engine import verify
from rlvr.sandbox import runner
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier

ADD_CHECK = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-5, 5) == 0\n"
HONEST_ADD = "def add(a, b):\n    return a + b\n"
WRONG_ADD = "def add(a, b):\n    return a - b\n"


@pytest.fixture()
def v(namespaces_ok):
    verifier = CodeVerifier(isolation="namespaces", timeout=3.0, total_timeout=6.0)
    yield verifier
    verifier.close()


def _add(code: str) -> Sample:
    return Sample(code, None, {"tests": ADD_CHECK, "entry_point": "add"})


def _assert_no_trace(v: CodeVerifier, shm_before: int) -> None:
    assert run_uid_processes() == []
    for lst in runner._POOL.idle.values():
        for z in lst:
            assert run_descendants(z.proc.pid) == []
            if z.pair_dir:  # the harness's directory and the waiting candidates', empty; nothing else
                assert sorted(os.listdir(z.pair_dir)) == ["c0", "c1", "h"]
                assert os.listdir(os.path.join(z.pair_dir, "h")) == []
                # Each candidate zygote's candidates' directories, as it sees them (its own
                # tmpfs), once it has cleaned up after its last check (it does so after replying
                # and reaping, before it forks its next candidate: so, once that candidate exists).
                for i, cz in enumerate(z.cz_pids):
                    assert len(settled(cz)) == 1
                    cdir = f"/proc/{cz}/root{z.pair_dir}/c{i}"
                    entries = os.listdir(cdir)
                    assert len(entries) <= 1, entries
                    for name in entries:
                        assert os.listdir(os.path.join(cdir, name)) == [], name
    assert sysv_shm_count() == shm_before


def test_nothing_left_for_the_next_check(v):
    """Files, sockets, SysV memory, daemons, environment, builtins and sys.modules: five checks in
    a row on one warm pair, each looking for what the previous one left."""
    shm = sysv_shm_count()
    for _ in range(5):
        verdict = v.verify(_add(STASHER))
        assert verdict.status == "incorrect" and verdict.score == 0.0, verdict
        _assert_no_trace(v, shm)
    assert v.verify(_add(HONEST_ADD)).status == "correct"


def test_grpo_siblings_cannot_reach_each_other(namespaces_ok):
    """Eight samples of one prompt, on two engine workers at once and then one after another:
    no sibling finds another's stash."""
    v = CodeVerifier(isolation="namespaces", timeout=3.0, total_timeout=6.0)
    try:
        shm = sysv_shm_count()
        group = [_add(STASHER) for _ in range(8)]
        verdicts = verify(group, v, workers=2)
        assert [x.status for x in verdicts] == ["incorrect"] * 8, [x.reason for x in verdicts]
        verdicts = verify(group, v, workers=0)
        assert [x.score for x in verdicts] == [0.0] * 8
        _assert_no_trace(v, shm)
    finally:
        v.close()


SIGNAL_SWEEP = r'''
import os, signal, socket
me, seen = os.getpid(), []
os.kill(me, 0)  # the probe works: it sees itself (else this raises and the check fails)
for pid in range(1, 4096):
    if pid == me:
        continue
    try:
        os.kill(pid, 0)
        seen.append(pid)
    except OSError:
        continue
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
for name in (b"\0rlvr", b"\0candidate", b"\0harness"):
    try:
        socket.socket(socket.AF_UNIX).connect(name)
        seen.append(name)
    except OSError:
        pass
def add(a, b):
    return a + b if not seen else -1
'''


def test_the_other_zygotes_waiting_candidate_is_out_of_reach(v):
    """A pair keeps two candidate zygotes, so while one candidate runs, the other zygote's next
    candidate already waits. The running one sweeps every pid with signal 0, SIGSTOP and SIGKILL
    and tries abstract sockets: it can reach nothing (its add() says so), and the next checks,
    on the waiting candidate it tried to kill, pass on the same harness."""
    first = v.sandbox.run_tests(SIGNAL_SWEEP, ADD_CHECK, "add")
    assert v.verify(_add(SIGNAL_SWEEP)).status == "correct"  # nothing visible, from either zygote
    harness = first.harness_pid
    for _ in range(4):
        out = v.sandbox.run_tests(HONEST_ADD, ADD_CHECK, "add")
        assert out.token_ok and not out.setup_error and out.harness_pid == harness, out
    _assert_no_trace(v, sysv_shm_count())


LOOK_FOR_PREVIOUS = r'''
import gc, glob, json, os, re, struct, sys
PAT = re.compile(r"answer\(\) == (\d+)|[0-9a-f]{32}")
hits = []
def look(s, depth=0):
    if isinstance(s, str) and PAT.search(s):
        hits.append(s)
    elif depth < 3 and isinstance(s, (dict, list, tuple)) and s is not hits:
        for x in list(s.values() if isinstance(s, dict) else s):
            look(x, depth + 1)
f = sys._getframe()
while f is not None:  # every frame's locals, up to the candidate's own entry point
    look(dict(f.f_locals))
    f = f.f_back
for o in gc.get_objects():
    if o is hits:
        continue
    for s in (o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()):
        look(s)
for m in list(sys.modules.values()):
    for s in list(getattr(m, "__dict__", {}).values()):
        look(s)
for pat in ("./*", "../*", "../*/*", "/tmp/*", "/tmp/*/*", "/tmp/*/*/*", "/proc/*/cmdline", "/proc/*/environ"):
    for p in glob.glob(pat):
        try:
            look(open(p, errors="ignore").read(1 << 20))
        except OSError:
            pass
tokens = {t for h in hits for t in re.findall(r"[0-9a-f]{32}", h)}
# Forge a pass with any token found, on every descriptor.
for token in tokens:
    msg = json.dumps({"op": "results", "tests": [{"test": 1, "status": "passed"}], "records": [],
                      "assertions": 1, "token": token}).encode()
    for fd in range(64):
        try:
            os.write(fd, struct.pack("!I", len(msg)) + msg)
        except OSError:
            pass
found = [int(m.group(1)) for h in hits for m in re.finditer(r"answer\(\) == (\d+)", h)]
def answer():
    return found[0] if found else -1
'''


def test_previous_tests_outputs_and_token_are_nowhere_to_find(v):
    """An honest check holds a secret in its tests and an expected output no one could guess;
    the next candidates search their own memory, the disk and /proc for either, and for tokens."""
    want = int.from_bytes(os.urandom(6), "little")
    secret = secrets.token_hex(16)
    honest_tests = f"SECRET = {secret!r}\nassert answer() == {want}\n"
    honest = v.verify(Sample(f"def answer():\n    return {want}\n", None, {"tests": honest_tests}))
    assert honest.status == "correct"
    # Positive control: the search finds the pattern where it is (here: in its own source).
    control = v.verify(Sample(LOOK_FOR_PREVIOUS + "# answer() == 42\n", None, {"tests": "assert answer() == 42\n"}))
    assert control.status == "correct", control
    for _ in range(3):
        verdict = v.verify(Sample(LOOK_FOR_PREVIOUS, None, {"tests": f"assert answer() == {want}\n"}))
        assert verdict.status == "incorrect" and verdict.score == 0.0, verdict
    _assert_no_trace(v, sysv_shm_count())


def test_replies_forged_for_the_next_check_are_never_read(v):
    """A candidate floods every socket it has with forged replies while its check ends; the next
    check's (wrong) candidate gets no help from them, and an honest one is not disturbed."""
    assert v.verify(_add(FORGE_FOR_NEXT)).score == 0.0
    assert v.verify(_add(WRONG_ADD)).status == "incorrect"
    assert v.verify(_add(HONEST_ADD)).status == "correct"


def test_returned_data_and_caches_change_nothing_in_the_harness(v):
    """Returned plain data cannot patch the harness: it is decoded, compared and dropped."""
    bad = v.verify(_add(POISON_CACHES))
    assert bad.status == "incorrect" and bad.score == 0.0
    assert bad.details.get("restored") in (None, [])
    out = v.sandbox.run_tests(HONEST_ADD, ADD_CHECK, "add")
    assert out.token_ok and out.restored == []
    assert v.verify(_add(WRONG_ADD)).status == "incorrect"


MUTATING_TESTS = """
import builtins, math, os, signal, sys
builtins.len = lambda *a: 0
math.sqrt = lambda x: 4.0
sys.modules["collections"] = None
sys.path.insert(0, "/tmp")
sys.setrecursionlimit(60)
os.environ["RLVR_LEFT"] = "1"
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 30)
open("left_by_tests.txt", "w").write("x")
assert add(1, 2) == 3
"""

NEXT_TESTS = """
import collections, math, os, signal, sys
assert add(len([1, 2]), 1) == 3
assert add(math.sqrt(16), 0) == 4.0
assert add(sys.getrecursionlimit() > 100, 0) == 1
assert add(len(os.listdir(".")), 0) == 0
assert add(int("RLVR_LEFT" in os.environ), 0) == 0
assert add(int(signal.getitimer(signal.ITIMER_REAL)[0] > 0), 0) == 0
assert add(len(collections.Counter("aab")), 0) == 2
"""


def test_a_test_that_mutates_shared_state_does_not_reach_the_next_check(v):
    first = v.sandbox.run_tests(HONEST_ADD, MUTATING_TESTS, "add")
    assert first.token_ok
    assert {"sys.modules", "math", "sys.path", "recursion limit", "environment", "timers",
            "signal handlers", "files"} <= set(first.restored), first.restored
    honest = v.verify(Sample(HONEST_ADD, None, {"tests": NEXT_TESTS, "entry_point": "add"}))
    assert honest.status == "correct", honest
    wrong = v.verify(Sample(WRONG_ADD, None, {"tests": NEXT_TESTS, "entry_point": "add"}))
    assert wrong.status == "incorrect" and wrong.score == 0.0


def test_a_test_that_leaves_a_thread_running_retires_the_harness(v):
    tests = "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n" \
            "assert add(1, 2) == 3\n"
    first = v.sandbox.run_tests(HONEST_ADD, tests, "add")
    assert first.token_ok
    harness = first.harness_pid
    second = v.sandbox.run_tests(HONEST_ADD, ADD_CHECK, "add")
    assert second.token_ok and second.fresh_pair and second.harness_pid != harness
    assert not os.path.exists(f"/proc/{harness}")  # stopped and reaped


def test_threads_of_the_verifier_each_get_their_own_pair(v):
    """Two threads verifying at once use two zygotes (two pairs): no candidate zygote ever has
    more than one candidate, and every verdict is right."""
    results: list[str] = []

    def work(code: str) -> None:
        for _ in range(4):
            results.append(v.verify(_add(code)).status)

    threads = [threading.Thread(target=work, args=(c,)) for c in (HONEST_ADD, STASHER)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == ["correct"] * 4 + ["incorrect"] * 4
    for lst in runner._POOL.idle.values():
        for z in lst:
            for cz in z.cz_pids:
                assert len(children_of(cz)) <= 1


def test_a_candidate_that_will_not_exit_is_killed_after_its_check(v):
    """An honest candidate exits when the harness closes its socket, and its candidate zygote
    says so unasked; one that disables its own exit (and keeps a child running) is killed when the
    harness asks, after a short grace. Either way nothing outlives the check."""
    stubborn = ("import os, sys, threading, time\n"
                "if os.fork() == 0:\n    time.sleep(60)\n"
                "threading.Thread(target=time.sleep, args=(60,)).start()  # a normal exit waits for it\n"
                "os._exit = lambda *a: None\nsys.exit = lambda *a: None\n" + HONEST_ADD)
    shm = sysv_shm_count()
    for code in (stubborn, HONEST_ADD, stubborn):
        assert v.verify(_add(code)).status == "correct"
        _assert_no_trace(v, shm)


def test_every_process_of_a_check_is_killed_before_its_verdict_returns(v):
    """The verdict leaves only once every process the check started has been killed: at the
    moment ``verify`` returns, each one (the candidate, a forked child, a thread-holding process
    that disabled its exit) is gone, a zombie, exiting, or has SIGKILL pending; none runs again.
    The candidate zygote reaps them a moment later, before it forks its next candidate."""
    spawner = ("import os, threading, time\n"
               "for _ in range(3):\n    if os.fork() == 0:\n        time.sleep(60)\n"
               "threading.Thread(target=time.sleep, args=(60,)).start()\n"
               "os._exit = lambda *a: None\n" + HONEST_ADD)
    for i in range(12):
        code = spawner if i % 2 else HONEST_ADD
        assert v.verify(_add(code)).status == "correct"
        # At once (a scan of /proc takes milliseconds): what each candidate zygote's namespace holds.
        procs = [p for z in _pairs() for cz in z.cz_pids for p in descendants(cz)]
        alive = [p for p in procs if not killed(p)]
        assert len(alive) <= 2 and all(_is_resident(p) for p in alive), f"check {i}: running after the verdict"
        assert not [p for p in uid_processes() if not killed(p) and not _is_resident(p)]
    _assert_no_trace(v, sysv_shm_count())


def test_a_slow_teardown_delays_no_later_check_into_a_wrong_verdict(v):
    """A candidate that dirtied ~300 MB takes its kernel teardown well past the verdict (the
    candidate zygote reaps it before its next fork): the checks right behind it, on both candidate
    zygotes, still get their own verdicts, and nothing of it is left afterwards."""
    hog = "buf = bytearray(300 << 20)\nfor i in range(0, len(buf), 4096):\n    buf[i] = 1\n" + HONEST_ADD
    shm = sysv_shm_count()
    for code in (hog, HONEST_ADD, WRONG_ADD, HONEST_ADD, hog, hog, HONEST_ADD):
        want = "incorrect" if code is WRONG_ADD else "correct"
        assert v.verify(_add(code)).status == want
    _assert_no_trace(v, shm)
