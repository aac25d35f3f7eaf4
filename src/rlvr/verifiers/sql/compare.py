"""Comparing two query results: multiset or ordered, NULL-aware, with float tolerance.

Pure functions, no database. The rules (documented in the SQL verifier):

* A result is a list of rows (tuples). By default two results are equal when they hold the same
  rows the same number of times (a multiset: duplicates count, order does not). ``ordered=True``
  also requires the same order, except among rows that tie on all ``order_key`` columns.
* NULL equals NULL (SQL's ``NULL = NULL`` is unknown, but two result sets that both say "no value"
  here agree).
* Numbers compare by value across types: ``1``, ``1.0``, ``True`` and ``Decimal('1.00')`` are equal
  (SQLite's AVG returns REAL where a rewrite may return INTEGER; DuckDB returns DECIMAL and BOOLEAN).
  Two numbers are equal when ``|a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)``; NaN equals NaN.
* Text never equals a number (``'1'`` is not ``1``), and text compares exactly (case and
  whitespace count). Bytes compare exactly. Other values (dates, lists, structs) compare by ``==``.
* Column names are ignored (aliases are free); column order matters unless ``permute_columns``.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import decimal
import itertools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Comparison", "Tolerance", "compare_results", "jsonable_row", "normalize_rows"]

Row = tuple[Any, ...]

# Bounds on the work the tolerant passes may do, so a pathological result cannot stall a worker.
MAX_TOLERANT_PAIRS = 200_000
TOLERANT_WINDOW = 32
MAX_PERMUTATIONS = 2_000
MAX_PERMUTE_COLUMNS = 8


@dataclass(frozen=True)
class Tolerance:
    """How close two numbers must be to count as equal."""

    rel: float = 1e-6
    """Relative tolerance, scaled by the larger magnitude."""
    abs: float = 1e-9
    """Absolute tolerance, for values near zero."""

    @property
    def exact(self) -> bool:
        return self.rel == 0 and self.abs == 0


class _NaN:
    """NaN normalised to one value that equals itself, so NaN rows match NaN rows."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NaN)

    def __hash__(self) -> int:
        return 0x7FF8

    def __repr__(self) -> str:
        return "NaN"


NAN = _NaN()


def _norm(v: Any) -> Any:
    """One cell in comparable form (see the module docstring for the rules)."""
    if v is None or isinstance(v, (str, int)) and not isinstance(v, bool):
        return v
    if isinstance(v, float):
        return NAN if v != v else v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, decimal.Decimal):
        if v.is_nan():
            return NAN
        if v.is_finite() and v == v.to_integral_value():
            return int(v)
        return float(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, dict):
        return ("struct", tuple((str(k), _norm(x)) for k, x in v.items()))
    try:
        hash(v)
    except TypeError:
        return ("value", repr(v))
    return v


def normalize_rows(rows: Sequence[Sequence[Any]]) -> list[Row]:
    """Rows in comparable form: cells normalised, every row a tuple."""
    return [tuple(_norm(c) for c in row) for row in rows]


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cell_close(a: Any, b: Any, tol: Tolerance) -> bool:
    if a == b:
        return True
    if _is_num(a) and _is_num(b):
        if isinstance(a, int) and isinstance(b, int):
            return False  # two integers are equal or not; tolerance is for floats
        try:
            fa, fb = float(a), float(b)
        except OverflowError:
            return False
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return abs(fa - fb) <= max(tol.rel * max(abs(fa), abs(fb)), tol.abs)
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(_cell_close(x, y, tol) for x, y in zip(a, b))
    return False


def _row_close(a: Row, b: Row, tol: Tolerance) -> bool:
    return len(a) == len(b) and all(_cell_close(x, y, tol) for x, y in zip(a, b))


