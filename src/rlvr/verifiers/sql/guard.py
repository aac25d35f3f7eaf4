"""Static checks on a SQL text before anything runs: one statement, a query, allowed tables only.

This is the first of two gates. It gives clear reasons ("DELETE is not a query") and finds the
gold query's top-level ORDER BY; the second gate is the database engine itself (SQLite's
authorizer, DuckDB's read-only, no-external-access connection and its own statement parser), which
holds even where sqlglot and the engine disagree about a text.

sqlglot is imported lazily: importing rlvr must stay light.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["QueryInfo", "analyze_sql"]

# Node types that never belong in a read-only query, wherever they appear in the tree. Looked up
# by name so that older sqlglot versions (which lack some of them) still work.
_FORBIDDEN_NODE_NAMES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command",
    "Pragma", "Attach", "Detach", "Copy", "Set", "Transaction", "Commit", "Rollback", "Use",
    "Export", "Analyze", "Grant", "Install", "LoadData", "Cache", "Uncache", "Refresh", "Kill",
)  # fmt: skip

_ANALYZE_CACHE_SIZE = 2048


@dataclass(frozen=True)
class QueryInfo:
    """What the static check found.

    ``problem`` is ``None`` for an acceptable query; otherwise one of ``"parse"`` (sqlglot could
    not parse the text), ``"empty"`` (no statement), ``"multiple"``, ``"not_query"``,
    ``"forbidden"`` (a write/DDL/command node inside a query), ``"table"`` (a table outside the
    allow-list). ``reason`` is a sentence for the verdict. ``ordered`` is True when the statement
    has a top-level ORDER BY (its row order is part of its meaning).
    """

    problem: str | None
    reason: str
    ordered: bool = False
    order_key: tuple[int, ...] | None = None
    """Output column indices the top-level ORDER BY sorts on, when each term is an output column
    (by position, alias or the same expression); None when unknown."""
    kind: str = ""
    tables: tuple[str, ...] = ()


_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str, tuple[str, ...] | None, bool], QueryInfo] = OrderedDict()
_log_filter_installed = False


class _DropCommandFallback(logging.Filter):
    """sqlglot logs a warning when it parses unknown syntax as a generic Command (``VACUUM INTO``);
    we refuse such statements with our own reason, so the warning is noise on a user's stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


def _install_log_filter() -> None:
    global _log_filter_installed
    if not _log_filter_installed:
        logging.getLogger("sqlglot").addFilter(_DropCommandFallback())
        _log_filter_installed = True


def analyze_sql(
    sql: str, dialect: str, allowed_tables: tuple[str, ...] | None = None, *, full: bool = True
) -> QueryInfo:
    """Check ``sql`` statically (cached: RL groups repeat the same query often).

    ``full=False`` allows a fast path: when sqlglot's tokenizer shows one statement that starts
    like a query and holds no statement keyword (INSERT, PRAGMA, ATTACH, SET, INTO, ...) anywhere,
    and no table allow-list applies, the text is accepted without building a syntax tree (about
    5x cheaper). Anything else gets the full parse, so refusals keep their precise reasons.
    ``ordered`` is only meaningful for a full analysis.
    """
    key = (sql, dialect, allowed_tables, full)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    info = None
    if not full and allowed_tables is None and _plain_query_tokens(sql, dialect):
        info = QueryInfo(None, "ok", kind="SELECT")
    if info is None:
        info = _analyze(sql, dialect, allowed_tables)
    with _lock:
        _cache[key] = info
        while len(_cache) > _ANALYZE_CACHE_SIZE:
            _cache.popitem(last=False)
    return info


# Token types that start a non-query statement or write inside one; looked up by name because
# sqlglot versions differ. A query mentioning one of these words as a keyword takes the full parse.
_DENY_TOKEN_NAMES = (
    "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "PRAGMA",
    "COMMAND", "COPY", "SET", "USE", "BEGIN", "COMMIT", "ROLLBACK", "TRUNCATE", "LOAD", "GRANT",
    "ANALYZE", "DESCRIBE", "SHOW", "RETURNING", "INTO", "EXECUTE", "FETCH", "RENAME", "INSTALL",
    "EXPORT", "SUMMARIZE", "VACUUM",
)  # fmt: skip
_QUERY_START_NAMES = ("SELECT", "WITH", "VALUES", "L_PAREN")


def _plain_query_tokens(sql: str, dialect: str) -> bool:
    """True when the tokens alone show one read-only query (see ``analyze_sql``)."""
    import sqlglot
    from sqlglot.tokens import TokenType

    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except Exception:
        return False
    if not tokens or tokens[0].token_type.name not in _QUERY_START_NAMES:
        return False
    deny = {getattr(TokenType, n) for n in _DENY_TOKEN_NAMES if hasattr(TokenType, n)}
    semicolon = TokenType.SEMICOLON
    seen_semicolon = False
    for tok in tokens:
        if tok.token_type == semicolon:
            seen_semicolon = True
        elif seen_semicolon or tok.token_type in deny:
            return False  # a second statement, or a statement keyword
    return True


