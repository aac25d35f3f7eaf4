"""One seed of the study: data splits, the warmed-up base, curation, the RL arms and their samples.

A seed is a prep job (``prepare_seed`` -> ``SeedPrep``) and one job per RL arm (``run_arm`` ->
``ArmRun``), joined by ``assemble_seed`` into a ``SeedResult`` (``rlvr.lab.results``): per arm and
test set, problem id -> correctness flags, plus each RL run's curves and health warnings.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlvr.data.prompts import write_records
from rlvr.diagnostics import keys
from rlvr.errors import ConfigError
from rlvr.lab.config import TASK_SPECS, LabConfig
from rlvr.lab.results import ArmRun, SeedPrep, SeedResult, TrainingRun
from rlvr.lab.sampling import probe, sample_arm

ARMS = ("base", "trained", "random_control", "format_control", "no_tool", "impossible_control")
"""Every arm of a seed: the base, the real-reward run and its controls (a tool task's: no_tool,
random_control, impossible_control; other tasks': random_control, format_control)."""

RUN_DIRS = {"trained": "train_real", "random_control": "train_random", "format_control": "train_format",
            "no_tool": "train_no_tool", "impossible_control": "train_impossible"}
"""Run folder of each RL arm inside a seed's folder."""


class Phases:
    """Times each phase and shows a progress bar per phase (rich), or nothing when quiet."""

    def __init__(self, enabled: bool) -> None:
        self.timings: dict[str, float] = {}
        self.progress: Any = None
        if enabled:
            from rlvr.report.progress import progress_bar

            self.progress = progress_bar()  # the one progress widget, on stderr
            self.progress.start()

    def run(self, name: str, label: str, total: int, fn: Callable[[Callable[..., None]], Any]) -> Any:
        """Run ``fn(advance)`` as phase ``name``; ``advance(n=1, info="")`` moves its bar."""
        task = None
        if self.progress is not None:
            task = self.progress.add_task(label, total=total, info="")

        def advance(n: int = 1, info: str = "") -> None:
            if task is not None:
                self.progress.update(task, advance=n, info=info)

        t0 = time.perf_counter()
        try:
            return fn(advance)
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 3)
            if task is not None:
                self.progress.update(task, completed=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def _torch_threads(cfg: LabConfig) -> Iterator[None]:
    """Torch CPU threads for one job (1 for the tiny model: its ops are too small to gain from more)."""
    import torch

    threads = cfg.threads if cfg.threads is not None else (0 if cfg.custom else 1)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_arms(cfg: LabConfig) -> list[str]:
    """The RL arms of one seed, in the order they are trained and reported."""
    if cfg.tool_task:
        return ["trained", *(["no_tool"] if cfg.no_tool_control else []),
                *(["random_control"] if cfg.random_control else []),
                *(["impossible_control"] if cfg.impossible_control else [])]
    return ["trained", *(["random_control"] if cfg.random_control else []),
            *(["format_control"] if cfg.format_control else [])]


def real_verifier(cfg: LabConfig) -> Any:
    """The task's verifier (the user's, or the built-in task's)."""
    from rlvr.verifiers.registry import get_verifier

    return get_verifier(cfg.verifier_name())


def prepare_seed(cfg: LabConfig, out: Path, phases: Phases | None = None) -> SeedPrep:
    """The first part of a replicate, before any RL arm: data splits, the base, curation and the
    base's test samples: what ``run_arm`` starts from."""
    from rlvr.data.curate import curate

    phases = phases or Phases(False)
    t_start = time.perf_counter()
    with _torch_threads(cfg):
        splits, shifted_description = phases.run("data", "data", 1, lambda adv: _splits(cfg))
        for name, records in splits.items():
            write_records(out / "data" / f"{name}.jsonl", records)
        verifier = real_verifier(cfg)

        base_dir = out / "base"
        total_pre = cfg.pretrain_steps if not cfg.custom else 1
        base = phases.run("pretrain", "base model", total_pre, lambda adv: _base_policy(cfg, splits, base_dir, adv))

        pool = splits["pool"]
        cur = phases.run(
            "curate", "curate (base pass rate)", len(pool),
            lambda adv: curate(
                base, pool, verifier, k=cfg.curate_k, band=cfg.band, temperature=cfg.grpo.rollout.temperature,
                max_new_tokens=cfg.new_tokens(), seed=cfg.seed, on_batch=lambda n: adv(n),
                environment=cfg.environment(verifier),
            ),
        )
        if not cur.kept:
            s = cur.summary()
            raise ConfigError(
                f"curation kept no prompt: of {s['prompts']}, {s['too_easy']} are too easy and {s['too_hard']} too "
                f"hard for the base model in the band {list(cfg.band)}; widen the band or change the data"
            )
        hit_rate = statistics.fmean(r["pass_rate"] for r in cur.kept)
        write_records(out / "data" / "curated.jsonl", cur.kept)

        test_sets = {"in_distribution": splits["test"], "shifted": splits.get("shifted") or []}
        base_outcomes, base_tool_use = sample_arm(phases, cfg, "base", base, test_sets, verifier, out)
    phases.timings["total"] = round(time.perf_counter() - t_start, 3)
    return SeedPrep(
        seed=cfg.seed,
        base_outcomes=base_outcomes,
        kept=cur.kept,
        curation=cur.summary(),
        hit_rate=round(hit_rate, 6),
        verifier=cfg.verifier_name(),
        test_sets=test_sets,
        data={
            "pretrain": len(splits.get("pretrain") or []),
            "train": len(pool),
            "curated": len(cur.kept),
            "test_in_distribution": len(base_outcomes.get("in_distribution") or {}),
            "test_shifted": len(base_outcomes.get("shifted") or {}),
            "shifted_description": shifted_description,
        },
        timings=dict(phases.timings),
        tool_use=base_tool_use,
    )


def run_arm(cfg: LabConfig, out: Path, arm: str, prep: SeedPrep, phases: Phases | None = None) -> ArmRun:
    """One RL arm of a replicate from ``prepare_seed``'s output: a fresh copy of the base trained
    with the arm's reward (the real verifier, a random reward at the base's hit rate, or the
    format-only reward), then sampled on both test sets. Independent of the other arms (every
    arm seeds its own trainer and sampling), so arms may run in any order or process."""
    from rlvr.verifiers.registry import get_verifier

    phases = phases or Phases(False)
    t_start = time.perf_counter()
    with _torch_threads(cfg):
        verifier = real_verifier(cfg)
        prompts = prep.kept
        if arm in ("trained", "no_tool"):
            arm_verifier = verifier
        elif arm == "impossible_control":
            arm_verifier, prompts = verifier, impossible_prompts(prep.kept, cfg.seed)
        elif arm == "random_control":
            p = cfg.random_p if cfg.random_p is not None else prep.hit_rate
            arm_verifier = get_verifier("random", p=p, seed=cfg.seed)
        elif arm == "format_control":
            arm_verifier = answer_format_verifier(cfg)
        else:
            raise ConfigError(f"unknown lab arm {arm!r}; arms: {', '.join(ARMS[1:])}")
        test_sets = prep.test_sets
        probe_sets = {name: records[: cfg.trajectory_problems] for name, records in test_sets.items()}
        policy = _fresh_copy(cfg, out / "base")
        run_name = RUN_DIRS[arm]
        tools = arm != "no_tool"
        run = phases.run(
            run_name, f"GRPO ({arm.replace('_', ' ')})", cfg.grpo.run.steps,
            lambda adv: _train(
                cfg, policy, arm_verifier, prompts, out / run_name, adv, probe_sets=probe_sets,
                eval_verifier=verifier, tools=tools,
            ),
        )
        outcomes, use = sample_arm(phases, cfg, arm, policy, test_sets, verifier, out, tools=tools)
    return ArmRun(arm=arm, outcomes=outcomes, run=run, timings=dict(phases.timings),
                  seconds=round(time.perf_counter() - t_start, 3), tool_use=use)


def assemble_seed(prep: SeedPrep, arm_results: Sequence[ArmRun]) -> SeedResult:
    """One replicate's result (what ``rlvr.lab.summary`` reads) from its parts; the timings add up
    every part's phases (``total``: the seconds the parts took, wherever they ran)."""
    timings = {k: v for k, v in prep.timings.items() if k != "total"}
    total = prep.timings.get("total", 0.0)
    outcomes = {"base": prep.base_outcomes}
    use = {"base": prep.tool_use} if prep.tool_use else {}
    runs = {}
    for res in arm_results:
        outcomes[res.arm] = res.outcomes
        if res.tool_use:
            use[res.arm] = res.tool_use
        runs[res.arm] = res.run
        timings.update(res.timings)
        total += res.seconds
    timings["total"] = round(total, 3)
    return SeedResult(
        seed=prep.seed, outcomes=outcomes, runs=runs, curation=prep.curation, curated=len(prep.kept),
        hit_rate=prep.hit_rate, verifier=prep.verifier, data=prep.data, timings=timings, tool_use=use,
    )


def impossible_prompts(records: Sequence[Mapping[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The impossible-task control's prompts: the same problems, each answer replaced by a random
    9-digit number no tool call on the problem can produce (the model never sees it). A correct
    environment pays nothing here; any reward is the environment leaking the answer or a grader bug."""
    rng = random.Random(seed * 7_777 + 1)
    return [{**r, "answer": str(rng.randint(10**8, 10**9 - 1))} for r in records]


def answer_format_verifier(cfg: LabConfig) -> Any:
    """The format-only control's reward: 1 when the output is a well-formed answer for the task (a
    bare integer; a countdown expression), whatever its value. Correctness is never checked."""
    from rlvr.verifiers.format import AnswerShapeVerifier

    spec = cfg.spec()
    pattern = spec.answer_pattern if spec is not None else r"\s*-?\d+(\.\d+)?\s*"
    return AnswerShapeVerifier(pattern)


def _splits(cfg: LabConfig) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Disjoint data splits: pretrain, pool, test and shifted (built-in task or the user's files)."""
    if not cfg.custom:
        from rlvr.data.tasks import disjoint_splits

        spec = TASK_SPECS[cfg.task]
        sizes = [
            ("pretrain", cfg.n_pretrain, spec.train_options),
            ("pool", cfg.n_pool, spec.train_options),
            ("test", cfg.n_test, spec.train_options),
        ]
        if cfg.n_shifted:
            sizes.append(("shifted", cfg.n_shifted, spec.shifted_options))
        return disjoint_splits(spec.generator, sizes, seed=cfg.seed), spec.shifted_description
    from rlvr.data.prompts import load_prompts

    assert cfg.data is not None
    records = [r for r in load_prompts(cfg.data) if r.get("answer") is not None]
    if len(records) < 4:
        raise ConfigError(f"{cfg.data}: the lab needs at least 4 prompts with an 'answer' (found {len(records)})")
    order = list(range(len(records)))
    random.Random(cfg.seed).shuffle(order)
    n_test = max(1, min(cfg.n_test, round(len(records) * cfg.test_fraction)))
    test = [records[i] for i in order[:n_test]]
    pool = [records[i] for i in order[n_test:]][: cfg.n_pool]
    splits = {"pool": pool, "test": test}
    description = None
    if cfg.shifted_data is not None:
        shifted = load_prompts(cfg.shifted_data)
        splits["shifted"] = shifted[: cfg.n_shifted or len(shifted)]
        description = f"the prompts of {cfg.shifted_data}"
    return splits, description


def _tiny_config(cfg: LabConfig) -> Any:
    from rlvr.policy.tiny import TinyConfig

    spec = TASK_SPECS[cfg.task]
    return TinyConfig(n_layer=cfg.n_layer, n_head=4, n_embd=cfg.n_embd, block_size=spec.block_size)


def _base_policy(cfg: LabConfig, splits: Mapping[str, Any], base_dir: Path, advance: Callable[..., None]) -> Any:
    """The base model: the user's, or the tiny model warmed up on worked solutions (cached)."""
    from rlvr.policy import load_policy

    if cfg.custom:
        assert cfg.model is not None
        policy = load_policy(cfg.model, device=cfg.device)
        advance(1, info=str(cfg.model))
        return policy
    from rlvr.data.tasks import worked_examples
    from rlvr.grpo.build import cache_root
    from rlvr.policy.tiny import warm_up

    spec = TASK_SPECS[cfg.task]
    share = cfg.tool_share if cfg.tool_share is not None else spec.tool_share
    transcript = None
    if spec.env is not None and share:
        from rlvr.env.turns import CompactTurns

        transcript = CompactTurns().worked(cfg.environment())
    pairs = worked_examples(
        splits["pretrain"], seed=cfg.seed, malformed=cfg.malformed,
        noise=cfg.pretrain_noise if cfg.pretrain_noise is not None else spec.pretrain_noise,
        carry_drop=cfg.carry_drop if cfg.carry_drop is not None else spec.carry_drop,
        tool_share=share, transcript=transcript,
    )
    policy, hit = warm_up(
        _tiny_config(cfg), pairs, steps=cfg.pretrain_steps, lr=cfg.pretrain_lr, seed=cfg.seed,
        cache_dir=cfg.cache_dir or cache_root() / "lab", device=cfg.device,
        on_step=lambda step, loss: advance(1, info=f"loss {loss:.3f}"),
    )
    if hit:
        advance(cfg.pretrain_steps, info="cached")
    shutil.rmtree(base_dir, ignore_errors=True)
    policy.save(base_dir)  # every RL arm starts from this copy (``_fresh_copy``)
    return policy


def _fresh_copy(cfg: LabConfig, base_dir: Path) -> Any:
    """A trainable copy of the base (each RL arm starts from the same weights)."""
    from rlvr.policy import load_policy

    if cfg.custom:
        assert cfg.model is not None
        return load_policy(cfg.model, device=cfg.device)
    return load_policy(str(base_dir), device=cfg.device)


def _train(
    cfg: LabConfig, policy: Any, verifier: Any, prompts: list[dict[str, Any]], run_dir: Path,
    advance: Callable[..., None], probe_sets: Mapping[str, list[dict[str, Any]]] | None = None,
    eval_verifier: Any = None, tools: bool = True,
) -> TrainingRun:
    """One RL arm: the trainer's run folder, summary, per-step curves, health warnings and (with
    ``probe_sets``) a trajectory: every ``trajectory_every`` steps the policy is probed on both
    test sets with the *real* verifier ``eval_verifier``, next to its mean entropy since the last
    probe."""
    from rlvr.grpo.trainer import Trainer

    probes: Mapping[str, list[dict[str, Any]]] = probe_sets or {}
    every = cfg.trajectory_every if probes else 0
    trajectory: list[dict[str, Any]] = []
    if every:
        trajectory.append({**probe(cfg, policy, probes, eval_verifier, 0, tools), "entropy": None})
    window: list[float] = []

    def on_step(step: int, m: dict[str, Any]) -> None:
        advance(1, info=f"reward {m.get(keys.REWARD_MEAN, float('nan')):.2f}  entropy {m.get(keys.POLICY_ENTROPY, float('nan')):.2f}")
        if not every:
            return
        ent = m.get(keys.POLICY_ENTROPY)
        if isinstance(ent, (int, float)) and math.isfinite(ent):
            window.append(float(ent))
        if step % every == 0 or step == cfg.grpo.run.steps:
            point = probe(cfg, policy, probes, eval_verifier, step, tools)
            point["entropy"] = round(statistics.fmean(window), 6) if window else None
            window.clear()
            trajectory.append(point)

    trainer = Trainer(
        cfg.arm_config(run_dir, tools=tools), policy=policy, verifier=verifier, prompts=prompts, run_dir=run_dir,
        quiet=True, callbacks=[on_step], environment=cfg.environment(verifier),
    )
    summary = trainer.train()
    # A metric the run never logs (policy/kl without a KL term) is left out, not drawn as missing.
    curves = {}
    for key in (keys.REWARD_MEAN, keys.POLICY_ENTROPY, keys.POLICY_KL, keys.GROUPS_FRAC_ZERO_STD,
                keys.TOOLS_CALLS_PER_EPISODE):
        values = [m.get(key) for m in trainer.history]
        if any(v is not None for v in values):
            curves[key] = values
    warnings = []
    health_file = run_dir / "health.jsonl"
    if health_file.is_file():
        for line in health_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                warnings.append(json.loads(line))
    return TrainingRun(summary=summary, curves=curves, warnings=warnings, trajectory=trajectory)
