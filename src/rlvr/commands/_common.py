"""Helpers shared by every command module: one-line errors, ``--opt`` parsing, progress bars.

Command modules (``rlvr.commands.<name>``) import from here, never from ``rlvr.cli``, so the
command line can be assembled without import cycles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from rlvr.errors import ConfigError
from rlvr.options import split_pair
from rlvr.report.progress import progress_bar as report_progress_bar

err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the Exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON (numbers, true, lists)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        try:
            key, raw = split_pair(pair, option="--opt", form="key=value")
        except ConfigError as exc:
            raise fail(str(exc), 2) from None
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.replace("-", "_")] = value
    return out


def progress_bar(*, disable: bool = False) -> Any:
    """The progress widget (``rlvr.report.progress``) on this module's stderr console."""
    return report_progress_bar(disable=disable, console=err_console)


def count_lines(path: Path) -> int | None:
    """Non-blank lines in a file, for a progress bar's total; None when unknown or too big to scan."""
    try:
        if path.stat().st_size > 512 * 1024 * 1024:
            return None
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return None
