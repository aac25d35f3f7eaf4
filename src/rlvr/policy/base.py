"""The Policy protocol and what tiny and transformers policies share.

A policy samples completions (``sample``: token ids, masks and sampling-time log-probs; ``generate``:
text only) and scores given completions (``logprobs``: per-token log-probs and entropies, with
gradients when grad is enabled). Shapes: ``N`` sequences (prompts × n), ``P`` prompt positions
(left-padded), ``T`` completion positions (right-padded after EOS).

Log-probabilities are always those of the temperature-scaled distribution ``softmax(logits / t)``
before top-p truncation, both at sampling time and in ``logprobs``: the importance ratio of the
first on-policy update is then exactly 1.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

__all__ = [
    "Policy", "Rollout", "TokenBatch", "TorchPolicy", "TrainablePolicy", "entropy_from_logits", "token_logprobs",
]


@dataclass
class TokenBatch:
    """Prompt + completion token ids, as the trainer scores them."""

    input_ids: Tensor
    """(N, P+T) prompt ids left-padded to P, then completion ids right-padded to T."""
    attention_mask: Tensor
    """(N, P+T) 1 on real tokens (prompt and completion up to and including EOS)."""
    prompt_len: int
    """P: the number of prompt positions (the completion starts at this column)."""
    completion_mask: Tensor
    """(N, T) float, 1 on generated tokens up to and including EOS."""

    @property
    def completion_ids(self) -> Tensor:
        """(N, T) the generated token ids."""
        return self.input_ids[:, self.prompt_len :]

    def select(self, index: Tensor | Sequence[int]) -> TokenBatch:
        """The rows ``index`` (a minibatch or the rows kept after pruning)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.input_ids.device)
        return TokenBatch(
            self.input_ids[idx], self.attention_mask[idx], self.prompt_len, self.completion_mask[idx]
        )

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @staticmethod
    def cat(batches: Sequence[TokenBatch], pad_id: int) -> TokenBatch:
        """Stack batches with different P and T: prompts re-left-padded, completions re-right-padded."""
        p_len = max(b.prompt_len for b in batches)
        t_len = max(b.input_ids.shape[1] - b.prompt_len for b in batches)
        ids, attn, comp = [], [], []
        for b in batches:
            p, t = b.prompt_len, b.input_ids.shape[1] - b.prompt_len
            left, right = p_len - p, t_len - t
            ids.append(torch.nn.functional.pad(b.input_ids, (left, right), value=pad_id))
            attn.append(torch.nn.functional.pad(b.attention_mask, (left, right), value=0))
            comp.append(torch.nn.functional.pad(b.completion_mask, (0, right), value=0.0))
        return TokenBatch(torch.cat(ids), torch.cat(attn), p_len, torch.cat(comp))


@dataclass
class Rollout:
    """What ``Policy.sample`` returns: n completions per prompt, grouped by prompt."""

    tokens: TokenBatch
    """Ids and masks; row ``i * n + j`` is completion ``j`` of prompt ``i``."""
    texts: list[str]
    """(N,) the decoded completions (special tokens removed)."""
    prompt_index: list[int]
    """(N,) which prompt each row belongs to."""
    sample_logprobs: Tensor
    """(N, T) log-probs of the sampled tokens under the sampling distribution (0 on padding)."""
    truncated: Tensor
    """(N,) bool: the completion hit ``max_new_tokens`` without an EOS."""

    @staticmethod
    def cat(rollouts: Sequence[Rollout], pad_id: int) -> Rollout:
        """Concatenate rollouts (prompt indices are shifted so groups stay distinct)."""
        t_len = max(r.sample_logprobs.shape[1] for r in rollouts)
        offset, index = 0, []
        for r in rollouts:
            index.extend(i + offset for i in r.prompt_index)
            offset += max(r.prompt_index, default=-1) + 1
        return Rollout(
            tokens=TokenBatch.cat([r.tokens for r in rollouts], pad_id),
            texts=[t for r in rollouts for t in r.texts],
            prompt_index=index,
            sample_logprobs=torch.cat(
                [torch.nn.functional.pad(r.sample_logprobs, (0, t_len - r.sample_logprobs.shape[1])) for r in rollouts]
            ),
            truncated=torch.cat([r.truncated for r in rollouts]),
        )

    @property
    def lengths(self) -> Tensor:
        """(N,) completion lengths in tokens (EOS included)."""
        return self.tokens.completion_mask.sum(dim=1)


