"""Adapters that plug rlvr verifiers and health checks into other trainers.

* ``rlvr.integrations.trl``: a ``GRPOTrainer`` reward function and a health ``TrainerCallback``.
* ``rlvr.integrations.verl``: a ``compute_score`` for verl's ``custom_reward_function``.

Each submodule imports its trainer's packages lazily, so importing rlvr never needs them.
"""
