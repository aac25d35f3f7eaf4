"""Units and scale words in math answers: ``"5 km"`` → ``("5", "km")``, ``"2 million"`` → ×10⁶.

Pure functions and tables used by the math verifier (``math``); nothing here parses math.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["UNITS", "canonical_unit", "multiplier", "percent_words", "split_unit"]


# canonical unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, Fraction]] = {
    "mm": ("length", Fraction(1, 1000)),
    "cm": ("length", Fraction(1, 100)),
    "m": ("length", Fraction(1)),
    "km": ("length", Fraction(1000)),
    "in": ("length", Fraction(254, 10000)),
    "ft": ("length", Fraction(3048, 10000)),
    "yd": ("length", Fraction(9144, 10000)),
    "mi": ("length", Fraction(1609344, 1000)),
    "mg": ("mass", Fraction(1, 1000)),
    "g": ("mass", Fraction(1)),
    "kg": ("mass", Fraction(1000)),
    "ms": ("time", Fraction(1, 1000)),
    "s": ("time", Fraction(1)),
    "min": ("time", Fraction(60)),
    "h": ("time", Fraction(3600)),
    "day": ("time", Fraction(86400)),
    "week": ("time", Fraction(604800)),
    "ml": ("volume", Fraction(1, 1000)),
    "l": ("volume", Fraction(1)),
    "deg": ("angle", Fraction(1)),
    "cent": ("money", Fraction(1, 100)),
    "dollar": ("money", Fraction(1)),
}
_UNIT_ALIASES = {
    "millimeter": "mm",
    "centimeter": "cm",
    "meter": "m",
    "metre": "m",
    "kilometer": "km",
    "kilometre": "km",
    "inch": "in",
    "inche": "in",
    "foot": "ft",
    "feet": "ft",
    "yard": "yd",
    "mile": "mi",
    "milligram": "mg",
    "gram": "g",
    "kilogram": "kg",
    "kgs": "kg",
    "millisecond": "ms",
    "second": "s",
    "sec": "s",
    "minute": "min",
    "mins": "min",
    "hour": "h",
    "hr": "h",
    "hrs": "h",
    "days": "day",
    "weeks": "week",
    "liter": "l",
    "litre": "l",
    "milliliter": "ml",
    "degree": "deg",
    "degrees": "deg",
    "dollars": "dollar",
    "usd": "dollar",
    "cents": "cent",
}
# Single letters are units only when spaced from a number ("5 m"); "5x" stays an expression.
_SINGLE_LETTER_UNITS = {"m", "g", "s", "h", "l", "L", "K", "N", "J", "W", "V", "A"}
_NOT_UNITS = {
    "or",
    "and",
    # A condition or denial after a number is not a unit: "240 if the sides are doubled".
    "if",
    "unless",
    "when",
    "not",
    "but",
    "because",
    "assuming",
    "except",
    "without",
    "only",
    "pi",
    "sqrt",
    "frac",
    "inf",
    "infty",
    "sin",
    "cos",
    "tan",
    "log",
    "ln",
    "exp",
    "i",
    "e",
}
_UNIT_SPLIT = re.compile(r"^(?P<value>.*[\d)}\]])\s*(?P<unit>[A-Za-z][A-Za-z ./^\-]*?[A-Za-z2-3]?)$")


def canonical_unit(unit: str) -> str:
    u = unit.strip().rstrip(".")
    low = u.lower()
    if low in _UNIT_ALIASES:
        return _UNIT_ALIASES[low]
    if len(low) > 3 and low.endswith("s") and low[:-1] in _UNIT_ALIASES:
        return _UNIT_ALIASES[low[:-1]]
    if low in UNITS:
        return low
    if len(low) > 3 and low.endswith("s"):
        return low[:-1]  # "apples" == "apple"
    return u if len(u) <= 2 else low


def split_unit(text: str) -> tuple[str, str | None]:
    """``"5 km"`` → ``("5", "km")``; an expression without a unit comes back unchanged."""
    m = _UNIT_SPLIT.match(text)
    if not m:
        return text, None
    value, unit = m.group("value").strip(), m.group("unit").strip()
    words = re.findall(r"[A-Za-z]+", unit)
    if not words or any(w.lower() in _NOT_UNITS for w in words):
        return text, None
    if len(unit) == 1:
        spaced = text[len(value) : len(text) - 1] != ""
        if unit not in _SINGLE_LETTER_UNITS or not spaced:
            return text, None
    return value, unit


_MULTIPLIERS = {
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
    "dozen": 12,
}


def multiplier(unit: str | None) -> tuple[Fraction, str | None]:
    """``"million dollars"`` → ``(10**6, "dollars")``: number words are scale, not units."""
    if unit is None:
        return Fraction(1), None
    first, _, rest = unit.partition(" ")
    factor = _MULTIPLIERS.get(first.lower())
    if factor is None:
        return Fraction(1), unit
    return Fraction(factor), rest.strip() or None


def percent_words(s: str) -> str:
    return re.sub(r"\s*\b(?:percent|per cent)\b", "%", s, flags=re.I)
