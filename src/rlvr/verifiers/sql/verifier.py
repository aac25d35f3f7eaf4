"""The SQL verifier: run the predicted query and the gold query, read-only and bounded, and compare.

Pipeline for one sample (``answer`` = gold SQL, ``db`` = database file, optional
``order_matters``):

1. Extract the SQL from the output (``extract_sql``: a fenced ```sql block, else the text from
   the first SELECT/WITH line).
2. Static gate (``guard``, sqlglot): exactly one statement, a query, only allowed tables.
   A refusal is ``incorrect`` with the reason (the model wrote it).
3. Gold: run once per (database file version, gold SQL) and cached in a bounded LRU. Anything
   wrong with the gold or the database is the dataset's fault: status ``error``.
4. Prediction: run on its own fresh connection (``backends``: SQLite ``mode=ro`` + allow-list
   authorizer, or DuckDB read-only without external access), with a deadline that really stops
   the engine, and a row cap of gold rows + 1 (more rows than the gold is already wrong, so a
   runaway cross join stops early) and a size cap.
5. Compare (``compare``): multiset by default, ordered when the gold has a top-level
   ORDER BY or the sample says ``order_matters`` (rows that tie on every ORDER BY key may come
   in any order, when those keys are output columns); NULL equals NULL; numbers by value with a
   relative + absolute tolerance (1 == 1.0, but '1' != 1); optional column permutation.
   ``details`` shows row counts, columns, missing and extra rows, the first mismatch.

Known limits: a gold ``ORDER BY ... LIMIT n`` with ties at the cut admits several right answers,
of which only the gold's is accepted; SQLite checks the deadline between VM instructions, so one
pathological built-in call (``printf('%.*c', 2000000000, 'x')`` loops for ~20-40 s, memory
bounded) overruns it — the engine's per-sample hard timeout (it kills the worker) is the
backstop; table-valued functions (``json_each``, ``pragma_*``) are refused by the authorizer.

Prediction parse errors: text sqlglot cannot parse is given to the engine anyway (when
``parse_fallback``, the default): sqlglot is not SQLite's or DuckDB's parser, so refusing what it
cannot read would mark valid queries wrong, while the engine-level restrictions are the real
security boundary. If the engine also reports a syntax error, the verdict is ``unparsable`` (no
query could be read from the output: a format failure, which reports keep apart from wrong
logic); an engine error at run time (no such column) is ``incorrect``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.extract import extract_sql
from rlvr.verifiers.sql.backends import (
    DatabaseUnavailable,
    Limits,
    QueryError,
    QueryFailed,
    QueryRefused,
    QueryResult,
    QueryTimeout,
    ResultTooLarge,
    close_duckdb_instances,
    import_duckdb,
    run_duckdb,
    run_sqlite,
)
from rlvr.verifiers.sql.compare import Row, Tolerance, compare_results, jsonable_row, normalize_rows
from rlvr.verifiers.sql.guard import analyze_sql

__all__ = ["SqlSettings", "SqlVerifier"]

_BACKENDS = ("auto", "sqlite", "duckdb")
DUCKDB_SUFFIXES = (".duckdb", ".ddb")
_DIALECT = {"sqlite": "sqlite", "duckdb": "duckdb"}


@dataclass(frozen=True)
class SqlSettings:
    """Options of the SQL verifier (``--opt key=value`` on the command line)."""

    backend: str = "auto"
    """'sqlite', 'duckdb', or 'auto' (DuckDB for .duckdb/.ddb files, else SQLite)."""
    timeout: float = 5.0
    """Seconds the predicted query may run; past it the engine is stopped (status timeout)."""
    gold_timeout: float = 20.0
    """Seconds the gold query may run (once per database and gold: results are cached)."""
    max_rows: int = 100_000
    """Most rows a gold result may have; a prediction is cut at the gold's row count + 1."""
    max_bytes: int = 64_000_000
    """Largest estimated result size, bytes (text and blob lengths, 8 per other value)."""
    rel_tol: float = 1e-6
    """Relative tolerance for comparing numbers."""
    abs_tol: float = 1e-9
    """Absolute tolerance for comparing numbers near zero."""
    permute_columns: bool = False
    """Also accept the gold's columns in another order (names are never compared)."""
    allowed_tables: tuple[str, ...] | None = None
    """Tables a prediction may read (case-insensitive); None allows every table."""
    parse_fallback: bool = True
    """Let the engine judge SQL that sqlglot cannot parse (see the module docstring)."""
    immutable: bool = False
    """SQLite: open with immutable=1 (no locks, no -wal/-shm files); only for files never written."""
    db_root: str | None = None
    """Folder for relative ``db`` paths; default: the JSONL file's folder, else the working dir."""
    cache_size: int = 256
    """Gold results kept (LRU, per process); 0 disables the cache."""
    max_value_bytes: int = 16_000_000
    """SQLite: largest string/blob a query may build (bounds zeroblob/randomblob memory)."""
    duckdb_threads: int = 1
    """DuckDB: threads per query (1 keeps workers from competing for cores)."""
    duckdb_memory_limit: str = "1GB"
    """DuckDB: memory limit per connection."""
    max_details_rows: int = 10
    """Missing/extra rows shown in ``details``."""

    def __post_init__(self) -> None:
        if self.backend not in _BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(_BACKENDS)}; got {self.backend!r}")
        for name in ("timeout", "gold_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {getattr(self, name)!r}")
        for name in ("max_rows", "max_bytes", "max_value_bytes", "duckdb_threads"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not (isinstance(self.cache_size, int) and self.cache_size >= 0):
            raise ConfigError(f"cache_size must be an integer >= 0, got {self.cache_size!r}")
        if not (isinstance(self.max_details_rows, int) and self.max_details_rows >= 0):
            raise ConfigError(f"max_details_rows must be an integer >= 0, got {self.max_details_rows!r}")
        if not (self.rel_tol >= 0 and self.abs_tol >= 0):
            raise ConfigError("rel_tol and abs_tol must be >= 0 (0 and 0 for exact comparison)")
        if self.allowed_tables is not None:
            if isinstance(self.allowed_tables, str):
                tables = tuple(t.strip() for t in self.allowed_tables.split(",") if t.strip())
            else:
                tables = tuple(str(t) for t in self.allowed_tables)
            if not tables:
                raise ConfigError("allowed_tables is empty; list at least one table or leave it unset")
            object.__setattr__(self, "allowed_tables", tables)


@dataclass(frozen=True)
class _Gold:
    """A gold run: normalised rows, or the reason it could not be used."""

    columns: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)
    ordered: bool = False
    order_key: tuple[int, ...] | None = None
    order_note: str = ""
    error: str | None = None
    elapsed: float = 0.0


