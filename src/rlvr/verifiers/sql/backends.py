"""Running one query, read-only and bounded, on SQLite (stdlib) or DuckDB (optional extra).

Each call opens a fresh connection and closes it, so nothing one query does (temp objects,
settings) can reach the next, and gold and prediction never share a connection.

SQLite, read-only by construction:
  * opened with a ``file:...?mode=ro`` URI (``immutable=1`` on request: no locks and no -wal/-shm
    files, correct only for a file nobody writes while we read);
  * an allow-list authorizer: SELECT, READ (of allowed tables only, when a table allow-list is
    given — CTEs cannot launder a read), FUNCTION (minus a deny-list) and RECURSIVE; every
    other action (INSERT, PRAGMA, ATTACH, TRANSACTION, CREATE TEMP ..., VACUUM's ATTACH) is denied
    when the statement is *prepared*, before it runs;
  * ``SQLITE_LIMIT_ATTACHED = 0`` (Python 3.11+), so ATTACH cannot create a file even if the
    authorizer were bypassed; no extension loading (never enabled);
  * the sqlite3 module refuses to run more than one statement per ``execute``.
  * deadline: a progress handler, called every 1,000 VM instructions, returns non-zero
    after the deadline, which makes SQLite abandon the statement (``interrupted``) — the engine
    really stops; no signals, so any thread may call this. (One built-in call is one instruction:
    ``printf('%.*c', 2e9, 'x')`` runs ~20-40 s before the next check — the engine's per-sample
    hard timeout, which kills the worker, covers that case.)

DuckDB: ``read_only=True`` plus ``enable_external_access=false`` and ``lock_configuration=true``
in the connect config (no file reads or writes through table functions, COPY, EXPORT, ATTACH,
INSTALL/LOAD, and the query cannot switch them back), autoloading of extensions off, spilling to
a temp directory off; DuckDB's own parser must see exactly one SELECT statement; deadline via
``conn.interrupt()`` from a timer thread. Opening a DuckDB file is slow (~40 ms), so a process
keeps a few read-only database instances open and gives each query a fresh connection to one.

Both backends fetch in batches and stop at a row cap and a result-size cap.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr.errors import MissingExtraError

__all__ = [
    "DatabaseUnavailable",
    "Limits",
    "QueryFailed",
    "QueryRefused",
    "QueryResult",
    "QueryTimeout",
    "ResultTooLarge",
    "close_duckdb_instances",
    "run_duckdb",
    "run_sqlite",
]

FETCH_BATCH = 256
# VM instructions between deadline checks: ~10 µs of SQLite work, negligible Python overhead.
PROGRESS_STEPS = 1000

# SQLite authorizer action codes (sqlite3.h); the sqlite3 module does not export all of them
# under names we can rely on across Python versions.
_SQLITE_ACTIONS = {
    1: "CREATE INDEX", 2: "CREATE TABLE", 3: "CREATE TEMP INDEX", 4: "CREATE TEMP TABLE",
    5: "CREATE TEMP TRIGGER", 6: "CREATE TEMP VIEW", 7: "CREATE TRIGGER", 8: "CREATE VIEW",
    9: "DELETE", 10: "DROP INDEX", 11: "DROP TABLE", 12: "DROP TEMP INDEX", 13: "DROP TEMP TABLE",
    14: "DROP TEMP TRIGGER", 15: "DROP TEMP VIEW", 16: "DROP TRIGGER", 17: "DROP VIEW",
    18: "INSERT", 19: "PRAGMA", 20: "READ", 21: "SELECT", 22: "TRANSACTION", 23: "UPDATE",
    24: "ATTACH", 25: "DETACH", 26: "ALTER TABLE", 27: "REINDEX", 28: "ANALYZE",
    29: "CREATE VTABLE", 30: "DROP VTABLE", 31: "FUNCTION", 32: "SAVEPOINT", 33: "RECURSIVE",
}  # fmt: skip
_SQLITE_READ, _SQLITE_SELECT, _SQLITE_UPDATE, _SQLITE_FUNCTION, _SQLITE_RECURSIVE = 20, 21, 23, 31, 33
# Functions refused even inside a SELECT: extension loading, and fts3_tokenizer, which returns a
# raw pointer (an address-space leak) and, with two arguments, can install one.
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer"})


@dataclass(frozen=True)
class Limits:
    """Bounds on one query."""

    timeout: float
    """Seconds the query may run (execution and fetching together)."""
    max_rows: int
    """Rows to fetch at most; one more is fetched to learn that the result is bigger."""
    max_bytes: int
    """Estimated size of the result (text/blob lengths, 8 bytes per other value) at most."""
    max_value_bytes: int = 16_000_000
    """SQLite: the largest string or blob a query may build (SQLITE_LIMIT_LENGTH)."""


@dataclass(frozen=True)
class QueryResult:
    """Rows a query returned. ``truncated``: there were more than ``Limits.max_rows`` rows (the
    first ``max_rows + 1`` are in ``rows``)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    elapsed: float
    truncated: bool = False
    nbytes: int = 0


