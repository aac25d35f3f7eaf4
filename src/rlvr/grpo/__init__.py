"""The GRPO-family trainer: config, pure advantage and loss math, rollouts, the loop, health.

Programmatic API (what ``rlvr train``, the lab and the benchmark call)::

    from rlvr.grpo import GRPOConfig, Trainer, load_config, train

    config = load_config("examples/train_tiny.toml", overrides=["run.steps=20"])
    summary = train(config)                       # builds policy, verifier, prompts, run dir

    trainer = Trainer(config, policy=my_policy, verifier="math", prompts=records, run_dir=None)
    metrics = trainer.step()                      # one rollout -> verify -> update step
    summary = trainer.train()                     # the remaining steps, with logging/checkpoints

``Trainer`` arguments left ``None`` are built from the config: ``policy`` from ``[model]``,
``verifier`` from ``[verifier]``, ``prompts`` (records with ``prompt`` and ``answer``) from
``[data]``; ``run_dir=None`` writes nothing to disk. Importing this package does not import torch;
the names below load on first use.
"""

from __future__ import annotations

from rlvr.lazy import lazy_exports

__all__ = ["GRPOConfig", "Trainer", "load_config", "train"]

_LAZY = {
    "GRPOConfig": "rlvr.grpo.config",
    "load_config": "rlvr.grpo.config",
    "Trainer": "rlvr.grpo.trainer",
    "train": "rlvr.grpo.trainer",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
