"""Benchmark of the ``run_python`` tool (rlvr.env.PythonEnv) against its peers, side by side.

    PYTHONPATH=src python bench/env_tools.py [--calls 200] [--episodes 40] [--smol /tmp/smol]

Rows: per-call latency (p50/p95) of one small cell, and episodes per second with 3 tool calls
each (reset, 3 calls, the final answer judged), for
  - rlvr python tool: a persistent interpreter session in the sandbox (namespaces, Landlock,
    seccomp, rlimits, no network), one fresh sandboxed process per episode;
  - fresh sandbox candidate per call: the fallback design (state would persist by re-running the
    earlier cells, which this row does not even pay for: a lower bound);
  - fresh subprocess: ``python -c CELL`` per call (the naive design; no isolation, no state);
  - smolagents LocalPythonExecutor: an AST interpreter in this process (no OS isolation), if
    importable (install it into a throwaway folder: ``pip install --target /tmp/smol smolagents``).
The last line is ``python tool vs fresh subprocess: N.N×`` (p50 per call).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

CELL = "s = sum(i * i for i in range(1000))\nprint(s)"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--smol", default="/tmp/smol", help="folder holding smolagents (appended to sys.path)")
    args = ap.parse_args()

    from rlvr.env import Budget, PythonEnv, play_script

    rows: dict[str, tuple[list[float], float]] = {}
    env = PythonEnv(budget=Budget(max_tool_calls=args.calls + 10))
    env.reset(id="warm", answer="1")
    assert env.run_python(CELL) == "332833500"
    rows["rlvr python tool (sandboxed session)"] = (timed(lambda: env.run_python(CELL), args.calls), 0.0)
    ep_env = PythonEnv()
    call = '<tool_call>{"name": "run_python", "arguments": {"code": "s = sum(i * i for i in range(1000))\\nprint(s)"}}</tool_call>'
    turns = [call, call, call, "\\boxed{332833500}"]
    play_script(ep_env, {"id": "w", "answer": "332833500"}, turns)
    t0 = time.perf_counter()
    for i in range(args.episodes):
        ep = play_script(ep_env, {"id": str(i), "answer": "332833500"}, turns)
        assert ep.n_tool_calls == 3 and ep_env.get_reward() == 1.0
    ep_env.reset(id="end", answer="1")
    rows["rlvr python tool (sandboxed session)"] = (rows["rlvr python tool (sandboxed session)"][0],
                                                    args.episodes / (time.perf_counter() - t0))

    def fresh() -> None:
        subprocess.run([sys.executable, "-c", CELL], capture_output=True, check=True)

    from rlvr.sandbox import Sandbox

    sandbox = Sandbox()
    sandbox.run_stdio(CELL, [""], lambda m: False)

    def fresh_candidate() -> None:
        out = sandbox.run_stdio(CELL, [""], lambda m: False)
        assert out.messages[0].get("stdout") == "332833500\n", out

    lat = timed(fresh_candidate, max(50, args.calls // 2))
    rows["fresh sandbox candidate per call (the fallback)"] = (lat, 1.0 / (3 * statistics.mean(lat)))

    n_sub = max(20, args.calls // 4)
    lat = timed(fresh, n_sub)
    rows["fresh `python -c` per call (no isolation)"] = (lat, 1.0 / (3 * statistics.mean(lat)))

    sys.path.append(args.smol)
    try:
        from smolagents.local_python_executor import LocalPythonExecutor
    except ImportError as exc:
        print(f"(smolagents not importable from {args.smol}: {exc}; row skipped)")
    else:
        ex = LocalPythonExecutor(additional_authorized_imports=[])
        ex.send_tools({})
        lat = timed(lambda: ex(CELL), args.calls)
        t0 = time.perf_counter()
        for _ in range(args.episodes):
            e2 = LocalPythonExecutor(additional_authorized_imports=[])
            e2.send_tools({})
            for _ in range(3):
                e2(CELL)
        rows["smolagents LocalPythonExecutor (no OS isolation)"] = (lat, args.episodes / (time.perf_counter() - t0))

    print(f"{'design':52s} {'p50 ms':>8s} {'p95 ms':>8s} {'episodes/s':>11s}")
    for name, (lat, eps) in rows.items():
        print(f"{name:52s} {pct(lat, 50) * 1e3:8.2f} {pct(lat, 95) * 1e3:8.2f} {eps:11.1f}")
    tool = pct(rows["rlvr python tool (sandboxed session)"][0], 50)
    smol = rows.get("smolagents LocalPythonExecutor (no OS isolation)")
    if smol:
        print(f"python tool / smolagents LocalPythonExecutor (p50 per call): {tool / pct(smol[0], 50):.2f}× "
              "(goal: <= 3×, isolation included)")
    sub = pct(rows["fresh `python -c` per call (no isolation)"][0], 50)
    print(f"python tool vs fresh subprocess: {sub / tool:.1f}×")


if __name__ == "__main__":
    main()
