"""Plain functions as verifiers: the signature says how rlvr calls them.

The registry hands every callable that is neither a class nor an object with ``verify`` to
``classify``. The rule, applied in this order, first match wins:

1. ``fn.rlvr_call`` is set: one of ``"output_answer"``, ``"sample"``, ``"batch"``, ``"factory"``.
   This is the way out of every ambiguity below.
2. A parameter named ``completions`` → ``batch``, a TRL-style reward function
   ``fn(completions, **columns) -> list[float | None]``. rlvr calls it with ``completions``,
   ``prompts`` (when the record has a ``prompt``), ``answer`` and every other record field, each a
   list with one entry per completion (only the keywords it declares, unless it takes ``**kwargs``).
3. Count the positional parameters that have no default and that the options do not fill
   (``*args`` and ``**kwargs`` do not count):
   - 2 → ``output_answer``: ``fn(output, ground_truth)``, whatever the two are named;
   - 1 → ``sample``: ``fn(sample)`` with an ``rlvr.Sample``; but if optional positional parameters
     follow it (``fn(output, ground_truth=None)``, ``fn(sample, strict=False)``) the call is
     ambiguous and resolving it is a ``ConfigError`` that names the fix (make the extras
     keyword-only, make ``ground_truth`` required, or set ``fn.rlvr_call``);
   - 0 → ``factory`` (as before plain functions were accepted): ``fn(**options)`` must return a
     verifier;
   - 3 or more → ``ConfigError``.

Options (``--opt k=v``) given for a plain function are bound as keyword arguments.

What comes back: a ``Verdict`` is used as is; ``True``/``False`` becomes ``correct``/``incorrect``
with score 1/0; a number in [0, 1] becomes a verdict with that score, ``correct`` at 1 and
``incorrect`` below (partial credit keeps its score; rlvr's pass@k counts full marks, as
``rlvr eval`` does for a bare reward); its reason says what the function returned
(``"mymod:verifier returned 0.5"``). A batch function's ``None`` is ``skipped``.

Failures follow "soft failure for rewards, loud failure for setup": an exception raised by the
function is an ``error`` verdict naming the function (one odd output must not stop a run). A
return value that breaks the contract (a string, ``None`` from a per-sample function, NaN, a
number outside [0, 1], a list of the wrong length) raises ``VerifierContractError`` at the first
sample that shows it: the function is not the verifier it was taken for, and scoring every sample
``error`` would train on nothing without saying why.

Worker processes (``rlvr.engine`` with ``workers > 0``, the Ray executor) get the function by
reference: its module, name and the ``sys.path`` folder it was imported from (or the file, for
``path/to/file.py:func``), so a fresh worker re-imports it. Functions defined in ``__main__``, in
another function or as a lambda cannot be re-imported and are refused with a clear message.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import numbers
import pickle
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, VerifierContractError, VerifierNotFoundError
from rlvr.types import Sample, Status, Verdict
from rlvr.verifiers.base import BaseVerifier

__all__ = ["CALL_STYLES", "FunctionVerifier", "classify", "from_callable", "function_label", "load_file_module", "to_verdict"]

CALL_STYLES = ("output_answer", "sample", "batch", "factory")
_FILE_MODULE_PREFIX = "_rlvr_file_"
# Keywords TRL passes that are not record fields; a record field by one of these names is not passed.
_TRL_RESERVED = frozenset({"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"})
_HOW_TO_CHOOSE = (
    "set {name}.rlvr_call = 'output_answer' | 'sample' | 'batch' | 'factory' to say how to call it"
)


# --- detection ----------------------------------------------------------------------------------


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: treat them as factories, as before
        return None


def classify(fn: Callable[..., Any], options: Mapping[str, Any], label: str) -> str:
    """How to call ``fn``: one of ``CALL_STYLES`` (the rule is in the module docstring)."""
    declared = getattr(fn, "rlvr_call", None)
    if declared is not None:
        if declared not in CALL_STYLES:
            raise ConfigError(f"{label}: rlvr_call must be one of {', '.join(CALL_STYLES)}, got {declared!r}")
        return str(declared)
    sig = _signature(fn)
    if sig is None:
        return "factory"
    params = list(sig.parameters.values())
    if any(p.name == "completions" for p in params):
        return "batch"
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and not (p.kind is p.POSITIONAL_OR_KEYWORD and p.name in options)
    ]
    required = [p for p in positional if p.default is p.empty]
    optional = [p for p in positional if p.default is not p.empty]
    name = label.rpartition(":")[2] or "fn"
    if len(required) == 2:
        return "output_answer"
    if len(required) == 1:
        if optional:
            raise ConfigError(
                f"verifier {label!r} has the signature {sig}: one required positional parameter and "
                f"{len(optional)} optional one(s), so it could be f(sample) or f(output, ground_truth); make "
                f"{', '.join(p.name for p in optional)} keyword-only (after *) for f(sample), make the second "
                f"parameter required for f(output, ground_truth), or {_HOW_TO_CHOOSE.format(name=name)}"
            )
        return "sample"
    if not required:
        return "factory"
    raise ConfigError(
        f"verifier {label!r} takes {len(required)} required positional parameters "
        f"({', '.join(p.name for p in required)}); a verifier function is f(output, ground_truth), f(sample) "
        f"or f(completions, **columns); give the extra ones with --opt NAME=VALUE, give them defaults, or "
        f"{_HOW_TO_CHOOSE.format(name=name)}"
    )


def _bind_options(fn: Callable[..., Any], options: Mapping[str, Any], label: str) -> None:
    """Options become keyword arguments: refuse names the function does not take, now."""
    sig = _signature(fn)
    if sig is None or not options:
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    keywordable = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = sorted(set(options) - keywordable)
    if unknown:
        raise ConfigError(
            f"bad options for verifier {label!r}: it takes no parameter {', '.join(map(repr, unknown))} "
            f"(its signature is {sig})"
        )


# --- return values ------------------------------------------------------------------------------


def _plain_scalar(value: Any) -> Any:
    """numpy and torch scalars (common in user reward code) as Python values."""
    root = type(value).__module__.partition(".")[0]
    if root in ("numpy", "torch") and hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, RuntimeError):  # more than one element: not a scalar
            return value
    return value


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def to_verdict(value: Any, label: str) -> Verdict:
    """What a per-sample verifier function returned, as a Verdict; ``VerifierContractError`` when
    it is not a Verdict, a bool or a number in [0, 1]."""
    if isinstance(value, Verdict):
        return value
    value = _plain_scalar(value)
    if isinstance(value, bool):
        score = 1.0 if value else 0.0
        status: Status = "correct" if value else "incorrect"
        return Verdict(score, status, f"{label} returned {value}", {"returned": value})
    if isinstance(value, numbers.Real):  # int, float, Fraction, numpy scalars
        score = float(value)
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise VerifierContractError(
                f"verifier {label!r} returned {value!r}; a verifier's score must be a number in [0, 1] "
                "(rescale it, or return a Verdict)"
            )
        status = "correct" if score == 1.0 else "incorrect"
        return Verdict(score, status, f"{label} returned {value!r}", {"returned": score})
    hint = ""
    if value is None:
        hint = " (a missing return statement?)"
    elif hasattr(value, "verify"):
        hint = "; it looks like a factory: give the options it needs (--opt NAME=VALUE) or set rlvr_call = 'factory'"
    raise VerifierContractError(
        f"verifier {label!r} returned {_describe(value)}{hint}; a verifier function returns a float in [0, 1], "
        "a bool or a Verdict"
    )


# --- files and re-import in workers ---------------------------------------------------------------


def load_file_module(path: str) -> Any:
    """Import ``path`` (a ``.py`` file) as a module, once per file; its folder goes on ``sys.path``
    (as for a script) so its own imports work."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise VerifierNotFoundError(f"no such verifier file: {path!r}")
    stem = "".join(c if c.isalnum() else "_" for c in file.stem)
    name = f"{_FILE_MODULE_PREFIX}{stem}_{hashlib.sha1(str(file).encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return sys.modules[name]
    if str(file.parent) not in sys.path:
        sys.path.append(str(file.parent))
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise VerifierNotFoundError(f"cannot import {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise VerifierNotFoundError(f"cannot import verifier file {path!r}: {type(exc).__name__}: {exc}") from exc
    return module


def _import_root(module: Any) -> str | None:
    """The ``sys.path`` folder ``module`` was imported from (``/x`` for ``a.b`` in ``/x/a/b.py``)."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    if path.name == "__init__.py":
        path = path.parent
    parts = module.__name__.split(".")
    return str(path.parents[len(parts) - 1]) if len(path.parents) >= len(parts) else None


def _where(obj: Any) -> tuple[str | None, str | None]:
    """(import root, file of a file-loaded module) that a fresh worker needs to re-import ``obj``."""
    target = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
    module_name = getattr(target, "__module__", None) or ""
    qualname = getattr(target, "__qualname__", "")
    if module_name == "__main__":
        raise pickle.PicklingError(
            f"{qualname} is defined in __main__, which a worker process cannot import; "
            "move it into a module (or use workers=0)"
        )
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise pickle.PicklingError(
            f"{qualname} is a lambda or is defined inside a function, which a worker process cannot import; "
            "define it at module level (or use workers=0)"
        )
    module = sys.modules.get(module_name)
    if module is None:
        return None, None
    if module_name.startswith(_FILE_MODULE_PREFIX):
        return None, module.__file__
    return _import_root(module), None


def _restore(root: str | None, file: str | None, state: bytes) -> FunctionVerifier:
    """Unpickle a FunctionVerifier in a fresh process: make its module importable, then load."""
    if root and root not in sys.path:
        sys.path.append(root)
    if file:
        load_file_module(file)
    fn, options, call, label = pickle.loads(state)
    return FunctionVerifier(fn, options=options, call=call, label=label)


# --- the verifier ---------------------------------------------------------------------------------


def function_label(fn: Any) -> str:
    """``module:qualname`` (or ``file.py:qualname``) naming a function in reasons and reports."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn)
    module_name = getattr(target, "__module__", None) or "?"
    module = sys.modules.get(module_name)
    if module_name.startswith(_FILE_MODULE_PREFIX) and module is not None:
        module_name = str(module.__file__)
    return f"{module_name}:{getattr(target, '__qualname__', type(fn).__name__)}"


class FunctionVerifier(BaseVerifier):
    """A plain function called the way ``classify`` decided (``call``: ``output_answer``,
    ``sample`` or ``batch``), its return value turned into a Verdict by ``to_verdict``."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        call: str,
        label: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if call not in ("output_answer", "sample", "batch"):
            raise ConfigError(f"a FunctionVerifier calls f(output, ground_truth), f(sample) or a batch, not {call!r}")
        self.fn = fn
        self.call = call
        self.options = dict(options or {})
        self.name = label or function_label(fn)
        kind = getattr(fn, "audit_kind", None)
        # None: the function declares no kind (rlvr audit picks a default and says so).
        self.audit_kind: str | None = kind if isinstance(kind, str) and kind else None
        if call == "batch":
            sig = _signature(fn)
            params = sig.parameters.values() if sig is not None else ()
            self._any_keyword = sig is None or any(p.kind is p.VAR_KEYWORD for p in params)
            self._keywords = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def __repr__(self) -> str:
        return f"FunctionVerifier({self.name!r}, call={self.call!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # By reference: a fresh worker re-imports the function from the folder (or file) it came from.
        root, file = _where(self.fn)
        state = pickle.dumps((self.fn, self.options, self.call, self.name), protocol=pickle.HIGHEST_PROTOCOL)
        return (_restore, (root, file, state))

    def check(self, sample: Sample) -> Verdict:
        if self.call == "batch":
            columns: dict[str, Any] = {k: [v] for k, v in sample.metadata.items() if not k.startswith("_") and k != "prompt"}
            columns["answer"] = [sample.answer]
            prompts = [sample.metadata["prompt"]] if "prompt" in sample.metadata else None
            return self.score_batch([sample.output], prompts=prompts, **columns)[0]
        try:
            if self.call == "sample":
                value = self.fn(sample, **self.options)
            else:
                value = self.fn(sample.output, sample.answer, **self.options)
        except Exception as exc:  # the function failed on this sample: not the model's fault
            return self._raised(exc)
        return to_verdict(value, self.name)

    def score_batch(
        self,
        completions: Sequence[Any],
        *,
        prompts: Sequence[Any] | None = None,
        passthrough: Mapping[str, Any] | None = None,
        **columns: Sequence[Any],
    ) -> list[Verdict]:
        """Call a batch (TRL-style) function once on ``completions``; one Verdict per completion.

        ``columns`` are record fields (one list entry per completion); ``passthrough`` holds TRL's
        own keywords (``completion_ids``, ``trainer_state``, ``log_metric``, ...), passed unchanged.
        """
        kwargs: dict[str, Any] = {k: v for k, v in columns.items() if k not in _TRL_RESERVED}
        kwargs.update(passthrough or {})
        kwargs["completions"] = list(completions)
        if prompts is not None:
            kwargs["prompts"] = list(prompts)
        kwargs.update(self.options)
        if not self._any_keyword:
            kwargs = {k: v for k, v in kwargs.items() if k in self._keywords}
        n = len(completions)
        try:
            values = self.fn(**kwargs)
        except Exception as exc:
            return [self._raised(exc)] * n
        if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
            values = values.tolist()  # a numpy array or tensor of rewards (0-d: a scalar, refused below)
        if not isinstance(values, (list, tuple)):
            raise VerifierContractError(
                f"verifier {self.name!r} is a batch (TRL-style) reward function but returned {_describe(values)}; "
                "it must return a list with one float (or None) per completion"
            )
        if len(values) != n:
            raise VerifierContractError(
                f"verifier {self.name!r} returned {len(values)} rewards for {n} completion(s); "
                "a batch reward function returns one value per completion"
            )
        return [
            Verdict.skipped(f"{self.name} returned None (not applicable)", returned=None)
            if value is None
            else to_verdict(value, self.name)
            for value in values
        ]

    def _raised(self, exc: Exception) -> Verdict:
        return Verdict.error(
            f"{self.name} raised {type(exc).__name__}: {exc}"[:500],
            traceback=traceback.format_exc(limit=5)[-2000:],
        )


def from_callable(fn: Callable[..., Any], options: Mapping[str, Any], label: str) -> FunctionVerifier | None:
    """A FunctionVerifier for a plain verifier function, or None when ``fn`` is a factory."""
    call = classify(fn, options, label)
    if call == "factory":
        return None
    _bind_options(fn, options, label)
    return FunctionVerifier(fn, call=call, label=label, options=options)
