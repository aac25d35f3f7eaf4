#!/usr/bin/env python
"""rlvr's math verifier against math-verify on the same labelled outputs: speed and accuracy.

Builds a deterministic (seeded) set of (model output, reference, is_correct) pairs from templates
that look like real model outputs — GSM8K ``####``, ``\\boxed{}``, "The answer is", Minerva's
"Final Answer", bold, a bare last number; plain integers, decimals, fractions, money, and LaTeX
(``\\frac``, ``\\sqrt``, ``\\pi``, powers, intervals, sets, polynomials, points) — about half right
and half near-misses (off by one, sign flip, wrong or flipped fraction, hedges between two answers).

Both sides run with the same number of processes (a multiprocessing pool, one checker built per
process), reported as checks/s and the ratio ours/peer; per-check latency p50/p99 comes from a
separate single-process pass; false positives / negatives are counted against the labels and, if
present, against the trap table ``tests/data/math_cases.jsonl``.

    .venv/bin/pip install 'math-verify[antlr4_13_2]'     # or: pip install -e '.[bench]'
    .venv/bin/python bench/math_vs_peer.py --procs 2 --n 2000
    .venv/bin/python bench/math_vs_peer.py --json
    .venv/bin/python bench/math_vs_peer.py --cli --n 6000     # the CLI, start-up included

Notes: math-verify times out with signals, so it must run in a process's main thread — pool
workers run tasks in theirs. Its gold answers are given as ``$...$`` (its documented usage). Our
verifier may start helper processes of its own for sympy (only for hard expressions); they are
not counted in ``--procs``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRAP_TABLE = ROOT / "tests" / "data" / "math_cases.jsonl"
PEER_INSTALL = "pip install 'math-verify[antlr4_13_2]'   (or: pip install -e '.[bench]')"

# ---------------------------------------------------------------------------------------------
# The labelled set
# ---------------------------------------------------------------------------------------------

_NAMES = ["Natalia", "Janet", "Tom", "Priya", "Wei", "Carlos", "Amara", "Olga"]
_ITEMS = ["apples", "clips", "marbles", "books", "eggs", "stickers", "pencils", "cookies"]


def _reasoning(rng: random.Random) -> str:
    """A few lines of step-by-step working with intermediate numbers, like a real model's."""
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    a, b = rng.randint(2, 60), rng.randint(2, 30)
    steps = [
        f"{name} starts with {a} {item} and buys {b} more, so {a} + {b} = {a + b} {item}.",
        f"Each box holds {b} {item}, so {a} boxes hold {a} \\times {b} = {a * b}.",
        f"Let $x$ be the unknown. Then $2x + {a} = {2 * b + a}$, so $x = {b}$.",
        f"First, note that ${a} \\cdot {b} = {a * b}$ and ${a * b} - {b} = {a * b - b}$.",
        f"We need to be careful here: the problem asks for the final quantity, not the {b} we found first.",
        f"Natalia sold {2 * a}/2 = <<{2 * a}/2={a}>>{a} clips in May.",
    ]
    return "\n".join(rng.sample(steps, rng.randint(1, 3)))


