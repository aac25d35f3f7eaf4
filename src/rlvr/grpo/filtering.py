"""Data efficiency on rollouts (pure functions): dynamic-sampling filter and rollout pruning.

- ``informative_groups``: DAPO's dynamic-sampling test: keep a group only if its valid rewards
  are not all equal (0 < #correct < G for binary rewards; any spread for graded ones).
- ``prune_top``: keep the k highest-reward completions of a group (ties: earliest first).
- ``prune_max_variance``: keep the k completions whose rewards have the largest variance. For
  any multiset the optimum takes the i largest and k − i smallest values for some i (Xu et al.,
  "Not All Rollouts are Useful", 2025), so checking the k + 1 splits is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["informative_groups", "prune_groups", "prune_max_variance", "prune_top"]


def informative_groups(rewards: Tensor, valid: Tensor) -> Tensor:
    """(B, G) rewards and validity -> (B,) bool: groups with at least two different valid rewards."""
    hi = torch.where(valid, rewards, torch.full_like(rewards, -float("inf"))).amax(dim=1)
    lo = torch.where(valid, rewards, torch.full_like(rewards, float("inf"))).amin(dim=1)
    return (valid.sum(dim=1) >= 2) & (hi > lo)


def prune_top(rewards: Sequence[float], k: int) -> list[int]:
    """Indices of the ``k`` largest rewards (stable: equal rewards keep their order), ascending."""
    order = sorted(range(len(rewards)), key=lambda i: (-rewards[i], i))
    return sorted(order[:k])


def _variance(values: list[float]) -> float:
    m = sum(values) / len(values)
    return sum((v - m) ** 2 for v in values) / len(values)


def prune_max_variance(rewards: Sequence[float], k: int) -> list[int]:
    """Indices of a size-``k`` subset with maximal reward variance, ascending."""
    n = len(rewards)
    if k >= n:
        return list(range(n))
    order = sorted(range(n), key=lambda i: (rewards[i], i))  # ascending
    best: tuple[float, list[int]] | None = None
    for top in range(k + 1):  # top largest + (k - top) smallest
        chosen = order[: k - top] + (order[n - top :] if top else [])
        var = _variance([rewards[i] for i in chosen])
        # Prefer more high-reward samples on ties (keeps the successes).
        if best is None or var > best[0] + 1e-12 or (abs(var - best[0]) <= 1e-12 and top > 0):
            best = (var, chosen)
    assert best is not None
    return sorted(best[1])


def prune_groups(rewards: Tensor, valid: Tensor, mode: str, keep: float) -> list[int]:
    """Flat row indices (group-major, row = b * G + j) that train after pruning each group.

    Excluded samples are never kept; a group keeps ``max(2, round(keep * G))`` of its valid samples.
    """
    b, g = rewards.shape
    k = max(2, round(keep * g))
    rows: list[int] = []
    for i in range(b):
        cand = [j for j in range(g) if bool(valid[i, j])]
        vals = [float(rewards[i, j]) for j in cand]
        if mode == "top":
            picked = prune_top(vals, k)
        elif mode == "variance":
            picked = prune_max_variance(vals, k)
        elif mode == "none":
            picked = list(range(len(cand)))
        else:
            raise ValueError(f"unknown pruning mode {mode!r}; use none, top or variance")
        rows.extend(i * g + cand[p] for p in picked)
    return rows
