"""One training step's metrics (DESIGN.md §3 keys) and the progress line that shows them."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlvr.grpo.advantages import group_advantages
from rlvr.grpo.filtering import informative_groups
from rlvr.rollout import RolloutBatch

__all__ = ["progress_bar", "progress_info", "run_summary", "step_metrics"]


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
        "step": step,
        "reward/mean": float(rewards.mean()) if rewards.numel() else 0.0,
        "reward/std": float(group_stds.mean()),
        "reward/std_batch": float(rewards.std()) if rewards.numel() >= 2 else 0.0,
        "reward/correct_frac": statuses.count("correct") / n,
        "groups/frac_zero_std": float(zero_std.float().mean()),
        "groups/sampled": len(zero_std),
        "groups/trained": len(batch.prompt_ids),
    }
    if "entropy" in upd:
        metrics["policy/entropy"] = upd["entropy"]
    if upd.get("kl") is not None:
        metrics["policy/kl"] = upd["kl"]
    if upd.get("overlong_penalty") is not None:
        metrics["reward/overlong_penalty"] = upd["overlong_penalty"]
    metrics.update(
        {
            "policy/logprob_gap": upd.get("logprob_gap", 0.0),
            "loss/total": upd.get("loss", 0.0),
            "loss/pg": upd.get("pg_loss", 0.0),
            "loss/clip_frac": upd.get("clip_frac", 0.0),
            "loss/ratio_mean": upd.get("ratio_mean", 1.0),
            "optim/grad_norm": upd.get("grad_norm", 0.0),
            "optim/lr": lr,
            "optim/updates": upd.get("updates", 0),
            "gen/len_mean": float(lengths.mean()),
            "gen/len_max": int(lengths.max()),
            "gen/truncated_frac": float(truncated.mean()),
            "verify/error_rate": statuses.count("error") / n,
            "verify/timeout_rate": statuses.count("timeout") / n,
            "verify/unparsable_rate": statuses.count("unparsable") / n,
            "verify/excluded": int(sum(int((~b.valid).sum()) for b in sampled)),
            "samples/trained": trained_rows,
        }
    )
    return metrics


def progress_bar() -> Any:
    """A rich progress bar on stderr with a free-text ``info`` field."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        transient=False,
    )


def progress_info(m: Mapping[str, Any]) -> str:
    """The key health readings of one step, for the progress bar."""
    kl = m.get("policy/kl")
    return (
        f"reward {m['reward/mean']:.3f}  entropy {m.get('policy/entropy', float('nan')):.3f}  "
        + (f"kl {kl:.3f}  " if kl is not None else "")
        + f"zero-std {m['groups/frac_zero_std']:.0%}  len {m['gen/len_mean']:.1f}"
    )


def run_summary(
    steps: int, history: Sequence[Mapping[str, Any]], health: dict[str, Any], run_dir: Path | None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """A run's summary.json: reward start → end (means of up to 5 steps), health findings, where it is."""
    rewards = [m["reward/mean"] for m in history]
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
