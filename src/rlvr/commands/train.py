"""`rlvr train` and `rlvr curate`: the GRPO-family trainer and data curation."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
