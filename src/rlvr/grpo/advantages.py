"""Group-relative advantages (pure functions, no model): GRPO, Dr. GRPO, RLOO and median baselines.

Rewards arrive as a (B, G) tensor: B groups (prompts) of G completions. ``valid`` marks the
completions that count: verdicts with status ``error`` (the verifier's fault) or ``skipped`` (the
verifier does not apply) are excluded from every group statistic and get advantage 0.

Conventions (documented because papers differ): the std is the *sample* std (ddof = 1) over the
group's valid rewards, and ``eps`` is added to it before dividing (verl: eps = 1e-6). A group whose
valid rewards all agree (or that has fewer than two valid rewards) is *zero-variance*: it carries
no learning signal and its advantages are exactly 0.

- ``mean``   Â_i = r_i − mean(r)                       (GRPO; with scale "none": Dr. GRPO)
- ``rloo``   Â_i = r_i − mean_{j≠i}(r_j) = k/(k−1) · (r_i − mean(r))   for k valid samples
- ``median`` Â_i = r_i − median(r)                     (average of the two middle values if k even)

then divided by the group std (``scale="group"``), by the std of every valid reward in the batch
(``"batch"``), or not at all (``"none"``).

The median baseline with binary rewards: its advantages are *not* zero-sum. With m of G correct,
the median is 0 when m < G/2 (only the correct samples get Â > 0; the wrong ones get exactly 0,
so no gradient pushes down wrong answers), 1 when m > G/2 (only wrong samples get Â < 0), and
0.5 at a tie. A group's net push is therefore one-sided, towards its minority answer; mean and
RLOO baselines sum to 0 over each group.

``overlong_penalty`` is DAPO's soft overlong punishment, added to the rewards before advantages
(``[rollout] overlong_buffer``): 0 up to ``max_len − buffer`` tokens, then falling linearly to
``−factor`` at ``max_len``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Advantages", "group_advantages", "group_stats", "masked_median", "overlong_penalty"]


@dataclass(frozen=True)
class Advantages:
    """Advantages and what the trainer reports about them."""

    values: Tensor
    """(B, G) advantages; 0 for excluded samples and zero-variance groups."""
    valid: Tensor
    """(B, G) bool: samples that count."""
    zero_std: Tensor
    """(B,) bool: groups whose valid rewards all agree (no signal)."""
    group_std: Tensor
    """(B,) sample std of each group's valid rewards (0 with fewer than two)."""
    n_excluded: int
    """Samples left out (error/skipped verdicts)."""

    @property
    def frac_zero_std(self) -> float:
        return float(self.zero_std.float().mean()) if self.zero_std.numel() else 0.0


def group_stats(rewards: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-group (count, mean, sample std) over valid entries. (B, G) -> three (B,) tensors."""
    m = valid.to(rewards.dtype)
    k = m.sum(dim=1)
    mean = (rewards * m).sum(dim=1) / k.clamp(min=1)
    sq = ((rewards - mean[:, None]) ** 2 * m).sum(dim=1)
    std = torch.where(k >= 2, (sq / (k - 1).clamp(min=1)).sqrt(), torch.zeros_like(sq))
    return k, mean, std


def masked_median(rewards: Tensor, valid: Tensor) -> Tensor:
    """Median of each row's valid entries (mean of the two middle ones for an even count). (B, G) -> (B,)."""
    k = valid.sum(dim=1)
    filled = torch.where(valid, rewards, torch.full_like(rewards, float("inf")))
    ordered, _ = torch.sort(filled, dim=1)  # valid values first, ascending
    lo = ((k - 1).clamp(min=0) // 2)[:, None]
    hi = (k // 2).clamp(max=rewards.shape[1] - 1)[:, None]
    med = (ordered.gather(1, lo) + ordered.gather(1, hi)).squeeze(1) / 2
    return torch.where(k > 0, med, torch.zeros_like(med))


def group_advantages(
    rewards: Tensor,
    valid: Tensor | None = None,
    *,
    baseline: str = "mean",
    scale: str = "group",
    eps: float = 1e-6,
) -> Advantages:
    """Advantages of a (B, G) reward tensor; see the module docstring for the formulas."""
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (groups, group_size), got shape {tuple(rewards.shape)}")
    rewards = rewards.to(torch.float64)  # exact enough that a constant group centres to exactly 0
    valid = torch.ones_like(rewards, dtype=torch.bool) if valid is None else valid.bool()
    k, mean, std = group_stats(rewards, valid)
    # Zero variance: fewer than two valid samples, or all valid rewards equal.
    hi = torch.where(valid, rewards, torch.full_like(rewards, -float("inf"))).amax(dim=1)
    lo = torch.where(valid, rewards, torch.full_like(rewards, float("inf"))).amin(dim=1)
    zero_std = (k < 2) | (hi == lo)

    if baseline == "mean":
        adv = rewards - mean[:, None]
    elif baseline == "rloo":
        # r_i − mean of the others = k/(k−1) (r_i − mean); undefined (0) for k < 2.
        factor = torch.where(k >= 2, k / (k - 1).clamp(min=1), torch.zeros_like(k))
        adv = factor[:, None] * (rewards - mean[:, None])
    elif baseline == "median":
        adv = rewards - masked_median(rewards, valid)[:, None]
    else:
        raise ValueError(f"unknown baseline {baseline!r}; use mean, median or rloo")

    if scale == "group":
        adv = adv / (std[:, None] + eps)
    elif scale == "batch":
        flat = rewards[valid]
        batch_std = flat.std(unbiased=True) if flat.numel() >= 2 else torch.zeros((), dtype=rewards.dtype)
        adv = adv / (batch_std + eps)
    elif scale != "none":
        raise ValueError(f"unknown scale {scale!r}; use group, batch or none")

    adv = torch.where(valid & ~zero_std[:, None], adv, torch.zeros_like(adv))
    return Advantages(
        values=adv.to(torch.float32),
        valid=valid,
        zero_std=zero_std,
        group_std=std.to(torch.float32),
        n_excluded=int((~valid).sum()),
    )


def overlong_penalty(lengths: Tensor, max_len: int, buffer: int, factor: float = 1.0) -> Tensor:
    """DAPO's soft overlong punishment of each completion length (same shape as ``lengths``).

    ``0`` for ``len <= max_len − buffer``; ``−factor · (len − (max_len − buffer)) / buffer`` above
    that, reaching ``−factor`` at ``max_len`` (a truncated completion). ``buffer = 0``: all zeros.
    """
    if buffer <= 0:
        return torch.zeros_like(lengths, dtype=torch.float32)
    if buffer > max_len:
        raise ValueError(f"overlong buffer {buffer} exceeds the length budget {max_len}")
    over = (lengths.to(torch.float32) - (max_len - buffer)).clamp(min=0.0)
    return -factor * (over / buffer).clamp(max=1.0)
