"""The ``sql`` tool's engine: the SQL verifier's read-only SQLite runner, and a compact table.

The only module of ``rlvr.env`` that imports the SQL verifier's internals (one line below), so a
move of that package changes one import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rlvr.verifiers.sql.backends import Limits, QueryError, run_sqlite

__all__ = ["QueryError", "describe_db", "resolve_db", "run_query"]


def resolve_db(db: Any, source_dir: Any = None) -> Path:
    """The row's ``db`` as an absolute path (relative paths from the data file's folder)."""
    if not isinstance(db, str) or not db.strip():
        raise QueryError("this row has no 'db' (the path of its SQLite file)")
    p = Path(os.path.expanduser(db))
    if not p.is_absolute():
        p = Path(source_dir if isinstance(source_dir, str) else os.getcwd()) / p
    return p.resolve()


def _cell(v: Any, width: int = 60) -> str:
    text = "NULL" if v is None else (v.hex() if isinstance(v, bytes) else str(v))
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def run_query(path: Path, query: str, timeout: float, max_rows: int = 50, max_bytes: int = 1 << 20) -> str:
    """Rows of one read-only query as a ``|``-separated table, at most ``max_rows`` shown (the
    count of the rest is said). Raises ``QueryError`` (refused, failed, too slow, too big)."""
    res = run_sqlite(path, query, Limits(timeout, max_rows, max_bytes))
    lines = [" | ".join(res.columns)]
    rows = res.rows[:max_rows]
    lines += [" | ".join(_cell(v) for v in row) for row in rows]
    if res.truncated:
        lines.append(f"… more than {max_rows} rows; showing the first {max_rows}")
    else:
        lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def describe_db(path: Path, timeout: float = 2.0) -> str:
    """The database's schema (its CREATE statements), for the prompt."""
    text = run_query(path, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'",
                     timeout, max_rows=200)
    stmts = [line for line in text.splitlines()[1:-1]]
    return "Database schema:\n" + "\n".join(stmts)
