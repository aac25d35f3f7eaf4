"""One training step's metrics (the keys of ``rlvr.diagnostics.keys``) and the progress line that shows them."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlvr.diagnostics import keys
from rlvr.grpo.advantages import group_advantages
from rlvr.grpo.filtering import informative_groups
from rlvr.report.format import share
from rlvr.rollout import RolloutBatch

__all__ = ["progress_info", "run_summary", "step_metrics"]


def step_metrics(
    step: int, batch: RolloutBatch, sampled: Sequence[RolloutBatch], trained_rows: int, upd: Mapping[str, Any], lr: float
) -> dict[str, Any]:
    """The per-step metrics dict (without timings) from what a step sampled and how it updated.

    Reward, group and generation statistics cover every sampled group (with dynamic sampling, also
    the dropped ones): they describe the policy, not the filtered batch. ``reward/std`` is the mean
    within-group sample std (TRL's ``reward_std``); ``policy/entropy`` is absent when nothing was
    updated, ``policy/kl`` on steps without a KL reading (``[loss] kl_every``).
    """
    rewards = torch.cat([b.rewards[b.valid] for b in sampled])
    zero_std = torch.cat([~informative_groups(b.rewards, b.valid) for b in sampled])
    group_stds = torch.cat([group_advantages(b.rewards, b.valid, scale="none").group_std for b in sampled])
    statuses = [s for b in sampled for s in b.statuses]
    lengths = torch.cat([b.rollout.lengths for b in sampled]).float()
    truncated = torch.cat([b.rollout.truncated for b in sampled]).float()
    n = max(1, len(statuses))
    metrics: dict[str, Any] = {
        keys.STEP: step,
        keys.REWARD_MEAN: float(rewards.mean()) if rewards.numel() else 0.0,
        keys.REWARD_STD: float(group_stds.mean()),
        keys.REWARD_STD_BATCH: float(rewards.std()) if rewards.numel() >= 2 else 0.0,
        keys.REWARD_CORRECT_FRAC: statuses.count("correct") / n,
        keys.GROUPS_FRAC_ZERO_STD: float(zero_std.float().mean()),
        keys.GROUPS_SAMPLED: len(zero_std),
        keys.GROUPS_TRAINED: len(batch.prompt_ids),
    }
    if "entropy" in upd:
        metrics[keys.POLICY_ENTROPY] = upd["entropy"]
    if upd.get("kl") is not None:
        metrics[keys.POLICY_KL] = upd["kl"]
    if upd.get("overlong_penalty") is not None:
        metrics[keys.REWARD_OVERLONG_PENALTY] = upd["overlong_penalty"]
    metrics.update(
        {
            keys.POLICY_LOGPROB_GAP: upd.get("logprob_gap", 0.0),
            keys.LOSS_TOTAL: upd.get("loss", 0.0),
            keys.LOSS_PG: upd.get("pg_loss", 0.0),
            keys.LOSS_CLIP_FRAC: upd.get("clip_frac", 0.0),
            keys.LOSS_RATIO_MEAN: upd.get("ratio_mean", 1.0),
            keys.OPTIM_GRAD_NORM: upd.get("grad_norm", 0.0),
            keys.OPTIM_LR: lr,
            keys.OPTIM_UPDATES: upd.get("updates", 0),
            keys.GEN_LEN_MEAN: float(lengths.mean()),
            keys.GEN_LEN_MAX: int(lengths.max()),
            keys.GEN_TRUNCATED_FRAC: float(truncated.mean()),
            keys.VERIFY_ERROR_RATE: statuses.count("error") / n,
            keys.VERIFY_TIMEOUT_RATE: statuses.count("timeout") / n,
            keys.VERIFY_UNPARSABLE_RATE: statuses.count("unparsable") / n,
            keys.VERIFY_EXCLUDED: int(sum(int((~b.valid).sum()) for b in sampled)),
            keys.SAMPLES_TRAINED: trained_rows,
        }
    )
    return metrics


def progress_info(m: Mapping[str, Any]) -> str:
    """The key health readings of one step, for the progress bar."""
    kl = m.get(keys.POLICY_KL)
    return (
        f"reward {m[keys.REWARD_MEAN]:.3f}  entropy {m.get(keys.POLICY_ENTROPY, float('nan')):.3f}  "
        + (f"kl {kl:.3f}  " if kl is not None else "")
        + f"zero-std {share(m[keys.GROUPS_FRAC_ZERO_STD], 0)}  len {m[keys.GEN_LEN_MEAN]:.1f}"
    )


def run_summary(
    steps: int, history: Sequence[Mapping[str, Any]], health: dict[str, Any], run_dir: Path | None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """A run's summary.json: reward start → end (means of up to 5 steps), health findings, where it is."""
    rewards = [m[keys.REWARD_MEAN] for m in history]
    k = max(1, min(5, len(rewards) // 4 or 1))
    out: dict[str, Any] = {
        "steps": steps,
        "reward_first": rewards[0] if rewards else None,
        "reward_last": rewards[-1] if rewards else None,
        "reward_start": statistics.fmean(rewards[:k]) if rewards else None,
        "reward_end": statistics.fmean(rewards[-k:]) if rewards else None,
        "health": health,
        "run_dir": str(run_dir) if run_dir is not None else None,
    }
    if seconds is not None:
        out["seconds"] = round(seconds, 3)
    return out