@runtime_checkable
class Policy(Protocol):
    """What the trainer, ``rlvr sample`` and the lab need from a model."""

    def generate(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 64,
        seed: int | None = None,
    ) -> list[list[str]]:
        """``n`` completion texts per prompt."""
        ...

    def sample(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 64,
        seed: int | None = None,
    ) -> Rollout:
        """``n`` completions per prompt with token ids, masks and sampling-time log-probs."""
        ...

    def logprobs(
        self,
        batch: TokenBatch,
        *,
        temperature: float = 1.0,
        with_entropy: bool = False,
        entropy_grad: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """(N, T) log-probs of the completion tokens (and (N, T) entropies when asked)."""
        ...


@runtime_checkable
class TrainablePolicy(Policy, Protocol):
    """A local torch policy the trainer can update: a Policy plus weights, copies and saving."""

    model: nn.Module
    pad_id: int

    def parameters(self) -> Any:
        """The trainable tensors (what the optimizer steps)."""
        ...

    def state_dict(self) -> dict[str, Tensor]:
        ...

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        ...

    def frozen_copy(self) -> TrainablePolicy:
        """A copy with frozen weights (the KL reference)."""
        ...

    def save(self, path: str | Path) -> None:
        """A folder that ``rlvr.policy.load_policy`` loads."""
        ...


def token_logprobs(logits: Tensor, ids: Tensor) -> Tensor:
    """log softmax(logits)[ids] without materialising the full log-softmax. (N, T, V), (N, T) -> (N, T)."""
    logits = logits.float()
    picked = torch.gather(logits, -1, ids.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of softmax(logits) over the last axis. (..., V) -> (...)."""
    logits = logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def top_p_filter(logits: Tensor, top_p: float) -> Tensor:
    """Set logits outside the smallest set with cumulative probability >= top_p to -inf. (N, V)."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits.float(), dim=-1)
    # A token is dropped when the tokens before it already reach top_p; the first always stays.
    drop = (probs.cumsum(dim=-1) - probs) >= top_p
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, order, sorted_logits)


def make_generator(seed: int | None, device: torch.device | str) -> torch.Generator:
    """A private RNG: sampling never touches (or depends on) torch's global random state."""
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)
    return gen


# forward_step(new_ids (N, L), attention_mask (N, L_total), position_ids (N, L), cache) ->
#     (logits of the last position (N, V), new cache)
StepFn = Callable[[Tensor, Tensor, Tensor, Any], tuple[Tensor, Any]]


