"""Unit tests of the math verifier's parts; the big case table lives in test_math_cases.py."""

import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import pytest

from rlvr import ConfigError, Sample, get_verifier
from rlvr.engine.worker import WorkerProcess, WorkerTimeout, call_in_worker
from rlvr.verifiers.math import MathVerifier, split_unit
from rlvr.verifiers.math.compare import compare
from rlvr.verifiers.math.exact import NeedSymbolic, Tolerance, TooLarge, exact_value
from rlvr.verifiers.math.parse import MathParseError, normalize, parse_answer, plain_number


def P(s):
    return parse_answer(normalize(s))


@pytest.mark.parametrize(
    "text, value",
    [
        ("1,234,567", Fraction(1234567)),
        ("-3.50", Fraction(-7, 2)),
        ("1.5e3", Fraction(1500)),
        (r"1.5\times10^{3}", Fraction(1500)),
        (r"\frac{3}{4}", Fraction(3, 4)),
        (r"\dfrac34", Fraction(3, 4)),
        (r"-\frac{1}{2}", Fraction(-1, 2)),
        (r"2\frac{1}{2}", Fraction(5, 2)),
        ("2 1/2", Fraction(5, 2)),
        ("-2 1/2", Fraction(-5, 2)),
        ("2^{10}", Fraction(1024)),
        ("2^3^2", Fraction(512)),  # right-associative
        ("-2^2", Fraction(-4)),
        ("1/2^{99}", Fraction(1, 2**99)),
        ("5!", Fraction(120)),
        ("(3)(4)", Fraction(12)),
        (r"3\cdot 4 \div 6", Fraction(2)),
    ],
)
def test_exact_values(text, value):
    assert exact_value(P(text)) == value


def test_plain_number_fast_path():
    assert plain_number("-0.125") == Fraction(-1, 8)
    assert plain_number("3/4") == Fraction(3, 4)
    assert plain_number("3/0") is None and plain_number("x") is None


@pytest.mark.parametrize("text", [r"\frac{1}{2", "(1, 2", "5 or 6", "((((" * 100, "x" * 2000, "@"])
def test_parse_errors(text):
    with pytest.raises(MathParseError):
        P(text)


def test_structures_parse():
    assert P("[1,2)")[0] == "interval" and P(r"\{1,2\}")[0] == "set"
    assert P(r"\begin{pmatrix}1&2\\3&4\end{pmatrix}") == (
        "matrix",
        ((("num", 1), ("num", 2)), (("num", 3), ("num", 4))),
    )
    assert P(r"(0,\infty)\cup[2,3]")[0] == "union"


def test_tolerance_is_relative_and_absolute_never_rounding():
    tol = Tolerance()
    assert tol.close(Fraction(1, 3), Fraction(1, 3))
    assert not tol.close(Fraction(1, 2**99), Fraction(1, 2**98))  # 6-decimal rounding would conflate these
    assert not tol.close(Fraction(333, 1000), Fraction(1, 3))
    assert tol.close(Fraction(10**12), Fraction(10**12 + 1))  # 1e-12 relative
    assert Tolerance(abs_tol=0.01).close(Fraction(333, 1000), Fraction(1, 3))


def test_compare_needs_symbolic_only_for_non_rational_scalars():
    tol = Tolerance()
    assert compare(P("0.5"), P(r"\frac12"), tol).equal
    with pytest.raises(NeedSymbolic):
        compare(P(r"\sqrt{8}"), P(r"2\sqrt2"), tol)
    assert compare(P(r"\sqrt{8}"), P(r"2\sqrt2"), tol, symbolic=True).equal


def test_power_towers_are_refused_before_evaluation():
    with pytest.raises(TooLarge):
        exact_value(P("2^{2^{2^{2^{2^{2}}}}}"))
    with pytest.raises(TooLarge):
        exact_value(P("(10^{10})!"))


@pytest.mark.parametrize(
    "text, unit",
    [
        ("5 km", "km"),
        ("5 m", "m"),
        ("12 apples", "apples"),
        ("5m", None),
        ("2x", None),
        (r"3\pi", None),
        ("5 or 6", None),
        ("x^2 + 2x", None),
        ("10 m/s", "m/s"),
    ],
)
def test_split_unit(text, unit):
    assert split_unit(text)[1] == unit


