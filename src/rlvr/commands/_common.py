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

err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the Exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON (numbers, true, lists)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--opt expects key=value, got {pair!r}", 2)
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip().replace("-", "_")] = value
    return out


def progress_bar(*, disable: bool = False):
    """A rich progress bar on stderr: description, bar, done/total, elapsed, remaining."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=disable,
        transient=False,
    )


def count_lines(path: Path) -> int | None:
    """Non-blank lines in a file, for a progress bar's total; None when unknown or too big to scan."""
    try:
        if path.stat().st_size > 512 * 1024 * 1024:
            return None
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return None
