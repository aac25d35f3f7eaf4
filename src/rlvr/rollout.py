"""Rollouts: sample G completions per prompt, verify them through the engine, keep the log-probs.

Each completion becomes a ``Sample`` whose ``id`` is ``"<prompt id>:<j>"`` and whose metadata
holds the prompt record's fields plus ``prompt`` and ``_step`` (the training step; the ``random``
control verifier reads it so its coin flips differ per step yet replay exactly on resume).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rlvr.engine import EngineConfig, verify_iter
from rlvr.policy.base import Rollout
from rlvr.types import UNJUDGED, Sample, Verdict
from rlvr.verifiers.base import Verifier

__all__ = ["RolloutBatch", "collect", "generate_and_verify", "make_samples", "step_seed"]

# Fields of a prompt record that are not verifier metadata.
_NOT_METADATA = ("id", "answer", "output", "prompt")


def step_seed(seed: int, step: int, round_: int = 0) -> int:
    """The sampling seed of one (step, refill round): fixed by the run seed, so resume replays it."""
    return (seed * 1_000_003 + step * 1_009 + round_ * 7) & 0x7FFF_FFFF


@dataclass
class RolloutBatch:
    """Verified rollouts of B prompts × G completions (row = b * G + j)."""

    rollout: Rollout
    prompt_ids: list[int]
    """(B,) indices of the prompts in the training set."""
    rewards: Tensor
    """(B, G) verdict scores."""
    valid: Tensor
    """(B, G) bool: verdict status not excluded (error/skipped by default)."""
    statuses: list[str]
    """(B*G,) verdict statuses."""
    verdicts: list[Verdict]
    group_size: int
    time_rollout: float = 0.0
    time_verify: float = 0.0

    def select_groups(self, groups: Sequence[int]) -> RolloutBatch:
        """Keep only the groups ``groups`` (indices into this batch's B)."""
        g = self.group_size
        rows = [b * g + j for b in groups for j in range(g)]
        r = self.rollout
        sub = Rollout(
            tokens=r.tokens.select(rows),
            texts=[r.texts[i] for i in rows],
            prompt_index=[k for k, _ in enumerate(groups) for _ in range(g)],
            sample_logprobs=r.sample_logprobs[rows],
            truncated=r.truncated[rows],
        )
        idx = torch.as_tensor(list(groups), dtype=torch.long)
        return RolloutBatch(
            rollout=sub,
            prompt_ids=[self.prompt_ids[b] for b in groups],
            rewards=self.rewards[idx],
            valid=self.valid[idx],
            statuses=[self.statuses[i] for i in rows],
            verdicts=[self.verdicts[i] for i in rows],
            group_size=g,
            time_rollout=self.time_rollout,
            time_verify=self.time_verify,
        )

    @staticmethod
    def cat(batches: Sequence[RolloutBatch], pad_id: int) -> RolloutBatch:
        return RolloutBatch(
            rollout=Rollout.cat([b.rollout for b in batches], pad_id),
            prompt_ids=[p for b in batches for p in b.prompt_ids],
            rewards=torch.cat([b.rewards for b in batches]),
            valid=torch.cat([b.valid for b in batches]),
            statuses=[s for b in batches for s in b.statuses],
            verdicts=[v for b in batches for v in b.verdicts],
            group_size=batches[0].group_size,
            time_rollout=sum(b.time_rollout for b in batches),
            time_verify=sum(b.time_verify for b in batches),
        )


def make_samples(
    records: Sequence[Mapping[str, Any]], texts: Sequence[str], group_size: int, step: int, prompt_field: str = "prompt"
) -> list[Sample]:
    """One ``Sample`` per completion; completions of record b are rows b*G .. b*G+G-1."""
    samples = []
    for b, rec in enumerate(records):
        meta = {k: v for k, v in rec.items() if k not in _NOT_METADATA}
        meta["prompt"] = rec.get(prompt_field)
        meta["_step"] = step
        rid = rec.get("id", b)
        for j in range(group_size):
            samples.append(
                Sample(output=texts[b * group_size + j], answer=rec.get("answer"), metadata=meta, id=f"{rid}:{j}")
            )
    return samples


def collect(
    policy: Any,
    records: Sequence[Mapping[str, Any]],
    prompt_ids: Sequence[int],
    *,
    verifier: Verifier,
    engine: EngineConfig,
    group_size: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    step: int,
    exclude: Sequence[str] = UNJUDGED,
    prompt_field: str = "prompt",
) -> RolloutBatch:
    """Sample ``group_size`` completions for each of ``prompt_ids`` and verify them."""
    chosen = [records[i] for i in prompt_ids]
    t0 = time.perf_counter()
    rollout = policy.sample(
        [str(r[prompt_field]) for r in chosen],
        n=group_size,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    t1 = time.perf_counter()
    samples = make_samples(chosen, rollout.texts, group_size, step, prompt_field)
    verdicts = list(verify_iter(samples, verifier, engine))
    t2 = time.perf_counter()
    b = len(chosen)
    rewards = torch.tensor([v.score for v in verdicts], dtype=torch.float32).view(b, group_size)
    statuses = [v.status for v in verdicts]
    valid = torch.tensor([s not in exclude for s in statuses], dtype=torch.bool).view(b, group_size)
    return RolloutBatch(
        rollout=rollout,
        prompt_ids=list(prompt_ids),
        rewards=rewards,
        valid=valid,
        statuses=statuses,
        verdicts=verdicts,
        group_size=group_size,
        time_rollout=t1 - t0,
        time_verify=t2 - t1,
    )


def generate_and_verify(
    policy: Any,
    records: Sequence[Mapping[str, Any]],
    n: int,
    *,
    verifier: Verifier,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    step: int = 0,
    engine: EngineConfig | None = None,
    prompt_field: str = "prompt",
) -> tuple[list[str], list[Verdict]]:
    """``n`` completion texts per record (text only: no token ids or log-probs) and their verdicts.

    Rows are record-major: completion j of record b is row ``b * n + j`` in both lists. What
    evaluation and the lab's probes use where ``collect`` would keep tensors nobody reads.
    """
    texts = policy.generate(
        [str(r[prompt_field]) for r in records], n=n, temperature=temperature, max_new_tokens=max_new_tokens,
        seed=seed,
    )
    flat = [t for group in texts for t in group]
    samples = make_samples(records, flat, n, step, prompt_field)
    return flat, list(verify_iter(samples, verifier, engine or EngineConfig(workers=0)))