# Families: (kind, reference, equivalent forms, near-miss forms, plain) — plain answers are bare
# numbers that may appear without math delimiters.
def _family(rng: random.Random) -> tuple[str, str, list[str], list[str], bool]:
    r = rng.random()
    if r < 0.30:  # integers
        v = rng.choice([rng.randint(0, 120), rng.randint(100, 99_999), -rng.randint(1, 50)])
        eq = [str(v)] + ([f"{v:,}"] if abs(v) >= 1000 else []) + [f"{v}.0"] * (rng.random() < 0.1)
        wrong = [str(v + 1), str(v - 1), str(v * 10 if v else 5)] + ([str(-v)] if v else [])
        return "integer", str(v), eq, wrong, True
    if r < 0.42:  # decimals
        k = rng.choice([1, 2])
        v = Fraction(rng.randint(1, 9999), 10**k)
        if v.denominator == 1:
            v += Fraction(1, 10**k)
        s = f"{float(v):.{k}f}"
        eq = [s, s + "0", f"{v.numerator}/{v.denominator}"]
        step = Fraction(1, 10**k)
        wrong = [f"{float(v + step):.{k}f}", f"{float(v - step):.{k}f}", f"{float(v * 10):.{k}f}", f"-{s}"]
        return "decimal", s, eq, wrong, True
    if r < 0.55:  # fractions
        q = rng.choice([3, 4, 5, 6, 7, 8, 9, 11, 12])
        p = rng.choice([n for n in range(1, 3 * q) if math.gcd(n, q) == 1])
        ref = f"\\frac{{{p}}}{{{q}}}"
        eq = [ref, f"{p}/{q}", f"\\dfrac{{{p}}}{{{q}}}", f"\\frac{{{2 * p}}}{{{2 * q}}}"]
        if q in (4, 5, 8):
            eq.append(str(float(Fraction(p, q))))
        wrong = [
            f"\\frac{{{q}}}{{{p}}}",
            f"\\frac{{{p + 1}}}{{{q}}}",
            f"-\\frac{{{p}}}{{{q}}}",
            f"\\frac{{{p}}}{{{q + 1}}}",
        ]
        return "fraction", ref, eq, wrong, False
    if r < 0.62:  # money
        v = rng.randint(2, 500)
        eq = [f"\\${v}", f"{v} dollars", f"\\${v}.00"]
        wrong = [f"\\${v + 1}", f"{v - 1} dollars", f"\\${v * 2}"]
        return "money", str(v), eq, wrong, False
    kind = rng.choice(["sqrt", "frac_sqrt", "pi", "power", "interval", "set", "poly", "point"])
    if kind == "sqrt":
        a, b = rng.choice([(2, 3), (3, 2), (2, 5), (5, 2), (2, 7), (3, 5)])
        ref = f"{a}\\sqrt{{{b}}}"
        eq = [ref, f"\\sqrt{{{a * a * b}}}", f"{a} \\sqrt{b}"]
        wrong = [f"{b}\\sqrt{{{a}}}", f"\\sqrt{{{a * b}}}", f"{a + 1}\\sqrt{{{b}}}"]
    elif kind == "frac_sqrt":
        n = rng.choice([2, 3, 5])
        ref = f"\\frac{{\\sqrt{{{n}}}}}{{{n}}}"
        eq = [ref, f"\\frac{{1}}{{\\sqrt{{{n}}}}}", f"\\frac{{\\sqrt {n}}}{{{n}}}"]
        wrong = [
            f"\\frac{{\\sqrt{{{n}}}}}{{{n + 1}}}",
            f"\\sqrt{{{n}}}",
            f"\\frac{{{n}}}{{\\sqrt{{{n + 1}}}}}",
        ]
    elif kind == "pi":
        k = rng.choice([2, 3, 4, 6, 8, 12])
        ref = f"\\frac{{\\pi}}{{{k}}}"
        eq = [ref, f"\\pi/{k}", f"\\frac{{1}}{{{k}}}\\pi"]
        wrong = [f"\\frac{{\\pi}}{{{k + 1}}}", f"\\frac{{2\\pi}}{{{k}}}", f"{k}\\pi"]
    elif kind == "power":
        b, e = rng.choice([2, 3, 5]), rng.randint(3, 12)
        ref = f"{b}^{{{e}}}"
        eq = [ref, str(b**e), f"{b}^{e}" if e < 10 else ref]
        wrong = [f"{b}^{{{e + 1}}}", str(b**e + 1), str(b**e - 1)] + (
            [f"{e}^{{{b}}}"] if e**b != b**e else []
        )
    elif kind == "interval":
        a, b = sorted(rng.sample(range(-9, 10), 2))
        ref = f"({a}, {b}]"
        eq = [ref, f"({a},{b}]", f"\\left({a}, {b}\\right]"]
        wrong = [f"[{a}, {b}]", f"({a}, {b})", f"({a}, {b + 1}]"]
    elif kind == "set":
        xs = sorted(rng.sample(range(-5, 12), 3))
        ref = "\\{" + ", ".join(map(str, xs)) + "\\}"
        perm = xs[:]
        rng.shuffle(perm)
        eq = [ref, "\\{" + ",".join(map(str, perm)) + "\\}"]
        wrong = [
            "\\{" + ", ".join(map(str, xs[:2])) + "\\}",
            "\\{" + ", ".join(str(x + 1) for x in xs) + "\\}",
        ]
    elif kind == "poly":
        c = rng.randint(1, 5)
        ref = f"x^2 + {2 * c}x + {c * c}"
        eq = [ref, f"(x+{c})^2", f"(x + {c})(x + {c})"]
        wrong = [f"(x-{c})^2", f"x^2 + {c}x + {c * c}", f"(x+{c + 1})^2"]
    else:  # point
        a, b = rng.randint(-9, 9), rng.randint(-9, 9)
        if a == b:
            b += 1
        ref = f"({a}, {b})"
        eq = [ref, f"({a},{b})", f"\\left({a}, {b}\\right)"]
        wrong = [f"({b}, {a})", f"({a}, {-b if b else 1})", f"({a + 1}, {b})"]
    return kind, ref, eq, wrong, False


