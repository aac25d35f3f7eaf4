"""The one set of number formatters for terminal tables, HTML reports and command summaries.

Each takes ``None`` (a value that was not measured) and prints a placeholder for it rather than
failing, so a report with a missing reading still renders. Rates and shares are fractions in [0, 1]
on the way in; whether the output carries a ``%`` sign is the function's name: ``percent`` prints
the number of percent for a table column headed "%", ``share`` prints ``12.5%`` in running text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MISSING", "interval", "number", "percent", "points", "seconds", "share", "size"]

MISSING = "–"
"""What a value that was not measured prints as."""


def percent(v: float | None, signed: bool = False, digits: int = 1) -> str:
    """A fraction as a number of percent without the sign: 0.125 -> "12.5" (signed: "+12.5")."""
    if v is None:
        return MISSING
    return f"{100 * v:+.{digits}f}" if signed else f"{100 * v:.{digits}f}"


def share(v: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """A fraction with its percent sign, for running text: 0.125 -> "12.5%"."""
    return missing if v is None else f"{v:.{digits}%}"


def points(v: float | None, digits: int = 1) -> str:
    """A difference of two rates in percentage points, always signed: 0.031 -> "+3.1 points"."""
    return MISSING if v is None else f"{100 * v:+.{digits}f} points"


def interval(ci: Sequence[float] | None, signed: bool = False, digits: int = 1) -> str:
    """A confidence interval of fractions in percent: (0.1, 0.2) -> "[10.0, 20.0]"; "" without one."""
    if not ci:
        return ""
    return f"[{percent(ci[0], signed, digits)}, {percent(ci[1], signed, digits)}]"


def number(v: Any, digits: int = 3, missing: str = "-") -> str:
    """A reading with fixed decimals: 0.12345 -> "0.123"; anything not a number prints as text."""
    if v is None:
        return missing
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{v:.{digits}f}"
    return str(v)


def seconds(s: float | None) -> str:
    """A duration: "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min"."""
    if s is None:
        return MISSING
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{m} min {sec:02d} s"
    h, rest = divmod(round(s), 3600)
    return f"{h} h {rest // 60:02d} min"


def size(n: float | None) -> str:
    """A byte count in binary units: 512 -> "512 B", 1536 -> "1.5 KiB", 3 * 2**30 -> "3.0 GiB"."""
    if n is None:
        return MISSING
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns at GiB
