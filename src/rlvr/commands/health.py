"""`rlvr health`: training-health checks on our metrics, TRL's logs or any metrics JSONL."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
