"""The SQL verifier family, read in order: ``guard`` (static gate: one read-only query over allowed
tables, sqlglot) → ``backends`` (SQLite / DuckDB, read-only, with deadlines and row and size caps)
→ ``compare`` (result sets: multiset or ordered, tolerant numbers, column permutations) →
``verifier`` (``SqlVerifier``: extraction, the gold cache, the verdict).
"""

from rlvr.verifiers.sql.verifier import DUCKDB_SUFFIXES, SqlSettings, SqlVerifier

__all__ = ["DUCKDB_SUFFIXES", "SqlSettings", "SqlVerifier"]
