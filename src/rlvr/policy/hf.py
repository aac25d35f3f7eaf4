"""Transformers causal LMs from a local folder, as policies (no network, ever).

Prompts are left-padded with an attention mask and explicit position ids, so a batch of prompts of
different lengths samples and scores exactly as each prompt alone would. With ``chat_template``
(default: when the tokenizer has one) each prompt is wrapped as one user message with the
generation prompt appended.

Llama-family models (Llama, Mistral, Qwen2; see ``rlvr.policy.fastllama``) run on a lean functional
forward over the model's own weights by default (``fast=False`` keeps the transformers forward;
unsupported models fall back to it automatically): same logits, much less Python per token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rlvr.errors import ConfigError, MissingExtraError
from rlvr.policy.base import TokenBatch, TorchPolicy

__all__ = ["HFPolicy"]

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def resolve_dtype(dtype: str | None) -> torch.dtype | None:
    if dtype is None or dtype == "auto":
        return None
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)} or 'auto'") from None


class HFPolicy(TorchPolicy):
    """A ``transformers`` causal LM and its tokenizer."""

    def __init__(
        self, model: Any, tokenizer: Any, *, chat_template: bool | None = None, fast: bool = True
    ) -> None:
        self.model = model
        self.fast = fast
        """Use the lean forward (``rlvr.policy.fastllama``) when the model supports it."""
        self._fast: Any = None
        self._fast_for: Any = None  # the model ``_fast`` was built for
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise ConfigError("the tokenizer has neither a pad nor an eos token; set one before training")
            tokenizer.pad_token = tokenizer.eos_token
        if tokenizer.eos_token_id is None:
            raise ConfigError("the tokenizer has no eos token: completions could never end")
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id)
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if chat_template and not has_template:
            raise ConfigError("chat_template=true but the tokenizer has no chat template; set it to false")
        self.chat_template = has_template if chat_template is None else chat_template
        import inspect

        self._new_cache_api = "cache" in inspect.signature(model.forward).parameters

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        device: str = "cpu",
        dtype: str | None = None,
        chat_template: bool | None = None,
        fast: bool = True,
    ) -> HFPolicy:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise MissingExtraError("transformers", "hf", "loading a transformers model") from None
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise ConfigError(f"{folder}: no config.json; expected a local transformers model folder")
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(folder), local_files_only=True, dtype=resolve_dtype(dtype)
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{folder}: cannot load model/tokenizer: {exc}".splitlines()[0]) from None
        model.to(device)
        model.eval()
        return cls(model, tokenizer, chat_template=chat_template, fast=fast)

    def format_prompt(self, prompt: str) -> str:
        if not self.chat_template:
            return prompt
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )

    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        if self.chat_template:
            # The template already carries BOS and role markers.
            return [self.tokenizer.encode(self.format_prompt(p), add_special_tokens=False) for p in prompts]
        return [self.tokenizer.encode(p) for p in prompts]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def max_positions(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    def fast_path(self) -> Any:
        """The ``FastLlama`` over ``self.model``, or None (disabled or unsupported model)."""
        if not self.fast:
            return None
        # Rebuilt when the model object changes (``frozen_copy`` deep-copies it).
        if self._fast_for is not self.model:
            from rlvr.policy.fastllama import FastLlama, unsupported_reason

            self._fast_for = self.model
            self._fast = FastLlama(self.model) if unsupported_reason(self.model) is None else None
        return self._fast

    def _step(self, ids: Tensor, attention_mask: Tensor, position_ids: Tensor, cache: Any) -> tuple[Tensor, Any]:
        fast = self.fast_path()
        if fast is not None:
            if cache is None:
                return fast.prefill(ids, attention_mask, position_ids, 64)
            return fast.step(ids, attention_mask, position_ids, cache), cache
        # transformers 5.x renamed past_key_values to cache (the old name warns, then goes away).
        key = "cache" if self._new_cache_api else "past_key_values"
        out = self.model(
            input_ids=ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=True,
            logits_to_keep=1,
            **{key: cache},
        )
        return out.logits[:, -1], getattr(out, key)

    def _completion_logits(self, batch: TokenBatch) -> Tensor:
        mask = batch.attention_mask
        pos = (mask.cumsum(dim=1) - 1).clamp(min=0)
        t_len = batch.input_ids.shape[1] - batch.prompt_len
        fast = self.fast_path()
        if fast is not None:
            return fast.logits(fast.completion_hidden(batch.input_ids, mask, pos, batch.prompt_len))
        # Only the last T+1 positions' logits are needed: position P-1+t predicts completion token t.
        out = self.model(
            input_ids=batch.input_ids, attention_mask=mask, position_ids=pos, use_cache=False,
            logits_to_keep=t_len + 1,
        )
        return out.logits[:, :-1]

    def save(self, path: str | Path) -> None:
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(out))
        self.tokenizer.save_pretrained(str(out))
