"""JSONL reading and writing with errors that name the file and line (the formats: README, "Verifying outputs")."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rlvr.errors import InputError

__all__ = ["JsonlRecord", "iter_jsonl", "write_json", "write_jsonl_line"]

# A single line longer than this is refused rather than parsed (json would happily eat gigabytes).
MAX_LINE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class JsonlRecord:
    """One line of a JSONL file: its 1-based line number and either a record or an error."""

    line: int
    record: dict[str, Any] | None
    error: InputError | None = None


def iter_jsonl(
    path: str | os.PathLike[str],
    *,
    required: Iterable[str] = (),
    skip_invalid: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[JsonlRecord]:
    """Stream records from a JSONL file without loading it whole.

    Blank lines are ignored. A malformed line (bad JSON, not an object, missing a ``required``
    field, too long) raises ``InputError`` naming the file and line, or, with ``skip_invalid``,
    is yielded as a ``JsonlRecord`` whose ``error`` is set so the caller can report it.
    """
    p = Path(path)
    name = str(path)
    required = tuple(required)
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        raise InputError("no such file", name) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a JSONL file", name) from None
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", name) from None
    with fh:
        lineno = 0
        while True:
            raw = fh.readline(max_line_bytes + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                # Consume the rest of the oversized line so numbering stays right.
                while raw and not raw.endswith(b"\n"):
                    raw = fh.readline(max_line_bytes + 1)
                err = InputError(f"line longer than {max_line_bytes:,} bytes", name, lineno)
                if not skip_invalid:
                    raise err
                yield JsonlRecord(lineno, None, err)
                continue
            if not raw.strip():
                continue
            err = None
            record = None
            try:
                record = json.loads(raw)
            except UnicodeDecodeError:
                err = InputError("line is not valid UTF-8", name, lineno)
            except json.JSONDecodeError as exc:
                err = InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", name, lineno)
            except RecursionError:
                err = InputError("JSON nested too deeply", name, lineno)
            if err is None and not isinstance(record, dict):
                err = InputError(f"expected a JSON object, got {_json_type(record)}", name, lineno)
            if err is None:
                missing = [k for k in required if k not in record]  # type: ignore[operator]
                if missing:
                    err = InputError(f"missing required field(s): {', '.join(missing)}", name, lineno)
            if err is not None:
                if not skip_invalid:
                    raise err
                yield JsonlRecord(lineno, None, err)
                continue
            yield JsonlRecord(lineno, record)


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def write_jsonl_line(fh: IO[str], record: Mapping[str, Any]) -> None:
    """Write one record as a JSON line (non-ASCII kept readable, NaN refused)."""
    fh.write(json.dumps(record, ensure_ascii=False, allow_nan=False, default=str))
    fh.write("\n")


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON atomically (tmp file + rename): readers never see half a file."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, p)