def _analyze(sql: str, dialect: str, allowed_tables: tuple[str, ...] | None) -> QueryInfo:
    import sqlglot
    from sqlglot import exp

    _install_log_filter()
    try:
        # Empty statements (";;") and trailing comments (parsed as a bare Semicolon) are not statements.
        semicolon = getattr(exp, "Semicolon", None)
        statements = [
            s for s in sqlglot.parse(sql, read=dialect)
            if s is not None and not (semicolon is not None and isinstance(s, semicolon))
        ]  # fmt: skip
    except Exception as exc:  # ParseError, TokenError, or a sqlglot bug on odd input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return QueryInfo("parse", f"the SQL does not parse: {first[:300]}")
    if not statements:
        return QueryInfo("empty", "the SQL contains no statement")
    if len(statements) > 1:
        return QueryInfo(
            "multiple", f"the SQL has {len(statements)} statements; exactly one query is allowed"
        )
    tree = statements[0]
    top = tree
    while isinstance(top, (exp.Subquery, exp.Paren)) and isinstance(top.this, exp.Expression):
        top = top.this  # "(SELECT ... ORDER BY x)" is still an ordered query
    kind = _kind(top)
    query_types: tuple[type, ...] = tuple(
        t for t in (getattr(exp, "Query", None), exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values)
        if t is not None
    )  # fmt: skip
    if not isinstance(top, query_types):
        return QueryInfo("not_query", f"only a query (SELECT, WITH ... SELECT, UNION, VALUES) is allowed; got {kind}", kind=kind)
    if top.args.get("into") is not None:
        return QueryInfo("forbidden", "SELECT ... INTO creates a table; only a plain query is allowed", kind=kind)
    forbidden = tuple(getattr(exp, n) for n in _FORBIDDEN_NODE_NAMES if hasattr(exp, n))
    bad = next(iter(tree.find_all(*forbidden)), None) if forbidden else None
    if bad is not None:
        return QueryInfo("forbidden", f"the query contains a {_kind(bad)} statement, which is not read-only", kind=kind)
    tables, functions = _tables(tree, exp)
    if allowed_tables is not None:
        if functions:
            # DuckDB's query_table('t') / query('...') read tables named by strings: with an
            # allow-list, table functions are refused outright.
            return QueryInfo(
                "table",
                f"the query uses the table function {functions[0]}(), which is not allowed with an allow-list of tables",
                kind=kind,
                tables=tables,
            )
        allowed = {t.lower() for t in allowed_tables}
        outside = [t for t in tables if t.lower() not in allowed]
        if outside:
            return QueryInfo(
                "table",
                f"the query reads table {outside[0]!r}, which is not in the allowed tables "
                f"({', '.join(sorted(allowed_tables))})",
                kind=kind,
                tables=tables,
            )
    order = top.args.get("order")
    return QueryInfo(
        None,
        "ok",
        ordered=order is not None,
        order_key=_order_key(top, order, exp) if order is not None else None,
        kind=kind,
        tables=tables,
    )


def _order_key(top: Any, order: Any, exp: Any) -> tuple[int, ...] | None:
    """Map each ORDER BY term to an output column index, or give up (None)."""
    selects = list(getattr(top, "selects", []) or [])
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)) for e in selects):
        return None  # SELECT *: the output columns are not known statically
    key: list[int] = []
    for term in order.expressions:
        expr = term.this if isinstance(term, exp.Ordered) else term
        idx = None
        if isinstance(expr, exp.Literal) and expr.is_int:
            n = int(expr.this)
            idx = n - 1 if 1 <= n <= len(selects) else None
        elif isinstance(top, exp.Select):
            for i, item in enumerate(selects):
                inner = item.this if isinstance(item, exp.Alias) else item
                if expr == inner or (
                    isinstance(expr, exp.Column) and not expr.table and expr.name and expr.name == item.alias_or_name
                ):
                    idx = i
                    break
        if idx is None:
            return None
        key.append(idx)
    return tuple(key)


def _kind(node: Any) -> str:
    """A statement's keyword for messages: DELETE, CREATE, PRAGMA, or the command's own word."""
    from sqlglot import exp

    if isinstance(node, exp.Command):
        return str(node.this).upper()
    name = type(node).__name__
    return {"TruncateTable": "TRUNCATE", "LoadData": "LOAD DATA"}.get(name, name.upper())


def _tables(tree: Any, exp: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names of real tables the query reads (CTE names excluded), in first-seen order, and the
    names of table functions it calls (``read_csv(...)``, ``generate_series(...)``)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    seen: dict[str, None] = {}
    functions: dict[str, None] = {}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            fn = table.this
            functions.setdefault(str(getattr(fn, "name", "") or type(fn).__name__).lower(), None)
            continue
        name = table.name
        if not name or (name.lower() in ctes and not table.args.get("db")):
            continue
        seen.setdefault(name, None)
    return tuple(seen), tuple(functions)
