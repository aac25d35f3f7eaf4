"""Building what a training config describes: the device check, the prompts and the policy.

The built-in tiny model is warmed up on worked examples of the task before RL (so it is right some
of the time) and cached under ``cache_root()`` by a hash of everything that shapes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlvr.errors import ConfigError
from rlvr.grpo.config import GRPOConfig
from rlvr.policy.base import TrainablePolicy

__all__ = ["build_environment", "build_policy", "build_prompts", "cache_root", "check_device", "check_trainable", "warmup_pairs"]


def check_device(device: str) -> None:
    """Raise ``ConfigError`` naming the fix when ``device`` is not usable here."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"[run] device = {device!r} is not a torch device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"[run] device = {device!r} but torch sees no CUDA GPU; use device = \"cpu\"")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"[run] device = {device!r} but MPS is not available; use device = \"cpu\"")


def check_trainable(policy: Any) -> TrainablePolicy:
    """``policy`` itself when the trainer can update it; else a ``ConfigError`` saying why."""
    if not isinstance(policy, TrainablePolicy):
        raise ConfigError(
            f"{type(policy).__name__} cannot be trained: the trainer needs a local torch policy "
            "(rlvr.policy.load_policy); endpoint policies only sample"
        )
    return policy


def cache_root() -> Path:
    """Where rlvr caches warmed-up models ($RLVR_CACHE_DIR, else ~/.cache/rlvr)."""
    return Path(os.environ.get("RLVR_CACHE_DIR") or Path.home() / ".cache" / "rlvr")


def build_prompts(config: GRPOConfig) -> list[dict[str, Any]]:
    """The training prompt records of ``[data]``."""
    d = config.data
    if d.task is not None:
        from rlvr.data.tasks import make_task

        return make_task(d.task, d.n_prompts, seed=d.task_seed, **_task_options(config))
    from rlvr.data.prompts import load_prompts

    assert d.path is not None
    return load_prompts(d.path, prompt_field=d.prompt_field)


def build_policy(config: GRPOConfig, records: Sequence[Mapping[str, Any]] | None = None) -> TrainablePolicy:
    """The policy of ``[model]``; a fresh tiny model is warmed up on worked examples (cached)."""
    m = config.model
    device = config.run.device
    if m.path is not None:
        from rlvr.policy import load_policy

        opts = {} if m.chat_template is None else {"chat_template": m.chat_template}
        return check_trainable(load_policy(m.path, device=device, dtype=m.dtype, **opts))
    from rlvr.policy.tiny import TinyConfig, TinyPolicy, warm_up

    tcfg = TinyConfig(n_layer=m.tiny.n_layer, n_head=m.tiny.n_head, n_embd=m.tiny.n_embd, block_size=m.tiny.block_size)
    if not m.pretrain_steps:
        return TinyPolicy(tcfg, seed=config.run.seed, device=device)
    policy, _ = warm_up(
        tcfg, warmup_pairs(config, records), steps=m.pretrain_steps, lr=m.pretrain_lr, seed=config.run.seed,
        cache_dir=m.pretrain_cache or cache_root() / "tiny", device=device,
    )
    return policy


def warmup_pairs(config: GRPOConfig, records: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, str]]:
    """Worked examples for the tiny warm-up (``rlvr.data.tasks.worked_examples``: a ``pretrain_noise``
    share slipped, 4 copies per record when noisy): a fresh draw of the built-in task, else the prompts."""
    d = config.data
    if d.task is not None:
        from rlvr.data.tasks import make_task

        recs: Sequence[Mapping[str, Any]] = make_task(d.task, d.n_prompts, seed=d.task_seed + 1, **_task_options(config))
    else:
        recs = records if records is not None else build_prompts(config)
    from rlvr.data.tasks import worked_examples

    noise = config.model.pretrain_noise
    share = config.model.pretrain_tool_share
    transcript = None
    if share:
        from rlvr.env.turns import CompactTurns

        transcript = CompactTurns().worked(build_environment(config))
    pairs = worked_examples(
        list(recs), prompt_field=d.prompt_field, noise=noise, copies=4 if noise else 1, seed=config.run.seed,
        tool_share=share, transcript=transcript,
    )
    if not pairs:
        raise ConfigError("[model] pretrain_steps needs prompts with an 'answer' to learn from")
    return pairs


def build_environment(config: GRPOConfig) -> Any:
    """The environment factory of ``[env]`` (None: single-turn rollouts)."""
    e = config.env
    if e.name is None:
        return None
    from rlvr.env import make_env

    return make_env(e.name, max_turns=e.max_turns, **e.options)


def _task_options(config: GRPOConfig) -> dict[str, Any]:
    """The ``[data]`` options the built-in task takes (max_operand and ops are arithmetic's)."""
    d = config.data
    return {"max_operand": d.max_operand, "ops": d.ops} if d.task == "arithmetic" else {}
