"""Finished jobs of a lab study, persisted as they finish, so a killed study resumes.

Each finished job (a seed's prep, or one RL arm of a seed; ``rlvr.lab.jobs``) is written to
``<out>/seed<s>/jobs/<job>.json`` the moment it finishes: its result (plain JSON data) next to the
*fingerprint* of the seed's config, every ``LabConfig`` field that can change a job's numbers.
The file is written under a temporary name and renamed into place, so a study killed at any
instant leaves whole job files or none. ``rlvr lab --resume`` reuses each stored job whose
fingerprint matches and reruns the rest.

Every result, freshly run or reused, reaches the rest of the study through the same JSON text
(``save`` returns the parsed copy of what it wrote), so a resumed study and an uninterrupted one
read identical values and end with identical numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.lab.config import LabConfig

__all__ = ["NOT_JOB_INPUTS", "JOBS_DIR", "config_diff", "file_hash", "fingerprint", "fingerprint_hash", "job_path", "load_job", "save_job"]

JOBS_DIR = "jobs"
"""Folder of a seed's finished job files, inside the seed's folder."""

NOT_JOB_INPUTS = frozenset({
    "out_dir", "workers", "progress", "cache_dir", "threads", "profile", "seeds",
    "n_boot", "spurious_threshold", "kl_limit", "margin",
})
"""``LabConfig`` fields no job reads for its numbers: where and how it runs (folder, processes,
progress, the warm-up cache, torch threads), the profile's name, the seed count (a seed's jobs
depend on its own seed only) and the settings only the summary reads (bootstrap replicates,
control thresholds), which is recomputed on every run. Changing them keeps stored jobs valid."""

_FORMAT = 1


def fingerprint(cfg: LabConfig) -> dict[str, Any]:
    """The fields of ``cfg`` that a job's numbers depend on, as JSON data (tuples become lists),
    and the content hash of the user's prompt files (an edited file under the same name is new data)."""
    values = {k: v for k, v in cfg.flat().items() if k not in NOT_JOB_INPUTS}
    values["files_sha256"] = {name: file_hash(path) for name in ("data", "shifted_data")
                              if (path := getattr(cfg, name, None)) is not None}
    return json.loads(json.dumps(values, sort_keys=True, default=str))


def file_hash(path: str) -> str | None:
    """sha256 of a file's bytes (None: no such file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def fingerprint_hash(fp: Mapping[str, Any]) -> str:
    """A short stable hash of a fingerprint (shown in job files, for people)."""
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:16]


def config_diff(stored: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``name: old -> new`` for each field that differs (nested fields dotted), sorted by name."""
    out = []
    for key in sorted(set(stored) | set(current)):
        old, new = stored.get(key, "<unset>"), current.get(key, "<unset>")
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            out.extend(config_diff(old, new, f"{prefix}{key}."))
        elif old != new:
            out.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return out


def job_path(seed_dir: Path, job: str) -> Path:
    """Where a seed's finished job ``job`` (``prep`` or an arm's name) is stored."""
    return seed_dir / JOBS_DIR / f"{job}.json"


def _refuse(value: Any) -> Any:
    raise TypeError(f"a lab job returned {type(value).__name__}, which is not JSON data: {value!r:.80}")


def save_job(seed_dir: Path, job: str, cfg: LabConfig, result: Any) -> Any:
    """Store ``result`` of job ``job`` of ``cfg``'s seed atomically; returns its JSON copy (what the
    study goes on with, as a resumed study would)."""
    fp = fingerprint(cfg)
    record = {"format": _FORMAT, "job": job, "seed": cfg.seed, "fingerprint": fingerprint_hash(fp), "config": fp,
              "result": result}
    text = json.dumps(record, default=_refuse)
    path = job_path(seed_dir, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return json.loads(text)["result"]


def load_job(seed_dir: Path, job: str, cfg: LabConfig) -> Any | None:
    """The stored result of a finished job, None if it never finished; a ``ConfigError`` naming
    the differing fields when it was run with another config (its numbers would not be this
    config's), or when the file is not a job file."""
    path = job_path(seed_dir, job)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a lab job result ({exc}); delete it to rerun that job") from None
    if not isinstance(record, dict) or record.get("format") != _FORMAT or "result" not in record:
        raise ConfigError(f"{path}: not a lab job result of this rlvr version; delete it to rerun that job")
    diff = config_diff(record.get("config") or {}, fingerprint(cfg))
    if diff:
        raise ConfigError(
            f"{path} was run with another config ({'; '.join(diff)}); rerun with the same options, "
            "or choose another --out"
        )
    return record["result"]

