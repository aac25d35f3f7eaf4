"""Atomic checkpoints: ``checkpoints/step_000010.pt`` written to a temp file, then renamed.

A checkpoint holds everything a resumed run needs to continue exactly as an uninterrupted one:
model and optimizer state, the prompt sampler's state (data order, curriculum statistics), the
step, and the Python/torch RNG states. A crash mid-write leaves at most a ``.tmp`` file, never a
truncated checkpoint under its final name.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import torch

from rlvr.errors import ConfigError

__all__ = [
    "latest_checkpoint", "load_checkpoint", "restore_trainer_state", "rng_state", "save_checkpoint", "set_rng_state",
    "trainer_state",
]

_NAME = re.compile(r"step_(\d+)\.pt$")
FORMAT_VERSION = 1


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for p in folder.glob("step_*.pt"):
        m = _NAME.search(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(folder: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as ``folder/step_<step>.pt`` atomically and delete all but the newest ``keep``."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    final = d / f"step_{step:06d}.pt"
    tmp = d / f".step_{step:06d}.pt.tmp"
    payload = {"format_version": FORMAT_VERSION, "step": step, **state}
    with tmp.open("wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    for _, old in _checkpoints(d)[:-keep]:
        old.unlink(missing_ok=True)
    return final


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The newest complete checkpoint in ``folder`` (None if there is none)."""
    d = Path(folder)
    if not d.is_dir():
        return None
    found = _checkpoints(d)
    return found[-1][1] if found else None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` (on CPU)."""
    try:
        # The file holds RNG states (Python tuples), so the full unpickler is needed; checkpoints
        # are files this run wrote, not downloads.
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ConfigError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: not an rlvr checkpoint of format {FORMAT_VERSION}")
    return state


def trainer_state(policy: Any, optimizer: Any, sampler: Any, config: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint of a training run holds (``save_checkpoint`` adds the step)."""
    return {
        "model": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "sampler": sampler.state_dict(),
        "rng": rng_state(),
        "config": config,
    }


def restore_trainer_state(state: dict[str, Any], policy: Any, optimizer: Any, sampler: Any) -> int:
    """Put a loaded checkpoint back into the run's objects and RNGs; returns its step."""
    policy.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    sampler.load_state_dict(state["sampler"])
    set_rng_state(state["rng"])
    return int(state["step"])
