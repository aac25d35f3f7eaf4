"""A lean functional forward for Llama-family transformers models (Llama, Mistral, Qwen2).

It reads the HF module's own parameters at every call, so gradients flow into the HF model and the
optimizer, checkpoints and ``save_pretrained`` are untouched; only the Python around the matmuls is
leaner (no mask/cache classes, no kwargs plumbing) and sampling uses a preallocated KV cache with
fused q/k/v and gate/up weights. Work GRPO repeats is done once: the G samples of a prompt share one
prompt pass, both when sampling (``prefill``) and when scoring (``completion_hidden``). RMSNorm, RoPE
and the SwiGLU MLP are small autograd functions that keep fewer activations for backward than
autograd would (same gradients). ``unsupported_reason(model)`` says why a model must keep the HF
forward (``None``: the fast path computes the same logits, within float rounding).

Shapes: ``N`` rows, ``S`` new positions, ``L`` positions attended to, ``H`` query heads, ``Hkv``
key/value heads, ``D`` head dim, ``E`` hidden size.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FastCache", "FastLlama", "unsupported_reason"]

_ARCHS = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")
# RoPE variants whose cos/sin depend on the position only (not on the sequence length).
_STATIC_ROPE = ("default", "linear", "llama3")
_CACHE_GROW = 64  # KV-cache positions added at a time when a rollout outgrows it


def unsupported_reason(model: Any) -> str | None:
    """Why ``model`` cannot use the fast forward, or None when it can."""
    name = type(model).__name__
    if name not in _ARCHS:
        return f"{name} is not one of {', '.join(_ARCHS)}"
    cfg = model.config
    if getattr(cfg, "hidden_act", "silu") != "silu":
        return f"hidden_act={cfg.hidden_act!r} (only silu)"
    inner = getattr(model, "model", None)
    rotary = getattr(inner, "rotary_emb", None)
    if rotary is None or getattr(rotary, "rope_type", None) not in _STATIC_ROPE:
        return f"rope type {getattr(rotary, 'rope_type', None)!r} is not one of {_STATIC_ROPE}"
    if getattr(cfg, "sliding_window", None) is not None and (
        name == "MistralForCausalLM" or getattr(cfg, "use_sliding_window", False)
    ):
        return "sliding-window attention"
    if any(t != "full_attention" for t in (getattr(cfg, "layer_types", None) or [])):
        return "layer types other than full attention"
    for layer in inner.layers:
        attn = layer.self_attn
        if not all(hasattr(attn, a) for a in ("q_proj", "k_proj", "v_proj", "o_proj", "scaling", "head_dim")):
            return "an attention module without q/k/v/o projections"
        if hasattr(attn, "q_norm") or hasattr(attn, "k_norm"):
            return "q/k norms"
        if not all(hasattr(layer.mlp, a) for a in ("gate_proj", "up_proj", "down_proj")):
            return "an MLP other than SwiGLU"
    return None


def _rms(x: Tensor, norm: Any) -> Tensor:
    """HF's RMSNorm: float32 statistics, weight applied in the input dtype."""
    if torch.is_grad_enabled() and x.dtype == torch.float32:
        return _RMSNorm.apply(x, norm.weight, norm.variance_epsilon)
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * h.to(x.dtype)


class _RMSNorm(torch.autograd.Function):
    """float32 RMSNorm saving only its input and the (N, S, 1) inverse RMS for backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, eps: float) -> Tensor:
        inv = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        ctx.save_for_backward(x, weight, inv)
        return weight * (x * inv)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, inv = ctx.saved_tensors
        xhat = x * inv
        g_w = (grad * xhat).reshape(-1, x.shape[-1]).sum(0) if ctx.needs_input_grad[1] else None
        g_x = None
        if ctx.needs_input_grad[0]:
            gh = grad * weight  # d/dx of x * inv(x): (gh - xhat * mean(gh * xhat)) * inv
            g_x = (gh - xhat * (gh * xhat).mean(-1, keepdim=True)) * inv
        return g_x, g_w, None


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class _Rope(torch.autograd.Function):
    """x * cos + rotate_half(x) * sin, a linear map of x: backward needs only cos and sin
    (autograd would keep x and its rotation too)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        ctx.save_for_backward(cos, sin)
        return x * cos + _rotate_half(x) * sin

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        cos, sin = ctx.saved_tensors
        # rotate_half is antisymmetric (its transpose is its negation).
        return grad * cos - _rotate_half(grad * sin), None, None


