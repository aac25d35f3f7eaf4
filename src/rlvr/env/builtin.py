"""The built-in environments: ``python`` (``run_python``), ``sql`` (``sql``), ``calculator``
(``calculate``), and the name registry ``rlvr env`` and ``rlvr audit --env`` use."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

from rlvr.env.base import ToolEnv, ToolError
from rlvr.env.calc import CalcError, evaluate, format_number
from rlvr.env.episode import Budget
from rlvr.env.pysession import PythonSession, SessionLost
from rlvr.env.sqltool import QueryError, describe_db, resolve_db, run_query
from rlvr.errors import ConfigError
from rlvr.sandbox import SandboxConfig

__all__ = ["ENVIRONMENTS", "CalculatorEnv", "PythonEnv", "SqlEnv", "make_env"]


class CalculatorEnv(ToolEnv):
    """Exact arithmetic; the final answer is judged by the math verifier against ``answer``."""

    def calculate(self, expression: str) -> str:
        """Evaluate an arithmetic expression exactly (integers and fractions).

        Args:
            expression: Numbers with + - * / // % ** and parentheses, e.g. "(3 + 4) * 12 / 7".
        """
        try:
            return format_number(evaluate(expression))
        except CalcError as exc:
            raise ToolError(str(exc)) from None


def _close_session(holder: list[Any]) -> None:
    """Finalizer of a PythonEnv: stop its interpreter session (it holds no reference to the env)."""
    if holder:
        session = holder.pop()
        session.close()


class PythonEnv(ToolEnv):
    """A Python interpreter session in the sandbox; the final answer is judged by the math verifier."""

    def __init__(self, *, isolation: str = "auto", memory_mb: int = 512, **options: Any) -> None:
        super().__init__(**options)
        b = self._limits
        self._sandbox_config = SandboxConfig(
            isolation=isolation, timeout=b.episode_tool_s, total_timeout=24 * 3600.0, memory_mb=memory_mb,
            max_output_bytes=1 << 20, max_processes=16)
        self._session_box: list[PythonSession] = []
        self._finalizer = weakref.finalize(self, _close_session, self._session_box)

    def _release(self) -> None:
        _close_session(self._session_box)

    def run_python(self, code: str) -> str:
        """Run Python code in a persistent sandboxed interpreter; variables persist between calls.

        Args:
            code: Python source; its printed output is returned, and the value of a final expression is printed.
        """
        if not isinstance(code, str):
            raise ToolError("code must be a string")
        if not self._session_box:
            self._session_box.append(PythonSession(self._sandbox_config, self._limits.tool_timeout_s,
                                                   max(64, self._limits.max_observation_chars - 200)))
        try:
            out, err, exc = self._session_box[0].run(code)
        except SessionLost as lost:
            _close_session(self._session_box)
            raise ToolError(f"{lost}; a new session starts at the next call") from None
        parts = [out]
        if err:
            parts.append(f"[stderr]\n{err}")
        if exc:
            parts.append(f"[error]\n{exc}")
        text = "\n".join(p for p in parts if p).strip()
        return text or "(no output)"


class SqlEnv(ToolEnv):
    """Read-only SQL on the row's ``db``; the final answer is a query judged by the sql verifier."""

    _default_verifier = "sql"

    def __init__(self, *, max_rows: int = 50, **options: Any) -> None:
        super().__init__(**options)
        self._max_rows = max_rows
        self._db: Any = None

    def _begin(self, row: dict[str, Any]) -> str | None:
        self._db = None
        try:
            self._db = resolve_db(row.get("db"), row.get("_source_dir"))
            return describe_db(self._db)
        except QueryError as exc:
            self._db_error = str(exc)
            return None

    def sql(self, query: str) -> str:
        """Run one read-only SQL query (SELECT) on the task's database and return the rows.

        Args:
            query: A single SQLite SELECT statement.
        """
        if self._db is None:
            raise ToolError(getattr(self, "_db_error", "no database for this task"))
        if not isinstance(query, str):
            raise ToolError("query must be a string")
        try:
            return run_query(self._db, query, self._limits.tool_timeout_s, self._max_rows)
        except QueryError as exc:
            raise ToolError(str(exc)) from None


ENVIRONMENTS: dict[str, type[ToolEnv]] = {"python": PythonEnv, "sql": SqlEnv, "calculator": CalculatorEnv}

_BUDGET_KEYS = set(Budget.__dataclass_fields__)


def make_env(name: str, **options: Any) -> Callable[[], ToolEnv]:
    """A no-argument factory (TRL's ``environment_factory``) for a built-in environment by name
    or a ``module:Class``; budget fields (``max_turns``, ``tool_timeout_s``, ...) among the options
    become its ``Budget``, the rest go to its constructor (``verifier`` included)."""
    cls: Any = ENVIRONMENTS.get(name)
    if cls is None and ":" in name:
        import importlib

        mod, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load environment {name!r}: {exc}") from None
    if cls is None:
        raise ConfigError(f"unknown environment {name!r}; known: {', '.join(ENVIRONMENTS)} (or 'module:Class')")
    budget_opts = {k: v for k, v in options.items() if k in _BUDGET_KEYS}
    rest = {k: v for k, v in options.items() if k not in _BUDGET_KEYS}
    if budget_opts:
        rest["budget"] = Budget(**budget_opts)
    factory = functools.partial(cls, **rest)
    try:
        factory()
    except TypeError as exc:
        raise ConfigError(f"bad option for environment {name!r}: {exc}") from None
    return factory
