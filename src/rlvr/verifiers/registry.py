"""The verifier registry: names, plugins, ``module:object`` paths and plain functions.

``--verifier NAME`` resolves in this order: built-ins and ``register()``-ed names, then the
``rlvr.verifiers`` entry-point group of installed plugins, then ``module:object`` or
``path/to/file.py:object``. The object is a Verifier instance, a class or a factory taking the
options, or a plain function (``f(output, ground_truth)``, ``f(sample)``, a TRL-style
``f(completions, **columns)``); which of these a callable is, is decided by its signature, with
the rule written out in ``rlvr.verifiers.function``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from rlvr.errors import ConfigError, VerifierNotFoundError
from rlvr.verifiers.base import Verifier

__all__ = ["ENTRY_POINT_GROUP", "REGISTRY", "available_verifiers", "get_verifier", "register"]

ENTRY_POINT_GROUP = "rlvr.verifiers"

# name -> "module:attr" (lazy, so importing rlvr never imports sympy, sqlite, ...) or a factory.
REGISTRY: dict[str, str | Callable[..., Verifier]] = {
    "math": "rlvr.verifiers.math:MathVerifier",
    "code": "rlvr.verifiers.code:CodeVerifier",
    "sql": "rlvr.verifiers.sql:SqlVerifier",
    "rubric": "rlvr.verifiers.rubric:RubricVerifier",
    "format": "rlvr.verifiers.format:FormatVerifier",
    "answer_format": "rlvr.verifiers.format:AnswerShapeVerifier",
    "remote": "rlvr.verifiers.remote:RemoteVerifier",
    "random": "rlvr.verifiers.random:RandomVerifier",
    "countdown": "rlvr.verifiers.countdown:CountdownVerifier",
    # Composites from a JSON/TOML spec file: --verifier compose --opt file=path/to/spec.json
    "compose": "rlvr.verifiers.compose:from_spec",
}


def register(name: str, factory: str | Callable[..., Verifier], *, replace: bool = False) -> None:
    """Register a verifier factory under ``name``.

    ``factory`` is a callable taking keyword options and returning a verifier, or a lazy
    ``"module:attr"`` path to one.
    """
    if not name or not isinstance(name, str):
        raise ConfigError("a verifier name must be a non-empty string")
    if name in REGISTRY and not replace:
        raise ConfigError(f"verifier {name!r} is already registered; pass replace=True to override it")
    REGISTRY[name] = factory


def available_verifiers() -> list[str]:
    """Names that ``get_verifier`` resolves without a ``module:object`` path."""
    names = set(REGISTRY)
    try:
        from importlib import metadata  # here, not at import: it costs ~30 ms in every worker

        names.update(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # broken plugin metadata must not hide the built-ins
        pass
    return sorted(names)


def _load_path(path: str) -> Any:
    module_name, _, attr = path.rpartition(":")
    if not module_name or not attr:
        raise VerifierNotFoundError(f"{path!r} is not of the form 'module:object' or 'path/to/file.py:object'")
    if module_name.endswith(".py"):
        from rlvr.verifiers.function import load_file_module

        module = load_file_module(module_name)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise VerifierNotFoundError(
                f"cannot import module {module_name!r} for verifier {path!r}: {exc}"
            ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise VerifierNotFoundError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _instantiate(target: Any, options: Mapping[str, Any], label: str) -> Verifier:
    if isinstance(target, Verifier) and not isinstance(target, type):
        if options:
            raise ConfigError(
                f"verifier {label!r} is an instance; it takes no options (got {sorted(options)})"
            )
        return target
    if callable(target):
        if not isinstance(target, type):
            from rlvr.verifiers.function import from_callable

            plain = from_callable(target, options, label)  # None: a factory (no required positionals)
            if plain is not None:
                return plain
        try:
            verifier = target(**options)
        except TypeError as exc:
            raise ConfigError(f"bad options for verifier {label!r}: {exc}") from exc
        if isinstance(verifier, Verifier):
            return verifier
        raise VerifierNotFoundError(
            f"{label!r} did not produce a verifier (no verify(sample) method); a verifier function takes "
            "(output, ground_truth), (sample) or (completions, **columns), and a factory returns a verifier"
        )
    raise VerifierNotFoundError(f"{label!r} is neither a verifier, a verifier class, a factory nor a function")


def get_verifier(spec: str | Verifier | Callable[..., Any], **options: Any) -> Verifier:
    """Resolve a verifier by name, entry point, ``module:object`` or ``file.py:object``, or wrap a
    verifier object or plain function; options go to its factory (or, for a function, its keywords)."""
    if not isinstance(spec, str):
        if isinstance(spec, Verifier):
            return _instantiate(spec, options, repr(spec))
        if callable(spec):
            from rlvr.verifiers.function import function_label

            return _instantiate(spec, options, function_label(spec))
        raise VerifierNotFoundError(f"expected a verifier name, object or function, got {type(spec).__name__}")
    factory = REGISTRY.get(spec)
    if factory is not None:
        target = _load_path(factory) if isinstance(factory, str) else factory
        return _instantiate(target, options, spec)
    try:
        from importlib import metadata  # only for names the registry does not know

        eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
    except Exception:
        eps = []
    if eps:
        try:
            target = eps[0].load()
        except Exception as exc:
            raise VerifierNotFoundError(f"plugin verifier {spec!r} failed to load: {exc}") from exc
        return _instantiate(target, options, spec)
    if ":" in spec:
        return _instantiate(_load_path(spec), options, spec)
    raise VerifierNotFoundError(
        f"unknown verifier {spec!r}; available: {', '.join(available_verifiers())} "
        "(or give a plugin as 'module:object')"
    )