def _rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x (N, H, S, D) rotated by cos/sin (N, 1, S, D) (HF's rotate_half convention)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _Rope.apply(x, cos, sin)
    return x * cos + _rotate_half(x) * sin


class _SwiGLU(torch.autograd.Function):
    """down(silu(gate(h)) * up(h)) without biases, saving only h, gate(h) and up(h) for backward
    (autograd would also keep silu(gate) and the product: two more (N, S, I) tensors per layer)."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, wg: Tensor, wu: Tensor, wd: Tensor) -> Tensor:
        gate, up = F.linear(h, wg), F.linear(h, wu)
        ctx.save_for_backward(h, gate, up, wg, wu, wd)
        return F.linear(F.silu(gate) * up, wd)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        h, gate, up, wg, wu, wd = ctx.saved_tensors
        sig = torch.sigmoid(gate)
        act = gate * sig  # silu(gate), recomputed
        g_prod = grad @ wd  # (N, S, I)
        g_up = g_prod * act
        g_gate = g_prod * up * (sig * (1 + gate * (1 - sig)))  # silu'(x) = s(x) (1 + x (1 - s(x)))
        flat = h.reshape(-1, h.shape[-1])  # (N*S, E)
        need = ctx.needs_input_grad
        g_h = g_gate @ wg + g_up @ wu if need[0] else None
        g_wg = g_gate.reshape(-1, g_gate.shape[-1]).t() @ flat if need[1] else None
        g_wu = g_up.reshape(-1, g_up.shape[-1]).t() @ flat if need[2] else None
        g_wd = None
        if need[3]:
            g_wd = grad.reshape(-1, grad.shape[-1]).t() @ (act * up).reshape(-1, up.shape[-1])
        return g_h, g_wg, g_wu, g_wd


def _mlp(h: Tensor, m: Any) -> Tensor:
    """The SwiGLU MLP of HF module ``m`` on h (N, S, E)."""
    if m.gate_proj.bias is None and m.up_proj.bias is None and m.down_proj.bias is None and torch.is_grad_enabled():
        return _SwiGLU.apply(h, m.gate_proj.weight, m.up_proj.weight, m.down_proj.weight)
    gate = F.linear(h, m.gate_proj.weight, m.gate_proj.bias)
    up = F.linear(h, m.up_proj.weight, m.up_proj.bias)
    return F.linear(F.silu(gate) * up, m.down_proj.weight, m.down_proj.bias)


class FastCache:
    """A preallocated KV cache and the fused weights of one sampling run."""

    def __init__(self, n_layers: int, rows: int, kv_heads: int, head_dim: int, capacity: int, like: Tensor) -> None:
        # (layers, N, Hkv, capacity, D): one allocation for every layer's keys, one for values.
        shape = (n_layers, rows, kv_heads, capacity, head_dim)
        self.k = like.new_empty(shape)
        self.v = like.new_empty(shape)
        self.length = 0
        self.weights: list[tuple[Tensor, Tensor | None, Tensor, Tensor | None]] = []

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more positions (grows by copying, rarely)."""
        need = self.length + extra
        cap = self.k.shape[3]
        if need <= cap:
            return
        new_cap = max(need, cap + _CACHE_GROW)
        for name in ("k", "v"):
            old = getattr(self, name)
            new = old.new_empty((*old.shape[:3], new_cap, old.shape[4]))
            new[:, :, :, : self.length] = old[:, :, :, : self.length]
            setattr(self, name, new)


class FastLlama:
    """The functional forward of a supported HF causal LM (see ``unsupported_reason``)."""

    def __init__(self, model: Any) -> None:
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(f"fast path unsupported: {reason}")
        self.model = model
        inner = model.model
        self.embed = inner.embed_tokens
        self.layers = list(inner.layers)
        self.norm = inner.norm
        self.lm_head = model.lm_head
        self.rotary = inner.rotary_emb
        attn = self.layers[0].self_attn
        self.head_dim = int(attn.head_dim)
        self.scaling = float(attn.scaling)
        self.heads = int(model.config.num_attention_heads)
        self.kv_heads = int(getattr(model.config, "num_key_value_heads", None) or self.heads)
        self._rope_table: tuple[Tensor, Tensor] | None = None

    # -- pieces -----------------------------------------------------------------------------------
    def _cos_sin(self, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """cos, sin (N, 1, S, D) for positions (N, S), from a table built once per model."""
        table = self._rope_table
        limit = int(positions.max()) + 1 if positions.numel() else 1
        if table is None or table[0].shape[0] < limit or table[0].dtype != dtype or table[0].device != positions.device:
            size = max(limit, int(getattr(self.model.config, "max_position_embeddings", 0) or 0))
            probe = torch.empty(0, dtype=dtype, device=positions.device)
            with torch.no_grad():
                cos, sin = self.rotary(probe, torch.arange(size, device=positions.device)[None])
            table = self._rope_table = (cos[0], sin[0])  # (positions, D)
        return table[0][positions][:, None], table[1][positions][:, None]

    @staticmethod
    def _prefill_mask(attention_mask: Tensor) -> Tensor:
        """(N, 1, S, S) bool: causal and not padding; each position also sees itself, so fully
        padded query rows (left padding) stay finite (their outputs are never used)."""
        s = attention_mask.shape[1]
        keep = torch.ones(s, s, dtype=torch.bool, device=attention_mask.device).tril()
        mask = keep[None] & attention_mask.bool()[:, None, :]
        mask |= torch.eye(s, dtype=torch.bool, device=attention_mask.device)[None]
        return mask[:, None]

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        """q (N, H, S, D), k/v (N, Hkv, L, D), mask (N, 1, S, L) -> (N, S, H*D)."""
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=self.scaling, enable_gqa=self.kv_heads != self.heads
        )
        n, h, s, d = out.shape
        return out.transpose(1, 2).reshape(n, s, h * d)

    # -- training / scoring -----------------------------------------------------------------------
    def hidden(self, ids: Tensor, attention_mask: Tensor, positions: Tensor) -> Tensor:
        """(N, S) ids -> (N, S, E) final-normed hidden states (differentiable)."""
        n, s = ids.shape
        x = F.embedding(ids, self.embed.weight)
        cos, sin = self._cos_sin(positions, x.dtype)
        mask = self._prefill_mask(attention_mask)
        d = self.head_dim
        for layer in self.layers:
            a = layer.self_attn
            h = _rms(x, layer.input_layernorm)
            q = F.linear(h, a.q_proj.weight, a.q_proj.bias).view(n, s, -1, d).transpose(1, 2)
            k = F.linear(h, a.k_proj.weight, a.k_proj.bias).view(n, s, -1, d).transpose(1, 2)
            v = F.linear(h, a.v_proj.weight, a.v_proj.bias).view(n, s, -1, d).transpose(1, 2)
            att = self._attend(_rope(q, cos, sin), _rope(k, cos, sin), v, mask)
            x = x + F.linear(att, a.o_proj.weight, a.o_proj.bias)
            x = x + _mlp(_rms(x, layer.post_attention_layernorm), layer.mlp)
        return _rms(x, self.norm)

    def completion_hidden(self, ids: Tensor, attention_mask: Tensor, positions: Tensor, prompt_len: int) -> Tensor:
        """(N, T) hidden states (N, T, E) at the positions that predict each completion token.

        Rows whose prompt (ids and mask of the first ``prompt_len`` columns) repeats, as the G
        samples of a GRPO group do, share one prompt pass: its keys/values are gathered per row,
        and gradients from every row flow back into it (the same result with ~G x less prompt work).
        """
        n, total = ids.shape
        p = prompt_len
        prompt_rows = torch.cat([ids[:, :p], attention_mask[:, :p]], 1).tolist()
        first: dict[tuple[int, ...], int] = {}
        inverse = [first.setdefault(tuple(r), len(first)) for r in prompt_rows]
        if p == 0 or p == total or len(first) == n:
            return self.hidden(ids, attention_mask, positions)[:, p - 1 : -1]
        dev = ids.device
        rows = torch.tensor([inverse.index(u) for u in range(len(first))], device=dev)
        inv = torch.tensor(inverse, device=dev)
        full = self._prefill_mask(attention_mask)  # (N, 1, L, L)
        mask_p, mask_c = full[rows, :, :p, :p], full[:, :, p:, :]  # (U, 1, P, P), (N, 1, T, L)
        xp = F.embedding(ids[rows, :p], self.embed.weight)  # (U, P, E): one pass per distinct prompt
        xc = F.embedding(ids[:, p:], self.embed.weight)  # (N, T, E)
        cos_p, sin_p = self._cos_sin(positions[rows, :p], xp.dtype)
        cos_c, sin_c = self._cos_sin(positions[:, p:], xc.dtype)
        d = self.head_dim
        for layer in self.layers:
            a = layer.self_attn
            hp, hc = _rms(xp, layer.input_layernorm), _rms(xc, layer.input_layernorm)
            qkv = []
            for h, cos, sin in ((hp, cos_p, sin_p), (hc, cos_c, sin_c)):
                rows_, s = h.shape[:2]
                q = F.linear(h, a.q_proj.weight, a.q_proj.bias).view(rows_, s, -1, d).transpose(1, 2)
                k = F.linear(h, a.k_proj.weight, a.k_proj.bias).view(rows_, s, -1, d).transpose(1, 2)
                v = F.linear(h, a.v_proj.weight, a.v_proj.bias).view(rows_, s, -1, d).transpose(1, 2)
                qkv.append((_rope(q, cos, sin), _rope(k, cos, sin), v))
            (qp, kp, vp), (qc, kc, vc) = qkv
            att_p = self._attend(qp, kp, vp, mask_p)
            # (N, Hkv, P+T, D): each row's prompt keys/values, then its own completion's.
            att_c = self._attend(qc, torch.cat([kp[inv], kc], 2), torch.cat([vp[inv], vc], 2), mask_c)
            xp = xp + F.linear(att_p, a.o_proj.weight, a.o_proj.bias)
            xc = xc + F.linear(att_c, a.o_proj.weight, a.o_proj.bias)
            xp = xp + _mlp(_rms(xp, layer.post_attention_layernorm), layer.mlp)
            xc = xc + _mlp(_rms(xc, layer.post_attention_layernorm), layer.mlp)
        # Position P-1 (the prompt's last) predicts completion token 0; T-1 completion positions the rest.
        return _rms(torch.cat([xp[inv, -1:], xc[:, :-1]], 1), self.norm)

    def logits(self, hidden: Tensor) -> Tensor:
        """(..., E) -> (..., V)."""
        return F.linear(hidden, self.lm_head.weight, self.lm_head.bias)

    # -- sampling ---------------------------------------------------------------------------------
    def new_cache(self, rows: int, capacity: int) -> FastCache:
        """An empty cache with fused (no-grad copies of the) q/k/v and gate/up weights."""
        w = self.embed.weight
        cache = FastCache(len(self.layers), rows, self.kv_heads, self.head_dim, capacity, w)
        with torch.no_grad():
            for layer in self.layers:
                a, m = layer.self_attn, layer.mlp
                qkv = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
                qkv_b = None
                if a.q_proj.bias is not None:
                    qkv_b = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])
                gu = torch.cat([m.gate_proj.weight, m.up_proj.weight])
                gu_b = None if m.gate_proj.bias is None else torch.cat([m.gate_proj.bias, m.up_proj.bias])
                cache.weights.append((qkv, qkv_b, gu, gu_b))
        return cache

    @torch.no_grad()
    def prefill(self, ids: Tensor, attention_mask: Tensor, positions: Tensor, extra: int) -> tuple[Tensor, FastCache]:
        """A new cache holding the prompts ``ids`` (N, P), room for ``extra`` more positions, and the
        (N, V) logits of their last position. Repeated prompts (the G samples of a group) are run
        once and their cache rows copied."""
        first: dict[tuple[int, ...], int] = {}
        inverse = [first.setdefault(tuple(r), len(first)) for r in torch.cat([ids, attention_mask], 1).tolist()]
        if len(first) == len(inverse):
            cache = self.new_cache(ids.shape[0], ids.shape[1] + extra)
            return self.step(ids, attention_mask, positions, cache), cache
        rows = torch.tensor([inverse.index(u) for u in range(len(first))], device=ids.device)
        cache = self.new_cache(len(rows), ids.shape[1] + extra)
        logits = self.step(ids[rows], attention_mask[rows], positions[rows], cache)
        inv = torch.tensor(inverse, device=ids.device)
        cache.k, cache.v = cache.k[:, inv], cache.v[:, inv]  # (layers, N, Hkv, capacity, D)
        return logits[inv], cache

    @torch.no_grad()
    def step(self, ids: Tensor, attention_mask: Tensor, positions: Tensor, cache: FastCache) -> Tensor:
        """Append ``ids`` (N, S) to the cache; (N, V) logits of the last position.

        ``attention_mask`` (N, L) covers every cached position plus the new ones (L = length + S).
        """
        n, s = ids.shape
        start = cache.length
        cache.reserve(s)
        end = start + s
        x = F.embedding(ids, self.embed.weight)
        cos, sin = self._cos_sin(positions, x.dtype)
        if start == 0:
            mask = self._prefill_mask(attention_mask)
        else:  # s new positions see every cached one and, causally, each other
            keys = attention_mask.bool()[:, None, None, :end]
            mask = keys.expand(n, 1, s, end)
            if s > 1:
                causal = torch.ones(s, s, dtype=torch.bool, device=ids.device).tril()
                mask = mask.clone()
                mask[..., start:] &= causal
        d, hq, hkv = self.head_dim, self.heads * self.head_dim, self.kv_heads * self.head_dim
        inter = self.layers[0].mlp.up_proj.weight.shape[0]
        for i, layer in enumerate(self.layers):
            a, m = layer.self_attn, layer.mlp
            qkv_w, qkv_b, gu_w, gu_b = cache.weights[i]
            h = _rms(x, layer.input_layernorm)
            qkv = F.linear(h, qkv_w, qkv_b)  # (N, S, (H + 2 Hkv) D)
            q = qkv[..., :hq].view(n, s, -1, d).transpose(1, 2)
            k = qkv[..., hq : hq + hkv].view(n, s, -1, d).transpose(1, 2)
            v = qkv[..., hq + hkv :].view(n, s, -1, d).transpose(1, 2)
            cache.k[i, :, :, start:end] = _rope(k, cos, sin)
            cache.v[i, :, :, start:end] = v
            att = self._attend(_rope(q, cos, sin), cache.k[i, :, :, :end], cache.v[i, :, :, :end], mask)
            x = x + F.linear(att, a.o_proj.weight, a.o_proj.bias)
            h = _rms(x, layer.post_attention_layernorm)
            gu = F.linear(h, gu_w, gu_b)  # (N, S, 2 I)
            x = x + F.linear(F.silu(gu[..., :inter]) * gu[..., inter:], m.down_proj.weight, m.down_proj.bias)
        cache.length = end
        return self.logits(_rms(x[:, -1], self.norm))