def _sort_key(row: Row) -> tuple[Any, ...]:
    """A total order over mixed-type rows, numbers by value, so near-equal rows sort together."""
    out: list[tuple[int, Any]] = []
    for v in row:
        if v is None:
            out.append((0, 0))
        elif _is_num(v):
            try:
                out.append((1, float(v)))
            except OverflowError:
                out.append((1, math.copysign(math.inf, v)))
        elif isinstance(v, _NaN):
            out.append((2, 0))
        elif isinstance(v, str):
            out.append((3, v))
        elif isinstance(v, bytes):
            out.append((4, v))
        else:
            out.append((5, repr(v)))
    return tuple(out)


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing a predicted result with the gold result.

    ``missing``: gold rows the prediction lacks; ``extra``: predicted rows the gold lacks (both
    complete lists; callers truncate for display). ``first_mismatch``: for ordered comparisons, the
    first position where the rows differ. ``permutation``: predicted column index for each gold
    column when columns were matched out of order.
    """

    equal: bool
    reason: str
    missing: list[Row] = field(default_factory=list)
    extra: list[Row] = field(default_factory=list)
    first_mismatch: dict[str, Any] | None = None
    used_tolerance: bool = False
    permutation: tuple[int, ...] | None = None
    same_rows_other_order: bool = False


def _has_float(rows: list[Row]) -> bool:
    return any(type(c) is float or type(c) is tuple for r in rows for c in r)


def _multiset_diff(gold: list[Row], pred: list[Row], tol: Tolerance) -> tuple[list[Row], list[Row], bool]:
    """Rows of gold not matched in pred, rows of pred not matched in gold, and whether any match
    needed the tolerance. Exact matches first (hashing), then a bounded tolerant pass."""
    cg, cp = Counter(gold), Counter(pred)
    if cg == cp:
        return [], [], False
    missing = list((cg - cp).elements())
    extra = list((cp - cg).elements())
    if tol.exact or not missing or not extra or not (_has_float(missing) or _has_float(extra)):
        return missing, extra, False  # tolerance only ever relates a float to a number
    # Greedy matching of the leftovers. Both sides are sorted by value, so a near-equal partner
    # sits near a row's own sort position: look in a window around it first (O(n log n + n*W)),
    # and scan everything only while the total work stays under MAX_TOLERANT_PAIRS. With
    # tolerances far below the gaps between distinct values (the normal case), greedy is optimal.
    missing.sort(key=_sort_key)
    extra.sort(key=_sort_key)
    extra_keys = [_sort_key(r) for r in extra]
    used = [False] * len(extra)
    full_scan = len(missing) * len(extra) <= MAX_TOLERANT_PAIRS
    still_missing: list[Row] = []
    matched_any = False
    for row in missing:
        pos = bisect.bisect_left(extra_keys, _sort_key(row))
        lo, hi = max(0, pos - TOLERANT_WINDOW), min(len(extra), pos + TOLERANT_WINDOW)
        order = itertools.chain(range(lo, hi), range(0, lo), range(hi, len(extra))) if full_scan else range(lo, hi)
        for j in order:
            if not used[j] and _row_close(row, extra[j], tol):
                used[j] = True
                matched_any = True
                break
        else:
            still_missing.append(row)
    still_extra = [r for j, r in enumerate(extra) if not used[j]]
    return still_missing, still_extra, matched_any


def _compare_fixed(
    gold: list[Row], pred: list[Row], ordered: bool, tol: Tolerance, order_key: tuple[int, ...] | None = None
) -> Comparison:
    """Compare with columns in their given order."""
    if ordered:
        if gold == pred:
            return Comparison(True, "same rows in the same order")
        used_tol = False
        mismatch = None
        for i, (g, p) in enumerate(zip(gold, pred)):
            if g == p:
                continue
            if _row_close(g, p, tol):
                used_tol = True
                continue
            mismatch = {"index": i, "gold": g, "predicted": p}
            break
        if mismatch is None and len(gold) == len(pred):
            return Comparison(True, "same rows in the same order", used_tolerance=used_tol)
        if mismatch is None:
            i = min(len(gold), len(pred))
            mismatch = {
                "index": i,
                "gold": gold[i] if i < len(gold) else None,
                "predicted": pred[i] if i < len(pred) else None,
            }
        missing, extra, used_tol = _multiset_diff(gold, pred, tol)
        if not missing and not extra and order_key and _same_key_sequence(gold, pred, order_key, tol):
            # Rows that tie on every ORDER BY key may come in any order: the gold's own order
            # among them is arbitrary. Same multiset + same key sequence = same tie groups.
            return Comparison(
                True,
                "same rows; the order differs only among rows that tie on the ORDER BY keys",
                used_tolerance=used_tol,
            )
        if not missing and not extra:
            return Comparison(
                False,
                "the rows match but their order differs, and the gold query's ORDER BY makes order count",
                first_mismatch=mismatch,
                same_rows_other_order=True,
            )
        return Comparison(False, _diff_reason(gold, pred, missing, extra), missing, extra, mismatch)
    missing, extra, used_tol = _multiset_diff(gold, pred, tol)
    if not missing and not extra:
        return Comparison(True, "same rows (order not compared)", used_tolerance=used_tol)
    return Comparison(False, _diff_reason(gold, pred, missing, extra), missing, extra)


def _same_key_sequence(gold: list[Row], pred: list[Row], key: tuple[int, ...], tol: Tolerance) -> bool:
    if any(i >= len(gold[0]) for i in key):
        return False
    return all(_row_close(tuple(g[i] for i in key), tuple(p[i] for i in key), tol) for g, p in zip(gold, pred))


def _diff_reason(gold: list[Row], pred: list[Row], missing: list[Row], extra: list[Row]) -> str:
    if set(gold) == set(pred) and len(gold) != len(pred):
        return (
            f"same distinct rows but different counts: {_n(len(pred), 'row')} returned, {len(gold)} expected "
            "(duplicates matter)"
        )
    return (
        f"{_n(len(pred), 'row')} returned, {len(gold)} expected: {_n(len(missing), 'expected row')} missing, "
        f"{_n(len(extra), 'unexpected row')}"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _column_candidates(gold: list[Row], pred: list[Row], ncols: int, tol: Tolerance) -> list[list[int]]:
    """For each gold column, the predicted columns holding the same multiset of values."""
    gcols = [sorted((r[j] for r in gold), key=lambda v: _sort_key((v,))) for j in range(ncols)]
    pcols = [sorted((r[k] for r in pred), key=lambda v: _sort_key((v,))) for k in range(ncols)]
    return [
        [k for k in range(ncols) if all(_cell_close(a, b, tol) for a, b in zip(gcols[j], pcols[k]))]
        for j in range(ncols)
    ]


def compare_results(
    gold: list[Row],
    pred: list[Row],
    *,
    ordered: bool,
    tol: Tolerance,
    permute_columns: bool = False,
    order_key: tuple[int, ...] | None = None,
) -> Comparison:
    """Compare normalised results (``normalize_rows``) under the module's rules.

    ``order_key``: for ordered comparisons, the gold's column indices that its ORDER BY sorts
    on, when known; rows tying on all of them may then appear in any order.
    """
    gw = len(gold[0]) if gold else None
    pw = len(pred[0]) if pred else None
    if gw is not None and pw is not None and gw != pw:
        return Comparison(
            False,
            f"the query returns {pw} columns, the gold query {gw}",
            first_mismatch={"index": 0, "gold": gold[0], "predicted": pred[0]},
        )
    base = _compare_fixed(gold, pred, ordered, tol, order_key)
    if base.equal or not permute_columns or not gold or len(gold) != len(pred):
        return base
    ncols = gw or 0
    if ncols < 2 or ncols > MAX_PERMUTE_COLUMNS:
        return base
    cands = _column_candidates(gold, pred, ncols, tol)
    if any(not c for c in cands):
        return base
    for n, perm in enumerate(_assignments(cands)):
        if n >= MAX_PERMUTATIONS:
            break
        if perm == tuple(range(ncols)):
            continue
        permuted = [tuple(r[k] for k in perm) for r in pred]
        trial = _compare_fixed(gold, permuted, ordered, tol, order_key)
        if trial.equal:
            return Comparison(
                True,
                f"same rows with columns in a different order ({trial.reason})",
                used_tolerance=trial.used_tolerance,
                permutation=perm,
            )
    return base


def _assignments(cands: list[list[int]]) -> Iterator[tuple[int, ...]]:
    """Injective choices of one predicted column per gold column, depth first."""
    n = len(cands)

    def walk(j: int, used: set[int], acc: list[int]) -> Iterator[tuple[int, ...]]:
        if j == n:
            yield tuple(acc)
            return
        for k in cands[j]:
            if k not in used:
                used.add(k)
                acc.append(k)
                yield from walk(j + 1, used, acc)
                acc.pop()
                used.discard(k)

    return walk(0, set(), [])


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, _NaN):
        return "NaN"
    if isinstance(v, bytes):
        return "x'" + v[:64].hex() + ("..." if len(v) > 64 else "") + "'"
    if isinstance(v, (_dt.date, _dt.time, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return str(v)


def jsonable_row(row: Sequence[Any] | None, max_text: int = 200) -> list[Any] | None:
    """A row for ``details`` (JSON output): bytes as hex, long text clipped."""
    if row is None:
        return None
    out = []
    for v in row:
        j = _jsonable(v)
        if isinstance(j, str) and len(j) > max_text:
            j = j[:max_text] + "..."
        out.append(j)
    return out
