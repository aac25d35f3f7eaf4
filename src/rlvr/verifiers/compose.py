"""Composite verifiers: ``all_of``, ``any_of``, ``weighted`` (with gates) and ``route``.

Rules shared by every composite (each child is called through ``safe_verify``, and every
child's verdict is kept in ``details["children"]``):

- **error stays error.** If any child that applies returns ``error``, the composite returns
  ``error`` (score 0) naming that child, even when another child already decided the outcome:
  a broken check must show up in the error counts trainers watch, never as a quiet 0 or 1.
- **skipped children do not count.** A ``skipped`` child (it does not apply to this sample) is
  left out: of the conjunction, the disjunction, and of the weighted sum's normalisation; a
  skipped gate does not block. When every child is skipped, the composite is ``skipped``.
- A failing composite takes the status of the failing children when they agree (all
  ``timeout``, all ``unparsable``), else ``incorrect``.

Composites are plain module-level classes holding their children, so they pickle whenever the
children do (the engine sends verifiers to worker processes).

From the command line, describe a composite in a JSON or TOML spec file and pass it with
``--verifier compose --opt file=path/to/spec.json``. A spec node is a verifier name
(``"math"``), ``{"verifier": NAME, "options": {...}}``, or a composite::

    {"type": "weighted",
     "children": [{"verifier": "math", "weight": 0.8}, {"verifier": "format", "weight": 0.2}],
     "gates": ["format"], "pass_threshold": 1.0}
    {"type": "route", "field": "task", "routes": {"math": "math", "sql": "sql"},
     "on_unknown": "skipped"}
    {"type": "all_of", "children": ["format", "math"]}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Status, Verdict
from rlvr.verifiers.base import Verifier, safe_verify
from rlvr.verifiers.registry import get_verifier

__all__ = ["AllOf", "AnyOf", "Route", "Weighted", "all_of", "any_of", "from_spec", "route", "weighted"]

_FAIL_ORDER = ("timeout", "unparsable", "incorrect")


def _label(verifier: Any, index: int, taken: set[str]) -> str:
    base = getattr(verifier, "name", None) or type(verifier).__name__
    name = str(base)
    if name in taken:
        name = f"{base}#{index}"
    taken.add(name)
    return name


def _check_child(verifier: Any, what: str) -> None:
    if not callable(getattr(verifier, "verify", None)):
        raise ConfigError(f"{what} must be a verifier (an object with verify(sample)), got {type(verifier).__name__}")


class _Composite:
    """Shared plumbing: named children, running them, the error and skip rules."""

    name = "composite"
    required_fields: tuple[str, ...] = ("output",)

    def __init__(self, children: Sequence[Verifier]) -> None:
        if not children:
            raise ConfigError(f"{self.name} needs at least one child verifier")
        taken: set[str] = set()
        for i, child in enumerate(children):
            _check_child(child, f"{self.name} child {i + 1}")
        self.children = tuple(children)
        self.labels = tuple(_label(c, i, taken) for i, c in enumerate(children))
        fields: dict[str, None] = {}
        for child in children:
            fields.update(dict.fromkeys(getattr(child, "required_fields", ("output",))))
        self.required_fields = tuple(fields)

    def _run(self, sample: Sample) -> tuple[dict[str, Verdict], Verdict | None]:
        """Every child's verdict, and the composite's own when an error or all-skipped decides it."""
        verdicts = {label: safe_verify(child, sample) for label, child in zip(self.labels, self.children)}
        return verdicts, self._error_or_skip(verdicts)

    @staticmethod
    def _applicable(verdicts: Mapping[str, Verdict]) -> dict[str, Verdict]:
        return {k: v for k, v in verdicts.items() if v.status != "skipped"}

    @staticmethod
    def _details(verdicts: Mapping[str, Verdict]) -> dict[str, Any]:
        return {"children": {label: v.to_dict() for label, v in verdicts.items()}}

    def _error_or_skip(self, verdicts: Mapping[str, Verdict]) -> Verdict | None:
        errors = [label for label, v in verdicts.items() if v.status == "error"]
        if errors:
            first = verdicts[errors[0]]
            return Verdict.error(
                f"{self.name}: child {errors[0]!r} failed ({first.reason[:200]})", **self._details(verdicts)
            )
        if all(v.status == "skipped" for v in verdicts.values()):
            return Verdict.skipped(f"{self.name}: no child applies to this sample", **self._details(verdicts))
        return None

    @staticmethod
    def _fail_status(failing: Sequence[Verdict]) -> Status:
        statuses = {v.status for v in failing}
        return statuses.pop() if len(statuses) == 1 and next(iter(statuses), "") in _FAIL_ORDER else "incorrect"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.labels)})"


class AllOf(_Composite):
    """Correct when every applicable child is correct; score = the lowest child score."""

    name = "all_of"

    def verify(self, sample: Sample) -> Verdict:
        verdicts, early = self._run(sample)
        if early is not None:
            return early
        live = self._applicable(verdicts)
        score = min(v.score for v in live.values())
        failing = {k: v for k, v in live.items() if v.status != "correct"}
        details = self._details(verdicts)
        if not failing:
            return Verdict.correct(f"all {len(live)} checks passed", score=score, **details)
        first = next(iter(failing))
        reason = f"{first}: {failing[first].reason[:200]}"
        if len(failing) > 1:
            reason += f" (and {len(failing) - 1} more failed check(s): {', '.join(list(failing)[1:])})"
        return Verdict(score, self._fail_status(list(failing.values())), reason, details)


class AnyOf(_Composite):
    """Correct when at least one applicable child is correct; score = the best passing child's
    score (when none passes, the highest child score)."""

    name = "any_of"

    def verify(self, sample: Sample) -> Verdict:
        verdicts, early = self._run(sample)
        if early is not None:
            return early
        live = self._applicable(verdicts)
        details = self._details(verdicts)
        passing = [k for k, v in live.items() if v.status == "correct"]
        if passing:
            # The best passing child sets the score (a failing child's partial credit does not).
            best = max(passing, key=lambda k: live[k].score)
            return Verdict.correct(f"{best}: {live[best].reason[:200]}", score=live[best].score, **details)
        score = max(v.score for v in live.values())
        reasons = "; ".join(f"{k}: {v.reason[:100]}" for k, v in live.items())
        return Verdict(score, self._fail_status(list(live.values())), f"no check passed ({reasons})", details)  # type: ignore[arg-type]


class Weighted(_Composite):
    """Weighted mean of child scores, counted only when every gate passes.

    A gate (e.g. the format check) that is not ``correct`` zeroes the score and lends the
    composite its status and reason; gates are not part of the sum unless also listed as
    children. The status is ``correct`` when the score reaches ``pass_threshold``.
    """

    name = "weighted"

    def __init__(
        self,
        children: Sequence[tuple[Verifier, float]] | Mapping[str, tuple[Verifier, float]],
        gates: Sequence[Verifier] = (),
        pass_threshold: float = 1.0,
    ) -> None:
        items = list(children.values()) if isinstance(children, Mapping) else list(children)
        pairs: list[tuple[Verifier, float]] = []
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ConfigError(f"weighted child {i + 1} must be a (verifier, weight) pair")
            verifier, weight = item
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
                raise ConfigError(f"weighted child {i + 1}: weight must be a finite number >= 0, got {weight!r}")
            pairs.append((verifier, float(weight)))
        if pairs and sum(w for _, w in pairs) <= 0:
            raise ConfigError("weighted: the weights sum to 0; give at least one positive weight")
        if isinstance(pass_threshold, bool) or not isinstance(pass_threshold, (int, float)) or not 0 < pass_threshold <= 1:
            raise ConfigError(f"weighted: pass_threshold must be in (0, 1], got {pass_threshold!r}")
        super().__init__([v for v, _ in pairs] + list(gates))
        self.weights = tuple(w for _, w in pairs)
        self.n_gates = len(gates)
        self.pass_threshold = float(pass_threshold)
        n = len(pairs)
        self.labels = tuple(f"gate:{label}" if i >= n else label for i, label in enumerate(self.labels))

    def verify(self, sample: Sample) -> Verdict:
        verdicts, early = self._run(sample)
        if early is not None:
            return early
        details = self._details(verdicts)
        n = len(self.weights)
        labels = list(verdicts)
        for label in labels[n:]:
            gate = verdicts[label]
            if gate.status not in ("correct", "skipped"):
                status: Status = gate.status if gate.status in _FAIL_ORDER else "incorrect"
                return Verdict(0.0, status, f"{label} failed, so nothing counts: {gate.reason[:200]}", details)
        parts = [(verdicts[label], w) for label, w in zip(labels[:n], self.weights) if verdicts[label].status != "skipped"]
        total = sum(w for _, w in parts)
        if not parts or total <= 0:
            return Verdict.skipped("weighted: no weighted child applies to this sample", **details)
        score = min(1.0, sum(v.score * w for v, w in parts) / total)
        details["weights"] = dict(zip(labels[:n], self.weights))
        summary = ", ".join(f"{label} {verdicts[label].score:.2f}×{w:g}" for label, w in zip(labels[:n], self.weights))
        if score >= self.pass_threshold - 1e-9:
            return Verdict.correct(f"weighted score {score:.3f} ({summary})", score=score, **details)
        failing = [v for v, _ in parts if v.status != "correct"]
        status = self._fail_status(failing) if failing and len(failing) == len(parts) else "incorrect"
        return Verdict(score, status, f"weighted score {score:.3f} is below {self.pass_threshold:g} ({summary})", details)


class Route(_Composite):
    """Sends each sample to the verifier named by one of its fields (multi-task data).

    A sample whose field is missing or names no route goes to ``default`` when given; otherwise
    it is ``skipped`` (the default: skipped means "does not apply to this sample"
    and trainers count skips) or, with ``on_unknown="error"``, an ``error`` for strict pipelines
    where an unknown task is a data bug.
    """

    name = "route"

    def __init__(
        self,
        routes: Mapping[str, Verifier],
        field: str = "task",
        default: Verifier | None = None,
        on_unknown: str = "skipped",
    ) -> None:
        if not isinstance(routes, Mapping) or not routes:
            raise ConfigError("route needs a non-empty mapping of field value -> verifier")
        if on_unknown not in ("skipped", "error"):
            raise ConfigError(f"route: on_unknown must be 'skipped' or 'error', got {on_unknown!r}")
        if not isinstance(field, str) or not field:
            raise ConfigError("route: field must be a sample field name such as 'task'")
        keys = [str(k) for k in routes]
        children = list(routes.values()) + ([default] if default is not None else [])
        super().__init__(children)
        self.labels = tuple(keys + (["default"] if default is not None else []))
        self.routes = dict(zip(keys, routes.values()))
        self.default = default
        self.field = field
        self.on_unknown = on_unknown
        # A routed sample only needs the chosen verifier's fields, which the CLI cannot know.
        self.required_fields = ("output",)

    def verify(self, sample: Sample) -> Verdict:
        key = sample.metadata.get(self.field)
        child = self.routes.get(str(key)) if key is not None and not isinstance(key, (dict, list)) else None
        label = str(key)
        if child is None and self.default is not None:
            child, label = self.default, "default"
        if child is None:
            known = ", ".join(sorted(self.routes))
            msg = (
                f"no verifier for {self.field}={key!r} (routes: {known})"
                if key is not None
                else f"the sample has no {self.field!r} field to route on (routes: {known})"
            )
            return Verdict.skipped(msg, route=None) if self.on_unknown == "skipped" else Verdict.error(msg, route=None)
        verdict = safe_verify(child, sample)
        return Verdict(verdict.score, verdict.status, verdict.reason, {**verdict.details, "route": label})


# -- functional constructors --------------------------------------------------------------------


def all_of(*verifiers: Verifier) -> AllOf:
    """Correct only when every verifier is correct (skipped ones aside)."""
    return AllOf(verifiers)


def any_of(*verifiers: Verifier) -> AnyOf:
    """Correct when any verifier is correct (skipped ones aside)."""
    return AnyOf(verifiers)


def weighted(
    children: Sequence[tuple[Verifier, float]], *, gates: Sequence[Verifier] = (), pass_threshold: float = 1.0
) -> Weighted:
    """Weighted mean of ``(verifier, weight)`` scores, zeroed unless every gate passes."""
    return Weighted(children, gates, pass_threshold)


def route(
    routes: Mapping[str, Verifier], *, field: str = "task", default: Verifier | None = None, on_unknown: str = "skipped"
) -> Route:
    """Pick the verifier by ``sample.metadata[field]``."""
    return Route(routes, field, default, on_unknown)


# -- spec files -----------------------------------------------------------------------------------

_MAX_SPEC_DEPTH = 16


def _node(spec: Any, where: str, depth: int) -> Verifier:
    if depth > _MAX_SPEC_DEPTH:
        raise ConfigError(f"{where}: composite spec nested deeper than {_MAX_SPEC_DEPTH}")
    if isinstance(spec, str):
        return get_verifier(spec)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a verifier name or an object, got {type(spec).__name__}")
    if "verifier" in spec:
        extra = set(spec) - {"verifier", "options", "weight"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        options = spec.get("options", {})
        if not isinstance(options, Mapping):
            raise ConfigError(f"{where}: options must be an object")
        return get_verifier(spec["verifier"], **options)
    kind = spec.get("type")
    allowed = {
        "all_of": {"type", "children"},
        "any_of": {"type", "children"},
        "weighted": {"type", "children", "gates", "pass_threshold", "weight"},
        "route": {"type", "field", "routes", "default", "on_unknown", "weight"},
    }
    if kind not in allowed:
        raise ConfigError(
            f"{where}: expected 'verifier' or a 'type' of all_of, any_of, weighted, route; got type {kind!r}"
        )
    extra = set(spec) - allowed[kind] - {"weight"}
    if extra:
        raise ConfigError(f"{where}: unknown key(s) for {kind}: {', '.join(sorted(extra))}")
    if kind == "route":
        routes = spec.get("routes")
        if not isinstance(routes, Mapping) or not routes:
            raise ConfigError(f"{where}: route needs a non-empty 'routes' object")
        default = spec.get("default")
        return Route(
            {str(k): _node(v, f"{where}.routes.{k}", depth + 1) for k, v in routes.items()},
            field=spec.get("field", "task"),
            default=None if default is None else _node(default, f"{where}.default", depth + 1),
            on_unknown=spec.get("on_unknown", "skipped"),
        )
    children = spec.get("children")
    if not isinstance(children, list) or not children:
        raise ConfigError(f"{where}: {kind} needs a non-empty 'children' list")
    built = [_node(c, f"{where}.children[{i}]", depth + 1) for i, c in enumerate(children)]
    if kind == "all_of":
        return AllOf(built)
    if kind == "any_of":
        return AnyOf(built)
    weights = []
    for i, c in enumerate(children):
        w = c.get("weight", 1.0) if isinstance(c, Mapping) else 1.0
        weights.append(w)
        if isinstance(w, bool) or not isinstance(w, (int, float)):
            raise ConfigError(f"{where}.children[{i}]: weight must be a number, got {w!r}")
    gates = spec.get("gates", [])
    if not isinstance(gates, list):
        raise ConfigError(f"{where}: gates must be a list")
    return Weighted(
        list(zip(built, weights)),
        gates=[_node(g, f"{where}.gates[{i}]", depth + 1) for i, g in enumerate(gates)],
        pass_threshold=spec.get("pass_threshold", 1.0),
    )


def from_spec(file: str | Path | Mapping[str, Any]) -> Verifier:
    """Build a composite from a spec: a path to a JSON/TOML file, or the spec itself as a dict.

    Registered as ``compose``: ``rlvr verify data.jsonl --verifier compose --opt file=spec.json``
    (``--opt file='{"type": "all_of", ...}'`` also works: the JSON is parsed into the spec).
    """
    spec = file
    where = "spec"
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        where = str(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read composite spec {where!r}: {exc.strerror or exc}") from None
        try:
            if path.suffix.lower() == ".toml":
                try:
                    import tomllib
                except ModuleNotFoundError:  # pragma: no cover - Python 3.10
                    import tomli as tomllib  # type: ignore[no-redef]
                spec = tomllib.loads(raw)
            else:
                spec = json.loads(raw)
        except Exception as exc:
            raise ConfigError(f"composite spec {where!r} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    return _node(spec, where, 0)


# One required parameter would read as f(sample) (rlvr.verifiers.function); this is a factory, so a
# missing --opt file=... stays a setup error naming the option.
from_spec.rlvr_call = "factory"  # type: ignore[attr-defined]
