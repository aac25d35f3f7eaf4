"""Prompt files: read training/curation prompts from JSONL, write record files atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rlvr.errors import InputError
from rlvr.io import iter_jsonl

__all__ = ["load_prompts", "write_records"]


def load_prompts(path: str | Path, *, prompt_field: str = "prompt") -> list[dict[str, Any]]:
    """Records with a string ``prompt_field``; ``id`` defaults to the line number.

    Every record also gets ``_source_dir`` (the file's folder) so relative paths in it resolve.
    Bad lines raise ``InputError`` naming the file and line.
    """
    p = Path(path)
    records = []
    ids: set[str] = set()
    for item in iter_jsonl(p, required=(prompt_field,)):
        rec = item.record
        assert rec is not None
        if not isinstance(rec[prompt_field], str) or not rec[prompt_field]:
            raise InputError(f"{prompt_field!r} must be a non-empty string", str(p), item.line)
        rid = str(rec.get("id", f"line{item.line}"))
        if rid in ids:
            raise InputError(f"duplicate id {rid!r} (ids identify prompts in logs and curation)", str(p), item.line)
        ids.add(rid)
        records.append({**rec, "id": rid, "_source_dir": str(p.resolve().parent)})
    if not records:
        raise InputError("no prompts (empty file)", str(p))
    return records


def write_records(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write JSONL atomically (tmp file + rename); rlvr's ``_``-prefixed keys are dropped."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            clean = {k: v for k, v in rec.items() if not str(k).startswith("_")}
            fh.write(json.dumps(clean, ensure_ascii=False) + "\n")
    os.replace(tmp, p)
