"""Result comparison for the SQL verifier: multiset vs ordered, NULLs, numbers, tolerance, columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rlvr.verifiers.sql.compare import Tolerance, compare_results, jsonable_row, normalize_rows

EXACT = Tolerance(0.0, 0.0)
TOL = Tolerance(1e-6, 1e-9)


def cmp(gold, pred, *, ordered=False, tol=TOL, permute=False):
    return compare_results(
        normalize_rows(gold), normalize_rows(pred), ordered=ordered, tol=tol, permute_columns=permute
    )


def test_multiset_ignores_order_but_counts_duplicates():
    assert cmp([(1,), (2,), (2,)], [(2,), (1,), (2,)]).equal
    c = cmp([(1,), (2,), (2,)], [(1,), (2,)])
    assert not c.equal
    assert c.missing == [(2,)] and c.extra == []
    assert "duplicates matter" in c.reason
    c = cmp([(1,), (2,)], [(1,), (2,), (2,)])
    assert not c.equal and c.extra == [(2,)]


def test_ordered_requires_order_and_reports_first_mismatch():
    c = cmp([(1,), (2,), (3,)], [(1,), (3,), (2,)], ordered=True)
    assert not c.equal and c.same_rows_other_order
    assert c.first_mismatch == {"index": 1, "gold": (2,), "predicted": (3,)}
    assert cmp([(1,), (2,)], [(1,), (2,)], ordered=True).equal
    c = cmp([(1,), (2,)], [(1,)], ordered=True)
    assert not c.equal and c.first_mismatch["index"] == 1 and c.first_mismatch["predicted"] is None


def test_null_equals_null_but_not_a_value():
    assert cmp([(None, "a")], [(None, "a")]).equal
    assert not cmp([(None,)], [(0,)]).equal
    assert not cmp([(None,)], [("",)]).equal


def test_empty_results():
    assert cmp([], []).equal
    c = cmp([], [(1,)])
    assert not c.equal and c.extra == [(1,)]
    c = cmp([(1,)], [])
    assert not c.equal and c.missing == [(1,)]


def test_numbers_compare_by_value_across_types_text_does_not():
    assert cmp([(1,)], [(1.0,)], tol=EXACT).equal
    assert cmp([(1,)], [(True,)], tol=EXACT).equal
    assert cmp([(Decimal("2.50"),)], [(2.5,)], tol=EXACT).equal
    assert cmp([(Decimal("3"),)], [(3,)], tol=EXACT).equal
    assert not cmp([(1,)], [("1",)]).equal
    assert not cmp([("abc",)], [("ABC",)]).equal
    assert not cmp([("abc",)], [("abc ",)]).equal
    assert not cmp([(b"1",)], [("1",)]).equal


def test_float_tolerance_relative_and_absolute():
    assert cmp([(0.1 + 0.2,)], [(0.3,)]).equal
    assert not cmp([(0.1 + 0.2,)], [(0.3,)], tol=EXACT).equal
    # relative: 1e-6 of 1000 is 1e-3
    assert cmp([(1000.0,)], [(1000.0009,)]).equal
    assert not cmp([(1000.0,)], [(1000.002,)]).equal
    # absolute near zero
    assert cmp([(0.0,)], [(5e-10,)]).equal
    assert not cmp([(0.0,)], [(5e-8,)]).equal
    assert cmp([(0.0,)], [(5e-8,)], tol=Tolerance(0.0, 1e-7)).equal
    # integers are exact even with a tolerance
    assert not cmp([(1_000_000_000,)], [(1_000_000_001,)]).equal


def test_tolerance_inside_multiset_matching_and_marked():
    gold = [(1, 0.30000000000000004), (2, 7.0), (2, 7.0)]
    pred = [(2, 7.0000000001), (1, 0.3), (2, 7.0)]
    c = cmp(gold, pred)
    assert c.equal and c.used_tolerance
    assert not cmp(gold, pred, tol=EXACT).equal


def test_nan_and_infinity():
    nan, inf = float("nan"), float("inf")
    assert cmp([(nan,)], [(nan,)]).equal
    assert not cmp([(nan,)], [(0.0,)]).equal
    assert cmp([(inf,)], [(inf,)]).equal
    assert not cmp([(inf,)], [(-inf,)]).equal
    assert not cmp([(inf,)], [(1e308,)]).equal


def test_column_count_mismatch():
    c = cmp([(1, 2)], [(1,)])
    assert not c.equal and "1 columns, the gold query 2" in c.reason


def test_column_permutation_only_when_enabled():
    gold = [("a", 1), ("b", 2)]
    pred = [(2, "b"), (1, "a")]
    assert not cmp(gold, pred).equal
    c = cmp(gold, pred, permute=True)
    assert c.equal and c.permutation == (1, 0)
    # Same values per column but rows not aligned: not a permutation match.
    assert not cmp([("a", 1), ("b", 2)], [(2, "a"), (1, "b")], permute=True).equal
    # Permutation with order: rows must also stay in order.
    assert cmp(gold, [(1, "a"), (2, "b")], ordered=True, permute=True).equal
    assert not cmp(gold, [(2, "b"), (1, "a")], ordered=True, permute=True).equal


def test_permutation_with_identical_columns():
    gold = [(1, 1, "x"), (2, 2, "y")]
    pred = [("y", 2, 2), ("x", 1, 1)]
    c = cmp(gold, pred, permute=True)
    assert c.equal and sorted(c.permutation) == [0, 1, 2]


def test_other_values_dates_and_nested():
    d = dt.date(2024, 1, 2)
    assert cmp([(d,)], [(dt.date(2024, 1, 2),)]).equal
    assert not cmp([(d,)], [("2024-01-02",)]).equal
    assert cmp([([1, 2],)], [([1.0, 2],)]).equal
    assert cmp([({"a": 1},)], [({"a": 1.0},)]).equal


def test_jsonable_row():
    row = jsonable_row((None, 1, 2.5, float("nan"), b"\x00\xff", "x" * 300, dt.date(2024, 1, 2)))
    assert row[:3] == [None, 1, 2.5]
    assert row[3] == "nan"
    assert row[4] == "x'00ff'"
    assert row[5].endswith("...") and len(row[5]) == 203
    assert row[6] == "2024-01-02"
    assert jsonable_row(None) is None


@pytest.mark.parametrize("n", [500])
def test_tolerant_matching_is_bounded(n):
    # Every row differs slightly: the tolerant pass must still finish fast and match them all.
    gold = [(i * 0.1,) for i in range(n)]
    pred = [(i * 0.1 * (1 + 1e-9),) for i in reversed(range(n))]
    assert cmp(gold, pred).equal


def test_order_key_allows_ties_in_any_order():
    gold = [("a", 1), ("b", 1), ("c", 2)]
    assert cmp(gold, [("b", 1), ("a", 1), ("c", 2)], ordered=True).equal is False
    c = compare_results(
        normalize_rows(gold), normalize_rows([("b", 1), ("a", 1), ("c", 2)]), ordered=True, tol=TOL, order_key=(1,)
    )
    assert c.equal and "tie" in c.reason
    c = compare_results(
        normalize_rows(gold), normalize_rows([("c", 2), ("a", 1), ("b", 1)]), ordered=True, tol=TOL, order_key=(1,)
    )
    assert not c.equal and c.same_rows_other_order
