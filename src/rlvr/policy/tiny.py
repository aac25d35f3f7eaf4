"""The built-in tiny GPT: a character tokenizer and a small decoder that trains in seconds on a CPU.

A saved tiny model is a folder with ``rlvr_tiny.json`` (the marker ``load_policy`` looks for: model
size and charset) and ``model.pt`` (the weights). ``pretrain`` fits it on worked examples
(prompt → completion pairs) so RL starts from a model that is sometimes right.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rlvr.errors import ConfigError
from rlvr.policy.base import TokenBatch, TorchPolicy, make_generator

__all__ = [
    "MARKER", "CharTokenizer", "TinyConfig", "TinyGPT", "TinyPolicy", "cache_key", "cached_model", "pretrain", "warm_up",
]

MARKER = "rlvr_tiny.json"
DEFAULT_CHARSET = string.digits + string.ascii_letters + string.punctuation + " \n"
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


class CharTokenizer:
    """One token per character of a fixed charset, after four specials (pad, bos, eos, unk)."""

    def __init__(self, charset: str = DEFAULT_CHARSET) -> None:
        if len(set(charset)) != len(charset):
            raise ConfigError("the tiny model's charset has repeated characters")
        self.charset = charset
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = 0, 1, 2, 3
        self._index = {c: i + len(SPECIALS) for i, c in enumerate(charset)}

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + len(self.charset)

    def encode(self, text: str) -> list[int]:
        return [self._index.get(c, self.unk_id) for c in text]

    def decode(self, ids: list[int]) -> str:
        off = len(SPECIALS)
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i >= off:
                out.append(self.charset[i - off])
            elif i == self.unk_id:
                out.append("?")
        return "".join(out)


@dataclass(frozen=True)
class TinyConfig:
    """Size of the tiny GPT."""

    n_layer: int = 2
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads per block."""
    n_embd: int = 64
    """Width of the residual stream (divisible by n_head)."""
    block_size: int = 64
    """Longest sequence (prompt + completion) in characters, BOS included."""
    charset: str = DEFAULT_CHARSET
    """Characters the tokenizer knows; anything else becomes <unk>."""

    def __post_init__(self) -> None:
        if min(self.n_layer, self.n_head, self.n_embd, self.block_size) < 1:
            raise ConfigError("tiny model sizes (n_layer, n_head, n_embd, block_size) must be >= 1")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")


