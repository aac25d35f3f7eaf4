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


def _sample(
    cfg: LabConfig, policy: Any, records: list[dict[str, Any]], n: int, verifier: Any, seed: int, step: int,
    tools: bool,
) -> tuple[list[str], list[Any], list[Any]]:
    """``n`` samples per record, verified: texts, verdicts and (a tool task) episodes, record-major.
    A tool task plays multi-turn episodes in its environment (``tools=False``: tools withheld)."""
    from rlvr.rollout import generate_and_verify, play_episodes

    env = cfg.environment(verifier)
    temp, limit = cfg.grpo.rollout.temperature, cfg.new_tokens()
    if env is None:
        texts, verdicts = generate_and_verify(
            policy, records, n, verifier=verifier, temperature=temp, max_new_tokens=limit, seed=seed, step=step
        )
        return texts, verdicts, []
    return play_episodes(
        policy, records, n, env_factory=env, temperature=temp, max_new_tokens=limit, seed=seed, step=step, tools=tools
    )


def probe(
    cfg: LabConfig, policy: Any, probe_sets: Mapping[str, list[dict[str, Any]]], verifier: Any, step: int,
    tools: bool = True,
) -> dict[str, Any]:
    """pass@1 and pass@n (n = ``trajectory_samples``) of the policy as it is now, on the first
    ``trajectory_problems`` problems of each test set (a trajectory point without the entropy)."""
    from rlvr.evaluate.passk import pass_at_k_table

    n = cfg.trajectory_samples
    point: dict[str, Any] = {"step": step}
    for name in ("in_distribution", "shifted"):
        records = probe_sets.get(name) or []
        if not records:
            point[f"pass1_{name}"] = point[f"passk_{name}"] = None
            continue
        _, verdicts, _ = _sample(cfg, policy, records, n, verifier, cfg.seed * 104_729 + step, step, tools)
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
    verifier: Any, out: Path, tools: bool = True,
) -> tuple[dict[str, dict[str, list[bool]]], dict[str, dict[str, float]]]:
    """n samples per test problem, verified, written to ``samples/<arm>_<set>.jsonl``: the outcomes
    per test set and, for a tool task, how the episodes used the tool per test set (``tool_use``)."""
    total = sum(len(v) for v in test_sets.values())

    def run(adv: Callable[..., None]) -> tuple[dict[str, Any], dict[str, Any]]:
        outcomes, use = {}, {}
        for name, records in test_sets.items():
            if records:
                path = out / "samples" / f"{arm}_{name}.jsonl"
                outcomes[name], use[name] = sample_set(cfg, arm, policy, records, verifier, path, adv, tools=tools)
        return outcomes, ({k: v for k, v in use.items() if v is not None} if cfg.tool_task else {})

    return phases.run(f"sample_{arm}", f"sample {arm.replace('_', ' ')}", total, run)


def sample_set(
    cfg: LabConfig, arm: str, policy: Any, records: list[dict[str, Any]], verifier: Any, path: Path,
    advance: Callable[..., None], batch: int = 64, tools: bool = True,
) -> tuple[dict[str, list[bool]], dict[str, float] | None]:
    """One test set's outcomes (and a tool task's ``rlvr.rollout.tool_use``, else None)."""
    from rlvr.rollout import tool_use

    outcomes: dict[str, list[bool]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    n = cfg.n_samples
    episodes: list[Any] = []
    with path.open("w", encoding="utf-8") as fh:
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            flat, verdicts, eps = _sample(cfg, policy, chunk, n, verifier, cfg.seed * 7919 + start + 1, 0, tools)
            episodes += eps
            outcomes.update(judged_flags([str(r["id"]) for r in chunk], verdicts, n))
            for i, (text, verdict) in enumerate(zip(flat, verdicts)):
                rec = chunk[i // n]
                if verdict.status in UNJUDGED:
                    continue  # excluded from n, like rlvr eval does
                line = {
                    "problem_id": rec["id"], "prompt": rec["prompt"], "answer": rec.get("answer"), "model": arm,
                    "output": text, "reward": verdict.score, "status": verdict.status, "reason": verdict.reason,
                }
                if eps:
                    line.update(n_tool_calls=eps[i].n_tool_calls, ended=eps[i].ended)
                fh.write(json.dumps(line) + "\n")
            advance(len(chunk))
    return outcomes, (tool_use(episodes) if episodes else None)


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