class QueryError(Exception):
    """Base of the ways one query can fail; ``str()`` is a sentence for a verdict."""


class DatabaseUnavailable(QueryError):
    """The database file is missing, unreadable or not a database (the dataset's problem)."""


class QueryRefused(QueryError):
    """The engine refused the query: it writes, attaches, reads files, or is not one SELECT."""


class QueryTimeout(QueryError):
    """The query ran past its deadline and was stopped."""


class ResultTooLarge(QueryError):
    """The result passed the size cap."""


class QueryFailed(QueryError):
    """Any other engine error (no such column, type errors...), with the engine's message.
    ``syntax``: the engine could not parse the text."""

    def __init__(self, message: str, syntax: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax


def _fetch(cursor: Any, limits: Limits, deadline: float, check_deadline: Callable[[], None]) -> tuple[list, bool, int]:
    rows: list[tuple[Any, ...]] = []
    nbytes = 0
    cap = limits.max_rows + 1
    while len(rows) < cap:
        batch = cursor.fetchmany(min(FETCH_BATCH, cap - len(rows)))
        if not batch:
            break
        nbytes += sum(len(v) + 8 if isinstance(v, (str, bytes)) else 8 for row in batch for v in row)
        rows.extend(batch)  # both drivers return tuples
        if nbytes > limits.max_bytes:
            raise ResultTooLarge(f"the result is larger than the {limits.max_bytes:,}-byte cap")
        check_deadline()
    truncated = len(rows) > limits.max_rows
    return rows, truncated, nbytes


# -- SQLite ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _sqlite_uri(path: Path, immutable: bool) -> str:
    return Path(os.path.abspath(path)).as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def run_sqlite(
    path: Path,
    sql: str,
    limits: Limits,
    *,
    allowed_tables: tuple[str, ...] | None = None,
    immutable: bool = False,
) -> QueryResult:
    """Run one query on a SQLite file, read-only and bounded (see the module docstring)."""
    start = time.monotonic()
    try:
        return _run_sqlite(path, sql, limits, allowed_tables, immutable, start, lenient_text=False)
    except _NotUtf8:
        # Benchmark databases hold the odd non-UTF-8 byte: decode with replacement characters
        # (slower, a Python call per text value, hence only on demand), within the same deadline.
        return _run_sqlite(path, sql, limits, allowed_tables, immutable, start, lenient_text=True)


class _NotUtf8(Exception):
    pass


def _run_sqlite(
    path: Path,
    sql: str,
    limits: Limits,
    allowed_tables: tuple[str, ...] | None,
    immutable: bool,
    start: float,
    lenient_text: bool,
) -> QueryResult:
    deadline = start + limits.timeout
    if not path.is_file():
        raise DatabaseUnavailable(f"database file not found: {path}")
    try:
        conn = sqlite3.connect(
            _sqlite_uri(path, immutable),
            uri=True,
            timeout=max(0.0, limits.timeout),  # waiting on another process's write lock
            isolation_level=None,  # never BEGIN implicitly
            check_same_thread=True,
            cached_statements=0,
        )
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"cannot open database {path}: {exc}") from None
    denied: list[str] = []
    allowed = None if allowed_tables is None else {t.lower() for t in allowed_tables}
    views: set[str] = set()

    def authorizer(action: int, arg1: str | None, arg2: str | None, dbname: str | None, source: str | None) -> int:
        if action in (_SQLITE_SELECT, _SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == _SQLITE_READ:
            if allowed is None or (arg1 or "").lower() in allowed:
                return sqlite3.SQLITE_OK
            # ``source`` names the view or CTE the read happens in. Reads inside an allowed view
            # are the view's business; inside a CTE (even one named like an allowed table) the
            # real table must itself be allowed.
            if source is not None and source.lower() in allowed and source.lower() in views:
                return sqlite3.SQLITE_OK
            denied.append(f"read table {arg1!r} (not in the allowed tables)")
            return sqlite3.SQLITE_DENY
        if action == _SQLITE_FUNCTION:
            if (arg2 or "").lower() in DENIED_FUNCTIONS:
                denied.append(f"call {arg2}()")
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        what = _SQLITE_ACTIONS.get(action, f"action {action}")
        if action == _SQLITE_UPDATE and arg1 == "sqlite_master":
            # how SQLite asks to set up an eponymous virtual table (json_each, pragma_table_info)
            denied.append("use a table-valued function (json_each, pragma_*), which is not allowed")
        else:
            denied.append(what + (f" {arg1}" if arg1 else ""))
        return sqlite3.SQLITE_DENY

    def progress() -> int:
        return 1 if time.monotonic() > deadline else 0

    def check_deadline() -> None:
        if time.monotonic() > deadline:
            raise QueryTimeout(f"the query ran past its {limits.timeout:g} s deadline and was stopped")

    try:
        if hasattr(conn, "setlimit"):  # Python 3.11+; on 3.10 the authorizer alone denies ATTACH
            conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
        if lenient_text:
            conn.text_factory = _decode_text
        conn.set_progress_handler(progress, PROGRESS_STEPS)
        if allowed is not None:
            try:  # our own query, before the authorizer is installed
                views = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
            except sqlite3.Error as exc:
                raise _sqlite_error(exc, denied, deadline, limits, path) from None
        conn.set_authorizer(authorizer)
        try:
            cursor = conn.execute(sql)
            columns = tuple(d[0] for d in (cursor.description or ()))
            if cursor.description is None:
                raise QueryRefused("the statement returns no rows; only a query is allowed")
            rows, truncated, nbytes = _fetch(cursor, limits, deadline, check_deadline)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if not lenient_text and "could not decode to utf-8" in str(exc).lower():
                raise _NotUtf8() from None
            raise _sqlite_error(exc, denied, deadline, limits, path) from None
        return QueryResult(columns, rows, time.monotonic() - start, truncated, nbytes)
    finally:
        conn.close()


def _decode_text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _sqlite_error(exc: Exception, denied: list[str], deadline: float, limits: Limits, path: Path) -> QueryError:
    msg = str(exc)
    low = msg.lower()
    if "interrupted" in low and time.monotonic() >= deadline:
        return QueryTimeout(f"the query ran past its {limits.timeout:g} s deadline and was stopped")
    if denied or "not authorized" in low or "authorization denied" in low:
        what = "; ".join(dict.fromkeys(denied)) or msg
        return QueryRefused(f"the database refused the query: it tries to {what}")
    if "one statement at a time" in low:
        return QueryRefused("the SQL has more than one statement; exactly one query is allowed")
    if "readonly" in low or "read-only" in low:
        return QueryRefused(f"the database refused the query: {msg}")
    if "file is not a database" in low or "unable to open" in low or "disk i/o" in low:
        return DatabaseUnavailable(f"cannot read database {path}: {msg}")
    syntax = any(s in low for s in ("syntax error", "incomplete input", "unrecognized token"))
    return QueryFailed(msg, syntax=syntax)


# -- DuckDB ----------------------------------------------------------------------------------------


def import_duckdb() -> Any:
    """The duckdb module, or MissingExtraError with the install line."""
    try:
        import duckdb
    except ImportError:
        raise MissingExtraError("duckdb", "duckdb", "querying a DuckDB database") from None
    return duckdb


def duckdb_config(threads: int, memory_limit: str) -> dict[str, Any]:
    """Connect-time settings; with ``lock_configuration`` no query can change them."""
    return {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "temp_directory": "",  # never spill into a folder next to the database
        "threads": threads,
        "memory_limit": memory_limit,
        "lock_configuration": True,
    }


# Opening a DuckDB file costs ~40 ms; a query on a new connection (``cursor()``) to an open
# database costs well under 1 ms. So each process keeps a few open read-only database instances,
# keyed by the file's identity, and every query gets a fresh connection to one: temp objects and
# session state are per connection, and the instance's configuration is locked.
_DUCKDB_INSTANCES: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_DUCKDB_LOCK = threading.Lock()
DUCKDB_MAX_INSTANCES = 4


def _duckdb_instance(duckdb: Any, path: Path, threads: int, memory_limit: str) -> Any:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size, st.st_ino, threads, memory_limit)
    with _DUCKDB_LOCK:
        conn = _DUCKDB_INSTANCES.get(key)
        if conn is not None:
            _DUCKDB_INSTANCES.move_to_end(key)
            return conn
        config = duckdb_config(threads, memory_limit)
        try:
            conn = duckdb.connect(str(path), read_only=True, config=config)
        except duckdb.Error as exc:
            if "lock_configuration" not in str(exc):
                raise
            # Older DuckDB without lock_configuration: external access stays off regardless,
            # because DuckDB refuses to re-enable enable_external_access while running.
            config.pop("lock_configuration")
            conn = duckdb.connect(str(path), read_only=True, config=config)
        _DUCKDB_INSTANCES[key] = conn
        while len(_DUCKDB_INSTANCES) > DUCKDB_MAX_INSTANCES:
            _, old = _DUCKDB_INSTANCES.popitem(last=False)
            old.close()
        return conn


