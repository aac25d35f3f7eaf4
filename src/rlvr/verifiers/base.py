"""The verifier protocol, a base class that turns crashes into verdicts, and the registry.

A verifier is anything with ``verify(sample) -> Verdict``. ``BaseVerifier`` adds the guarantees
every built-in gives: a wrong-typed or oversized output becomes an ``unparsable`` verdict, and an
exception inside the verifier becomes an ``error`` verdict (the verifier's fault, not the model's).

The registry maps ``--verifier NAME`` to a verifier. Names resolve in this order:
built-ins and ``register()``-ed names, then the ``rlvr.verifiers`` entry-point group of installed
plugins, then ``module:object`` or ``path/to/file.py:object``. The object is a Verifier instance,
a class or a factory taking the options, or a plain function (``f(output, ground_truth)``,
``f(sample)``, a TRL-style ``f(completions, **columns)``); which of these a callable is, is decided
by its signature, with the rule written out in ``rlvr.verifiers.function``.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from rlvr.errors import ConfigError, VerifierContractError, VerifierNotFoundError
from rlvr.types import Sample, Verdict

__all__ = [
    "BaseVerifier",
    "Verifier",
    "available_verifiers",
    "get_verifier",
    "register",
    "safe_verify",
]

ENTRY_POINT_GROUP = "rlvr.verifiers"
# A model output longer than this is not a plausible answer; refusing it bounds every verifier.
DEFAULT_MAX_OUTPUT_CHARS = 1_000_000


@runtime_checkable
class Verifier(Protocol):
    """Anything that scores one sample."""

    def verify(self, sample: Sample) -> Verdict: ...


class BaseVerifier:
    """Base class for verifiers: subclasses implement ``check``; ``verify`` never raises.

    ``name`` identifies the verifier in reports and caches.
    """

    name: str = "verifier"
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS

    def verify(self, sample: Sample) -> Verdict:
        output = sample.output
        if not isinstance(output, str):
            return Verdict.unparsable(
                f"output must be a string, got {type(output).__name__}", output_type=type(output).__name__
            )
        if len(output) > self.max_output_chars:
            return Verdict.unparsable(
                f"output is {len(output):,} characters, over the {self.max_output_chars:,} limit",
                output_chars=len(output),
            )
        try:
            return self.check(sample)
        except VerifierContractError:  # a setup error (a plain function's wrong return type): loud
            raise
        except Exception as exc:  # a verifier bug must not crash a training run
            return Verdict.error(
                f"{self.name} verifier failed: {type(exc).__name__}: {exc}"[:500],
                traceback=traceback.format_exc(limit=5)[-2000:],
            )

    def check(self, sample: Sample) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError("abstract: subclasses implement check()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def safe_verify(verifier: Verifier, sample: Sample) -> Verdict:
    """``verifier.verify(sample)`` for any verifier, with BaseVerifier's promise: never raises on a
    sample (``VerifierContractError``, a setup error, is the one exception that passes through)."""
    try:
        verdict = verifier.verify(sample)
    except VerifierContractError:
        raise
    except Exception as exc:
        return Verdict.error(f"verifier raised {type(exc).__name__}: {exc}"[:500])
    if not isinstance(verdict, Verdict):
        return Verdict.error(f"verifier returned {type(verdict).__name__}, not a Verdict")
    return verdict


# name -> "module:attr" (lazy, so importing rlvr never imports sympy, sqlite, ...) or a factory.
_REGISTRY: dict[str, str | Callable[..., Verifier]] = {
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
    if name in _REGISTRY and not replace:
        raise ConfigError(f"verifier {name!r} is already registered; pass replace=True to override it")
    _REGISTRY[name] = factory


def available_verifiers() -> list[str]:
    """Names that ``get_verifier`` resolves without a ``module:object`` path."""
    names = set(_REGISTRY)
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
    factory = _REGISTRY.get(spec)
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
