"""Test sampling and trajectory probes of a lab arm: n samples per test problem, verified, read
into correctness flags one way (``judged_flags``: unjudged verdicts left out of n).

``sample_arm`` writes ``samples/<arm>_<set>.jsonl`` in the ``rlvr sample`` format; ``probe`` is one
trajectory point (pass@1 and pass@n on the first problems of each test set) during training.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr.lab.config import LabConfig
from rlvr.types import UNJUDGED

if TYPE_CHECKING:
    from rlvr.lab.arms import Phases

__all__ = ["judged_flags", "probe", "sample_arm", "sample_set"]


def probe(
    cfg: LabConfig, policy: Any, probe_sets: Mapping[str, list[dict[str, Any]]], verifier: Any, step: int
) -> dict[str, Any]:
    """pass@1 and pass@n (n = ``trajectory_samples``) of the policy as it is now, on the first
    ``trajectory_problems`` problems of each test set (a trajectory point without the entropy)."""
    from rlvr.evaluate.passk import pass_at_k_table
    from rlvr.rollout import generate_and_verify

    n = cfg.trajectory_samples
    point: dict[str, Any] = {"step": step}
    for name in ("in_distribution", "shifted"):
        records = probe_sets.get(name) or []
        if not records:
            point[f"pass1_{name}"] = point[f"passk_{name}"] = None
            continue
        _, verdicts = generate_and_verify(
            policy, records, n, verifier=verifier, temperature=cfg.grpo.rollout.temperature, max_new_tokens=cfg.new_tokens(),
            seed=cfg.seed * 104_729 + step, step=step,
        )
        flags = judged_flags([str(r["id"]) for r in records], verdicts, n)
        if not flags:  # every problem lost a sample to an error/skipped verdict: no reading
            point[f"pass1_{name}"] = point[f"passk_{name}"] = None
            continue
        table = pass_at_k_table(flags, [1, n])
        point[f"pass1_{name}"] = round(table[1], 6)
        point[f"passk_{name}"] = round(table[n], 6)
    return point


def sample_arm(
    phases: Phases, cfg: LabConfig, arm: str, policy: Any, test_sets: Mapping[str, list[dict[str, Any]]],
    verifier: Any, out: Path,
) -> dict[str, dict[str, list[bool]]]:
    """n samples per test problem, verified, written to ``samples/<arm>_<set>.jsonl``."""
    total = sum(len(v) for v in test_sets.values())
    return phases.run(
        f"sample_{arm}", f"sample {arm.replace('_', ' ')}", total,
        lambda adv: {
            name: sample_set(cfg, arm, policy, records, verifier, out / "samples" / f"{arm}_{name}.jsonl", adv)
            for name, records in test_sets.items() if records
        },
    )


def sample_set(
    cfg: LabConfig, arm: str, policy: Any, records: list[dict[str, Any]], verifier: Any, path: Path,
    advance: Callable[..., None], batch: int = 64,
) -> dict[str, list[bool]]:
    from rlvr.rollout import generate_and_verify

    outcomes: dict[str, list[bool]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    n = cfg.n_samples
    with path.open("w", encoding="utf-8") as fh:
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            flat, verdicts = generate_and_verify(
                policy, chunk, n, verifier=verifier, temperature=cfg.grpo.rollout.temperature,
                max_new_tokens=cfg.new_tokens(), seed=cfg.seed * 7919 + start + 1,
            )
            outcomes.update(judged_flags([str(r["id"]) for r in chunk], verdicts, n))
            for i, (text, verdict) in enumerate(zip(flat, verdicts)):
                rec = chunk[i // n]
                if verdict.status in UNJUDGED:
                    continue  # excluded from n, like rlvr eval does
                fh.write(json.dumps({
                    "problem_id": rec["id"], "prompt": rec["prompt"], "answer": rec.get("answer"), "model": arm,
                    "output": text, "reward": verdict.score, "status": verdict.status, "reason": verdict.reason,
                }) + "\n")
            advance(len(chunk))
    return outcomes


def judged_flags(record_ids: Sequence[str], verdicts: Sequence[Any], n: int) -> dict[str, list[bool]]:
    """Correctness flags per problem from record-major verdicts (``n`` per record: verdict ``b * n + j``
    is sample j of record b). Unjudged verdicts (error/skipped: not the model's fault) are left out
    of n, as ``rlvr eval`` does; a problem left with fewer than ``n`` judged samples is dropped (its
    pass@n cannot be computed). Test sampling and trajectory probes read outcomes this one way."""
    flags: dict[str, list[bool]] = {pid: [] for pid in record_ids}
    for i, v in enumerate(verdicts):
        if v.status not in UNJUDGED:
            flags[record_ids[i // n]].append(v.status == "correct")
    return {pid: f for pid, f in flags.items() if len(f) >= n}
