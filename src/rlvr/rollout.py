"""Rollouts: sample G completions per prompt, verify them through the engine, keep the log-probs.

Single-turn (``collect``) or multi-turn with tools (``collect_episodes``): one environment per
completion plays the model's turns, and the tokens of its observations are appended to the
context with a zero completion mask, so only the model's own tokens carry loss.

Each completion becomes a ``Sample`` whose ``id`` is ``"<prompt id>:<j>"`` and whose metadata
holds the prompt record's fields plus ``prompt`` and ``_step`` (the training step; the ``random``
control verifier reads it so its coin flips differ per step yet replay exactly on resume).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rlvr.engine import EngineConfig, verify_iter
from rlvr.env.base import ToolEnv, budget_of, episode_of, play_turn, schemas_of, verdict_of
from rlvr.env.episode import Episode
from rlvr.env.turns import TurnFormat, turn_format
from rlvr.policy.base import Rollout, TokenBatch, make_generator
from rlvr.types import UNJUDGED, Sample, Verdict
from rlvr.verifiers.base import Verifier

__all__ = [
    "RolloutBatch", "collect", "collect_episodes", "generate_and_verify", "make_samples", "play_episodes", "step_seed",
    "tool_use",
]

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
    episodes: list[Episode] | None = None
    """(B*G,) multi-turn only: what each completion's environment saw and did."""

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
            episodes=None if self.episodes is None else [self.episodes[i] for i in rows],
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
            episodes=None if batches[0].episodes is None else [e for b in batches for e in b.episodes or []],
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


def collect_episodes(
    policy: Any,
    records: Sequence[Mapping[str, Any]],
    prompt_ids: Sequence[int],
    *,
    env_factory: Callable[[], ToolEnv],
    group_size: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    step: int,
    exclude: Sequence[str] = UNJUDGED,
    prompt_field: str = "prompt",
    tools: bool = True,
    turns: TurnFormat | None = None,
) -> RolloutBatch:
    """Multi-turn rollouts: ``group_size`` episodes per prompt, each in its own environment.

    Every turn samples the next assistant message of all running episodes at once (up to
    ``max_new_tokens`` each), plays it through the environment (``rlvr.env.play_turn``: its tool
    calls run behind the environment's budget guard) and appends the observations' tokens. An
    episode ends with a message that calls no tool (its final answer, judged by the environment's
    verifier), at the environment's ``max_turns``, on its tool budget, or when the model's context is
    full. ``tools=False`` withholds the tools (none offered; every call is answered "unknown tool").

    Row ``b * G + j`` is episode ``j`` of prompt ``b``: prompt ids left-padded to P, then the model's
    turns and the observations right-padded to T; ``completion_mask`` is 1 on the model's tokens only.
    """
    fmt = turns if turns is not None else turn_format(policy)
    chosen = [records[i] for i in prompt_ids]
    n_rows = len(chosen) * group_size
    envs = [env_factory() for _ in range(n_rows)]
    offered: dict[str, Any] | None = None if tools else {}
    limit = policy.max_positions() if hasattr(policy, "max_positions") else None
    t_tools = 0.0
    t0 = time.perf_counter()
    prompts: list[list[int]] = []
    for r, env in enumerate(envs):
        rec = chosen[r // group_size]
        t = time.perf_counter()
        # Each episode is its own sample ("<prompt id>:<j>", as ``make_samples`` names them): a
        # per-sample verifier such as the random control flips one coin per episode, not per group.
        extra = env.reset(**{**rec, "id": f"{rec.get('id', r // group_size)}:{r % group_size}", "_step": step})
        t_tools += time.perf_counter() - t
        text = str(rec[prompt_field]) + (f"\n{extra}" if extra else "")
        prompts.append(fmt.prompt_ids(policy, text, schemas_of(env) if tools else []))
    comp: list[list[int]] = [[] for _ in range(n_rows)]  # model and observation tokens
    own: list[list[float]] = [[] for _ in range(n_rows)]  # 1.0 on the model's tokens
    lps: list[list[float]] = [[] for _ in range(n_rows)]
    gen = make_generator(seed, getattr(policy, "device", "cpu"))
    stops = fmt.stop_ids(policy)
    active = list(range(n_rows))
    turn = 0
    while active:
        for r in list(active):
            ep, budget = episode_of(envs[r]), budget_of(envs[r])
            full = limit is not None and len(prompts[r]) + len(comp[r]) >= limit
            if ep.over or turn >= budget.max_turns or full:
                if not ep.over:
                    ep.ended = "budget" if full else "max_turns"
                    ep.reason = "the model's context is full" if full else f"more than {budget.max_turns} assistant turns"
                active.remove(r)
        if not active:
            break
        # Each row may write up to its own room: the turn limit, or what is left of the model's context.
        rooms = [max_new_tokens if limit is None else min(max_new_tokens, limit - len(prompts[r]) - len(comp[r]))
                 for r in active]
        outs = policy.continue_ids(
            [prompts[r] + comp[r] for r in active], temperature=temperature, top_p=top_p, max_new_tokens=max(rooms),
            generator=gen, stop_ids=stops,
        )
        t = time.perf_counter()
        for r, room, (ids, lp, stopped) in zip(active, rooms, outs):
            if len(ids) > room:  # sampled past this row's context (another row had more room): not its turn
                ids, lp, stopped = ids[:room], lp[:room], False
            comp[r] += ids
            own[r] += [1.0] * len(ids)
            lps[r] += lp
            if not stopped and room < max_new_tokens:  # cut by the context's end, not the turn limit
                ep = episode_of(envs[r])
                ep.ended, ep.reason = "budget", "the model's context is full"
                continue
            text = policy.decode(ids)
            played = play_turn(envs[r], text, tools=offered)
            if not episode_of(envs[r]).over:
                obs = fmt.observation_ids(policy, [c.observation for c in played.tool_calls])
                if limit is not None and len(prompts[r]) + len(comp[r]) + len(obs) >= limit:
                    ep = episode_of(envs[r])  # no room for the observation and a reply to it
                    ep.ended, ep.reason = "budget", "the model's context is full"
                    continue
                comp[r] += obs
                own[r] += [0.0] * len(obs)
                lps[r] += [0.0] * len(obs)
        t_tools += time.perf_counter() - t
        turn += 1
    t1 = time.perf_counter()
    verdicts = [verdict_of(env) for env in envs]
    t2 = time.perf_counter()
    episodes = [episode_of(env) for env in envs]
    rollout = _assemble(policy, prompts, comp, own, lps, [ep.ended != "answer" for ep in episodes], group_size)
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
        time_rollout=t1 - t0 - t_tools,
        time_verify=t_tools + (t2 - t1),
        episodes=episodes,
    )


