"""Lab job tests never write to the user's cache (one warm-up cache per session), and share one
uninterrupted run of the small study on local processes, the reference of every equality test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def lab_cache(tmp_path_factory) -> Path:
    """One warm-up cache for every lab job test of the session: each base is trained once."""
    return tmp_path_factory.mktemp("lab-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(lab_cache, monkeypatch):
    monkeypatch.setenv("RLVR_CACHE_DIR", str(lab_cache))


@pytest.fixture(scope="session")
def small_local(tmp_path_factory, lab_cache) -> dict[str, Any]:
    """The summary of the small study (``lab_helpers.SMALL``) run uninterrupted on 2 local processes."""
    from lab_helpers import SMALL

    from rlvr.lab import lab_config, run_lab

    out = tmp_path_factory.mktemp("small-local")
    summary = run_lab(lab_config("quick", **SMALL, workers=2, cache_dir=str(lab_cache), out_dir=str(out)), quiet=True)
    base = summary["arms"]["base"]["pass_at_k"]
    assert 0 < base["in_distribution"]["4"] < 1 and 0 < base["shifted"]["4"] < 1  # equal pass@k is not 0 == 0
    return summary
