"""Trainer tests never write to the user's cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Warmed-up tiny models are cached per test session, never in the user's home.
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rlvr-cache"))