class _Block(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        )

    def forward(
        self, x: Tensor, mask: Tensor, cache: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        b, n, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        # (B, L, C) -> (B, H, L, C/H)
        q, k, v = (t.view(b, n, self.n_head, c // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(b, n, c)  # (B, H, L, C/H) -> (B, L, C)
        x = x + self.proj(y)
        x = x + self.mlp(self.ln2(x))
        return x, (k, v)


class TinyGPT(nn.Module):
    """A nanoGPT-style decoder with learned positions, tied embeddings and a KV cache."""

    def __init__(self, cfg: TinyConfig, vocab_size: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def hidden(
        self,
        ids: Tensor,
        attention_mask: Tensor,
        position_ids: Tensor,
        cache: list[tuple[Tensor, Tensor]] | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Final hidden states (B, L, C) for ``ids`` (B, L) given the full (B, L_total) key mask."""
        n = ids.shape[1]
        lk = attention_mask.shape[1]
        # Query i sits at absolute column lk - n + i; it sees real keys at or before it, and always
        # itself so that a padding query has a finite (unused) output instead of NaN.
        cols = torch.arange(lk, device=ids.device)
        rows = torch.arange(lk - n, lk, device=ids.device)
        causal = cols[None, :] <= rows[:, None]  # (L, Lk)
        mask = causal[None] & attention_mask.bool()[:, None, :]  # (B, L, Lk)
        mask = mask | (cols[None, :] == rows[:, None])[None]
        mask = mask[:, None]  # (B, 1, L, Lk) broadcast over heads
        x = self.wte(ids) + self.wpe(position_ids.clamp(max=self.cfg.block_size - 1))
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, None if cache is None else cache[i])
            new_cache.append(kv)
        return self.ln_f(x), new_cache

    def head(self, h: Tensor) -> Tensor:
        return h @ self.wte.weight.T  # tied output embedding

    def forward(self, ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(ids)
        pos = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        h, _ = self.hidden(ids, attention_mask, pos)
        return self.head(h)


class TinyPolicy(TorchPolicy):
    """The tiny GPT as a policy: BOS + characters in, characters + EOS out."""

    def __init__(
        self, cfg: TinyConfig | None = None, *, seed: int = 0, device: str = "cpu", model: TinyGPT | None = None
    ) -> None:
        self.cfg = cfg or TinyConfig()
        self.tokenizer = CharTokenizer(self.cfg.charset)
        self.device = torch.device(device)
        if model is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = TinyGPT(self.cfg, self.tokenizer.vocab_size)
        self.model = model.to(self.device)
        self.eos_id = self.tokenizer.eos_id
        self.pad_id = self.tokenizer.pad_id

    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        return [[self.tokenizer.bos_id, *self.tokenizer.encode(p)] for p in prompts]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def max_positions(self) -> int:
        return self.cfg.block_size

    def _step(self, ids: Tensor, attention_mask: Tensor, position_ids: Tensor, cache: Any) -> tuple[Tensor, Any]:
        h, cache = self.model.hidden(ids, attention_mask, position_ids, cache)
        return self.model.head(h[:, -1]), cache

    def _completion_logits(self, batch: TokenBatch) -> Tensor:
        ids, mask = batch.input_ids, batch.attention_mask
        pos = (mask.cumsum(dim=1) - 1).clamp(min=0)
        h, _ = self.model.hidden(ids, mask, pos)
        # Position P-1+t predicts completion token t: keep only those T positions before the head.
        t_len = ids.shape[1] - batch.prompt_len
        return self.model.head(h[:, batch.prompt_len - 1 : batch.prompt_len - 1 + t_len])

    def save(self, path: str | Path) -> None:
        """Write ``rlvr_tiny.json`` and ``model.pt`` into the folder ``path`` (atomically per file)."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        _atomic_torch_save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, out / "model.pt")
        meta = {"format": "rlvr-tiny-gpt", "version": 1, "config": asdict(self.cfg)}
        tmp = out / (MARKER + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(tmp, out / MARKER)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> TinyPolicy:
        """Load a folder written by ``save``."""
        folder = Path(path)
        try:
            meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
            cfg = TinyConfig(**meta["config"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{folder}: not a valid tiny model ({MARKER}: {exc})") from None
        policy = cls(cfg, device=device)
        try:
            state = torch.load(folder / "model.pt", map_location=device, weights_only=True)
            policy.model.load_state_dict(state)
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"{folder}: cannot load tiny model weights: {exc}") from None
        return policy


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _completion_ids(tok: CharTokenizer, completion: Any) -> tuple[list[int], list[bool]]:
    """A completion's ids + EOS and which of them are supervised: a string is all supervised; a
    list of ``(text, supervised)`` segments is a multi-turn transcript (observations unsupervised)."""
    if isinstance(completion, str):
        ids = tok.encode(completion)
        return [*ids, tok.eos_id], [True] * (len(ids) + 1)
    ids: list[int] = []
    train: list[bool] = []
    for text, supervised in completion:
        part = tok.encode(text)
        ids += part
        train += [bool(supervised)] * len(part)
    return [*ids, tok.eos_id], [*train, True]


def pretrain(
    policy: TinyPolicy,
    pairs: list[tuple[str, Any]],
    *,
    steps: int = 200,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Supervised warm-up on (prompt, completion) pairs; the loss covers completion + EOS only.

    A completion is a string, or a list of ``(text, supervised)`` segments: a tool-using transcript
    whose observation segments are context, not targets (as in multi-turn RL).

    Returns the loss per step (``on_step(step, loss)`` sees each as it comes). Deterministic for a
    given seed (private generator).
    """
    if not pairs:
        raise ConfigError("pretraining needs at least one (prompt, completion) pair")
    tok = policy.tokenizer
    seqs = [([tok.bos_id, *tok.encode(p)], *_completion_ids(tok, c)) for p, c in pairs]
    longest = max(len(p) + len(c) for p, c, _ in seqs)
    if longest > policy.cfg.block_size:
        raise ConfigError(
            f"a worked example is {longest} tokens, over block_size={policy.cfg.block_size}; raise block_size"
        )
    # Every pair padded once to the longest (M, L); a step's batch is its rows cut to the batch's own
    # width, the same tensors a per-step build would make (building them row by row cost ~8% of a step).
    all_ids = torch.full((len(seqs), longest), tok.pad_id, dtype=torch.long)
    all_mask = torch.zeros_like(all_ids)
    all_target = torch.full_like(all_ids, -100)
    lengths = torch.tensor([len(p) + len(c) for p, c, _ in seqs])
    for r, (p, c, sup) in enumerate(seqs):
        full = p + c
        all_ids[r, : len(full)] = torch.tensor(full)
        all_mask[r, : len(full)] = 1
        # Position j predicts token j+1; supervise only the (supervised) completion tokens.
        all_target[r, len(p) - 1 : len(full) - 1] = torch.tensor([t if keep else -100 for t, keep in zip(c, sup)])
    gen = make_generator(seed, "cpu")
    opt = torch.optim.AdamW(policy.model.parameters(), lr=lr, weight_decay=0.0)
    policy.model.train()
    losses = []
    for step in range(steps):
        idx = torch.randint(len(seqs), (min(batch_size, len(seqs)),), generator=gen)
        width = int(lengths[idx].max())
        ids, mask, target = (t[idx, :width].to(policy.device) for t in (all_ids, all_mask, all_target))
        # Cosine decay keeps the short warm-up stable.
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / max(1, steps)))
        logits = policy.model(ids, mask)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    policy.model.eval()
    return losses


def cached_model(folder: Path, key: str, build: Callable[[], TinyPolicy]) -> tuple[Path, bool]:
    """``folder/key``, a saved tiny model; ``build()`` makes it on a miss. Returns (path, was cached).

    The model is saved under a temporary name and renamed into place, so concurrent runs never see
    half a model; when another process wins the race its copy is kept.
    """
    cached = folder / key
    if (cached / MARKER).is_file():
        return cached, True
    policy = build()
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    policy.save(tmp)
    try:
        os.replace(tmp, cached)
    except OSError:  # another process cached it first
        shutil.rmtree(tmp, ignore_errors=True)
    return cached, False


def cache_key(**parts: Any) -> str:
    """A short stable hash of JSON-able parts (pretraining cache folders)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def warm_up(
    cfg: TinyConfig,
    pairs: list[tuple[str, str]],
    *,
    steps: int,
    lr: float,
    seed: int,
    cache_dir: str | Path,
    device: str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[TinyPolicy, bool]:
    """A fresh tiny model (``cfg``, initialised from ``seed``) after ``pretrain`` on ``pairs``, and
    whether it came from the cache.

    The one warm-up of the tiny model (``rlvr train`` and ``rlvr lab`` both use it): it trains on the
    CPU and is cached under ``cache_dir`` by a hash of everything that shapes it (model size, steps,
    learning rate, seed and the pairs), so a rerun costs a load; ``on_step`` sees a miss's steps.
    """
    key = cache_key(tiny=asdict(cfg), steps=steps, lr=lr, seed=seed, pairs=pairs)

    def build() -> TinyPolicy:
        policy = TinyPolicy(cfg, seed=seed, device="cpu")
        pretrain(policy, pairs, steps=steps, lr=lr, seed=seed, on_step=on_step)
        return policy

    cached, hit = cached_model(Path(cache_dir), key, build)
    return TinyPolicy.load(cached, device=device), hit
