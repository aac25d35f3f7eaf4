"""The static gate (sqlglot): one statement, a query, allowed tables, top-level ORDER BY."""

from __future__ import annotations

import pytest

from rlvr.verifiers.sql.guard import analyze_sql


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "SELECT 1;",
        "SELECT 1; -- trailing comment",
        "select a from t where b = 'DELETE FROM t; DROP TABLE t'",
        'SELECT "update", "insert" FROM t',
        "WITH c AS (SELECT 1 AS a) SELECT a FROM c",
        "SELECT a FROM t UNION ALL SELECT b FROM u",
        "SELECT a FROM t EXCEPT SELECT b FROM u",
        "VALUES (1), (2)",
        "(SELECT a FROM t)",
        "SELECT replace(name, 'a', 'b') FROM t",
    ],
)
def test_queries_accepted(sql: str, full: bool) -> None:
    info = analyze_sql(sql, "sqlite", full=full)
    assert info.problem is None, info


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize(
    "sql,problem,needle",
    [
        ("DELETE FROM t", "not_query", "DELETE"),
        ("INSERT INTO t VALUES (1)", "not_query", "INSERT"),
        ("REPLACE INTO t VALUES (1)", "not_query", "REPLACE"),
        ("UPDATE t SET a = 1", "not_query", "UPDATE"),
        ("DROP TABLE t", "not_query", "DROP"),
        ("CREATE TABLE x AS SELECT 1", "not_query", "CREATE"),
        ("ATTACH 'x.db' AS x", "not_query", "ATTACH"),
        ("PRAGMA user_version = 1", "not_query", "PRAGMA"),
        ("VACUUM INTO 'x.db'", "not_query", "VACUUM"),
        ("BEGIN", "not_query", "TRANSACTION"),
        ("SELECT 1; SELECT 2", "multiple", "2 statements"),
        ("SELECT 1; DELETE FROM t", "multiple", "2 statements"),
        ("WITH x AS (SELECT 1) DELETE FROM t", "not_query", "DELETE"),
        ("SELECT * INTO backup FROM t", "forbidden", "INTO"),
        ("-- just a comment", "empty", "no statement"),
    ],
)
def test_refusals_have_reasons(sql: str, problem: str, needle: str, full: bool) -> None:
    info = analyze_sql(sql, "sqlite", full=full)
    assert info.problem == problem, info
    assert needle in info.reason


def test_syntax_errors() -> None:
    info = analyze_sql("SELECT * FROM", "sqlite")
    assert info.problem == "parse" and "does not parse" in info.reason
    # The token fast path does not look for syntax errors: the engine reports them (unparsable).
    assert analyze_sql("SELECT * FROM", "sqlite", full=False).problem is None


def test_duckdb_dialect_refuses_copy_and_export() -> None:
    assert analyze_sql("COPY t TO 'x.csv'", "duckdb").problem == "not_query"
    assert analyze_sql("SET enable_external_access = true", "duckdb", full=False).problem == "not_query"
    # reading files looks like a query to sqlglot: the engine refuses it (tested in the exploits)
    assert analyze_sql("SELECT * FROM read_csv('x.csv')", "duckdb").problem is None


@pytest.mark.parametrize(
    "sql,ordered",
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("SELECT a FROM t ORDER BY a DESC LIMIT 3", True),
        ("WITH c AS (SELECT a FROM t) SELECT a FROM c ORDER BY a", True),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
        ("(SELECT a FROM t ORDER BY a)", True),
        ("SELECT a FROM (SELECT a FROM t ORDER BY a)", False),
        ("WITH c AS (SELECT a FROM t ORDER BY a LIMIT 2) SELECT a FROM c", False),
        ("SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY b)", False),
        ("SELECT a FROM t", False),
    ],
)
def test_top_level_order_by(sql: str, ordered: bool) -> None:
    assert analyze_sql(sql, "sqlite").ordered is ordered


def test_table_allow_list_ignores_cte_names_and_is_case_insensitive() -> None:
    allowed = ("Customers",)
    assert analyze_sql("SELECT name FROM customers", "sqlite", allowed).problem is None
    assert analyze_sql("WITH orders AS (SELECT 1) SELECT * FROM orders", "sqlite", allowed).problem is None
    info = analyze_sql("SELECT * FROM customers JOIN orders ON 1", "sqlite", allowed)
    assert info.problem == "table" and "'orders'" in info.reason
    info = analyze_sql("SELECT (SELECT COUNT(*) FROM secrets) FROM customers", "sqlite", allowed, full=False)
    assert info.problem == "table"
    assert analyze_sql("SELECT * FROM main.customers", "sqlite", allowed).tables == ("customers",)


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM query_table('secrets')", "SELECT * FROM read_csv('x.csv')", "SELECT * FROM range(3)"],
)
def test_table_functions_refused_with_an_allow_list(sql: str) -> None:
    info = analyze_sql(sql, "duckdb", ("customers",))
    assert info.problem == "table" and "table function" in info.reason
    assert analyze_sql(sql, "duckdb").problem is None  # without an allow-list the engine decides