@pytest.mark.parametrize(
    "output, answer, options, status",
    [
        (r"\boxed{5 km}", "5000 m", {"units": "convert"}, "correct"),
        (r"\boxed{5 km}", "5000 m", {}, "incorrect"),
        (r"\boxed{5}", "5 m", {"units": "strict"}, "incorrect"),
        (r"\boxed{50\%}", "0.5", {"percent": "both"}, "correct"),
        (r"\boxed{50\%}", "0.5", {}, "incorrect"),
        ("\\boxed{0.333}", r"\frac13", {"abs_tol": 0.001}, "correct"),
        ("no numbers here", "5", {}, "unparsable"),
        ("it is 5", "5", {"fallback": None}, "unparsable"),
        (r"\boxed{\frac{6}{8}}", "0.75", {}, "correct"),  # the form check is off by default
        (r"\boxed{\frac{6}{8}}", "0.75", {"form": "simplified"}, "incorrect"),
        ("#### 6/8", "3/4", {"form": "simplified"}, "incorrect"),
        (r"\boxed{\frac{3}{4}}", "0.75", {"form": "simplified"}, "correct"),
        (r"\boxed{932}", r"2^2 \cdot 233", {"form": "simplified"}, "incorrect"),
        (r"\boxed{2 \times 2 \times 233}", r"2^2 \cdot 233", {"form": "simplified"}, "correct"),
        (r"\boxed{\frac{6}{8}}", "0.75", {"form": None}, "correct"),
    ],
)
def test_options(output, answer, options, status):
    assert MathVerifier(**options).verify(Sample(output, answer)).status == status


@pytest.mark.parametrize(
    "bad",
    [{"percent": "x"}, {"units": "si"}, {"fallback": "first"}, {"rel_tol": -1}, {"timeout": 0}, {"form": "lowest"}],
)
def test_bad_options_raise_config_error(bad):
    with pytest.raises(ConfigError):
        MathVerifier(**bad)


def test_registered_as_math_and_options_pass_through():
    v = get_verifier("math", rel_tol=1e-6)
    assert isinstance(v, MathVerifier) and v.tol.rel_tol == 1e-6
    with pytest.raises(ConfigError, match="bad options"):
        get_verifier("math", no_such_option=1)


@pytest.mark.parametrize(
    "answer, status",
    [(None, "error"), (True, "error"), ([1, 2], "error"), (5, "correct"), (5.0, "correct")],
)
def test_reference_types(answer, status):
    assert MathVerifier().verify(Sample(r"\boxed{5}", answer)).status == status


@pytest.mark.parametrize("output", [None, 5, ["5"], b"5"])
def test_non_string_outputs_are_unparsable(output):
    v = MathVerifier().verify(Sample(output, "5"))  # type: ignore[arg-type]
    assert v.status == "unparsable" and "string" in v.reason


def test_details_explain_the_verdict():
    v = MathVerifier().verify(Sample(r"so \boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt2}"))
    assert v.status == "correct"
    assert v.details["extracted"] == r"\frac{\sqrt{2}}{2}" and v.details["method"] == "boxed"
    assert v.details["match"] == "symbolic"


def test_symbolic_timeout_is_a_timeout_verdict():
    v = MathVerifier(timeout=0.001).verify(Sample(r"\boxed{\sin^2 x + \cos^2 x}", "1"))
    assert v.status == "timeout" and "0.001s" in v.reason
    # The pool recovers: the next check gets a fresh worker.
    assert MathVerifier().verify(Sample(r"\boxed{\sin^2 x + \cos^2 x}", "1")).status == "correct"


def test_symbolic_path_is_thread_safe():
    v = MathVerifier()
    cases = [
        (r"\boxed{2\sqrt{2}}", r"\sqrt8", "correct"),
        (r"\boxed{(x+1)^2}", "x^2+2x+1", "correct"),
        (r"\boxed{3.14}", r"\pi", "incorrect"),
        (r"\boxed{e^{i\pi}}", "-1", "correct"),
    ] * 6
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda c: v.verify(Sample(c[0], c[1])).status, cases))
    assert got == [c[2] for c in cases]


def test_worker_deadline_kills_the_worker():
    w = WorkerProcess()
    try:
        with pytest.raises(WorkerTimeout):
            call_in_worker(w, "time:sleep", (30,), 0.5)
        assert not w.alive()
    finally:
        w.close()


def test_verify_never_uses_signals_from_threads():
    # signal.alarm can only be used from the main thread; a verifier using it would raise here.
    result = {}

    def run():
        result["v"] = MathVerifier().verify(Sample(r"\boxed{\sqrt{18}}", r"3\sqrt2")).status

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert result["v"] == "correct"


@pytest.mark.parametrize(
    "output, answer, status",
    [
        # Found by the benchmark: a constant difference between huge polynomials is still a difference.
        (r"\boxed{(x+1)^{300}}", "(x+1)^{300}+1", "incorrect"),
        (r"\boxed{x^{300}}", "x^{300}+1", "incorrect"),
        # An escaped dollar inside $...$ does not end the math.
        (r"The answer is $\$84$.", "84", "correct"),
    ],
)
def test_regressions(output, answer, status):
    assert MathVerifier().verify(Sample(output, answer)).status == status


