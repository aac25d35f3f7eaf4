"""Tool-using environments in TRL's ``environment_factory`` shape.

``environment_factory=rlvr.env.PythonEnv`` (or a ``functools.partial`` of it) works as is.
"""

from rlvr.env.base import (
    ToolEnv,
    ToolError,
    capture_answers,
    episode_of,
    finish,
    play_script,
    play_turn,
    schemas_of,
    verdict_of,
)
from rlvr.env.builtin import ENVIRONMENTS, CalculatorEnv, PythonEnv, SqlEnv, make_env
from rlvr.env.episode import Budget, Episode, Step, ToolCallRecord
from rlvr.env.parse import ParsedCall, ParsedMessage, parse_tool_calls

__all__ = [
    "ENVIRONMENTS",
    "Budget",
    "CalculatorEnv",
    "Episode",
    "ParsedCall",
    "ParsedMessage",
    "PythonEnv",
    "SqlEnv",
    "Step",
    "ToolCallRecord",
    "ToolEnv",
    "ToolError",
    "capture_answers",
    "episode_of",
    "finish",
    "make_env",
    "parse_tool_calls",
    "play_script",
    "play_turn",
    "schemas_of",
    "verdict_of",
]
