"""The GRPO-family training loop.

One step, top to bottom (``Trainer.step``):

1. **rollout**: draw prompts, sample G completions each (keeping sampling-time log-probs);
2. **verify**: score every completion through the engine (``[verifier] workers = 0``: in-process);
   with dynamic sampling, groups whose rewards all agree are dropped and more prompts sampled;
3. **advantages**: group baselines and scaling; error/skipped verdicts excluded; optional pruning;
4. **update**: ``epochs`` × ``minibatches`` clipped policy-gradient steps (reference log-probs
   only when beta > 0);
5. **metrics → health → log → checkpoint**.

``Trainer(config, policy=, verifier=, prompts=, run_dir=)`` builds what is not given from the
config; ``train(config, resume=)`` is the whole run behind ``rlvr train``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlvr.data.schedule import PromptSampler
from rlvr.engine import EngineConfig
from rlvr.errors import ConfigError
from rlvr.grpo.advantages import group_advantages
from rlvr.grpo.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from rlvr.grpo.config import GRPOConfig
from rlvr.grpo.filtering import informative_groups, prune_groups
from rlvr.grpo.health import HealthMonitor, HealthWarning
from rlvr.grpo.loss import policy_loss
from rlvr.grpo.rollout import RolloutBatch, collect, step_seed
from rlvr.io import write_json
from rlvr.verifiers.base import Verifier, get_verifier

__all__ = ["Trainer", "build_policy", "build_prompts", "step_metrics", "train"]

_FROM_CONFIG: Any = object()
# Config fields a resumed run may change (they do not change what is computed).
_RESUMABLE_CHANGES = ("run.steps", "run.progress", "run.threads", "run.tensorboard", "run.checkpoint_every",
                      "run.keep_checkpoints", "run.save_final", "run.out_dir", "verifier.workers")


# -- building what the config describes ------------------------------------------------------------


def _check_device(device: str) -> None:
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"[run] device = {device!r} is not a torch device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"[run] device = {device!r} but torch sees no CUDA GPU; use device = \"cpu\"")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"[run] device = {device!r} but MPS is not available; use device = \"cpu\"")


def cache_root() -> Path:
    return Path(os.environ.get("RLVR_CACHE_DIR") or Path.home() / ".cache" / "rlvr")


def build_prompts(config: GRPOConfig) -> list[dict[str, Any]]:
    """The training prompt records of ``[data]``."""
    d = config.data
    if d.task is not None:
        from rlvr.data.tasks import make_task

        return make_task(d.task, d.n_prompts, seed=d.task_seed, max_operand=d.max_operand, ops=d.ops)
    from rlvr.data.prompts import load_prompts

    assert d.path is not None
    return load_prompts(d.path, prompt_field=d.prompt_field)


def build_policy(config: GRPOConfig, records: Sequence[Mapping[str, Any]] | None = None) -> Any:
    """The policy of ``[model]``; a fresh tiny model is warmed up on worked examples (cached)."""
    m = config.model
    device = config.run.device
    if m.path is not None:
        from rlvr.policy import load_policy

        opts = {} if m.chat_template is None else {"chat_template": m.chat_template}
        return load_policy(m.path, device=device, dtype=m.dtype, **opts)
    from rlvr.policy.tiny import TinyConfig, TinyPolicy, cache_key, cached_model, pretrain

    tcfg = TinyConfig(n_layer=m.tiny.n_layer, n_head=m.tiny.n_head, n_embd=m.tiny.n_embd, block_size=m.tiny.block_size)
    if not m.pretrain_steps:
        return TinyPolicy(tcfg, seed=config.run.seed, device=device)
    pairs = _warmup_pairs(config, records)
    key = cache_key(
        tiny=tcfg.__dict__, steps=m.pretrain_steps, lr=m.pretrain_lr, seed=config.run.seed, pairs=pairs
    )
    folder = Path(m.pretrain_cache) if m.pretrain_cache else cache_root() / "tiny"

    def build() -> TinyPolicy:
        policy = TinyPolicy(tcfg, seed=config.run.seed, device="cpu")
        pretrain(policy, pairs, steps=m.pretrain_steps, lr=m.pretrain_lr, seed=config.run.seed)
        return policy

    cached, _ = cached_model(folder, key, build)
    return TinyPolicy.load(cached, device=device)
    policy = TinyPolicy(tcfg, seed=config.run.seed, device="cpu")
    pretrain(policy, pairs, steps=m.pretrain_steps, lr=m.pretrain_lr, seed=config.run.seed)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    policy.save(tmp)
    try:
        os.replace(tmp, cached)
    except OSError:  # another process cached it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return TinyPolicy.load(cached, device=device)


def _warmup_pairs(config: GRPOConfig, records: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, str]]:
    """Worked examples for the tiny warm-up: a fresh draw of the built-in task, else the prompts."""
    d = config.data
    if d.task is not None:
        from rlvr.data.tasks import make_task

        recs: Sequence[Mapping[str, Any]] = make_task(
            d.task, d.n_prompts, seed=d.task_seed + 1, max_operand=d.max_operand, ops=d.ops
        )
    else:
        recs = records if records is not None else build_prompts(config)
    from rlvr.data.tasks import worked_examples

    noise = config.model.pretrain_noise
    pairs = worked_examples(
        list(recs), prompt_field=d.prompt_field, noise=noise, copies=4 if noise else 1, seed=config.run.seed
    )
    if not pairs:
        raise ConfigError("[model] pretrain_steps needs prompts with an 'answer' to learn from")
    return pairs


# -- the trainer ------------------------------------------------------------------------------------


class Trainer:
    """Runs the GRPO-family loop; see the module docstring.

    ``policy``: a Policy (``rlvr.policy``); ``verifier``: a Verifier or registry name; ``prompts``:
    records with the prompt field and ``answer``; ``run_dir``: folder for the run's files (default
    ``[run] out_dir``; None writes nothing). ``callbacks`` get ``(step, metrics)`` after each step.
    """

    def __init__(
        self,
        config: GRPOConfig,
        *,
        policy: Any = None,
        verifier: Verifier | str | None = None,
        prompts: Sequence[Mapping[str, Any]] | None = None,
        run_dir: str | Path | None = _FROM_CONFIG,
        quiet: bool = False,
        callbacks: Sequence[Callable[[int, dict[str, Any]], None]] = (),
    ) -> None:
        self.config = cfg = config
        _check_device(cfg.run.device)
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        torch.manual_seed(cfg.run.seed)
        random.seed(cfg.run.seed)
        self.records = list(prompts) if prompts is not None else build_prompts(cfg)
        if not self.records:
            raise ConfigError("no training prompts")
        self.policy = policy if policy is not None else build_policy(cfg, self.records)
        if not all(hasattr(self.policy, a) for a in ("parameters", "logprobs", "sample", "model")):
            raise ConfigError(
                f"{type(self.policy).__name__} cannot be trained: the trainer needs a local torch policy "
                "(rlvr.policy.load_policy); endpoint policies only sample"
            )
        v = verifier if verifier is not None else cfg.verifier.name
        self.verifier: Verifier = (
            get_verifier(v, **cfg.verifier.options) if isinstance(v, str) else get_verifier(v)
        )
        self.engine = EngineConfig(workers=cfg.verifier.workers, timeout=cfg.verifier.timeout)
        params = [p for p in self.policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params,
            lr=cfg.optim.learning_rate,
            betas=(cfg.optim.beta1, cfg.optim.beta2),
            weight_decay=cfg.optim.weight_decay,
        )
        # The reference model exists only when the KL term does (beta = 0: no copy, no forward).
        self.reference = self.policy.frozen_copy() if cfg.loss.beta > 0 else None
        self.sampler = PromptSampler(
            self.records,
            seed=cfg.run.seed,
            schedule=cfg.data.schedule,
            start=cfg.data.schedule_start,
            ramp_steps=cfg.data.schedule_ramp_steps or cfg.run.steps,
        )
        self.monitor = HealthMonitor(cfg.health)
        self.step_count = 0
        self.history: list[dict[str, Any]] = []
        self.quiet = quiet
        self.callbacks = list(callbacks)
        out = cfg.run.out_dir if run_dir is _FROM_CONFIG else run_dir
        self.run_dir = Path(out) if out is not None else None
        self._tb: Any = None
        self._console: Any = None
        self._lock: Any = None

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One rollout → verify → advantages → update step; returns its metrics."""
        cfg, ro = self.config, self.config.rollout
        step = self.step_count + 1
        t_start = time.perf_counter()

        # 1-2. Rollout and verification; dynamic sampling refills the batch with informative groups.
        batch, sampled = self._rollout(step)

        # 3. Advantages over whole groups; then the rows (completions) that train, after pruning.
        adv = group_advantages(
            batch.rewards, batch.valid, baseline=cfg.advantage.baseline, scale=cfg.advantage.scale, eps=cfg.advantage.eps
        )
        if ro.prune != "none":
            rows = prune_groups(batch.rewards, batch.valid, ro.prune, ro.prune_keep)
        else:
            rows = list(range(len(batch.prompt_ids) * ro.group_size))

        # 4. Updates (none when every group agreed under dynamic sampling).
        t_update = time.perf_counter()
        lr = self._set_lr(step)
        upd = self._update(batch, adv.values.reshape(-1), rows, step) if rows else {}
        t_end = time.perf_counter()

        # 5. Metrics (DESIGN.md §3 keys, read by the health monitor).
        metrics = step_metrics(step, batch, sampled, len(rows), upd, lr)
        metrics.update(
            {
                "time/rollout": sum(b.time_rollout for b in sampled),
                "time/verify": sum(b.time_verify for b in sampled),
                "time/update": t_end - t_update,
                "time/step": t_end - t_start,
            }
        )
        for b in sampled:  # a pass-rate curriculum learns from every sampled group
            for k, pid in enumerate(b.prompt_ids):
                if bool(b.valid[k].any()):
                    self.sampler.observe(pid, b.rewards[k][b.valid[k]].tolist())

        # 6. Health → log → checkpoint.
        warnings = self.monitor.update(step, metrics)
        self.step_count = step
        self.history.append(metrics)
        self._log(metrics, warnings)
        every = cfg.run.checkpoint_every
        if self.run_dir is not None and every and step % every == 0:
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
            b = collect(
                self.policy,
                self.records,
                ids,
                verifier=self.verifier,
                engine=self.engine,
                group_size=ro.group_size,
                temperature=ro.temperature,
                top_p=ro.top_p,
                max_new_tokens=ro.max_new_tokens,
                seed=step_seed(cfg.run.seed, step, r),
                step=step,
                exclude=cfg.advantage.exclude,
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

    def _update(self, batch: RolloutBatch, adv_flat: torch.Tensor, rows: list[int], step: int) -> dict[str, Any]:
        """``epochs`` × ``minibatches`` optimizer steps on the ``rows`` of the batch; mean diagnostics."""
        cfg = self.config
        o = cfg.optim
        temp = cfg.rollout.temperature or 1.0
        tokens = batch.rollout.tokens.select(rows)
        device = tokens.input_ids.device
        valid = batch.valid.reshape(-1)[rows].to(device)
        mask = tokens.completion_mask * valid[:, None].float()  # excluded rows do not train
        adv = adv_flat[rows].to(device)
        sample_lp = batch.rollout.sample_logprobs[rows]
        n = len(tokens)
        n_mb = min(o.minibatches, n)
        gen = torch.Generator().manual_seed(step_seed(cfg.run.seed, step, 99))
        perms = [torch.randperm(n, generator=gen) for _ in range(o.epochs)]

        def chunks(perm: torch.Tensor) -> list[torch.Tensor]:
            return [c for c in torch.tensor_split(perm, n_mb) if len(c)]

        # Log-probs of the policy that sampled, per epoch-1 minibatch, before any update. With a
        # single update they equal the live log-probs (ratio exactly 1), so no extra pass is made.
        first = chunks(perms[0])
        old_lp = torch.zeros_like(mask)
        ref_lp = torch.zeros_like(mask) if self.reference is not None else None
        size = o.micro_batch_size or n
        with torch.no_grad():
            if o.epochs * n_mb > 1:
                for idx in first[1:]:
                    for part in torch.split(idx, size):
                        old_lp[part] = self.policy.logprobs(tokens.select(part), temperature=temp)[0]
            if self.reference is not None:
                for idx in first:
                    for part in torch.split(idx, size):
                        ref_lp[part] = self.reference.logprobs(tokens.select(part), temperature=temp)[0]

        # The model stays in eval mode: dropout would make the on-policy ratio differ from 1 and
        # add noise the clip then fights (TRL disables dropout for the same reason).
        self.policy.model.eval()
        per_step: list[dict[str, float]] = []
        for epoch, perm in enumerate(perms):
            for k, idx in enumerate(chunks(perm) if epoch else first):
                # The very first minibatch is scored by the unchanged policy: old = live, ratio 1.
                stats = self._minibatch_step(
                    tokens, idx, adv, mask, None if epoch == 0 and k == 0 else old_lp, ref_lp, temp
                )
                if epoch == 0 and k == 0:
                    # Sampler vs trainer log-probs of the same tokens under the same weights: ~0
                    # unless sampling and scoring disagree (dtype, kernels, chat templates).
                    stats["logprob_gap"] = float(
                        ((stats.pop("_live_lp") - sample_lp[idx].to(device)).abs() * mask[idx]).sum()
                        / mask[idx].sum().clamp(min=1.0)
                    )
                stats.pop("_live_lp", None)
                if epoch:  # entropy/KL describe the policy that sampled (first pass only)
                    stats.pop("entropy", None)
                    stats.pop("kl", None)
                per_step.append(stats)
        result: dict[str, Any] = {}
        for key in ("loss", "pg_loss", "clip_frac", "ratio_mean", "grad_norm", "entropy", "kl", "logprob_gap"):
            values = [st[key] for st in per_step if key in st]
            if values:
                result[key] = sum(values) / len(values)
        result["updates"] = len(per_step)
        return result

    def _minibatch_step(
        self,
        tokens: Any,
        idx: torch.Tensor,
        adv: torch.Tensor,
        mask: torch.Tensor,
        old_lp: torch.Tensor | None,
        ref_lp: torch.Tensor | None,
        temp: float,
    ) -> dict[str, Any]:
        """One optimizer step on the rows ``idx``, accumulated over micro-batches; its diagnostics.

        ``old_lp`` None means the policy has not changed since sampling (old = live log-probs).
        """
        cfg = self.config
        o, lc = cfg.optim, cfg.loss
        total_tokens = float(mask[idx].sum())
        total_seqs = float((mask[idx].sum(dim=1) > 0).sum())
        size = o.micro_batch_size or len(idx)
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {"loss": 0.0, "pg_loss": 0.0, "clip_frac": 0.0, "ratio_mean": 0.0, "entropy": 0.0}
        kl_sum: float | None = None
        live = []
        for part in torch.split(idx, size):
            lp, ent = self.policy.logprobs(
                tokens.select(part), temperature=temp, with_entropy=True, entropy_grad=lc.entropy_coef > 0
            )
            live.append(lp.detach())
            out = policy_loss(
                lp,
                lp.detach() if old_lp is None else old_lp[part],
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
            if out.kl is not None:
                kl_sum = (kl_sum or 0.0) + out.kl * share
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else float("inf"))
        self.optimizer.step()
        stats: dict[str, Any] = {**sums, "grad_norm": float(grad_norm), "_live_lp": torch.cat(live)}
        if kl_sum is not None:
            stats["kl"] = kl_sum
        return stats

    # -- logging ----------------------------------------------------------------------------------
    def _log(self, metrics: dict[str, Any], warnings: list[HealthWarning]) -> None:
        for w in warnings:
            if not self.quiet:
                self._print(f"[health] {w}", style="yellow")
        if self.run_dir is None:
            return
        with (self.run_dir / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(metrics, allow_nan=True) + "\n")
        if warnings:
            with (self.run_dir / "health.jsonl").open("a", encoding="utf-8") as fh:
                for w in warnings:
                    fh.write(json.dumps(w.to_dict()) + "\n")
        if self._tb is not None:
            for key, value in metrics.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, metrics["step"])

    def _print(self, text: str, style: str | None = None) -> None:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        self._console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    # -- checkpoints and resume ------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step into ``<run_dir>/checkpoints``."""
        if self.run_dir is None:
            return None
        state = {
            "model": {k: v.detach().cpu() for k, v in self.policy.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng_state(),
            "config": self.config.to_dict(),
        }
        return save_checkpoint(self.run_dir / "checkpoints", self.step_count, state, self.config.run.keep_checkpoints)

    def load_checkpoint(self, path: str | Path) -> int:
        """Restore a checkpoint; returns its step. Logs past that step are cut (they will be redone)."""
        state = load_checkpoint(path)
        _check_resumable(state.get("config", {}), self.config.to_dict())
        self.policy.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.step_count = int(state["step"])
        if self.run_dir is not None:
            rows = _truncate_jsonl(self.run_dir / "metrics.jsonl", self.step_count)
            _truncate_jsonl(self.run_dir / "health.jsonl", self.step_count)
            # Rebuild the monitor's memory (baselines, active episodes) from the logged steps.
            self.monitor = HealthMonitor(self.config.health)
            for row in rows:
                self.monitor.update(int(row["step"]), row)
            self.history = rows
        return self.step_count

    # -- the whole run ---------------------------------------------------------------------------
    def train(self, steps: int | None = None) -> dict[str, Any]:
        """Run until ``[run] steps`` (or ``steps`` more); returns the summary (also summary.json)."""
        cfg = self.config
        target = cfg.run.steps if steps is None else self.step_count + steps
        self._open_run_dir()
        if self.run_dir is not None and self.step_count == 0 and cfg.model.name == "tiny" and cfg.run.save_final:
            # The built-in model has no folder of its own: keep the pre-RL policy for base-vs-trained
            # comparisons (a transformers model's base is its own folder).
            self.policy.save(self.run_dir / "initial")
        t0 = time.perf_counter()
        progress = None
        if cfg.run.progress and not self.quiet:
            progress = _progress_bar()
        try:
            if progress is not None:
                progress.start()
                self._console = progress.console
                task = progress.add_task("training", total=target, completed=self.step_count, info="")
            while self.step_count < target:
                m = self.step()
                if progress is not None:
                    progress.update(task, completed=self.step_count, info=_progress_info(m))
            every = cfg.run.checkpoint_every
            if self.run_dir is not None and (not every or self.step_count % every):
                self.save_checkpoint()  # the final step, unless it was just saved
            summary = self.summary(seconds=time.perf_counter() - t0)
            if self.run_dir is not None:
                if cfg.run.save_final:
                    self.policy.save(self.run_dir / "final")
                    summary["final_model"] = str(self.run_dir / "final")
                    initial = self.run_dir / "initial" if cfg.model.name == "tiny" else cfg.model.path
                    summary["initial_model"] = str(initial) if initial is not None else None
                write_json(self.run_dir / "summary.json", summary)
        finally:
            if progress is not None:
                progress.stop()
            if self._tb is not None:
                self._tb.flush()
            self.unlock_run_dir()
        return summary

    def summary(self, seconds: float | None = None) -> dict[str, Any]:
        """Reward start → end, health findings and where things are."""
        rewards = [m["reward/mean"] for m in self.history]
        k = max(1, min(5, len(rewards) // 4 or 1))
        out: dict[str, Any] = {
            "steps": self.step_count,
            "reward_first": rewards[0] if rewards else None,
            "reward_last": rewards[-1] if rewards else None,
            "reward_start": statistics.fmean(rewards[:k]) if rewards else None,
            "reward_end": statistics.fmean(rewards[-k:]) if rewards else None,
            "health": self.monitor.summary(),
            "run_dir": str(self.run_dir) if self.run_dir is not None else None,
        }
        if seconds is not None:
            out["seconds"] = round(seconds, 3)
        return out

    def lock_run_dir(self) -> None:
        """Hold an exclusive lock on the run directory: two processes never write one run."""
        if self.run_dir is None or self._lock is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            return
        fh = (self.run_dir / ".lock").open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise ConfigError(
                f"{self.run_dir} is in use by another training process; wait for it or choose another --out"
            ) from None
        self._lock = fh

    def unlock_run_dir(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def _open_run_dir(self) -> None:
        if self.run_dir is None:
            return
        self.lock_run_dir()
        write_json(self.run_dir / "config.json", self.config.to_dict())
        if self.config.run.tensorboard and self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                from rlvr.errors import MissingExtraError

                raise MissingExtraError("tensorboard", "tensorboard", "[run] tensorboard = true") from None
            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))


def step_metrics(
    step: int, batch: RolloutBatch, sampled: Sequence[RolloutBatch], trained_rows: int, upd: Mapping[str, Any], lr: float
) -> dict[str, Any]:
    """The per-step metrics dict (without timings) from what a step sampled and how it updated.

    Reward, group and generation statistics cover every sampled group (with dynamic sampling, also
    the dropped ones): they describe the policy, not the filtered batch. ``reward/std`` is the mean
    within-group sample std (TRL's ``reward_std``); ``policy/entropy`` is absent when nothing was
    updated and ``policy/kl`` when there is no reference (beta = 0).
    """
    rewards = torch.cat([b.rewards[b.valid] for b in sampled])
    zero_std = torch.cat([~informative_groups(b.rewards, b.valid) for b in sampled])
    group_stds = torch.cat([group_advantages(b.rewards, b.valid, scale="none").group_std for b in sampled])
    statuses = [s for b in sampled for s in b.statuses]
    lengths = torch.cat([b.rollout.lengths for b in sampled]).float()
    truncated = torch.cat([b.rollout.truncated for b in sampled]).float()
    n = max(1, len(statuses))
    metrics: dict[str, Any] = {
        "step": step,
        "reward/mean": float(rewards.mean()) if rewards.numel() else 0.0,
        "reward/std": float(group_stds.mean()),
        "reward/std_batch": float(rewards.std()) if rewards.numel() >= 2 else 0.0,
        "reward/correct_frac": statuses.count("correct") / n,
        "groups/frac_zero_std": float(zero_std.float().mean()),
        "groups/sampled": len(zero_std),
        "groups/trained": len(batch.prompt_ids),
    }
    if "entropy" in upd:
        metrics["policy/entropy"] = upd["entropy"]
    if upd.get("kl") is not None:
        metrics["policy/kl"] = upd["kl"]
    metrics.update(
        {
            "policy/logprob_gap": upd.get("logprob_gap", 0.0),
            "loss/total": upd.get("loss", 0.0),
            "loss/pg": upd.get("pg_loss", 0.0),
            "loss/clip_frac": upd.get("clip_frac", 0.0),
            "loss/ratio_mean": upd.get("ratio_mean", 1.0),
            "optim/grad_norm": upd.get("grad_norm", 0.0),
            "optim/lr": lr,
            "optim/updates": upd.get("updates", 0),
            "gen/len_mean": float(lengths.mean()),
            "gen/len_max": int(lengths.max()),
            "gen/truncated_frac": float(truncated.mean()),
            "verify/error_rate": statuses.count("error") / n,
            "verify/timeout_rate": statuses.count("timeout") / n,
            "verify/unparsable_rate": statuses.count("unparsable") / n,
            "verify/excluded": int(sum(int((~b.valid).sum()) for b in sampled)),
            "samples/trained": trained_rows,
        }
    )
    return metrics


def _progress_bar() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        transient=False,
    )


def _progress_info(m: Mapping[str, Any]) -> str:
    kl = m.get("policy/kl")
    return (
        f"reward {m['reward/mean']:.3f}  entropy {m.get('policy/entropy', float('nan')):.3f}  "
        + (f"kl {kl:.3f}  " if kl is not None else "")
        + f"zero-std {m['groups/frac_zero_std']:.0%}  len {m['gen/len_mean']:.1f}"
    )


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k != "options":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _check_resumable(saved: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    a, b = _flatten(saved), _flatten(current)
    changed = sorted(
        k for k in set(a) | set(b)
        if a.get(k) != b.get(k) and k not in _RESUMABLE_CHANGES and not k.startswith("health.")
    )
    if changed:
        detail = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed[:4])
        raise ConfigError(
            f"cannot resume: the config changed ({detail}); resume with the run's own config.json "
            "or start a new run with another --out"
        )


def _truncate_jsonl(path: Path, last_step: int) -> list[dict[str, Any]]:
    """Keep the lines with step <= last_step (atomically); returns the kept records."""
    if not path.is_file():
        return []
    kept, lines = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut by the crash
            continue
        if int(rec.get("step", 0)) <= last_step:
            kept.append(rec)
            lines.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    os.replace(tmp, path)
    return kept


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
    run_dir = trainer.run_dir
    if run_dir is not None:
        trainer.lock_run_dir()
        try:
            metrics = run_dir / "metrics.jsonl"
            has_run = metrics.is_file() and metrics.stat().st_size > 0
            ckpt = latest_checkpoint(run_dir / "checkpoints")
            if resume and ckpt is not None:
                step = trainer.load_checkpoint(ckpt)
                if not quiet:
                    trainer._print(f"resumed from {ckpt} (step {step})")
            elif resume and has_run:
                # Killed before its first checkpoint: nothing to restore, so start over (same seed,
                # same metrics), dropping the partial logs.
                _truncate_jsonl(run_dir / "metrics.jsonl", 0)
                _truncate_jsonl(run_dir / "health.jsonl", 0)
                if not quiet:
                    trainer._print(f"no checkpoint in {run_dir} yet; starting the run over")
            elif not resume and has_run:
                raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out")
        except BaseException:
            trainer.unlock_run_dir()
            raise
    return trainer.train()
