"""Helpers for trainer tests: a small fast config and cheap deterministic verifiers."""

from __future__ import annotations

from typing import Any

from rlvr.grpo.config import GRPOConfig, apply_overrides, config_from_dict
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier


class DigitShare(BaseVerifier):
    """Graded reward: the share of digits in the output (a fresh tiny model gets varied scores)."""

    name = "digit-share"

    def check(self, sample: Sample) -> Verdict:
        text = sample.output
        score = sum(c.isdigit() for c in text) / len(text) if text else 0.0
        return Verdict(score, "correct" if score == 1.0 else "incorrect", f"{score:.2f} of the characters are digits")


class StartsWithDigit(BaseVerifier):
    """Binary reward: 1 when the output starts with a digit."""

    name = "starts-with-digit"

    def check(self, sample: Sample) -> Verdict:
        ok = sample.output[:1].isdigit()
        return Verdict.correct("starts with a digit") if ok else Verdict.incorrect("does not start with a digit")


class FlakyVerifier(BaseVerifier):
    """Fails (status error) on every third completion of each group."""

    name = "flaky"

    def check(self, sample: Sample) -> Verdict:
        if str(sample.id).endswith((":0", ":3")):
            raise RuntimeError("backend unavailable")
        return DigitShare().check(sample)


def small_config(tmp_path: Any = None, overrides: tuple[str, ...] = (), **sections: Any) -> GRPOConfig:
    data: dict[str, Any] = {
        "model": {"name": "tiny", "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 12}},
        "data": {"task": "arithmetic", "n_prompts": 20, "max_operand": 9},
        "run": {
            "steps": 4,
            "seed": 0,
            "out_dir": str(tmp_path / "run") if tmp_path is not None else None,
            "checkpoint_every": 2,
            "progress": False,
            "threads": 1,
        },
        "rollout": {"prompts_per_step": 4, "group_size": 4, "max_new_tokens": 3},
        "optim": {"learning_rate": 3e-3, "epochs": 2, "minibatches": 2},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_from_dict(apply_overrides(data, list(overrides)))
