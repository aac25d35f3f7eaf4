"""The clipped policy-gradient loss and its parts (pure functions on tensors, no model).

Shapes: ``N`` sequences, ``T`` completion positions; ``mask`` (N, T) is 1 on tokens that train.

    ratio ρ = exp(logp − logp_old)            token level (GRPO/PPO/DAPO)
        or  s = exp(mean_t(logp − logp_old))  sequence level (GSPO), shared by the sequence's tokens
    per-token objective  min(ρ·Â, clip(ρ, 1 − eps_low, 1 + eps_high)·Â) − β·KL_t + c·H_t
    loss = −aggregate(objective)

KL to the reference uses Schulman's estimators with log r = logp_ref − logp: k1 = −log r,
k2 = ½(log r)², k3 = r − log r − 1 (unbiased and ≥ 0; clamped to [−10, 10] like verl).

As *values* (the logged ``policy/kl``) k1 and k3 are unbiased estimates of KL(π‖π_ref) and k2 is
biased but low-variance. As a *loss term* (differentiated through log π on tokens sampled from π,
the sampling itself not differentiated) they give different gradients (Tang & Munos 2025):

- k1: ∇k1 = ∇log π, whose expectation under π is 0: no pull towards the reference, only noise;
- k2: ∇k2 = (log π − log π_ref)·∇log π: in expectation the gradient of the reverse KL(π‖π_ref);
- k3: ∇k3 = (1 − π_ref/π)·∇log π: in expectation the gradient of the *forward* KL(π_ref‖π)
  (GRPO's choice; mass-covering rather than the reverse KL its value estimates).

The trainer logs ``policy/kl`` (k-estimator of ``[loss] kl_estimator``) of the policy that
sampled against the initial policy on every step, also with beta = 0 (then without gradient).

Aggregation modes (verl's names):

- ``token-mean``               Σ_{i,t} x / Σ_{i,t} 1                (DAPO; TRL's default)
- ``seq-mean-token-mean``      mean_i (Σ_t x / |o_i|)               (original GRPO)
- ``seq-mean-token-sum``       mean_i Σ_t x
- ``seq-mean-token-sum-norm``  mean_i Σ_t x / L   (L constant)      (Dr. GRPO: no length normalisation)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["AGGREGATIONS", "LossOutput", "aggregate", "kl_penalty", "policy_loss"]

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")


def kl_penalty(logp: Tensor, ref_logp: Tensor, estimator: str = "k3") -> Tensor:
    """Per-token estimate of KL(π_θ ‖ π_ref) from log-probs of tokens sampled from π_θ. (N, T)."""
    log_r = ref_logp - logp
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    if estimator == "k3":
        return (torch.exp(log_r) - log_r - 1.0).clamp(min=-10.0, max=10.0)
    raise ValueError(f"unknown KL estimator {estimator!r}; use k1, k2 or k3")


def aggregate(
    values: Tensor,
    mask: Tensor,
    mode: str,
    norm_tokens: int | None = None,
    *,
    total_tokens: float | None = None,
    total_seqs: float | None = None,
) -> Tensor:
    """Reduce (N, T) per-token values to a scalar; see the module docstring.

    ``total_tokens``/``total_seqs`` replace the batch's own token/sequence counts as denominators:
    micro-batches of one minibatch then add up to exactly the minibatch's loss (gradient accumulation).
    """
    mask = mask.to(values.dtype)
    if mode == "token-mean":
        denom = mask.sum().clamp(min=1.0) if total_tokens is None else max(float(total_tokens), 1.0)
        return (values * mask).sum() / denom
    seq_tokens = mask.sum(dim=1)
    has_tokens = (seq_tokens > 0).to(values.dtype)
    n_seq = has_tokens.sum().clamp(min=1.0) if total_seqs is None else max(float(total_seqs), 1.0)
    seq_sum = (values * mask).sum(dim=1)
    if mode == "seq-mean-token-mean":
        return (seq_sum / seq_tokens.clamp(min=1.0) * has_tokens).sum() / n_seq
    if mode == "seq-mean-token-sum":
        return seq_sum.sum() / n_seq
    if mode == "seq-mean-token-sum-norm":
        if not norm_tokens or norm_tokens < 1:
            raise ValueError("seq-mean-token-sum-norm needs norm_tokens >= 1 (e.g. the generation budget)")
        return seq_sum.sum() / (n_seq * norm_tokens)
    raise ValueError(f"unknown aggregation {mode!r}; use one of {', '.join(AGGREGATIONS)}")


@dataclass(frozen=True)
class LossOutput:
    """The loss to minimise and the diagnostics the trainer logs (detached floats except ``loss``)."""

    loss: Tensor
    pg_loss: float
    clip_frac: float
    """Share of trained tokens whose update the clip switched off."""
    ratio_mean: float
    kl: float | None
    """Mean per-token KL to the reference (None when there is no reference)."""
    entropy: float | None
    """Mean per-token entropy (None when not given)."""
    tokens: int


def policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    ratio_level: str = "token",
    agg: str = "token-mean",
    norm_tokens: int | None = None,
    ref_logp: Tensor | None = None,
    beta: float = 0.0,
    kl_estimator: str = "k3",
    entropy: Tensor | None = None,
    entropy_coef: float = 0.0,
    total_tokens: float | None = None,
    total_seqs: float | None = None,
) -> LossOutput:
    """The clipped surrogate loss for one minibatch (or one micro-batch of it: see ``aggregate``).

    ``logp`` (N, T) carries gradients; ``old_logp`` (N, T) is from the policy that sampled;
    ``advantages`` is (N,) per sequence or (N, T) per token; ``ref_logp`` is needed iff beta > 0;
    ``entropy`` (N, T) is needed iff entropy_coef > 0 (it must carry gradients then).
    """
    mask = mask.to(logp.dtype)
    adv = advantages if advantages.dim() == 2 else advantages[:, None].expand_as(logp)
    adv = adv.to(logp.dtype)
    old_logp = old_logp.detach()
    log_ratio = logp - old_logp
    if ratio_level == "token":
        ratio = torch.exp(log_ratio)
    elif ratio_level == "sequence":
        # GSPO: s_i = exp(mean_t log ρ_{i,t}), the same for every token of sequence i.
        seq_log = (log_ratio * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        ratio = torch.exp(seq_log)[:, None].expand_as(logp)
    else:
        raise ValueError(f"unknown ratio_level {ratio_level!r}; use token or sequence")
    clipped = ratio.clamp(1.0 - eps_low, 1.0 + eps_high)
    surrogate = torch.minimum(ratio * adv, clipped * adv)
    objective = surrogate
    kl_mean = None
    if beta > 0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp (the reference model's log-probs)")
        kl = kl_penalty(logp, ref_logp.detach(), kl_estimator)
        objective = objective - beta * kl
        kl_mean = float(aggregate(kl.detach(), mask, "token-mean"))
    ent_mean = None
    if entropy is not None:
        ent_mean = float(aggregate(entropy.detach(), mask, "token-mean"))
        if entropy_coef:
            objective = objective + entropy_coef * entropy
    elif entropy_coef:
        raise ValueError("entropy_coef != 0 needs per-token entropy")
    totals = {"total_tokens": total_tokens, "total_seqs": total_seqs}
    loss = -aggregate(objective, mask, agg, norm_tokens, **totals)
    with torch.no_grad():
        # Clipping switches the gradient off where the clipped term is the smaller one.
        is_clipped = ((ratio < 1.0 - eps_low) & (adv < 0)) | ((ratio > 1.0 + eps_high) & (adv > 0))
        n_tok = mask.sum().clamp(min=1.0)
        clip_frac = float((is_clipped.to(mask.dtype) * mask).sum() / n_tok)
        ratio_mean = float((ratio * mask).sum() / n_tok)
        pg = float(-aggregate(surrogate.detach(), mask, agg, norm_tokens, **totals))
    return LossOutput(
        loss=loss,
        pg_loss=pg,
        clip_frac=clip_frac,
        ratio_mean=ratio_mean,
        kl=kl_mean,
        entropy=ent_mean,
        tokens=int(mask.sum()),
    )
