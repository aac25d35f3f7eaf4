"""Estimators against hand-computed values and brute-force enumeration over all k-subsets."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from fractions import Fraction

import pytest

from rlvr.errors import ConfigError
from rlvr.evaluate import bootstrap_ci, cons_at_k, pass_at_k, pass_at_k_table, pass_hat_k
from rlvr.evaluate.passk import percentile


@pytest.mark.parametrize(
    ("n", "c", "k", "want"),
    [(5, 2, 3, 0.9), (10, 1, 5, 0.5), (4, 2, 3, 1.0), (128, 0, 1, 0.0), (128, 0, 64, 0.0), (128, 0, 128, 0.0)],
)
def test_hand_computed_values(n, c, k, want):
    assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)


def test_pass_at_1_is_the_fraction_correct():
    for n in range(1, 30):
        for c in range(n + 1):
            assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-12)


def test_one_when_fewer_failures_than_k():
    assert pass_at_k(10, 8, 3) == 1.0  # only 2 wrong samples: every 3-subset holds a correct one
    assert pass_at_k(10, 10, 10) == 1.0


def _brute(n: int, c: int, k: int) -> tuple[Fraction, Fraction]:
    """Exact P(any correct) and P(all correct) over every k-subset of n samples, c of them correct."""
    flags = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    anyc = sum(any(flags[i] for i in s) for s in subsets)
    allc = sum(all(flags[i] for i in s) for s in subsets)
    return Fraction(anyc, len(subsets)), Fraction(allc, len(subsets))


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_enumeration_of_all_k_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            want_any, want_all = _brute(n, c, k)
            assert pass_at_k(n, c, k) == pytest.approx(float(want_any), abs=1e-12), (n, c, k)
            assert pass_hat_k(n, c, k) == pytest.approx(float(want_all), abs=1e-12), (n, c, k)


def test_product_form_matches_binomials_up_to_1024():
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 1024)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_monotone_in_k_and_in_c():
    for n in (1, 5, 16, 64):
        for c in range(n + 1):
            vals = [pass_at_k(n, c, k) for k in range(1, n + 1)]
            assert all(b >= a - 1e-15 for a, b in zip(vals, vals[1:])), (n, c)
            hats = [pass_hat_k(n, c, k) for k in range(1, n + 1)]
            assert all(b <= a + 1e-15 for a, b in zip(hats, hats[1:])), (n, c)
        for k in range(1, n + 1):
            by_c = [pass_at_k(n, c, k) for c in range(n + 1)]
            assert all(b >= a - 1e-15 for a, b in zip(by_c, by_c[1:]))


def test_plug_in_estimator_is_biased_low():
    # 1 − (1 − c/n)^k underestimates: sampling without replacement finds a correct sample more often.
    assert pass_at_k(5, 2, 3) > 1 - (1 - 2 / 5) ** 3


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 4), (4, 5, 2), (4, -1, 2), (4, 2, 0), (0, 0, 1), (4, 2, 1.5), (4, True, 1)])
def test_invalid_arguments_raise(n, c, k):
    with pytest.raises(ConfigError):
        pass_at_k(n, c, k)


def test_k_larger_than_n_message_names_the_fix():
    with pytest.raises(ConfigError, match="k=8 is larger than the n=4"):
        pass_at_k(4, 1, 8)


def test_pass_hat_k_values():
    assert pass_hat_k(5, 3, 2) == pytest.approx(0.3)  # C(3,2)/C(5,2) = 3/10
    assert pass_hat_k(5, 1, 2) == 0.0
    assert pass_hat_k(5, 5, 5) == 1.0


# -- cons@k ------------------------------------------------------------------------------------------


def _cons_brute(answers, correct, k):
    """Independent reference: enumerate subsets, split ties evenly, abstentions (None) do not vote."""
    score = {}
    for a in set(answers) - {None}:
        vals = [float(c) for x, c in zip(answers, correct) if x == a]
        score[a] = sum(vals) / len(vals)
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(answers)), k))
    for s in subsets:
        votes = Counter(answers[i] for i in s if answers[i] is not None)
        if not votes:
            continue
        top = max(votes.values())
        win = [a for a, m in votes.items() if m == top]
        total += Fraction(sum(Fraction(score[a]).limit_denominator() for a in win)) / len(win)
    return float(total / len(subsets))


def test_cons_at_k_hand_example():
    # 5 samples: "4" ×3 (correct), "5" ×2. k=3 subsets: 10; "5" wins only in the 3 subsets with both 5s.
    answers = ["4", "4", "4", "5", "5"]
    correct = [True, True, True, False, False]
    assert cons_at_k(answers, correct, 3) == pytest.approx(7 / 10)
    # k=2: {4,4}: 3 subsets → 1; {5,5}: 1 → 0; {4,5}: 6 ties → 1/2 each.
    assert cons_at_k(answers, correct, 2) == pytest.approx((3 + 3) / 10)
    assert cons_at_k(answers, correct, 1) == pytest.approx(3 / 5)
    assert cons_at_k(answers, correct, 5) == 1.0


def test_cons_at_k_matches_enumeration_with_ties_and_abstentions():
    rng = random.Random(3)
    for _ in range(40):
        n = rng.randint(1, 8)
        answers = [rng.choice(["a", "b", "c", None]) for _ in range(n)]
        correct = [a == "a" for a in answers]
        for k in range(1, n + 1):
            assert cons_at_k(answers, correct, k) == pytest.approx(_cons_brute(answers, correct, k), abs=1e-9)


def test_cons_at_k_monte_carlo_path_is_close_and_seeded():
    rng = random.Random(5)
    answers = [rng.choice(["1", "2", "3"]) for _ in range(20)]
    correct = [a == "1" for a in answers]
    exact = cons_at_k(answers, correct, 7, exact_limit=10**6)
    mc = cons_at_k(answers, correct, 7, exact_limit=10, draws=4000, seed=1)
    assert mc == pytest.approx(exact, abs=0.03)
    assert mc == cons_at_k(answers, correct, 7, exact_limit=10, draws=4000, seed=1)


def test_cons_at_k_everyone_abstains_scores_zero():
    assert cons_at_k([None, None, None], [False, False, False], 2) == 0.0


# -- means, tables and intervals ------------------------------------------------------------------------


def test_pass_at_k_table_is_the_mean_over_problems():
    table = pass_at_k_table({"a": [1, 1, 0, 0, 0], "b": [True, False, False, False, False]}, [1, 3])
    assert table[1] == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert table[3] == pytest.approx((0.9 + pass_at_k(5, 1, 3)) / 2)
    assert pass_at_k_table({"a": {"n": 10, "c": 1}}, [5]) == {5: pytest.approx(0.5)}


def test_pass_at_k_table_rejects_k_above_a_problems_samples():
    with pytest.raises(ConfigError, match="problem 'b' has 2 sample"):
        pass_at_k_table({"a": [1, 0, 0, 0], "b": [1, 0]}, [1, 4])


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    rng = random.Random(0)
    values = [rng.random() for _ in range(200)]
    lo, hi = bootstrap_ci(values, n_boot=500, seed=1)
    m = sum(values) / len(values)
    assert lo < m < hi
    assert (lo, hi) == bootstrap_ci(values, n_boot=500, seed=1)
    assert (lo, hi) != bootstrap_ci(values, n_boot=500, seed=2)
    # Roughly mean ± 1.96·sd/√n for a uniform(0,1) sample.
    half = 1.96 * (1 / 12) ** 0.5 / 200**0.5
    assert hi - lo == pytest.approx(2 * half, rel=0.25)


def test_bootstrap_of_constant_values_is_a_point():
    assert bootstrap_ci([0.25] * 30, n_boot=100) == (pytest.approx(0.25), pytest.approx(0.25))


def test_percentile_interpolates_like_numpy():
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 1.0) == 4.0
