"""The one progress widget of every long command (verify, sample, eval, train, curate): a rich bar
on stderr, so stdout stays clean for ``--json`` and pipes.

Columns: description, bar, done/total, elapsed, remaining, then a free-text ``info`` field a task
may set (``progress.update(task, info="reward 0.41 ...")``); a task without one shows nothing there.
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(*, disable: bool = False, console: Any = None) -> Any:
    """A ``rich.progress.Progress``; use it as a context manager or ``start()`` / ``stop()`` it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class InfoColumn(ProgressColumn):
        """The task's ``info`` field, when it has one."""

        def render(self, task: Any) -> Text:
            return Text(str(task.fields.get("info", "")))

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        InfoColumn(),
        console=console if console is not None else Console(stderr=True),
        disable=disable,
        transient=False,
    )