def close_duckdb_instances() -> None:
    """Close the cached DuckDB databases of this process (releases their file locks)."""
    with _DUCKDB_LOCK:
        while _DUCKDB_INSTANCES:
            _DUCKDB_INSTANCES.popitem()[1].close()


def run_duckdb(
    path: Path,
    sql: str,
    limits: Limits,
    *,
    threads: int = 1,
    memory_limit: str = "1GB",
) -> QueryResult:
    """Run one query on a DuckDB file, read-only, without file access, bounded."""
    duckdb = import_duckdb()
    start = time.monotonic()
    deadline = start + limits.timeout
    if not path.is_file():
        raise DatabaseUnavailable(f"database file not found: {path}")
    try:
        conn = _duckdb_instance(duckdb, path, threads, memory_limit).cursor()
    except duckdb.Error as exc:
        raise DatabaseUnavailable(f"cannot open database {path}: {_first_line(exc)}") from None

    def check_deadline() -> None:
        if time.monotonic() > deadline:
            raise QueryTimeout(f"the query ran past its {limits.timeout:g} s deadline and was stopped")

    def interrupt() -> None:
        try:
            conn.interrupt()
        except Exception:  # the query finished and the connection closed meanwhile
            pass

    timer = threading.Timer(limits.timeout, interrupt)
    timer.daemon = True
    try:
        try:
            # DuckDB runs every statement of a multi-statement string, so its own parser must
            # see exactly one, and it must be a SELECT (not PRAGMA, CALL, SET, COPY, ...).
            statements = conn.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryFailed(_first_line(exc), syntax=True) from None
        if len(statements) != 1:
            raise QueryRefused(
                f"the SQL has {len(statements)} statements; exactly one query is allowed"
            )
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise QueryRefused(f"only a query is allowed; DuckDB reads this as a {kind.name} statement")
        timer.start()
        try:
            cursor = conn.execute(sql)
            if cursor.description is None:
                raise QueryRefused("the statement returns no rows; only a query is allowed")
            columns = tuple(d[0] for d in cursor.description)
            rows, truncated, nbytes = _fetch(cursor, limits, deadline, check_deadline)
        except duckdb.InterruptException:
            raise QueryTimeout(
                f"the query ran past its {limits.timeout:g} s deadline and was stopped"
            ) from None
        except duckdb.PermissionException as exc:
            raise QueryRefused(f"the database refused the query: {_first_line(exc)}") from None
        except duckdb.ParserException as exc:
            raise QueryFailed(_first_line(exc), syntax=True) from None
        except duckdb.Error as exc:
            msg = _first_line(exc)
            if "read-only" in msg.lower():
                raise QueryRefused(f"the database refused the query: {msg}") from None
            raise QueryFailed(msg) from None
        return QueryResult(columns, rows, time.monotonic() - start, truncated, nbytes)
    finally:
        timer.cancel()
        conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