def _assemble(
    policy: Any, prompts: list[list[int]], comp: list[list[int]], own: list[list[float]], lps: list[list[float]],
    truncated: list[bool], group_size: int,
) -> Rollout:
    """The episodes as one ``Rollout``: (N, P) left-padded prompts, (N, T) right-padded completions;
    attention on every real token, ``completion_mask`` and log-probs on the model's tokens only."""
    pad = policy.pad_id
    device = getattr(policy, "device", "cpu")
    n, t_len = len(comp), max((len(c) for c in comp), default=0) or 1
    p_len = max(len(p) for p in prompts)
    p_ids = torch.full((n, p_len), pad, dtype=torch.long)
    p_mask = torch.zeros((n, p_len), dtype=torch.long)
    ids = torch.full((n, t_len), pad, dtype=torch.long)
    attn = torch.zeros((n, t_len), dtype=torch.long)
    mask = torch.zeros((n, t_len))
    logp = torch.zeros((n, t_len))
    for r in range(n):
        if prompts[r]:
            p_ids[r, p_len - len(prompts[r]):] = torch.tensor(prompts[r])
            p_mask[r, p_len - len(prompts[r]):] = 1
        k = len(comp[r])
        if k:
            ids[r, :k] = torch.tensor(comp[r])
            attn[r, :k] = 1
            mask[r, :k] = torch.tensor(own[r])
            logp[r, :k] = torch.tensor(lps[r])
    tokens = TokenBatch(
        input_ids=torch.cat([p_ids, ids], dim=1).to(device),
        attention_mask=torch.cat([p_mask, attn], dim=1).to(device),
        prompt_len=p_len,
        completion_mask=mask.to(device),
    )
    return Rollout(
        tokens=tokens,
        texts=[policy.decode(c) for c in comp],
        prompt_index=[r // group_size for r in range(n)],
        sample_logprobs=logp.to(device),
        truncated=torch.tensor(truncated, dtype=torch.bool),
    )


def play_episodes(
    policy: Any,
    records: Sequence[Mapping[str, Any]],
    n: int,
    *,
    env_factory: Callable[[], ToolEnv],
    temperature: float,
    max_new_tokens: int,
    seed: int,
    step: int = 0,
    tools: bool = True,
    prompt_field: str = "prompt",
) -> tuple[list[str], list[Verdict], list[Episode]]:
    """``n`` multi-turn episodes per record: transcripts, verdicts and episodes, record-major (row
    ``b * n + j``); ``generate_and_verify`` for tool environments (evaluation, curation, probes)."""
    with torch.no_grad():
        b = collect_episodes(
            policy, records, list(range(len(records))), env_factory=env_factory, group_size=n,
            temperature=temperature, top_p=1.0, max_new_tokens=max_new_tokens, seed=seed, step=step, tools=tools,
            prompt_field=prompt_field,
        )
    return b.rollout.texts, b.verdicts, b.episodes or []


def tool_use(episodes: Sequence[Episode]) -> dict[str, float]:
    """How a set of episodes used tools: ``calls_per_episode`` (mean tool calls over every episode)
    and ``answers_using_tool`` (of the episodes that ended with a final answer, the share that
    called a tool before it; 0.0 when none did)."""
    answered = [e for e in episodes if e.ended == "answer"]
    return {
        "calls_per_episode": sum(e.n_tool_calls for e in episodes) / len(episodes) if episodes else 0.0,
        "answers_using_tool": sum(e.n_tool_calls > 0 for e in answered) / len(answered) if answered else 0.0,
        "episodes": len(episodes),
    }