def _render(rng: random.Random, answer: str, plain: bool) -> str:
    """One model output whose final answer is ``answer``."""
    lead = _reasoning(rng)
    math_ans = f"${answer}$"
    templates = [
        f"{lead}\n\nTherefore, the answer is $\\boxed{{{answer}}}$.",
        f"{lead}\nSo the final result is \\boxed{{{answer}}}",
        f"{lead}\n\nFinal Answer: The final answer is {math_ans}. I hope it is correct.",
        f"{lead}\n\nThe answer is {math_ans}.",
        f"{lead}\n\n**Final Answer**\n\n\\[\n\\boxed{{{answer}}}\n\\]",
    ]
    if plain:
        templates += [
            f"{lead}\n#### {answer}",
            f"{lead}\nThe answer is {answer}.",
            f"{lead}\nSo the total comes to **{answer}**.",
            f"{lead}\nSo in the end there are {answer} left.",
        ]
    return rng.choice(templates)


def _hedge(rng: random.Random, a: str, b: str, plain: bool) -> str:
    lead = _reasoning(rng)
    options = [
        f"{lead}\n\nThe answer is either $\\boxed{{{a}}}$ or $\\boxed{{{b}}}$.",
        f"{lead}\n\nIt could be \\boxed{{{a}}}, but it might also be \\boxed{{{b}}}.",
    ]
    if plain:
        options.append(f"{lead}\nThe answer is {a} or {b}.")
    return rng.choice(options)


def _self_correction(rng: random.Random, first: str, final: str) -> str:
    lead = _reasoning(rng)
    return (
        f"{lead}\nSo we get $\\boxed{{{first}}}$.\n\nWait, that's wrong: I dropped a term. "
        f"Redoing the last step carefully gives $\\boxed{{{final}}}$."
    )