def test_forked_child_starts_with_an_empty_pool():
    import os

    from rlvr.verifiers.math import verifier as math_module

    MathVerifier().verify(Sample(r"\boxed{\sqrt8}", r"2\sqrt2"))  # warm the parent's pool
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(w, str(len(math_module._POOL._idle)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(r, 10) == b"0"


@pytest.mark.parametrize(
    "output, answer, status",
    [
        ("The answer is 5 thousand.", "5", "incorrect"),  # a number word is scale, not a unit
        ("The answer is 5 thousand.", "5000", "correct"),
        (r"\boxed{2.5 \text{ million dollars}}", "2500000", "correct"),
        (r"\boxed{3 dozen}", "36", "correct"),
    ],
)
def test_number_words_scale_the_value(output, answer, status):
    assert MathVerifier().verify(Sample(output, answer)).status == status


@pytest.mark.parametrize(
    "output, answer, status",
    [
        (r"\boxed{\pi \approx 3.14}", "3.14", "correct"),  # an announced approximation is not a false claim
        (r"\boxed{2+2 = 4 \approx 5}", "5", "correct"),
        (r"\boxed{2+2=5 \approx 4}", "4", "incorrect"),  # the "=" link is still checked
        (r"\boxed{x \le 3}", r"3 \ge x", "correct"),
        (r"\boxed{x < 3}", r"x \le 3", "incorrect"),
        (r"\boxed{\mathbb{R}}", r"\mathbb{R}", "correct"),
    ],
)
def test_relations(output, answer, status):
    assert MathVerifier().verify(Sample(output, answer)).status == status


@pytest.mark.parametrize(
    "output, answer, status",
    [
        # Huge values must not hide a difference behind a relative tolerance.
        (r"\boxed{(x+1)^{2000}}", "(x+1)^{2000}+x", "incorrect"),
        (r"\boxed{\pi^{2000}}", r"\pi^{2000}+1", "incorrect"),
        (r"\boxed{2^{-400}\sqrt{2}}", r"2^{-399}\sqrt{2}", "incorrect"),
        # Identities that expansion alone does not see still pass.
        (r"\boxed{\sin^2 x + \cos^2 x}", "1", "correct"),
        (r"\boxed{\arctan(x) + \arctan(1/x)}", r"\frac{\pi}{2}", "correct"),
        (r"\boxed{\sqrt{2}+\sqrt{3}}", r"\sqrt{5+2\sqrt{6}}", "correct"),
        (r"\boxed{\ln(x^2)}", r"2\ln x", "correct"),
        # With decimals the tolerance applies.
        (r"\boxed{0.7071067811865476}", r"\frac{\sqrt2}{2}", "correct"),
        (r"\boxed{0.7071}", r"\frac{\sqrt2}{2}", "incorrect"),
    ],
)
def test_symbolic_equivalence(output, answer, status):
    v = MathVerifier(timeout=30).verify(Sample(output, answer))
    assert v.status == status, v.reason


def test_form_option_from_the_command_line(tmp_path):
    """``rlvr verify --opt form=simplified`` reaches the verifier: 6/8 then fails, 3/4 passes."""
    import json
    import os
    import subprocess
    import sys

    src = tmp_path / "answers.jsonl"
    rows = [{"output": "\\boxed{\\frac{6}{8}}", "answer": "0.75"}, {"output": "\\boxed{\\frac34}", "answer": "0.75"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def counts(*opts: str) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "rlvr.cli", "verify", str(src), "--verifier", "math", "--workers", "0", "--json", *opts],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)["counts"]

    assert counts() == {"correct": 2}
    assert counts("--opt", "form=simplified") == {"correct": 1, "incorrect": 1}


@pytest.mark.parametrize(
    "output",
    ["$\\boxed{5}$\n\nThe final answer is $5", "\\boxed{5$}\n\n\\boxed{5}", "#### 5$\n\nThe answer is $5$."],
)
def test_copies_differing_by_a_stray_dollar_are_one_answer(output):
    verdict = MathVerifier().verify(Sample(output, "5"))
    assert verdict.status == "correct" and verdict.details["extracted"] == "5", verdict.details


def test_two_different_answers_one_with_a_stray_dollar_are_a_hedge():
    verdict = MathVerifier().verify(Sample("$\\boxed{5}$\n\nThe final answer is $6", "5"))
    assert verdict.status == "incorrect" and verdict.details["extracted"] == ["5", "6"], verdict.details
