"""rlvr verifiers as verl's custom reward function.

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``
once per response (its ``naive`` and ``prime`` reward managers) with the ``data_source``,
``reward_model.ground_truth`` and ``extra_info`` columns of the parquet row. It accepts a float
or a dict with ``score`` whose other keys are logged as ``reward_extra_info`` (string values are
kept but left out of the numeric metrics). Point verl at this function::

    custom_reward_function:
      path: /path/to/site-packages/rlvr/integrations/verl.py   # or your own module, below
      name: compute_score

(on the command line: ``custom_reward_function.path=$(python -c "import rlvr.integrations.verl as m;
print(m.__file__)") custom_reward_function.name=compute_score``). To route your own sources,
write a small module that registers them and re-exports ``compute_score``, and point ``path`` at
it::

    # my_reward.py
    from rlvr.integrations.verl import compute_score, register_source
    register_source("my_sql_set", "sql", dialect="sqlite")
    register_source("mycode/*", "code")

Routing (``data_source`` -> rlvr verifier): exact names first, then the longest matching prefix
pattern (``"name*"``), then the catch-all ``"*"`` if one is registered. Defaults (``SOURCES``):
verl's math sources (``openai/gsm8k``, ``lighteval/MATH``, ``DigitalLearningGmbH/MATH-lighteval``,
``HuggingFaceH4/MATH-500``, ``math_dapo``, ``aime*``, ``numina_*``, plus ``gsm8k``/``math``) go to
``math``; verl's code sources (``codecontests``, ``apps``, ``codeforces``, ``taco``) go to ``code``.

An unknown ``data_source`` raises ``ConfigError`` naming the source and the fix: verl has no
"skip this sample" value, so a silent 0.0 would train the policy against a reward that never
looked at the output. (verl's own ``default_compute_score`` raises ``NotImplementedError`` too.)

The returned dict always has the same keys (verl stacks them per batch): ``score`` (float in
[0, 1]), ``acc`` (1.0 when the verdict is ``correct``, else 0.0), ``status`` and ``reason``.
``extra_info`` fields become sample metadata (``tests``, ``db``, ...). For the code sources, when
``extra_info`` has no ``tests``, verl's ground truth ``{"inputs": [...], "outputs": [...]}`` (a
dict or its JSON text) becomes rlvr stdin/stdout tests. Verifier instances are built once per
process and reused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import Verifier, safe_verify
from rlvr.verifiers.registry import get_verifier

__all__ = ["SOURCES", "compute_score", "register_source", "resolve_source", "verl_tests"]

_MATH_SOURCES = (
    "openai/gsm8k",
    "gsm8k",
    "lighteval/MATH",
    "DigitalLearningGmbH/MATH-lighteval",
    "HuggingFaceH4/MATH-500",
    "math",
    "math_dapo",
    "aime*",
    "numina_*",
)
_CODE_SOURCES = ("codecontests", "apps", "codeforces", "taco")

# data_source (or "prefix*", or "*") -> (verifier spec, verifier options). The documented defaults.
SOURCES: dict[str, tuple[str | Verifier, dict[str, Any]]] = {
    **{s: ("math", {}) for s in _MATH_SOURCES},
    **{s: ("code", {}) for s in _CODE_SOURCES},
}

_CACHE: dict[tuple[Any, ...], Verifier] = {}
_LOCK = threading.Lock()


def register_source(name_or_prefix: str, verifier: str | Verifier, *, replace: bool = True, **options: Any) -> None:
    """Route ``data_source`` values to ``verifier`` (a registry name, ``module:object`` or object).

    ``name_or_prefix`` is an exact source name, a prefix pattern ending in ``*`` (``"mycode/*"``)
    or ``"*"`` for every otherwise unknown source. ``options`` go to the verifier's factory.
    Re-registering a name replaces it unless ``replace=False``.
    """
    if not isinstance(name_or_prefix, str) or not name_or_prefix or "*" in name_or_prefix[:-1]:
        raise ConfigError(
            f"a verl data_source route is a name, 'prefix*' or '*', got {name_or_prefix!r}"
        )
    if not replace and name_or_prefix in SOURCES:
        raise ConfigError(f"data_source {name_or_prefix!r} is already routed; pass replace=True to override it")
    built = get_verifier(verifier, **options)  # a bad name or option fails here, not mid-training
    with _LOCK:
        SOURCES[name_or_prefix] = (verifier, dict(options))
        _CACHE.clear()
        _CACHE[_cache_key(name_or_prefix, verifier, options)] = built


def resolve_source(data_source: str) -> tuple[str, str | Verifier, dict[str, Any]]:
    """The route for ``data_source``: ``(matched key, verifier spec, options)``; raises ``ConfigError``."""
    source = str(data_source)
    if source in SOURCES:
        return (source, *SOURCES[source])
    prefixes = [k for k in SOURCES if k.endswith("*") and k != "*" and source.startswith(k[:-1])]
    if prefixes:
        key = max(prefixes, key=len)
        return (key, *SOURCES[key])
    if "*" in SOURCES:
        return ("*", *SOURCES["*"])
    raise ConfigError(
        f"no rlvr verifier for verl data_source {source!r}; route it with "
        f"rlvr.integrations.verl.register_source({source!r}, 'math'|'code'|'sql'|...) in the module "
        "custom_reward_function.path points at"
    )


def _cache_key(key: str, spec: str | Verifier, options: Mapping[str, Any]) -> tuple[Any, ...]:
    return (key, spec if isinstance(spec, str) else id(spec), repr(sorted(options.items())))


def _verifier_for(key: str, spec: str | Verifier, options: Mapping[str, Any]) -> Verifier:
    cache_key = _cache_key(key, spec, options)
    with _LOCK:
        v = _CACHE.get(cache_key)
        if v is None:
            v = get_verifier(spec, **options)
            _CACHE[cache_key] = v
    return v


def verl_tests(ground_truth: Any) -> list[dict[str, Any]] | None:
    """verl's code ground truth ``{"inputs": [...], "outputs": [...]}`` (or its JSON text) as rlvr
    ``[{"input", "output"}]`` tests; ``None`` when it is not in that shape."""
    gt = ground_truth
    if isinstance(gt, (str, bytes)):
        try:
            gt = json.loads(gt)
        except (ValueError, RecursionError):
            return None
    if not isinstance(gt, Mapping):
        return None
    inputs, outputs = gt.get("inputs"), gt.get("outputs")
    if not isinstance(inputs, (list, tuple)) or not isinstance(outputs, (list, tuple)) or len(inputs) != len(outputs):
        return None
    return [{"input": str(i), "output": str(o)} for i, o in zip(inputs, outputs)]


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (verl reads parquet rows into them) as Python values."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return value


def _metadata(extra_info: Any) -> dict[str, Any]:
    if isinstance(extra_info, Mapping):
        return {str(k): _plain(v) for k, v in extra_info.items()}
    return {}


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Score one verl response with the rlvr verifier routed from ``data_source``.

    Returns ``{"score", "acc", "status", "reason"}``. A bad response never raises (it gets a
    verdict); an unknown ``data_source`` does (``ConfigError``). Extra keyword arguments (verl's
    ``custom_reward_function.reward_kwargs``) go to the verifier's factory.
    """
    ground_truth = _plain(ground_truth)
    key, spec, options = resolve_source(data_source)
    verifier = _verifier_for(key, spec, {**options, **kwargs})
    meta = _metadata(extra_info)
    meta.setdefault("data_source", data_source)
    if spec == "code" and "tests" not in meta:
        tests = verl_tests(ground_truth)
        if tests is not None:
            meta["tests"] = tests
    verdict: Verdict = safe_verify(verifier, Sample(output=solution_str, answer=ground_truth, metadata=meta))
    return {
        "score": float(verdict.score),
        "acc": 1.0 if verdict.status == "correct" else 0.0,
        "status": verdict.status,
        "reason": verdict.reason,
    }