def make_pairs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` labelled pairs, the same for the same ``(n, seed)``."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        kind, ref, eq, wrong, plain = _family(rng)
        correct = rng.random() < 0.5
        r = rng.random()
        if correct:
            if r < 0.06:
                output, how = _self_correction(rng, rng.choice(wrong), rng.choice(eq)), "self-corrected"
            else:
                output, how = _render(rng, rng.choice(eq), plain), "equivalent"
        else:
            if r < 0.12:
                output, how = _hedge(rng, rng.choice(eq), rng.choice(wrong), plain), "hedge"
            elif r < 0.17:
                output, how = _self_correction(rng, rng.choice(eq), rng.choice(wrong)), "corrected-to-wrong"
            else:
                output, how = _render(rng, rng.choice(wrong), plain), "near-miss"
        pairs.append({"i": i, "kind": kind, "how": how, "output": output, "answer": ref, "correct": correct})
    return pairs


def load_traps(path: Path = TRAP_TABLE) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


# ---------------------------------------------------------------------------------------------
# The two checkers. Each returns a status string: correct | incorrect | ... | error.
# ---------------------------------------------------------------------------------------------

_SIDE: str | None = None
_OURS: dict[str, Any] = {}


def _peer_check(output: str, answer: Any) -> str:
    from math_verify import parse, verify

    try:
        gold = parse(f"${answer}$")
        pred = parse(output)
        return "correct" if verify(gold, pred) else "incorrect"
    except Exception:
        return "error"


def _ours_check(output: str, answer: Any, options: dict[str, Any] | None = None) -> str:
    from rlvr.types import Sample

    key = json.dumps(options or {}, sort_keys=True)
    v = _OURS.get(key)
    if v is None:
        from rlvr.verifiers.math import MathVerifier

        v = _OURS[key] = MathVerifier(**(options or {}))
    return v.verify(Sample(output=output, answer=answer)).status


def _check(side: str, output: str, answer: Any, options: dict[str, Any] | None = None) -> str:
    return _peer_check(output, answer) if side == "peer" else _ours_check(output, answer, options)


_WARM = [("$\\boxed{\\sqrt{12}}$", "2\\sqrt{3}"), ("#### 42", "42"), ("so $x^2+2x+1$", "(x+1)^2")]


def _init(side: str) -> None:
    """Per-process set-up: load the checker and its heavy imports before any timing starts."""
    global _SIDE
    _SIDE = side
    for output, answer in _WARM:
        _check(side, output, answer)


def _pool_task(item: tuple[str, Any]) -> str:
    assert _SIDE is not None
    return _check(_SIDE, item[0], item[1])


def _pid(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def throughput(side: str, pairs: list[dict[str, Any]], procs: int, mode: str) -> tuple[list[str], float]:
    """Statuses for ``pairs`` and the seconds they took on ``procs`` warm processes."""
    items = [(p["output"], p["answer"]) for p in pairs]
    if side == "ours" and mode == "engine":
        from rlvr.engine import EngineConfig, verify_iter
        from rlvr.types import Sample
        from rlvr.verifiers.math import MathVerifier

        samples = [Sample(output=o, answer=a) for o, a in items]
        cfg = EngineConfig(workers=procs, chunk_size=32)
        list(verify_iter(samples[: 4 * procs], MathVerifier(), cfg))  # imports, page cache
        t0 = time.perf_counter()
        statuses = [v.status for v in verify_iter(samples, MathVerifier(), cfg)]
        return statuses, time.perf_counter() - t0
    # spawn: no inherited state (our warm sympy helpers, math-verify's signal handlers) in workers.
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs, initializer=_init, initargs=(side,)) as pool:
        seen: set[int] = set()
        while len(seen) < procs:  # every worker has finished _init once it has run a task
            seen.update(pool.map(_pid, range(2 * procs), chunksize=1))
        chunk = max(1, min(64, len(items) // (procs * 8) or 1))
        t0 = time.perf_counter()
        statuses = pool.map(_pool_task, items, chunksize=chunk)
        elapsed = time.perf_counter() - t0
    return statuses, elapsed


def latency(side: str, pairs: list[dict[str, Any]]) -> list[float]:
    """Seconds per check, one process, one check at a time (this process's main thread)."""
    _init(side)
    out = []
    for p in pairs:
        t0 = time.perf_counter()
        _check(side, p["output"], p["answer"])
        out.append(time.perf_counter() - t0)
    return out


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def score(statuses: list[str], labels: list[bool]) -> dict[str, int]:
    fp = sum(1 for s, ok in zip(statuses, labels) if s == "correct" and not ok)
    fn = sum(1 for s, ok in zip(statuses, labels) if s != "correct" and ok)
    return {"fp": fp, "fn": fn, "errors": sum(1 for s in statuses if s in ("error", "timeout"))}


def trap_scores(side: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """FP = a trap (expect != correct) judged correct; FN = an expected-correct case judged otherwise."""
    fp_ids, fn_ids = [], []
    for row in rows:
        got = _check(side, row["output"], row["answer"], row.get("options") if side == "ours" else None)
        want_correct = row.get("expect") == "correct"
        if got == "correct" and not want_correct:
            fp_ids.append(row.get("id"))
        elif got != "correct" and want_correct:
            fn_ids.append(row.get("id"))
    traps = sum(1 for r in rows if r.get("expect") != "correct")
    return {
        "cases": len(rows),
        "traps": traps,
        "fp": len(fp_ids),
        "fn": len(fn_ids),
        "fp_ids": fp_ids,
        "fn_ids": fn_ids,
    }


# ---------------------------------------------------------------------------------------------


_PEER_LOOP = """
import json, sys
from math_verify import parse, verify
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    row = json.loads(line)
    try:
        n += bool(verify(parse("$" + str(row["answer"]) + "$"), parse(row["output"])))
    except Exception:
        pass
print(n)
"""


def cli_race(pairs: list[dict[str, Any]], as_json: bool) -> int:
    """Both checkers as a user runs them: one fresh process each over the same file, wall time."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pairs.jsonl"
        src.write_text("".join(json.dumps({"output": p["output"], "answer": p["answer"]}) + "\n" for p in pairs))
        commands = {
            "ours": [sys.executable, "-m", "rlvr.cli", "verify", str(src), "--verifier", "math"]
            + ["--workers", "1", "--json", "-o", str(Path(tmp) / "verdicts.jsonl")],
            "peer": [sys.executable, "-c", _PEER_LOOP, str(src)],
        }
        seconds: dict[str, float] = {}
        for side, cmd in commands.items():
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds[side] = time.perf_counter() - t0
            if proc.returncode != 0:
                print(f"{side} failed: {proc.stderr[-2000:]}", file=sys.stderr)
                return 1
    report = {
        "n": len(pairs),
        "ours_command": "rlvr verify --verifier math --workers 1",
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "ratio_ours_over_peer": round(seconds["peer"] / seconds["ours"], 2),
    }
    if as_json:
        print(json.dumps(report))
    else:
        print(
            f"{len(pairs)} pairs, start-up included: rlvr verify --workers 1 {seconds['ours']:.2f}s, "
            f"math-verify loop {seconds['peer']:.2f}s -> {report['ratio_ours_over_peer']:.2f}x"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=2000, help="labelled pairs to generate (default 2000)")
    ap.add_argument("--procs", type=int, default=2, help="processes for each side (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--latency-n", type=int, default=None, help="pairs in the single-process latency pass (default: all)"
    )
    ap.add_argument(
        "--ours-mode",
        choices=["pool", "engine"],
        default="pool",
        help="ours through the same multiprocessing pool as the peer (default), or rlvr.engine.verify_iter",
    )
    ap.add_argument("--show", type=int, default=3, help="examples of each side's FP/FN to print")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument(
        "--cli",
        action="store_true",
        help="time `rlvr verify --verifier math --workers 1` against a math-verify loop, each a fresh "
        "process over the same JSONL file (start-up included); prints the wall times and the ratio",
    )
    args = ap.parse_args(argv)
    if args.n < 1 or args.procs < 1:
        ap.error("--n and --procs must be >= 1")
    if args.cli:
        return cli_race(make_pairs(args.n, args.seed), args.json)

    try:
        import math_verify  # noqa: F401
    except ImportError:
        print(f"math-verify is not installed: {PEER_INSTALL}", file=sys.stderr)
        return 1
    try:
        from rlvr.verifiers.math import MathVerifier  # noqa: F401
    except ImportError as exc:
        print(
            f"rlvr's math verifier cannot be imported ({exc}); pip install -e . from the repository",
            file=sys.stderr,
        )
        return 1

    pairs = make_pairs(args.n, args.seed)
    labels = [p["correct"] for p in pairs]
    lat_pairs = pairs[: args.latency_n] if args.latency_n else pairs
    traps = load_traps()
    report: dict[str, Any] = {
        "n": len(pairs),
        "seed": args.seed,
        "procs": args.procs,
        "ours_mode": f"engine (rlvr.engine.verify_iter, EngineConfig(workers={args.procs}))"
        if args.ours_mode == "engine"
        else f"multiprocessing pool ({args.procs} spawn processes, one MathVerifier each)",
        "peer_mode": f"multiprocessing pool ({args.procs} spawn processes)",
        "labels": {"correct": sum(labels), "wrong": len(labels) - sum(labels)},
        "kinds": dict(Counter(p["kind"] for p in pairs)),
        "trap_table": str(TRAP_TABLE.relative_to(ROOT)) if traps else None,
    }
    if not args.json:
        print(
            f"{len(pairs)} pairs (seed {args.seed}): {sum(labels)} correct, {len(labels) - sum(labels)} wrong; "
            f"{args.procs} processes per side; ours via {report['ours_mode']}",
            flush=True,
        )
    for side in ("peer", "ours"):
        statuses, seconds = throughput(side, pairs, args.procs, args.ours_mode)
        lat = latency(side, lat_pairs)
        res: dict[str, Any] = {
            "seconds": round(seconds, 3),
            "checks_per_s": round(len(pairs) / seconds, 1),
            "latency_ms": {
                "n": len(lat),
                "p50": round(percentile(lat, 50) * 1e3, 3),
                "p99": round(percentile(lat, 99) * 1e3, 3),
                "max": round(max(lat) * 1e3, 3),
                "mean": round(sum(lat) / len(lat) * 1e3, 3),
            },
            **score(statuses, labels),
            "statuses": dict(Counter(statuses)),
            "by_kind": {},
        }
        for kind in sorted({p["kind"] for p in pairs}):
            idx = [i for i, p in enumerate(pairs) if p["kind"] == kind]
            res["by_kind"][kind] = score([statuses[i] for i in idx], [labels[i] for i in idx])
        wrong_fp = [i for i, s in enumerate(statuses) if s == "correct" and not labels[i]]
        wrong_fn = [i for i, s in enumerate(statuses) if s != "correct" and labels[i]]
        res["examples"] = {
            "fp": [{**pairs[i], "got": statuses[i]} for i in wrong_fp[: args.show]],
            "fn": [{**pairs[i], "got": statuses[i]} for i in wrong_fn[: args.show]],
        }
        if traps:
            res["traps"] = trap_scores(side, traps)
        report[side] = res
        if not args.json:
            print(f"  {side}: done in {seconds:.2f}s", flush=True)
    report["ratio_ours_over_peer"] = round(report["ours"]["checks_per_s"] / report["peer"]["checks_per_s"], 2)
    if args.json:
        print(json.dumps(report))
    else:
        _print(report)
    return 0


def _print(r: dict[str, Any]) -> None:
    print()
    print(f"{'':24}{'math-verify':>14}{'rlvr math':>14}")
    rows = [
        ("checks/s", lambda s: f"{s['checks_per_s']:.1f}"),
        ("latency p50 (ms)", lambda s: f"{s['latency_ms']['p50']:.2f}"),
        ("latency p99 (ms)", lambda s: f"{s['latency_ms']['p99']:.2f}"),
        ("latency max (ms)", lambda s: f"{s['latency_ms']['max']:.1f}"),
        ("false positives", lambda s: str(s["fp"])),
        ("false negatives", lambda s: str(s["fn"])),
        ("errors/timeouts", lambda s: str(s["errors"])),
    ]
    if "traps" in r["ours"]:
        t = r["ours"]["traps"]
        rows += [
            (f"trap FP (of {t['traps']})", lambda s: str(s["traps"]["fp"])),
            (f"table FN (of {t['cases'] - t['traps']})", lambda s: str(s["traps"]["fn"])),
        ]
    for label, fmt in rows:
        print(f"{label:24}{fmt(r['peer']):>14}{fmt(r['ours']):>14}")
    print(f"\nthroughput ratio ours/peer: {r['ratio_ours_over_peer']:.2f}x  ({r['procs']} processes each)")
    print(f"ours ran as: {r['ours_mode']}")
    if not r["trap_table"]:
        print("trap table: tests/data/math_cases.jsonl not found, skipped")
    print("\nFP/FN by kind (peer | ours):")
    for kind in sorted(r["ours"]["by_kind"]):
        p, o = r["peer"]["by_kind"][kind], r["ours"]["by_kind"][kind]
        print(
            f"  {kind:12} n={r['kinds'][kind]:<5} fp {p['fp']:>3} | {o['fp']:<3}  fn {p['fn']:>3} | {o['fn']:<3}"
        )
    for side in ("peer", "ours"):
        for what in ("fp", "fn"):
            for ex in r[side]["examples"][what]:
                out = ex["output"].replace("\n", " ")
                print(
                    f"  {side} {what.upper()} [{ex['kind']}/{ex['how']}] ref={ex['answer']!r} got={ex['got']}: ...{out[-90:]!r}"
                )


if __name__ == "__main__":
    sys.exit(main())
