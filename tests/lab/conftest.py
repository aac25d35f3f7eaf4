"""Lab job tests never write to the user's cache: one warm-up cache per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lab_cache(tmp_path_factory) -> Path:
    """One warm-up cache for every lab job test of the session: each base is trained once."""
    return tmp_path_factory.mktemp("lab-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(lab_cache, monkeypatch):
    monkeypatch.setenv("RLVR_CACHE_DIR", str(lab_cache))
