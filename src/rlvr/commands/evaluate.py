"""`rlvr sample`, `rlvr eval`, `rlvr compare`, `rlvr report`: what training bought."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
