"""Lab job tests never write to the user's cache; the tiny study config they share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# A study small enough for a test (~10 s a run on 2 cores once its bases are cached) whose base is
# right often enough (~20-30% of samples) that equal pass@k between two runs is not 0 == 0.
SMALL: dict[str, Any] = {
    "n_pretrain": 600, "pretrain_steps": 500, "n_pool": 64, "n_test": 16, "n_shifted": 16, "steps": 4,
    "prompts_per_step": 4, "group_size": 4, "n_samples": 4, "n_boot": 50, "trajectory_every": 2,
    "trajectory_problems": 4, "seeds": 2, "progress": False,
}


@pytest.fixture(scope="session")
def lab_cache(tmp_path_factory) -> Path:
    """One warm-up cache for every lab job test of the session: each base is trained once."""
    return tmp_path_factory.mktemp("lab-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(lab_cache, monkeypatch):
    monkeypatch.setenv("RLVR_CACHE_DIR", str(lab_cache))
