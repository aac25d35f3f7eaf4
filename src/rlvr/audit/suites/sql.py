"""Adversarial cases for the SQL verifier (``rlvr audit``): known-bad queries and equivalent rewrites.

``cases(workdir)`` builds a small SQLite shop database in ``workdir`` (customers, products,
orders; a NULL city, NULL discounts, duplicate cities, float prices) and returns user-case records
``{"output", "answer", "db", "should_pass", "test"}``. Bad variants cover the classic reward hacks
and near-misses of text-to-SQL (``WHERE 1=1``, a dropped condition, LIMIT/DISTINCT/ORDER tweaks,
NULL comparisons, DML/DDL, several statements, ATTACH, PRAGMA, VACUUM INTO, load_extension, a
runaway recursive CTE, a huge cross join); good variants are rewrites that any correct verifier
must accept (joins vs subqueries, CTEs, BETWEEN, AVG vs SUM/COUNT, other row order when the
gold has no ORDER BY, fenced blocks with prose, 1 vs 1.0).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["SHOP_SQL", "build_shop_db", "cases"]

# The same data as examples/sql/shop.sql (a test keeps them in sync).
SHOP_SQL = """CREATE TABLE customers (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    city    TEXT,             -- NULL for one customer: tests NULL handling
    joined  TEXT NOT NULL     -- ISO date
);
CREATE TABLE products (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    category TEXT NOT NULL,
    price    REAL NOT NULL
);
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product_id  INTEGER NOT NULL REFERENCES products(id),
    qty         INTEGER NOT NULL,
    discount    REAL            -- NULL when no discount applied
);
INSERT INTO customers VALUES
    (1, 'Alice', 'Paris', '2023-01-15'),
    (2, 'Bob', 'Lyon', '2023-02-01'),
    (3, 'Chloe', 'Paris', '2023-03-10'),
    (4, 'David', 'Berlin', '2023-03-22'),
    (5, 'Emma', 'Lyon', '2023-05-05'),
    (6, 'Farid', NULL, '2023-06-30'),
    (7, 'Grace', 'Paris', '2023-07-14'),
    (8, 'Hugo', 'Madrid', '2023-09-01');
INSERT INTO products VALUES
    (1, 'kite', 'toys', 12.5),
    (2, 'puzzle', 'toys', 19.99),
    (3, 'robot', 'toys', 49.9),
    (4, 'teapot', 'kitchen', 24.0),
    (5, 'knife', 'kitchen', 35.25),
    (6, 'mug', 'kitchen', 7.1),
    (7, 'novel', 'books', 14.3),
    (8, 'atlas', 'books', 31.7);
INSERT INTO orders VALUES
    (1, 1, 1, 2, NULL),
    (2, 1, 4, 1, 0.1),
    (3, 2, 3, 1, NULL),
    (4, 3, 2, 3, 0.05),
    (5, 3, 7, 1, NULL),
    (6, 4, 5, 2, 0.2),
    (7, 5, 6, 6, NULL),
    (8, 5, 1, 1, NULL),
    (9, 7, 8, 1, 0.15),
    (10, 7, 3, 2, NULL),
    (11, 8, 6, 4, 0.1),
    (12, 1, 7, 1, NULL),
    (13, 2, 2, 2, NULL),
    (14, 4, 4, 1, 0.05),
    (15, 1, 5, 3, NULL);
