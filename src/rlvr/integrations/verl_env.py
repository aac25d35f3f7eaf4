"""An rlvr tool environment as a verl agent-loop tool (``verl.tools.base_tool.BaseTool`` shape).

verl drives a tool through ``create(instance_id, **create_kwargs)`` -> ``execute(instance_id,
parameters)`` -> ``calc_reward(instance_id)`` -> ``release(instance_id)``, with the tool's
OpenAI schema from ``get_openai_tool_schema()``. ``VerlEnvTool`` keeps one rlvr environment per
instance id; ``create_kwargs`` (the dataset's ``tools_kwargs``) are the row given to ``reset``,
with verl's ``ground_truth`` read as ``answer``. ``execute`` returns the observation and a step
reward of 0.0 always: the verdict is never shown to the model (verl PR #6302 removed a tool that
did). ``calc_reward(instance_id, final_answer=...)`` judges the final response with the
environment's verifier, outside anything the model can write. Without verl installed, responses
are plain ``{"text": ...}`` dicts; with it, ``verl.tools.schemas.ToolResponse``.

    # tool_config.yaml (verl): one tool per rlvr tool name
    tools:
      - class_name: rlvr.integrations.verl_env.VerlEnvTool
        config: {env: python, tool: run_python, type: native}
"""

from __future__ import annotations

from typing import Any

from rlvr.env import episode_of, finish, make_env, schemas_of
from rlvr.errors import ConfigError

__all__ = ["VerlEnvTool"]


def _response(text: str) -> Any:
    try:
        from verl.tools.schemas import ToolResponse
    except ImportError:
        return {"text": text}
    return ToolResponse(text=text)


class VerlEnvTool:
    """One tool of an rlvr environment, for verl's agent loop (see the module docstring)."""

    def __init__(self, config: dict[str, Any], tool_schema: Any = None) -> None:
        options = {k: v for k, v in (config or {}).items() if k not in ("env", "tool", "type")}
        self.env_name = str((config or {}).get("env", "python"))
        self.factory = make_env(self.env_name, **options)
        probe = self.factory()
        schemas = {s["function"]["name"]: s for s in schemas_of(probe)}
        self.tool = str((config or {}).get("tool") or next(iter(schemas)))
        if self.tool not in schemas:
            raise ConfigError(f"environment {self.env_name!r} has no tool {self.tool!r}; tools: {', '.join(schemas)}")
        self.schema = tool_schema or schemas[self.tool]
        self.name = self.tool
        self.instances: dict[str, Any] = {}

    def get_openai_tool_schema(self) -> Any:
        return self.schema

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, Any]:
        import uuid

        instance_id = instance_id or uuid.uuid4().hex
        row = dict(kwargs.get("create_kwargs") or kwargs)
        if "ground_truth" in row and "answer" not in row:
            row["answer"] = row.pop("ground_truth")
        env = self.factory()
        text = env.reset(**row)
        self.instances[instance_id] = env
        return instance_id, _response(text or "")

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs: Any) -> tuple[Any, float, dict]:
        env = self.instances.get(instance_id)
        if env is None:
            return _response('{"error": "unknown tool instance"}'), 0.0, {"error": 1}
        args = parameters if isinstance(parameters, dict) else {}
        observation = getattr(env, self.tool)(**args)
        last = episode_of(env).calls[-1]
        return _response(observation), 0.0, {"error": int(last.error is not None), "elapsed_s": last.elapsed_s}

    async def calc_reward(self, instance_id: str, final_answer: str | None = None, **kwargs: Any) -> float:
        env = self.instances.get(instance_id)
        if env is None:
            return 0.0
        if final_answer is not None:
            finish(env, final_answer)
        return float(env.get_reward())

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        env = self.instances.pop(instance_id, None)
        if env is not None:
            env.reset()  # ends the episode: the python tool's sandbox session is stopped now
