"""Relations as sets (math.relations) and the optional form check (math.form), against hand-worked values."""

from fractions import Fraction

import pytest

from rlvr.verifiers.math.form import form_problem
from rlvr.verifiers.math.parse import normalize, parse_answer
from rlvr.verifiers.math.relations import affine, equation_ratio, region

INF, NEG_INF = ("const", "inf"), ("neg", ("const", "inf"))


def p(s: str):
    return parse_answer(normalize(s))


def num(x) -> tuple:
    return ("num", Fraction(x))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2x + 4y - 3", {"x": 2, "y": 4, None: -3}),
        ("-\\frac12 x + \\frac34", {"x": Fraction(-1, 2), None: Fraction(3, 4)}),
        ("\\frac{x}{4} - 1", {"x": Fraction(1, 4), None: -1}),
        ("3(x - 2)", {"x": 3, None: -6}),
    ],
)
def test_affine_forms(text, expected):
    got = affine(p(text))
    assert {k: v for k, v in got.items() if v != 0} == {k: Fraction(v) for k, v in expected.items()}


@pytest.mark.parametrize("text", ["xy + 1", "x^2", "\\sqrt{x}", "\\frac{1}{x}", "\\sqrt{2} x"])
def test_non_affine_forms(text):
    assert affine(p(text)) is None


@pytest.mark.parametrize(
    "a, b, k",
    [
        ("2x + 4y - 3 = 0", "y = -\\frac12 x + \\frac34", Fraction(4)),  # 2x+4y-3 = 4(y + x/2 - 3/4)
        ("2x - 4y + 6z = 4", "x - 2y + 3z - 2 = 0", Fraction(2)),
        ("x = 5", "2x = 10", Fraction(1, 2)),
        ("2x + 4y = 3", "2x + 4y - 3 = 0", Fraction(1)),
        ("x^2/16 + y^2/12 = 1/4", "x^2/4 + y^2/3 = 1", Fraction(1, 4)),  # a scaled ellipse
        ("(x - 1)^2 + y^2 = 4", "x^2 - 2x + y^2 - 3 = 0", Fraction(1)),
    ],
)
def test_equation_ratio(a, b, k):
    assert equation_ratio(p(a), p(b)) == k


@pytest.mark.parametrize(
    "a, b",
    [
        ("y = 2x + 1", "y = 2x + 2"),
        ("x + y = 1", "x + z = 1"),
        ("x - x = 0", "x = 0"),  # no variable left: not an equation of a line
        ("y = x^2", "y^2 = x"),
        ("x < 1", "x < 1"),
        ("x^2 = 25", "x = 5"),  # two solutions against one
        ("(x + y + z + w)^12 = 1", "x = 1"),  # too big to expand: no decision
        ("\\sqrt{x} = 2", "x = 4"),  # not a polynomial: no decision here
    ],
)
def test_not_proportional(a, b):
    assert equation_ratio(p(a), p(b)) is None


@pytest.mark.parametrize(
    "text, var, interval",
    [
        ("x < 3", "x", (False, NEG_INF, num(3), False)),
        ("-x > -1", "x", (False, NEG_INF, ("neg", ("neg", num(1))), False)),
        ("2x + 1 \\ge 7", "x", (True, num(3), INF, False)),
        ("3 > x", "x", (False, NEG_INF, num(3), False)),
        ("-2 \\le x < 7", "x", (True, ("neg", num(2)), num(7), False)),
        ("7 \\ge x > -2", "x", (False, ("neg", num(2)), num(7), True)),
        ("(1, 2]", None, (False, num(1), num(2), True)),
        ("0 < f(x) < 1", "f(x)", (False, num(0), num(1), False)),  # a named quantity's range
    ],
)
def test_regions(text, var, interval):
    assert region(p(text)) == (var, interval)


@pytest.mark.parametrize("text", ["x^2 < 4", "x < y", "1 < x > 2", "x = 3", "(1, 2, 3)", "|x| < 2"])
def test_not_regions(text):
    assert region(p(text)) is None


@pytest.mark.parametrize(
    "cand, ref, problem",
    [
        ("\\frac{6}{8}", "\\frac34", "lowest terms"),
        ("\\frac{4}{1}", "4", "lowest terms"),
        ("\\frac{3}{-4}", "-\\frac34", "negative denominator"),
        ("\\sqrt{8}", "2\\sqrt2", "square factor 4"),
        ("932", "2^2 \\cdot 233", "prime factorisation"),
        ("4 \\cdot 233", "2 \\cdot 2 \\cdot 233", "prime factorisation"),
        ("4x + 8y = 6", "2x + 4y = 3", "2 times"),
    ],
)
def test_form_problems(cand, ref, problem):
    got = form_problem(p(cand), p(ref))
    assert got is not None and problem in got


@pytest.mark.parametrize(
    "cand, ref",
    [
        ("\\frac34", "0.75"),
        ("2\\sqrt{2}", "\\sqrt8"),
        ("2 \\times 2 \\times 233", "2^2 \\cdot 233"),
        ("932", "932"),
        ("3 = 2x + 4y", "2x + 4y - 3 = 0"),
        ("\\sqrt{7}", "\\sqrt7"),
    ],
)
def test_simplified_forms_pass(cand, ref):
    assert form_problem(p(cand), p(ref)) is None