class _LRU:
    """A small thread-safe LRU (gold results are shared by threads of one worker process)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, _Gold] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> _Gold | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: _Gold) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def _normalize(backend: str, rows: list[tuple[Any, ...]]) -> list[Row]:
    # SQLite hands back only int, float (never NaN: SQLite stores NaN as NULL), str, bytes and
    # None, which already compare by the rules; DuckDB's Decimal, bool, NaN, lists need the pass.
    return rows if backend == "sqlite" else normalize_rows(rows)


class SqlVerifier(BaseVerifier):
    """Scores text-to-SQL outputs by executing them read-only against the sample's database."""

    name = "sql"
    required_fields = ("output", "answer", "db")

    def __init__(self, **options: Any) -> None:
        """Options are the fields of ``SqlSettings`` (timeout, rel_tol, permute_columns, ...)."""
        unknown = sorted(set(options) - set(SqlSettings.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"unknown option(s) for the sql verifier: {', '.join(unknown)}; "
                f"known: {', '.join(SqlSettings.__dataclass_fields__)}"
            )
        self.settings = SqlSettings(**options)
        if self.settings.backend == "duckdb":
            import_duckdb()  # a missing extra is a setup problem: fail now, loudly
        self.tol = Tolerance(self.settings.rel_tol, self.settings.abs_tol)
        self._cache = _LRU(self.settings.cache_size)
        self._paths: dict[tuple[str, str | None], Path] = {}

    # Worker processes get the settings; each builds its own cache.
    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self.tol = Tolerance(self.settings.rel_tol, self.settings.abs_tol)
        self._cache = _LRU(self.settings.cache_size)
        self._paths = {}

    def close(self) -> None:
        """Close the DuckDB databases this process keeps open (releases their file locks)."""
        close_duckdb_instances()

    def __repr__(self) -> str:
        return f"SqlVerifier(backend={self.settings.backend!r}, timeout={self.settings.timeout})"

    # -- helpers ---------------------------------------------------------------------------------
    def _resolve_db(self, db: str, metadata: Any) -> Path:
        base = None
        if not os.path.isabs(db) and not db.startswith("~"):
            base = self.settings.db_root or metadata.get("_source_dir") or os.getcwd()
        key = (db, base)
        path = self._paths.get(key)
        if path is None:  # resolve() walks every component: worth remembering per (db, folder)
            p = Path(os.path.expanduser(db))
            path = (Path(base) / p if base else p).resolve()
            if len(self._paths) >= 4096:
                self._paths.clear()
            self._paths[key] = path
        return path

    def _backend_for(self, path: Path) -> str:
        if self.settings.backend != "auto":
            return self.settings.backend
        return "duckdb" if path.suffix.lower() in DUCKDB_SUFFIXES else "sqlite"

    def _run(self, backend: str, path: Path, sql: str, limits: Limits, allowed: tuple[str, ...] | None) -> QueryResult:
        s = self.settings
        if backend == "duckdb":
            return run_duckdb(path, sql, limits, threads=s.duckdb_threads, memory_limit=s.duckdb_memory_limit)
        return run_sqlite(path, sql, limits, allowed_tables=allowed, immutable=s.immutable)

    def _gold(self, backend: str, path: Path, gold_sql: str) -> _Gold:
        s = self.settings
        try:
            st = path.stat()
        except OSError as exc:
            return _Gold(error=f"the sample's database is not readable: {path} ({exc.strerror or exc})")
        key = (backend, str(path), st.st_mtime_ns, st.st_size, st.st_ino, gold_sql)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        info = analyze_sql(gold_sql, _DIALECT[backend])
        note = ""
        if info.problem == "parse":
            note = "sqlglot cannot parse the gold query, so its ORDER BY is unknown; order not compared"
        elif info.problem is not None:
            entry = _Gold(error=f"the gold query is unusable: {info.reason}")
            self._cache.put(key, entry)
            return entry
        limits = Limits(s.gold_timeout, s.max_rows, s.max_bytes, s.max_value_bytes)
        try:
            res = self._run(backend, path, gold_sql, limits, None)
        except DatabaseUnavailable as exc:
            return _Gold(error=str(exc))  # not cached: the file may appear or be repaired
        except QueryError as exc:
            entry = _Gold(error=f"the gold query failed: {exc}")
            self._cache.put(key, entry)
            return entry
        if res.truncated:
            entry = _Gold(error=f"the gold result has more than {s.max_rows:,} rows; raise max_rows")
        else:
            ordered = bool(info.ordered) if info.problem is None else False
            order_key = info.order_key if ordered else None
            entry = _Gold(res.columns, _normalize(backend, res.rows), ordered, order_key, note, None, res.elapsed)
        self._cache.put(key, entry)
        return entry

    # -- BaseVerifier ----------------------------------------------------------------------------
    def check(self, sample: Sample) -> Verdict:
        s = self.settings
        meta = sample.metadata
        gold_sql = sample.answer
        if not isinstance(gold_sql, str) or not gold_sql.strip():
            return Verdict.error("the sample's answer must be the gold SQL query (a non-empty string)")
        db = meta.get("db")
        if not isinstance(db, str) or not db.strip():
            return Verdict.error("the sample needs a 'db' field: the path of its SQLite or DuckDB file")
        order_matters = meta.get("order_matters")
        if order_matters is not None and not isinstance(order_matters, bool):
            return Verdict.error(f"order_matters must be true, false or absent; got {order_matters!r}")
        path = self._resolve_db(db, meta)
        backend = self._backend_for(path)
        sql = extract_sql(sample.output)
        details: dict[str, Any] = {"backend": backend, "db": str(path)}
        if not sql or not sql.strip():
            return Verdict.unparsable("no SQL query found in the output", **details)
        details["sql"] = sql if len(sql) <= 2000 else sql[:2000] + "..."
        dialect = _DIALECT[backend]
        info = analyze_sql(sql, dialect, s.allowed_tables, full=False)
        if info.problem == "empty":
            return Verdict.unparsable("the output's SQL holds no statement (only comments?)", **details)
        if info.problem == "parse":
            details["parse_error"] = info.reason
            # DuckDB has no per-table authorizer: an allow-list needs sqlglot's reading.
            if not s.parse_fallback or (backend == "duckdb" and s.allowed_tables is not None):
                return Verdict.unparsable(info.reason, **details)
        elif info.problem is not None:
            return Verdict.incorrect(info.reason, refused=info.problem, **details)

        gold = self._gold(backend, path, gold_sql)
        if gold.error is not None:
            return Verdict.error(gold.error, **details)
        ordered = gold.ordered if order_matters is None else order_matters
        details["order_matters"] = ordered
        details["order_source"] = (
            "sample" if order_matters is not None else ("gold ORDER BY" if gold.ordered else "default (multiset)")
        )
        if gold.order_note:
            details["note"] = gold.order_note

        # A prediction with more rows than the gold is wrong: fetching gold + 1 rows proves it.
        limits = Limits(s.timeout, len(gold.rows), s.max_bytes, s.max_value_bytes)
        try:
            res = self._run(backend, path, sql, limits, s.allowed_tables)
        except QueryTimeout as exc:
            return Verdict.timeout(str(exc), **details)
        except QueryFailed as exc:
            if exc.syntax:
                return Verdict.unparsable(f"the SQL does not parse ({backend} says: {exc})", **details)
            return Verdict.incorrect(f"the query failed: {exc}", **details)
        except (QueryRefused, ResultTooLarge) as exc:
            return Verdict.incorrect(str(exc), **details)
        except DatabaseUnavailable as exc:
            return Verdict.error(str(exc), **details)
        details["columns"] = {"gold": list(gold.columns), "predicted": list(res.columns)}
        details["elapsed_ms"] = round(res.elapsed * 1000, 3)
        if len(res.columns) != len(gold.columns):
            return Verdict.incorrect(
                f"the query returns {len(res.columns)} columns, the gold query {len(gold.columns)}", **details
            )
        pred_rows = _normalize(backend, res.rows)
        if res.truncated:
            details["rows"] = {"gold": len(gold.rows), "predicted": f">{len(gold.rows)}"}
            # Rows of the fetched prefix that the gold lacks (or that exceed the gold's count).
            partial = compare_results(gold.rows, pred_rows, ordered=False, tol=self.tol)
            details["extra_rows"] = [jsonable_row(r) for r in partial.extra[: s.max_details_rows]]
            return Verdict.incorrect(
                f"the query returns more than {len(gold.rows)} rows; the gold query returns {len(gold.rows)}",
                **details,
            )
        details["rows"] = {"gold": len(gold.rows), "predicted": len(pred_rows)}
        cmp = compare_results(
            gold.rows,
            pred_rows,
            ordered=ordered,
            tol=self.tol,
            permute_columns=s.permute_columns,
            order_key=gold.order_key,
        )
        if cmp.used_tolerance:
            details["within_tolerance"] = True
        if cmp.permutation is not None:
            details["column_permutation"] = list(cmp.permutation)
        if cmp.equal:
            return Verdict.correct(f"the query returns the gold result: {cmp.reason}", **details)
        n = s.max_details_rows
        if cmp.missing:
            details["missing_rows"] = [jsonable_row(r) for r in cmp.missing[:n]]
        if cmp.extra:
            details["extra_rows"] = [jsonable_row(r) for r in cmp.extra[:n]]
        if cmp.first_mismatch is not None:
            fm = cmp.first_mismatch
            details["first_mismatch"] = {
                "index": fm["index"],
                "gold": jsonable_row(fm["gold"]),
                "predicted": jsonable_row(fm["predicted"]),
            }
        return Verdict.incorrect(cmp.reason, **details)
