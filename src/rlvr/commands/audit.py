"""`rlvr audit`: measure a verifier's coverage, false-positive and false-negative rates."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
