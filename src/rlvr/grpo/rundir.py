"""The run directory of ``rlvr train``: lock, config.json, metrics/health logs, TensorBoard, resume.

Layout: ``config.json``, ``metrics.jsonl`` (one line per step), ``health.jsonl`` (warnings, one
per line; always there once the run starts, so an empty file says "checked, nothing wrong"),
``checkpoints/``, ``summary.json``, optional ``tensorboard/``, ``initial/`` and ``final/``.
Two processes never write one run: the directory is held with an exclusive lock (``.lock``) while
training; the lock file goes when the run closes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.io import write_json

__all__ = ["RESUMABLE_CHANGES", "RunDir", "check_resumable", "truncate_jsonl"]

# Config fields a resumed run may change (they do not change what is computed).
RESUMABLE_CHANGES = ("run.steps", "run.progress", "run.threads", "run.tensorboard", "run.checkpoint_every",
                     "run.keep_checkpoints", "run.save_final", "run.out_dir", "verifier.workers")


class RunDir:
    """One run's folder: ``lock`` → ``open`` → ``log`` per step → ``write_summary`` → ``unlock``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: Any = None
        self._tb: Any = None

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def has_run(self) -> bool:
        """Whether a previous run logged steps here."""
        metrics = self.path / "metrics.jsonl"
        return metrics.is_file() and metrics.stat().st_size > 0

    def lock(self) -> None:
        """Hold an exclusive lock on the directory: two processes never write one run."""
        if self._lock is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            return
        lock_path = self.path / ".lock"
        while True:
            fh = lock_path.open("a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                raise ConfigError(
                    f"{self.path} is in use by another training process; wait for it or choose another --out"
                ) from None
            # The holder before us removes the file as it finishes: a lock on a file that is no
            # longer at this path guards nothing, so open the path again.
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fh.close()
        self._lock = fh

    def unlock(self) -> None:
        if self._lock is not None:
            try:  # removed while still held, so nobody can lock the old file after we let go
                os.unlink(self.path / ".lock")
            except FileNotFoundError:
                pass
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def open(self, config: Mapping[str, Any], tensorboard: bool) -> None:
        """Lock, write config.json, and start TensorBoard when asked (its extra named if missing)."""
        self.lock()
        write_json(self.path / "config.json", config)
        (self.path / "health.jsonl").touch()  # empty until a warning: "checked, nothing wrong"
        if tensorboard and self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                from rlvr.errors import MissingExtraError

                raise MissingExtraError("tensorboard", "tensorboard", "[run] tensorboard = true") from None
            self._tb = SummaryWriter(str(self.path / "tensorboard"))

    def log(self, metrics: Mapping[str, Any], warnings: Sequence[Any]) -> None:
        """Append one step's metrics (and its health warnings) to the logs."""
        with (self.path / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(metrics, allow_nan=True) + "\n")
        if warnings:
            with (self.path / "health.jsonl").open("a", encoding="utf-8") as fh:
                for w in warnings:
                    fh.write(json.dumps(w.to_dict()) + "\n")
        if self._tb is not None:
            for key, value in metrics.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, metrics["step"])

    def rewind(self, last_step: int) -> list[dict[str, Any]]:
        """Cut the logs back to ``last_step`` (a resume redoes what follows); the kept metric rows."""
        rows = truncate_jsonl(self.path / "metrics.jsonl", last_step)
        truncate_jsonl(self.path / "health.jsonl", last_step)
        return rows

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        write_json(self.path / "summary.json", summary)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
        self.unlock()


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k != "options":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def check_resumable(saved: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` when a resumed run's config differs in a field that changes results."""
    a, b = _flatten(saved), _flatten(current)
    changed = sorted(
        k for k in set(a) | set(b)
        if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES and not k.startswith("health.")
    )
    if changed:
        detail = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed[:4])
        raise ConfigError(
            f"cannot resume: the config changed ({detail}); resume with the run's own config.json "
            "or start a new run with another --out"
        )


def truncate_jsonl(path: Path, last_step: int) -> list[dict[str, Any]]:
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
