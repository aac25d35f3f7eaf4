"""The small study the lab job tests run for real."""

from __future__ import annotations

from typing import Any

# A study small enough for a test (~10 s a run on 2 cores once its bases are cached) whose base is
# right often enough (~20-30% of samples) that equal pass@k between two runs is not 0 == 0.
SMALL: dict[str, Any] = {
    "n_pretrain": 600, "pretrain_steps": 500, "n_pool": 64, "n_test": 16, "n_shifted": 16, "steps": 4,
    "prompts_per_step": 4, "group_size": 4, "n_samples": 4, "n_boot": 50, "trajectory_every": 2,
    "trajectory_problems": 4, "seeds": 2, "progress": False,
}
