"""Denial-of-service inputs for the math verifier.

Every hostile output must come back within the verifier's own timeout (plus slack for process
start-up), with a status other than ``correct``, from the main thread and from other threads,
and must leave no runaway child process behind.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parents[2])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import engine_helpers as h  # noqa: E402
from rlvr.types import Sample, Verdict  # noqa: E402

TIMEOUT = 2.0
LIMIT = TIMEOUT * 1.5 + 1  # seconds a single verify() may take


def _nest(open_: str, close: str, depth: int, core: str) -> str:
    return open_ * depth + core + close * depth


def _nested_frac(depth: int) -> str:
    # \frac{1}{\frac{1}{...{2}}}: an even depth evaluates to 2.
    return "\\frac{1}{" * depth + "2" + "}" * depth


# id -> (output, reference). Every reference is chosen so that "correct" would be wrong.
CASES: dict[str, tuple[str, str]] = {
    "power-tower-boxed": ("\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}", "1"),
    "power-tower-plain": ("The answer is 9^9^9^9", "1"),
    "power-tower-latex": ("So we get $9^{9^{9^{9}}}$.", "1"),
    "power-tower-vs-tower": ("\\boxed{9^{9^{9^{9}}}}", "9^{9^{9^{8}}}"),
    "factorial-huge": ("\\boxed{100000!}", "5"),
    "factorial-power": ("\\boxed{(10^{10})!}", "5"),
    "factorial-vs-factorial": ("\\boxed{(10^{10})!}", "(10^{10}+1)!"),
    "nested-braces-5000": ("\\boxed{" + _nest("{", "}", 5000, "1") + "}", "2"),
    "many-boxes-then-different": ("\\boxed{1} " * 2000 + "\\boxed{2}", "1"),
    "output-1mb-text": ("Let me think step by step. " * 37_000 + "\\boxed{7}", "8"),
    "output-over-1mb": ("x = 1. " * 150_000 + "The answer is 3.", "4"),
    "single-number-1mb": ("\\boxed{" + "9" * 999_000 + "}", "1"),
    "single-number-1mb-plain": ("1" * 1_000_000, "2"),
    "nested-parens-5000": ("\\boxed{" + _nest("(", ")", 5000, "1") + "}", "2"),
    "nested-left-right-2000": ("\\boxed{" + _nest("\\left(", "\\right)", 2000, "1") + "}", "2"),
    "nested-sqrt-3000": ("\\boxed{" + _nest("\\sqrt{", "}", 3000, "4") + "}", "4"),
    "nested-frac-2000": ("\\boxed{" + _nested_frac(2000) + "}", "3"),
    "huge-exponent": ("\\boxed{10^{10^{10}}}", "2\\cdot 10^{10^{10}}"),
    "huge-float-exponent": ("The answer is 1e999999999.", "1"),
    "long-sum": ("\\boxed{" + "+".join(["x"] * 20000) + "}", "20001x"),
    "many-dollars": ("$" * 200_000 + "5", "6"),
    "unclosed-boxes": ("\\boxed{" * 50_000 + "3", "4"),
    # The <answer> block, anchor sentences, relations and the form check (issue 16's additions).
    "answer-openers": ("<answer>" * 100_000 + "5", "6"),
    "answer-closers": ("</answer>" * 100_000 + "5", "6"),
    "answer-blocks": ("<answer>1</answer>" * 50_000 + "<answer>2</answer>", "1"),
    "answer-think-closers": ("</think>" * 50_000 + "<answer>5", "6"),
    "answer-huge-block": ("<answer>" + "9" * 1_000_000 + "</answer>", "1"),
    "answer-sentence-words": ("<answer>" + "the value is " * 20_000 + "5</answer>", "6"),
    "anchor-then-parens": ("The final answer is " + "(" * 200_000 + "5", "6"),
    "anchor-then-quotes": ("The final answer is 5" + '"' * 200_000, "6"),
    "inequality-chain": ("\\boxed{" + " < ".join(["x"] * 300) + "}", "(-\\infty, 1)"),
    "linear-many-vars": ("\\boxed{" + "+".join(f"x_{{{i}}}" for i in range(200)) + " = 1}", "x_{0} = 1"),
    "binom-huge": ("\\boxed{\\binom{10^{9}}{500000000}}", "1"),
    "binom-symbolic-huge": ("\\boxed{\\binom{10^{9}}{x}}", "x"),
    "polynomial-blowup": ("\\boxed{(x+y+z+w+v)^{12} = (x-y)^{12}}", "(x+y+z+w+v)^{12} = (x+y)^{12}"),
    "polynomial-products": ("\\boxed{" + "".join(f"(x_{{{i}}}+1)" for i in range(60)) + " = 0}", "x = 0"),
    "number-ending-1mb": ("Numbers: " + "1 + " * 250_000 + "2", "2"),
}


@pytest.fixture(scope="module")
def verifier():
    """One verifier for the whole module, so a warm worker pool (if any) is reused as in training."""
    from rlvr.verifiers.math import MathVerifier

    v = MathVerifier(timeout=TIMEOUT)
    yield v
    close = getattr(v, "close", None)
    if callable(close):
        close()


def timed_verify(v, output: str, answer: str) -> tuple[Verdict, float]:
    t0 = time.monotonic()
    verdict = v.verify(Sample(output=output, answer=answer))
    return verdict, time.monotonic() - t0


def check(case: str, verdict: Verdict, elapsed: float) -> None:
    assert isinstance(verdict, Verdict), (case, verdict)
    assert elapsed < LIMIT, (
        f"{case}: verify took {elapsed:.2f}s (limit {LIMIT:.1f}s); {verdict.status}: {verdict.reason}"
    )
    judged = f"{case}: judged correct: {verdict.reason} {dict(verdict.details)}"
    assert verdict.status != "correct", judged[:2000]
    assert verdict.score == 0.0, case


@pytest.mark.parametrize("case", list(CASES))
def test_main_thread(verifier, case: str) -> None:
    output, answer = CASES[case]
    check(case, *timed_verify(verifier, output, answer))


@pytest.mark.parametrize("case", list(CASES))
def test_in_a_thread(verifier, case: str) -> None:
    output, answer = CASES[case]
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = timed_verify(verifier, output, answer)
        except BaseException as exc:  # surfaced below with the case name
            box["exc"] = exc

    t = threading.Thread(target=run, name=f"dos-{case}", daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(LIMIT + 5)
    assert not t.is_alive(), f"{case}: verify() still running after {time.monotonic() - t0:.1f}s in a thread"
    if "exc" in box:
        raise AssertionError(f"{case}: verify raised in a thread: {box['exc']!r}")
    check(case, *box["result"])  # type: ignore[misc]


def test_many_threads_at_once(verifier) -> None:
    """Several hostile checks at once, as a trainer's reward thread pool would issue them.

    Each call must still honour its own timeout: a queue behind one busy worker would not.
    """
    hard = [
        "power-tower-boxed",
        "power-tower-plain",
        "factorial-huge",
        "factorial-power",
        "nested-sqrt-3000",
        "nested-frac-2000",
        "huge-exponent",
        "long-sum",
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case: pool.submit(timed_verify, verifier, *CASES[case]) for case in hard}
        results = {case: f.result(timeout=60) for case, f in futures.items()}
    for case, (verdict, elapsed) in results.items():
        check(case, verdict, elapsed)


def test_easy_checks_still_work_after_hostile_ones(verifier) -> None:
    """A killed or wedged worker must not poison later, ordinary checks."""
    for case in ("power-tower-boxed", "factorial-power"):
        verifier.verify(Sample(output=CASES[case][0], answer=CASES[case][1]))
    verdict, elapsed = timed_verify(
        verifier, "So the answer is $\\boxed{\\frac{\\sqrt{2}}{2}}$.", "\\frac{1}{\\sqrt{2}}"
    )
    assert verdict.status == "correct", verdict.reason
    assert elapsed < LIMIT
    verdict, _ = timed_verify(verifier, "#### 42", "42")
    assert verdict.status == "correct", verdict.reason


def test_no_runaway_children(verifier) -> None:
    """After hostile checks return, no child process may still be computing them.

    A warm pool of idle workers is allowed (this test does not call close(); the module fixture
    does, and then checks that every child is gone).
    """
    for case in ("power-tower-boxed", "factorial-power", "nested-sqrt-3000"):
        timed_verify(verifier, *CASES[case])
    children = h.child_pids()
    first = {pid: h.cpu_seconds(pid) for pid in children}
    time.sleep(1.0)
    busy = []
    for pid, cpu in first.items():
        later = h.cpu_seconds(pid)
        if cpu is not None and later is not None and later - cpu > 0.3:
            busy.append(f"{h.describe(pid)} used {later - cpu:.2f}s CPU in 1s")
    assert not busy, "child processes still computing after their checks returned:\n" + "\n".join(busy)
    zombies = [h.describe(p) for p in h.child_pids() if h.proc_state(p) == "Z"]
    assert not zombies, zombies


def test_close_leaves_no_children() -> None:
    """A fresh verifier, hostile checks from two threads, then close(): nothing it started remains.

    Without a close() method a warm pool is allowed, but it must be idle (checked above).
    """
    from rlvr.verifiers.math import MathVerifier

    before = h.child_pids()
    v = MathVerifier(timeout=TIMEOUT)
    cases = ["power-tower-boxed", "factorial-power", "nested-frac-2000", "many-boxes-then-different"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _verdict, elapsed in pool.map(lambda c: timed_verify(v, *CASES[c]), cases):
            assert elapsed < LIMIT
    check("power-tower-plain", *timed_verify(v, *CASES["power-tower-plain"]))
    close = getattr(v, "close", None)
    if not callable(close):
        pytest.skip("MathVerifier has no close(); idle warm workers are allowed")
    close()
    leftover = h.wait_for_no_new_children(before, timeout=5.0)
    assert not leftover, "children left after close():\n" + "\n".join(h.describe(p) for p in leftover)