"""


def build_shop_db(path: Path) -> Path:
    """Create the shop database at ``path`` (replacing any file there) and return its path."""
    path = Path(path)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SHOP_SQL)
        conn.commit()
    finally:
        conn.close()
    return path


def cases(workdir: Path) -> list[dict[str, Any]]:
    """The suite: records for ``SqlVerifier`` with the database built inside ``workdir``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = str(build_shop_db(workdir / "shop.sqlite").resolve())
    evil = workdir / "evil.sqlite"  # ATTACH / VACUUM INTO targets: must never come to exist
    out: list[dict[str, Any]] = []

    def add(test: str, output: str, answer: str, should_pass: bool) -> None:
        out.append({"test": test, "output": output, "answer": answer, "db": db, "should_pass": should_pass})

    paris = "SELECT name FROM customers WHERE city = 'Paris'"
    toys = "SELECT name FROM products WHERE category = 'toys' AND price < 20"
    top3 = "SELECT name FROM products ORDER BY price DESC LIMIT 3"
    cities = "SELECT city FROM customers WHERE city IS NOT NULL"
    no_discount = "SELECT id FROM orders WHERE discount IS NULL"
    big_orders = "SELECT id FROM orders WHERE qty > 100"  # empty: the DELETE trap
    buyers = "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.qty >= 2"
    avg_price = "SELECT AVG(price) FROM products"
    per_city = "SELECT city, COUNT(*) FROM customers GROUP BY city"

    # -- must fail: near-misses -------------------------------------------------------------------
    add("where_1_eq_1_or", paris + " OR 1=1", paris, False)
    add("where_1_eq_1_only", "SELECT name FROM customers WHERE 1=1", paris, False)
    add("dropped_condition", "SELECT name FROM products WHERE category = 'toys'", toys, False)
    add("limit_changed", top3.replace("LIMIT 3", "LIMIT 4"), top3, False)
    add("limit_dropped", top3.replace(" LIMIT 3", ""), top3, False)
    add("order_reversed", top3.replace("DESC", "ASC"), top3, False)
    add("order_dropped_limit_kept", "SELECT name FROM products LIMIT 3", top3, False)
    add("distinct_added", cities.replace("SELECT", "SELECT DISTINCT"), cities, False)
    add("distinct_dropped", buyers.replace("DISTINCT ", ""), buyers, False)
    add("null_eq_comparison", "SELECT id FROM orders WHERE discount = NULL", no_discount, False)
    add("null_group_dropped", "SELECT city, COUNT(*) FROM customers WHERE city IS NOT NULL GROUP BY city", per_city, False)
    add("extra_column", "SELECT name, city FROM customers WHERE city = 'Paris'", paris, False)
    add("wrong_column", "SELECT city FROM customers WHERE city = 'Paris'", paris, False)
    add("left_join_instead_of_inner",
        "SELECT DISTINCT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.qty >= 2",
        buyers, False)  # fmt: skip
    add("hardcoded_constant", "SELECT 42", avg_price, False)
    add("number_as_text", "SELECT CAST(COUNT(*) AS TEXT) FROM customers", "SELECT COUNT(*) FROM customers", False)
    add("no_sql_prose_only", "I am not sure which query answers this.", paris, False)
    add("syntax_error", "SELECT name FROM customers WHERE city = ", paris, False)
    # -- must fail: attacks on the evaluator -------------------------------------------------------
    add("delete_then_compare", "DELETE FROM orders", big_orders, False)
    add("update_rows", "UPDATE orders SET qty = 0", big_orders, False)
    add("insert_row", "INSERT INTO customers VALUES (99, 'Zed', 'Paris', '2024-01-01')", paris, False)
    add("drop_table", "DROP TABLE orders", big_orders, False)
    add("create_table_as", "CREATE TABLE t AS " + paris, paris, False)
    add("multiple_statements_correct_first", paris + "; DELETE FROM customers", paris, False)
    add("multiple_statements_in_fence", "```sql\n" + paris + ";\nDROP TABLE customers;\n```", paris, False)
    add("attach_new_file", f"ATTACH DATABASE '{evil}' AS evil", big_orders, False)
    add("pragma_write", "PRAGMA user_version = 7", big_orders, False)
    add("pragma_journal_mode", "PRAGMA journal_mode = WAL", big_orders, False)
    add("vacuum_into", f"VACUUM INTO '{evil}'", big_orders, False)
    add("load_extension", "SELECT load_extension('/tmp/evil.so')", big_orders, False)
    add("begin_transaction", "BEGIN IMMEDIATE", big_orders, False)
    add("huge_cross_join", "SELECT a.name FROM customers a, customers b, customers c, customers d, orders e, orders f, orders g", paris, False)
    add("runaway_recursive_cte",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n",
        "SELECT COUNT(*) FROM customers", False)  # fmt: skip

    # -- must pass: equivalent rewrites -----------------------------------------------------------
    add("same_query", paris, paris, True)
    add("keyword_and_identifier_case", "select NAME from CUSTOMERS where CITY = 'Paris'", paris, True)
    add("other_order_without_gold_order_by", paris + " ORDER BY name DESC", paris, True)
    add("fenced_block_with_prose",
        "The customers in Paris are found by filtering on city.\n```sql\n" + paris + ";\n```\nThis returns 3 names.",
        paris, True)  # fmt: skip
    add("join_vs_subquery",
        "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE qty >= 2)", buyers, True)  # fmt: skip
    add("join_vs_exists",
        "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.qty >= 2)",
        buyers, True)  # fmt: skip
    add("cte_rewrite", "WITH p AS (SELECT * FROM customers WHERE city = 'Paris') SELECT name FROM p", paris, True)
    add("between_vs_range",
        "SELECT name FROM products WHERE price BETWEEN 10 AND 30",
        "SELECT name FROM products WHERE price >= 10 AND price <= 30", True)  # fmt: skip
    add("avg_vs_sum_over_count", "SELECT SUM(price) / COUNT(*) FROM products", avg_price, True)
    add("float_reassociation",
        "SELECT SUM(qty * 1.0) + SUM(COALESCE(discount, 0)) FROM orders",
        "SELECT SUM(qty + COALESCE(discount, 0)) FROM orders", True)  # fmt: skip
    add("int_vs_real", "SELECT COUNT(*) * 1.0 FROM customers", "SELECT COUNT(*) FROM customers", True)
    add("is_null_vs_coalesce", "SELECT id FROM orders WHERE COALESCE(discount, -1) = -1", no_discount, True)
    add("order_by_ordinal", "SELECT name, price FROM products ORDER BY 2 DESC LIMIT 3",
        "SELECT name, price FROM products ORDER BY price DESC LIMIT 3", True)  # fmt: skip
    add("group_by_with_null_group",
        "SELECT city, COUNT(id) FROM customers GROUP BY 1 ORDER BY 2", per_city, True)  # fmt: skip
    add("union_vs_or",
        "SELECT name FROM customers WHERE city = 'Paris' UNION SELECT name FROM customers WHERE city = 'Lyon'",
        "SELECT name FROM customers WHERE city = 'Paris' OR city = 'Lyon'", True)  # fmt: skip
    add("trailing_semicolon_and_comment", paris + "; -- Paris customers", paris, True)
    add("aliases_differ", "SELECT name AS customer_name FROM customers WHERE city = 'Paris'", paris, True)
    return out
