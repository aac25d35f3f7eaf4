"""The GRPO-family training loop: one step, top to bottom (``Trainer.step``).

1. **rollout**: draw prompts, sample G completions each (keeping sampling-time log-probs), verify
   them through the engine (``rlvr.rollout.collect``), or, with ``[env]``, play G multi-turn episodes
   each with tools (``rlvr.rollout.collect_episodes``: observation tokens carry no loss); with dynamic
   sampling, groups whose rewards all agree are dropped and more prompts sampled;
2. **advantages**: group baselines and scaling (``grpo.advantages``); error/skipped verdicts
   excluded; optional soft overlong punishment and pruning;
3. **update**: score the rows under the weights that sampled (``old``) and the initial policy
   (``ref``, for ``policy/kl``), then ``epochs`` × ``minibatches`` clipped policy-gradient steps
   (``grpo.loss``);
4. **metrics → health → log → checkpoint**.

Building the policy and prompts lives in ``grpo.build``, the run folder in ``grpo.rundir``, the
metrics dict in ``grpo.metrics``. ``Trainer(config, policy=, verifier=, prompts=, run_dir=)`` builds
what is not given; ``train(config, resume=)`` is the whole run behind ``rlvr train``.

Shapes: ``B`` groups (prompts) × ``G`` completions; ``N`` rows that train (≤ B·G after pruning);
``T`` completion positions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rlvr.data.schedule import PromptSampler
from rlvr.diagnostics import HealthMonitor, agent_metrics, keys
from rlvr.engine import EngineConfig
from rlvr.env.turns import turn_format
from rlvr.errors import ConfigError
from rlvr.grpo.advantages import group_advantages, overlong_penalty
from rlvr.grpo.build import build_environment, build_policy, build_prompts, check_device, check_trainable
from rlvr.grpo.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    restore_trainer_state,
    save_checkpoint,
    trainer_state,
)
from rlvr.grpo.config import GRPOConfig
from rlvr.grpo.filtering import informative_groups, prune_groups
from rlvr.grpo.loss import aggregate, kl_penalty, policy_loss
from rlvr.grpo.metrics import progress_info, run_summary, step_metrics
from rlvr.grpo.rundir import RunDir, check_resumable
from rlvr.policy.base import TokenBatch, TrainablePolicy
from rlvr.report.progress import progress_bar
from rlvr.rollout import RolloutBatch, collect, collect_episodes, step_seed
from rlvr.verifiers.base import Verifier
from rlvr.verifiers.registry import get_verifier

__all__ = ["Trainer", "score_tokens", "train"]

_FROM_CONFIG: Any = object()


def score_tokens(
    policy: TrainablePolicy,
    tokens: TokenBatch,
    rows: Tensor,
    *,
    temperature: float,
    micro_batch: int,
    entropy: bool = False,
    entropy_grad: bool = False,
) -> Iterator[tuple[Tensor, Tensor, Tensor | None]]:
    """Score ``rows`` of ``tokens`` under ``policy``, ``micro_batch`` rows per forward pass.

    Yields ``(part, logp (n, T), entropy (n, T) or None)`` per micro-batch; gradients follow torch's
    grad mode, so the same helper gives old/reference log-probs (under ``no_grad``) and the live
    ones a loss is built from, one micro-batch at a time (gradient accumulation).
    """
    for part in torch.split(rows, micro_batch):
        lp, ent = policy.logprobs(
            tokens.select(part), temperature=temperature, with_entropy=entropy, entropy_grad=entropy_grad
        )
        yield part, lp, ent


class Trainer:
    """Runs the GRPO-family loop; see the module docstring.

    ``policy``: a TrainablePolicy (``rlvr.policy``); ``verifier``: a Verifier or registry name;
    ``prompts``: records with the prompt field and ``answer``; ``run_dir``: folder for the run's files
    (default ``[run] out_dir``; None writes nothing); ``environment``: a no-argument environment factory
    (TRL's ``environment_factory``; default: built from ``[env]``, none without ``[env] name``).
    ``callbacks`` get ``(step, metrics)`` after each step.
    """

    def __init__(
        self,
        config: GRPOConfig,
        *,
        policy: TrainablePolicy | None = None,
        verifier: Verifier | str | None = None,
        prompts: Sequence[Mapping[str, Any]] | None = None,
        run_dir: str | Path | None = _FROM_CONFIG,
        environment: Callable[[], Any] | None = None,
        quiet: bool = False,
        callbacks: Sequence[Callable[[int, dict[str, Any]], None]] = (),
    ) -> None:
        self.config = cfg = config
        check_device(cfg.run.device)
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        torch.manual_seed(cfg.run.seed)
        random.seed(cfg.run.seed)
        self.records = list(prompts) if prompts is not None else build_prompts(cfg)
        if not self.records:
            raise ConfigError("no training prompts")
        self.policy = check_trainable(policy if policy is not None else build_policy(cfg, self.records))
        v = verifier if verifier is not None else cfg.verifier.name
        self.verifier: Verifier = get_verifier(v, **cfg.verifier.options) if isinstance(v, str) else get_verifier(v)
        # The name the health monitor's warnings tell the user to audit (and summary.json records).
        self.verifier_name = v if isinstance(v, str) else str(getattr(v, "name", None) or type(v).__name__)
        self.engine = EngineConfig(workers=cfg.verifier.workers, timeout=cfg.verifier.timeout)
        self.environment = environment if environment is not None else build_environment(cfg)
        if self.environment is not None:
            self.turns = turn_format(self.policy)  # fails now, not at step 1, for a policy without one
            self.verifier_name = f"{cfg.env.name or 'environment'} environment"
        self.optimizer = torch.optim.AdamW(
            [p for p in self.policy.parameters() if p.requires_grad],
            lr=cfg.optim.learning_rate,
            betas=(cfg.optim.beta1, cfg.optim.beta2),
            weight_decay=cfg.optim.weight_decay,
        )
        # The initial policy, frozen: the KL term's reference (beta > 0) and policy/kl's (always,
        # unless kl_every = 0 with beta = 0, which keeps no copy).
        keep_reference = cfg.loss.beta > 0 or cfg.loss.kl_every > 0
        self.reference = self.policy.frozen_copy() if keep_reference else None
        self.sampler = PromptSampler(
            self.records,
            seed=cfg.run.seed,
            schedule=cfg.data.schedule,
            start=cfg.data.schedule_start,
            ramp_steps=cfg.data.schedule_ramp_steps or cfg.run.steps,
        )
        self.monitor = HealthMonitor(cfg.health, verifier=self.verifier_name, env=cfg.env.name)
        self.step_count = 0
        self.history: list[dict[str, Any]] = []
        self.quiet = quiet
        self.callbacks = list(callbacks)
        out = cfg.run.out_dir if run_dir is _FROM_CONFIG else run_dir
        self.files = RunDir(out) if out is not None else None
        self._console: Any = None

    @property
    def run_dir(self) -> Path | None:
        """The run's folder (None: nothing is written)."""
        return self.files.path if self.files is not None else None

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One rollout → verify → advantages → update step; returns its metrics."""
        cfg, ro = self.config, self.config.rollout
        step = self.step_count + 1
        t_start = time.perf_counter()

        # 1. Rollout and verification; dynamic sampling refills the batch with informative groups.
        batch, sampled = self._rollout(step)

        # 2. Advantages over whole groups (B, G), then the rows that train, after pruning.
        rewards = batch.rewards
        penalty = None
        if ro.overlong_buffer:  # DAPO's soft overlong punishment shapes the reward, not the verdict
            lengths = batch.rollout.lengths.view(-1, ro.group_size).cpu()  # (B*G,) -> (B, G)
            penalty = overlong_penalty(lengths, ro.max_new_tokens, ro.overlong_buffer_tokens, ro.overlong_penalty)
            rewards = rewards + penalty
        adv = group_advantages(
            rewards, batch.valid, baseline=cfg.advantage.baseline, scale=cfg.advantage.scale, eps=cfg.advantage.eps
        )
        if ro.prune != "none":
            rows = prune_groups(rewards, batch.valid, ro.prune, ro.prune_keep)
        else:
            rows = list(range(len(batch.prompt_ids) * ro.group_size))

        # 3. Updates (none when every group agreed under dynamic sampling).
        t_update = time.perf_counter()
        lr = self._set_lr(step)
        upd = self._update(batch, adv.values.reshape(-1), rows, step) if rows else {}  # (B, G) -> (B*G,)
        if penalty is not None and penalty.numel():
            upd["overlong_penalty"] = float(penalty.mean())
        t_end = time.perf_counter()

        # 4. Metrics (``diagnostics.keys``, read by the health monitor) → health → log → checkpoint.
        metrics = step_metrics(step, batch, sampled, len(rows), upd, lr)
        if self.environment is not None:  # tool use and agent health (``diagnostics.agent``)
            episodes = [ep for b in sampled for ep in b.episodes or []]
            metrics.update(agent_metrics(episodes, forged=self.turns.forged))
        metrics.update(
            {
                keys.TIME_ROLLOUT: sum(b.time_rollout for b in sampled),
                keys.TIME_VERIFY: sum(b.time_verify for b in sampled),
                keys.TIME_UPDATE: t_end - t_update,
                keys.TIME_STEP: t_end - t_start,
            }
        )
        for b in sampled:  # a pass-rate curriculum learns from every sampled group
            for k, pid in enumerate(b.prompt_ids):
                if bool(b.valid[k].any()):
                    self.sampler.observe(pid, b.rewards[k][b.valid[k]].tolist())
        warnings = self.monitor.update(step, metrics)
        self.step_count = step
        self.history.append(metrics)
        for w in warnings:
            if not self.quiet:
                self._print(f"[health] {w}", style="yellow")
        if self.files is not None:
            self.files.log(metrics, warnings)
            every = cfg.run.checkpoint_every
            if every and step % every == 0:
                self.save_checkpoint()
        for cb in self.callbacks:
            cb(step, metrics)
        return metrics

    def _rollout(self, step: int) -> tuple[RolloutBatch, list[RolloutBatch]]:
        """The batch that trains and every batch sampled for it (dynamic sampling samples more)."""
        cfg, ro = self.config, self.config.rollout
        want = ro.prompts_per_step
        sampled: list[RolloutBatch] = []
        kept: list[RolloutBatch] = []
        have = 0
        rounds = 1 + (ro.max_refill_rounds if ro.dynamic_sampling else 0)
        for r in range(rounds):
            # Refill rounds ask for what is missing (at least a few prompts: groups often agree).
            n_prompts = want if r == 0 else max(want - have, min(want, 4))
            ids = self.sampler.next_batch(n_prompts, step)
            seed = step_seed(cfg.run.seed, step, r)
            if self.environment is None:
                b = collect(
                    self.policy, self.records, ids, verifier=self.verifier, engine=self.engine,
                    group_size=ro.group_size, temperature=ro.temperature, top_p=ro.top_p,
                    max_new_tokens=ro.max_new_tokens, seed=seed, step=step, exclude=cfg.advantage.exclude,
                    prompt_field=cfg.data.prompt_field,
                )
            else:
                b = collect_episodes(
                    self.policy, self.records, ids, env_factory=self.environment, tools=cfg.env.tools,
                    turns=self.turns, group_size=ro.group_size, temperature=ro.temperature, top_p=ro.top_p,
                    max_new_tokens=ro.max_new_tokens, seed=seed, step=step, exclude=cfg.advantage.exclude,
                    prompt_field=cfg.data.prompt_field,
                )
            sampled.append(b)
            if not ro.dynamic_sampling:
                return b, sampled
            good = [i for i, ok in enumerate(informative_groups(b.rewards, b.valid).tolist()) if ok]
            good = good[: want - have]
            if good:
                kept.append(b.select_groups(good))
                have += len(good)
            if have >= want:
                break
        if not kept:  # every group agreed in every round: nothing to learn from this step
            return sampled[0].select_groups([]), sampled
        pad = self.policy.pad_id
        return (kept[0] if len(kept) == 1 else RolloutBatch.cat(kept, pad)), sampled

    def _set_lr(self, step: int) -> float:
        o = self.config.optim
        lr = o.learning_rate * (min(1.0, step / o.warmup_steps) if o.warmup_steps else 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _reads_kl(self, step: int) -> bool:
        lc = self.config.loss
        return self.reference is not None and (lc.beta > 0 or step % lc.kl_every == 0)

    def _update(self, batch: RolloutBatch, adv_flat: Tensor, rows: list[int], step: int) -> dict[str, Any]:
        """``epochs`` × ``minibatches`` optimizer steps on the ``rows`` of the batch; mean diagnostics."""
        cfg, o = self.config, self.config.optim
        temp = cfg.rollout.temperature or 1.0
        tokens = batch.rollout.tokens.select(rows)  # N rows
        device = tokens.input_ids.device
        n = len(tokens)
        size = o.micro_batch_size or n
        valid = batch.valid.reshape(-1)[rows].to(device)  # (B, G) -> (B*G,) -> (N,)
        if cfg.rollout.overlong_filter:  # DAPO: a truncated completion has no answer to credit
            valid = valid & ~batch.rollout.truncated[rows].to(device)
        mask = tokens.completion_mask * valid[:, None].float()  # (N, T); excluded rows do not train
        adv = adv_flat[rows].to(device)  # (N,)
        n_mb = min(o.minibatches, n)
        gen = torch.Generator().manual_seed(step_seed(cfg.run.seed, step, 99))
        perms = [torch.randperm(n, generator=gen) for _ in range(o.epochs)]
        all_rows = torch.arange(n)

        # The model stays in eval mode: dropout would make the on-policy ratio differ from 1 and
        # add noise the clip then fights (TRL disables dropout for the same reason).
        self.policy.model.eval()
        # (N, T) log-probs under the weights that sampled, scored before any update. With a single
        # update per batch that update's own forward pass is this score (ratio ≡ 1) and fills it in.
        on_policy = o.epochs == 1 and n_mb == 1
        old_lp = torch.zeros_like(mask)
        ref_lp = None
        with torch.no_grad():
            if not on_policy:
                for part, lp, _ in score_tokens(self.policy, tokens, all_rows, temperature=temp, micro_batch=size):
                    old_lp[part] = lp
            if self._reads_kl(step):
                assert self.reference is not None
                ref_lp = torch.zeros_like(mask)
                for part, lp, _ in score_tokens(self.reference, tokens, all_rows, temperature=temp, micro_batch=size):
                    ref_lp[part] = lp

        per_step: list[dict[str, float]] = []
        for epoch, perm in enumerate(perms):
            for idx in (c for c in torch.tensor_split(perm, n_mb) if len(c)):
                stats = self._minibatch_step(tokens, idx, adv, mask, old_lp, ref_lp, temp, fill_old=on_policy)
                if epoch:  # entropy describes the policy that sampled (first pass only)
                    stats.pop("entropy", None)
                per_step.append(stats)
        result: dict[str, Any] = {}
        for key in ("loss", "pg_loss", "clip_frac", "ratio_mean", "grad_norm", "entropy"):
            values = [st[key] for st in per_step if key in st]
            if values:
                result[key] = sum(values) / len(values)
        result["updates"] = len(per_step)
        # Sampler vs trainer log-probs of the same tokens under the same weights: ~0 unless
        # sampling and scoring disagree (dtype, kernels, chat templates).
        sample_lp = batch.rollout.sample_logprobs[rows].to(device)  # (N, T)
        result["logprob_gap"] = float(aggregate((old_lp - sample_lp).abs(), mask, "token-mean"))
        if ref_lp is not None:  # KL of the policy that sampled to the initial policy
            result["kl"] = float(aggregate(kl_penalty(old_lp, ref_lp, cfg.loss.kl_estimator), mask, "token-mean"))
        return result

    def _minibatch_step(
        self,
        tokens: TokenBatch,
        idx: Tensor,
        adv: Tensor,
        mask: Tensor,
        old_lp: Tensor,
        ref_lp: Tensor | None,
        temp: float,
        *,
        fill_old: bool,
    ) -> dict[str, float]:
        """One optimizer step on the rows ``idx``, accumulated over micro-batches; its diagnostics.

        ``fill_old``: the weights have not changed since sampling, so the live log-probs are the
        old ones; they are written into ``old_lp`` (the ratio of this update is exactly 1).
        """
        cfg = self.config
        o, lc = cfg.optim, cfg.loss
        total_tokens = float(mask[idx].sum())
        total_seqs = float((mask[idx].sum(dim=1) > 0).sum())
        self.optimizer.zero_grad(set_to_none=True)
        sums = {"loss": 0.0, "pg_loss": 0.0, "clip_frac": 0.0, "ratio_mean": 0.0, "entropy": 0.0}
        parts = score_tokens(
            self.policy, tokens, idx, temperature=temp, micro_batch=o.micro_batch_size or len(idx),
            entropy=True, entropy_grad=lc.entropy_coef > 0,
        )
        for part, lp, ent in parts:  # lp, ent: (n, T) with gradients
            if fill_old:
                old_lp[part] = lp.detach()
            out = policy_loss(
                lp,
                old_lp[part],
                adv[part],
                mask[part],
                eps_low=lc.eps_low,
                eps_high=lc.eps_high,
                ratio_level=lc.ratio_level,
                agg=lc.agg,
                norm_tokens=cfg.norm_tokens,
                ref_logp=None if ref_lp is None else ref_lp[part],
                beta=lc.beta,
                kl_estimator=lc.kl_estimator,
                entropy=ent,
                entropy_coef=lc.entropy_coef,
                total_tokens=total_tokens,
                total_seqs=total_seqs,
            )
            out.loss.backward()  # gradients add up to the whole minibatch's
            share = out.tokens / max(total_tokens, 1.0)  # token-weighted means across micro-batches
            sums["loss"] += float(out.loss.detach())
            sums["pg_loss"] += out.pg_loss
            sums["clip_frac"] += out.clip_frac * share
            sums["ratio_mean"] += out.ratio_mean * share
            sums["entropy"] += (out.entropy or 0.0) * share
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else float("inf"))
        self.optimizer.step()
        return {**sums, "grad_norm": float(grad_norm)}

    def _print(self, text: str, style: str | None = None) -> None:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        self._console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    # -- checkpoints and resume ------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step into ``<run_dir>/checkpoints``."""
        if self.files is None:
            return None
        state = trainer_state(self.policy, self.optimizer, self.sampler, self.config.to_dict())
        return save_checkpoint(self.files.checkpoints, self.step_count, state, self.config.run.keep_checkpoints)

    def load_checkpoint(self, path: str | Path) -> int:
        """Restore a checkpoint; returns its step. Logs past that step are cut (they will be redone)."""
        state = load_checkpoint(path)
        check_resumable(state.get("config", {}), self.config.to_dict())
        self.step_count = restore_trainer_state(state, self.policy, self.optimizer, self.sampler)
        if self.files is not None:
            rows = self.files.rewind(self.step_count)
            # Rebuild the monitor's memory (baselines, active episodes) from the logged steps.
            self.monitor = HealthMonitor(self.config.health, verifier=self.verifier_name, env=self.config.env.name)
            for row in rows:
                self.monitor.update(int(row["step"]), row)
            self.history = rows
        return self.step_count

    # -- the whole run ---------------------------------------------------------------------------
    def train(self, steps: int | None = None) -> dict[str, Any]:
        """Run until ``[run] steps`` (or ``steps`` more); returns the summary (also summary.json)."""
        cfg = self.config
        target = cfg.run.steps if steps is None else self.step_count + steps
        if self.files is not None:
            self.files.open(cfg.to_dict(), tensorboard=cfg.run.tensorboard)
            if self.step_count == 0 and cfg.model.name == "tiny" and cfg.run.save_final:
                # The built-in model has no folder of its own: keep the pre-RL policy for base-vs-trained
                # comparisons (a transformers model's base is its own folder).
                self.policy.save(self.files.path / "initial")
        t0 = time.perf_counter()
        progress = progress_bar() if cfg.run.progress and not self.quiet else None
        try:
            if progress is not None:
                progress.start()
                self._console = progress.console
                task = progress.add_task("training", total=target, completed=self.step_count, info="")
            while self.step_count < target:
                m = self.step()
                if progress is not None:
                    progress.update(task, completed=self.step_count, info=progress_info(m))
            summary = self.summary(seconds=time.perf_counter() - t0)
            if self.files is not None:
                every = cfg.run.checkpoint_every
                if not every or self.step_count % every:
                    self.save_checkpoint()  # the final step, unless it was just saved
                if cfg.run.save_final:
                    self.policy.save(self.files.path / "final")
                    summary["final_model"] = str(self.files.path / "final")
                    initial = self.files.path / "initial" if cfg.model.name == "tiny" else cfg.model.path
                    summary["initial_model"] = str(initial) if initial is not None else None
                self.files.write_summary(summary)
        finally:
            if progress is not None:
                progress.stop()
            if self.files is not None:
                self.files.close()
        return summary

    def summary(self, seconds: float | None = None) -> dict[str, Any]:
        """Reward start → end, health findings and where things are."""
        out = run_summary(self.step_count, self.history, self.monitor.summary(), self.run_dir, seconds)
        return {**out, "verifier": self.verifier_name}


def train(
    config: GRPOConfig,
    *,
    resume: bool = False,
    quiet: bool = False,
    **trainer_kwargs: Any,
) -> dict[str, Any]:
    """Run a whole training job from a config (what ``rlvr train`` does); returns the summary.

    Without ``resume`` the run directory must not hold a previous run's metrics. With ``resume``,
    the newest checkpoint there is restored and training continues to ``[run] steps`` (a run killed
    before its first checkpoint starts over).
    """
    trainer = Trainer(config, quiet=quiet, **trainer_kwargs)
    files = trainer.files
    if files is not None:
        files.lock()
        try:
            ckpt = latest_checkpoint(files.checkpoints)
            if resume and ckpt is not None:
                step = trainer.load_checkpoint(ckpt)
                if not quiet:
                    trainer._print(f"resumed from {ckpt} (step {step})")
            elif resume and files.has_run():
                # Killed before its first checkpoint: nothing to restore, so start over (same seed,
                # same metrics), dropping the partial logs.
                files.rewind(0)
                if not quiet:
                    trainer._print(f"no checkpoint in {files.path} yet; starting the run over")
            elif not resume and files.has_run():
                raise ConfigError(f"{files.path} already holds a run; pass --resume to continue it, or choose another --out")
        except BaseException:
            files.unlock()
            raise
    return trainer.train()