class TorchPolicy(ABC):
    """Shared machinery: a sampling loop with a KV cache, ``generate``, ``logprobs``, copies.

    Subclasses set ``model`` (an ``nn.Module``), ``eos_id``, ``pad_id`` and ``device`` and implement
    ``encode_prompts``, ``decode``, ``_step`` (one cached forward) and ``_completion_logits``.
    """

    model: nn.Module
    eos_id: int
    pad_id: int
    device: torch.device

    # -- to implement -------------------------------------------------------------------------
    @abstractmethod
    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:  # pragma: no cover - abstract
        ...

    @abstractmethod
    def decode(self, ids: list[int]) -> str:  # pragma: no cover - abstract
        ...

    @abstractmethod
    def _step(
        self, ids: Tensor, attention_mask: Tensor, position_ids: Tensor, cache: Any
    ) -> tuple[Tensor, Any]:  # pragma: no cover - abstract
        ...

    @abstractmethod
    def _completion_logits(self, batch: TokenBatch) -> Tensor:  # pragma: no cover - abstract
        """(N, T, V) logits that predict each completion token."""

    @abstractmethod
    def save(self, path: str | Path) -> None:  # pragma: no cover - abstract
        ...

    def max_positions(self) -> int | None:
        """Longest sequence the model accepts (None: no fixed limit)."""
        return None

    # -- shared --------------------------------------------------------------------------------
    def parameters(self) -> Any:
        return self.model.parameters()

    def state_dict(self) -> dict[str, Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.model.load_state_dict(state)

    def frozen_copy(self) -> TorchPolicy:
        """A copy with frozen weights (the KL reference)."""
        ref = copy.copy(self)
        ref.model = copy.deepcopy(self.model)
        ref.model.eval()
        for p in ref.model.parameters():
            p.requires_grad_(False)
        return ref

    def _left_pad(self, encoded: list[list[int]]) -> tuple[Tensor, Tensor]:
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, e in enumerate(encoded):
            if e:
                ids[i, width - len(e) :] = torch.tensor(e, dtype=torch.long)
                mask[i, width - len(e) :] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def sample(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 64,
        seed: int | None = None,
    ) -> Rollout:
        if n < 1 or max_new_tokens < 1:
            raise ValueError("n and max_new_tokens must be >= 1")
        if not (0.0 < top_p <= 1.0) or temperature < 0:
            raise ValueError("need 0 < top_p <= 1 and temperature >= 0")
        encoded = self.encode_prompts(list(prompts))
        limit = self.max_positions()
        longest = max((len(e) for e in encoded), default=0)
        if limit is not None and longest + max_new_tokens > limit:
            from rlvr.errors import ConfigError

            raise ConfigError(
                f"a prompt of {longest} tokens plus max_new_tokens={max_new_tokens} exceeds the model's "
                f"{limit} positions; shorten prompts, lower max_new_tokens or raise the model's block_size"
            )
        # Row i*n + j is sample j of prompt i: groups are contiguous.
        encoded = [e for e in encoded for _ in range(n)]
        prompt_ids, prompt_mask = self._left_pad(encoded)
        n_rows, p_len = prompt_ids.shape
        gen = make_generator(seed, self.device)
        was_training = self.model.training
        self.model.eval()
        try:
            out_ids, out_lp = self._sample_loop(
                prompt_ids, prompt_mask, temperature, top_p, max_new_tokens, gen
            )
        finally:
            self.model.train(was_training)
        # Completion mask: tokens up to and including the first EOS.
        is_eos = out_ids == self.eos_id
        after_eos = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0  # strictly after the first EOS
        comp_mask = (~after_eos).float()
        out_ids = out_ids.masked_fill(after_eos, self.pad_id)
        out_lp = out_lp * comp_mask
        truncated = ~is_eos.any(dim=1)
        tokens = TokenBatch(
            input_ids=torch.cat([prompt_ids, out_ids], dim=1),
            attention_mask=torch.cat([prompt_mask, comp_mask.long()], dim=1),
            prompt_len=p_len,
            completion_mask=comp_mask,
        )
        texts = []
        for row, m in zip(out_ids.tolist(), comp_mask.tolist()):
            texts.append(self.decode([t for t, keep in zip(row, m) if keep and t != self.eos_id]))
        return Rollout(
            tokens=tokens,
            texts=texts,
            prompt_index=[i // n for i in range(n_rows)],
            sample_logprobs=out_lp,
            truncated=truncated,
        )

    def _sample_loop(
        self,
        prompt_ids: Tensor,
        prompt_mask: Tensor,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        gen: torch.Generator,
        stop_ids: Sequence[int] = (),
    ) -> tuple[Tensor, Tensor]:
        """Autoregressive sampling with a KV cache; returns (N, T) ids and (N, T) log-probs.

        A row ends at EOS or at any of ``stop_ids`` (the token is kept)."""
        n_rows = prompt_ids.shape[0]
        mask = prompt_mask
        # Positions count real tokens only, so left padding does not shift them.
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        logits, cache = self._step(prompt_ids, mask, positions, None)
        next_pos = positions[:, -1] + 1
        done = torch.zeros(n_rows, dtype=torch.bool, device=prompt_ids.device)
        stops = torch.tensor(list(stop_ids), dtype=torch.long, device=prompt_ids.device) if stop_ids else None
        ids_out, lp_out = [], []
        for t in range(max_new_tokens):
            logits = logits.float()
            scaled = logits / temperature if temperature > 0 else logits
            logp = torch.log_softmax(scaled, dim=-1)
            if temperature == 0:
                token = scaled.argmax(dim=-1)
            else:
                probs = torch.softmax(top_p_filter(scaled, top_p), dim=-1)
                token = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            token = token.masked_fill(done, self.pad_id)
            ids_out.append(token)
            lp_out.append(torch.gather(logp, 1, token[:, None]).squeeze(1))
            done = done | (token == self.eos_id)
            if stops is not None:
                done = done | torch.isin(token, stops)
            if bool(done.all()) or t == max_new_tokens - 1:
                break
            # Finished rows keep decoding padding that is discarded; their mask does not matter.
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            logits, cache = self._step(token[:, None], mask, next_pos[:, None], cache)
            next_pos = next_pos + 1
        return torch.stack(ids_out, dim=1), torch.stack(lp_out, dim=1)

    @torch.no_grad()
    def continue_ids(
        self,
        contexts: list[list[int]],
        *,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        generator: torch.Generator,
        stop_ids: Sequence[int] = (),
    ) -> list[tuple[list[int], list[float], bool]]:
        """One sampled continuation of each token context (a multi-turn rollout's next assistant turn).

        Per context: the new ids up to and including the first EOS or stop token, their sampling-time
        log-probs, and whether the turn ended by itself (False: cut at ``max_new_tokens``). The contexts
        are token ids, never re-tokenised text, so what is scored later is exactly what was sampled.
        """
        if not contexts:
            return []
        ids, mask = self._left_pad(contexts)
        was_training = self.model.training
        self.model.eval()
        try:
            out_ids, out_lp = self._sample_loop(ids, mask, temperature, top_p, max_new_tokens, generator, stop_ids)
        finally:
            self.model.train(was_training)
        enders = {self.eos_id, *stop_ids}
        result = []
        for row, lps in zip(out_ids.tolist(), out_lp.tolist()):
            end = next((k for k, t in enumerate(row) if t in enders), None)
            keep = len(row) if end is None else end + 1
            result.append((row[:keep], lps[:keep], end is not None))
        return result

    def generate(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 64,
        seed: int | None = None,
    ) -> list[list[str]]:
        if not prompts:
            return []
        out = self.sample(
            prompts, n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed
        )
        return [out.texts[i * n : (i + 1) * n] for i in range(len(prompts))]

    def logprobs(
        self,
        batch: TokenBatch,
        *,
        temperature: float = 1.0,
        with_entropy: bool = False,
        entropy_grad: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """(N, T) completion log-probs (gradients follow torch's grad mode) and optional entropies.

        Entropies are computed without gradient unless ``entropy_grad`` (an entropy bonus needs it).
        """
        logits = self._completion_logits(batch).float()  # (N, T, V)
        if temperature > 0 and temperature != 1.0:
            logits = logits / temperature
        lp = token_logprobs(logits, batch.completion_ids) * batch.completion_mask
        ent = None
        if with_entropy:
            with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
                ent = entropy_from_logits(logits) * batch.completion_mask
        return lp, ent
