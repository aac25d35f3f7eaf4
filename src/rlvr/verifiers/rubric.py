"""The rubric verifier: a weighted list of programmatic checks, with a per-criterion breakdown.

Score = sum(weight of passed criteria) / sum(weights). A criterion is a dict with a ``type``:

=================  ==========================================================================
``keyword``        ``text`` (or ``any``/``all``: lists) occurs as a whole token: "7" does not
                   match inside "17", "0.7", "7.5", "1,700" or "-7"; ``case_sensitive`` (false),
                   ``min_count``/``max_count`` (1 / none)
``regex``          ``pattern`` matches (``full_token``: true wraps it in the same token
                   boundaries); ``min_count``/``max_count``; ``flags``: "i", "m", "s"
``forbidden``      none of ``phrases`` occurs (whole-token, case-insensitive by default)
``length``         ``min``/``max`` characters (stripped output)
``word_count``     ``min``/``max`` words
``sections``       each of ``required`` is a heading (markdown ``#``, ``**Title**`` or
                   ``Title:`` on its own line); ``ordered``: in that order
``json_schema``    the output (or its fenced ``json`` block) is JSON valid against ``schema``
                   (type, required, properties, additionalProperties, enum, const,
                   minimum/maximum, minLength/maxLength, pattern, items, minItems/maxItems)
=================  ==========================================================================

Every criterion takes ``weight`` (default 1) and ``name``. Criteria come from the constructor
(``criteria=`` a list, or a path to a JSON/TOML file with a list or ``{"criteria": [...]}``) or
from the sample's ``criteria`` field (a list, or such a file's path, relative to the JSONL file's
folder); the sample's criteria win when both exist. Bad constructor criteria raise
``ConfigError``; bad per-sample criteria give that sample an ``error`` verdict.

User regexes run on untrusted output with Python's backtracking engine: keep them simple
(outputs are capped at 1 MB by ``BaseVerifier``).

Keyword stuffing: when keyword criteria exist and the keyword tokens make up more than
``max_keyword_share`` of the output's words (a bare list, or one keyword repeated), the output
scores 0 with status ``incorrect``; a real answer that uses its keywords in sentences is far
below that share.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.extract import extract_fenced

__all__ = ["Criterion", "RubricVerifier", "load_criteria", "parse_criteria", "token_pattern", "validate_json"]

_TYPES = ("keyword", "regex", "forbidden", "length", "word_count", "sections", "json_schema")
_COMMON_KEYS = {"type", "weight", "name", "description"}
_KEYS: dict[str, set[str]] = {
    "keyword": {"text", "any", "all", "case_sensitive", "min_count", "max_count"},
    "regex": {"pattern", "flags", "full_token", "min_count", "max_count"},
    "forbidden": {"phrases", "case_sensitive"},
    "length": {"min", "max"},
    "word_count": {"min", "max"},
    "sections": {"required", "ordered", "case_sensitive"},
    "json_schema": {"schema"},
}
# Token boundaries: not inside a word, and not inside a number ("7" in "17", "0.7", "7.5", "1,700").
_LEFT = r"(?<!\w)(?<!\d[.,])"
_RIGHT = r"(?!\w)(?![.,]\d)"
_WORD = re.compile(r"\w+(?:[-'.]\w+)*")
MAX_JSON_DEPTH = 64


def token_pattern(text: str) -> str:
    """A regex matching ``text`` as a whole token (numbers also refuse a leading minus sign)."""
    left = _LEFT + (r"(?<![-−])" if text[:1].isdigit() else "")
    # Any run of whitespace matches a space: "I cannot  help" still says "I cannot help".
    body = r"\s+".join(re.escape(part) for part in text.split())
    return left + body + _RIGHT


class _Invalid(Exception):
    """A malformed criterion; carries the message for ConfigError or a Verdict."""


@dataclass(frozen=True)
class Criterion:
    """One validated criterion: its kind, display name, weight and parameters."""

    type: str
    name: str
    weight: float
    params: Mapping[str, Any]
    regexes: tuple[re.Pattern[str], ...] = ()


def _int_or_none(spec: Mapping[str, Any], key: str, where: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"{where}: {key} must be a non-negative integer, got {value!r}")
    return value


def _strings(value: Any, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Invalid(f"{where}: {key} must be a non-empty string or list of non-empty strings")
    return [v.strip() for v in value]


def _compile(pattern: str, flags: int, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise _Invalid(f"{where}: invalid regex {pattern!r}: {exc}") from None


def _parse_one(spec: Any, index: int) -> Criterion:
    where = f"criterion {index + 1}"
    if not isinstance(spec, Mapping):
        raise _Invalid(f"{where}: expected an object with a 'type', got {type(spec).__name__}")
    kind = spec.get("type")
    if kind not in _TYPES:
        raise _Invalid(f"{where}: unknown type {kind!r}; expected one of {', '.join(_TYPES)}")
    where = f"criterion {index + 1} ({kind})"
    unknown = set(spec) - _COMMON_KEYS - _KEYS[kind]
    if unknown:
        raise _Invalid(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    weight = spec.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise _Invalid(f"{where}: weight must be a finite number >= 0, got {weight!r}")
    params: dict[str, Any] = {}
    regexes: list[re.Pattern[str]] = []
    label = spec.get("name")
    if kind in ("keyword", "forbidden"):
        case_flag = 0 if spec.get("case_sensitive", False) else re.I
        if kind == "keyword":
            present = [k for k in ("text", "any", "all") if k in spec]
            if len(present) != 1:
                raise _Invalid(f"{where}: give exactly one of text, any, all")
            mode = "all" if present[0] in ("text", "all") else "any"
            words = _strings(spec[present[0]], present[0], where)
            params.update(mode=mode, words=words)
            params["min_count"] = _int_or_none(spec, "min_count", where) or 1
            params["max_count"] = _int_or_none(spec, "max_count", where)
            default = f"mentions {' and '.join(words) if mode == 'all' else ' or '.join(words)}"
        else:
            words = _strings(spec.get("phrases"), "phrases", where)
            params["words"] = words
            default = f"avoids {', '.join(words)}"
        regexes = [_compile(token_pattern(w), case_flag, where) for w in words]
        label = label or default
    elif kind == "regex":
        pattern = spec.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise _Invalid(f"{where}: pattern must be a non-empty string")
        flag_text = spec.get("flags", "")
        if not isinstance(flag_text, str) or set(flag_text) - set("ims"):
            raise _Invalid(f"{where}: flags must be letters from 'ims', got {flag_text!r}")
        flags = 0
        for letter in flag_text:
            flags |= {"i": re.I, "m": re.M, "s": re.S}[letter]
        full = spec.get("full_token", True)
        regexes = [_compile(f"{_LEFT}(?:{pattern}){_RIGHT}" if full else pattern, flags, where)]
        params["min_count"] = _int_or_none(spec, "min_count", where) or 1
        params["max_count"] = _int_or_none(spec, "max_count", where)
        label = label or f"matches /{pattern}/"
    elif kind in ("length", "word_count"):
        lo, hi = _int_or_none(spec, "min", where), _int_or_none(spec, "max", where)
        if lo is None and hi is None:
            raise _Invalid(f"{where}: give min, max or both")
        if lo is not None and hi is not None and lo > hi:
            raise _Invalid(f"{where}: min {lo} is greater than max {hi}")
        params.update(min=lo, max=hi)
        unit = "characters" if kind == "length" else "words"
        label = label or f"{lo if lo is not None else 0}..{hi if hi is not None else '∞'} {unit}"
    elif kind == "sections":
        titles = _strings(spec.get("required"), "required", where)
        params.update(required=titles, ordered=bool(spec.get("ordered", False)))
        params["case_sensitive"] = bool(spec.get("case_sensitive", False))
        label = label or f"has sections {', '.join(titles)}"
    elif kind == "json_schema":
        schema = spec.get("schema")
        if not isinstance(schema, Mapping):
            raise _Invalid(f"{where}: schema must be a JSON Schema object")
        try:
            _check_schema(schema, "schema")
        except _Invalid as exc:
            raise _Invalid(f"{where}: {exc}") from None
        params["schema"] = schema
        label = label or "valid JSON for the schema"
    if label is not None and not isinstance(label, str):
        raise _Invalid(f"{where}: name must be a string")
    return Criterion(kind, str(label), float(weight), params, tuple(regexes))


def parse_criteria(specs: Any) -> tuple[Criterion, ...]:
    """Validate a list of criterion dicts; raises ``ConfigError`` naming the bad criterion."""
    try:
        return _parse_all(specs)
    except _Invalid as exc:
        raise ConfigError(f"invalid rubric: {exc}") from None


def _parse_all(specs: Any) -> tuple[Criterion, ...]:
    if isinstance(specs, Mapping) and "criteria" in specs:
        specs = specs["criteria"]
    if not isinstance(specs, Sequence) or isinstance(specs, (str, bytes)) or not specs:
        raise _Invalid("criteria must be a non-empty list of criterion objects")
    out = tuple(_parse_one(spec, i) for i, spec in enumerate(specs))
    if sum(c.weight for c in out) <= 0:
        raise _Invalid("the criteria's weights sum to 0")
    return out


def load_criteria(path: str | Path) -> list[Any]:
    """Read criteria from a JSON or TOML file (a list, or an object with a ``criteria`` list)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read rubric file {str(p)!r}: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # pragma: no cover - Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except Exception as exc:
        raise ConfigError(f"rubric file {str(p)!r} is not valid {p.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if isinstance(data, Mapping) and "criteria" in data:
        data = data["criteria"]
    return data


# -- a small JSON Schema subset ------------------------------------------------------------------

_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}
_SCHEMA_KEYS = {
    "type", "required", "properties", "additionalProperties", "enum", "const", "minimum", "maximum",
    "minLength", "maxLength", "pattern", "items", "minItems", "maxItems", "title", "description", "$schema",
}  # fmt: skip


def _check_schema(schema: Any, where: str, depth: int = 0) -> None:
    """Refuse schema keywords this validator does not implement (silently ignoring them would pass bad JSON)."""
    if depth > MAX_JSON_DEPTH:
        raise _Invalid(f"{where}: schema nested too deeply")
    if not isinstance(schema, Mapping):
        raise _Invalid(f"{where}: must be an object")
    unknown = set(schema) - _SCHEMA_KEYS
    if unknown:
        raise _Invalid(f"{where}: unsupported JSON Schema keyword(s) {', '.join(sorted(unknown))}")
    types = schema.get("type")
    if types is not None:
        for t in [types] if isinstance(types, str) else types:
            if t not in _SCHEMA_TYPES:
                raise _Invalid(f"{where}: unknown type {t!r}")
    if "pattern" in schema:
        _compile(schema["pattern"], 0, where)
    for key, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties.{key}", depth + 1)
    if isinstance(schema.get("items"), Mapping):
        _check_schema(schema["items"], f"{where}.items", depth + 1)
    if isinstance(schema.get("additionalProperties"), Mapping):
        _check_schema(schema["additionalProperties"], f"{where}.additionalProperties", depth + 1)


def _type_ok(value: Any, t: str) -> bool:
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def validate_json(value: Any, schema: Mapping[str, Any], path: str = "$") -> str | None:
    """The first way ``value`` violates ``schema`` (a supported subset of JSON Schema), or None."""
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(value, t) for t in allowed):
            return f"{path} should be {' or '.join(allowed)}, got {_json_name(value)}"
    if "const" in schema and value != schema["const"]:
        return f"{path} should be {schema['const']!r}"
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        return f"{path} should be one of {list(schema['enum'])!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path} is {value}, below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path} is {value}, above the maximum {schema['maximum']}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path} is shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path} is longer than {schema['maxLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{path} does not match /{schema['pattern']}/"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{path} has {len(value)} items, fewer than {schema['minItems']}"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{path} has {len(value)} items, more than {schema['maxItems']}"
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                problem = validate_json(item, items, f"{path}[{i}]")
                if problem:
                    return problem
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                return f"{path} is missing required key {key!r}"
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                problem = validate_json(item, props[key], f"{path}.{key}")
            elif extra is False:
                problem = f"{path} has unexpected key {key!r}"
            elif isinstance(extra, Mapping):
                problem = validate_json(item, extra, f"{path}.{key}")
            else:
                problem = None
            if problem:
                return problem
    return None


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _json_depth_ok(text: str) -> bool:
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


# -- the verifier --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _criteria_file(path: str, mtime_ns: int) -> tuple[Criterion, ...]:
    """Parsed criteria of a rubric file, cached until the file changes (``mtime_ns`` is the key)."""
    return parse_criteria(load_criteria(path))

_HEADING = re.compile(r"^[ \t]{0,3}(?:#{1,6}[ \t]+(?P<md>[^\n]+?)[ \t#]*|\*\*(?P<bold>[^*\n]+?)\*\*:?|(?P<colon>[^\n:]{1,80}):)[ \t]*$", re.M)


def _headings(text: str) -> list[str]:
    out = []
    for m in _HEADING.finditer(text):
        title = m.group("md") or m.group("bold") or m.group("colon") or ""
        out.append(re.sub(r"\s+", " ", title.strip().rstrip(":")).strip())
    return out


class RubricVerifier(BaseVerifier):
    """Scores an output against weighted programmatic criteria; details hold each criterion's result."""

    name = "rubric"
    required_fields = ("output",)
    audit_kind = "rubric"

    def __init__(
        self,
        criteria: Sequence[Mapping[str, Any]] | str | Path | None = None,
        *,
        pass_threshold: float = 1.0,
        max_keyword_share: float | None = 0.5,
    ) -> None:
        """
        criteria: a list of criterion dicts, or a path to a JSON/TOML rubric file; when None,
            each sample must carry a ``criteria`` field.
        pass_threshold: the status is ``correct`` when the score reaches this (1.0: every criterion).
        max_keyword_share: refuse outputs whose words are more than this share keyword tokens
            (keyword stuffing); None turns the guard off.
        """
        if isinstance(criteria, (str, Path)):
            criteria = load_criteria(criteria)
        self._criteria = parse_criteria(criteria) if criteria is not None else None
        if isinstance(pass_threshold, bool) or not isinstance(pass_threshold, (int, float)) or not 0 < pass_threshold <= 1:
            raise ConfigError(f"pass_threshold must be in (0, 1], got {pass_threshold!r}")
        if max_keyword_share is not None and not 0 < max_keyword_share <= 1:
            raise ConfigError(f"max_keyword_share must be in (0, 1] or None, got {max_keyword_share!r}")
        self.pass_threshold = float(pass_threshold)
        self.max_keyword_share = max_keyword_share

    def check(self, sample: Sample) -> Verdict:
        raw = sample.metadata.get("criteria")
        if isinstance(raw, str):
            # A rubric file named by the record; relative paths resolve against the JSONL's folder.
            path = Path(raw)
            base = sample.metadata.get("_source_dir")
            if not path.is_absolute() and isinstance(base, str):
                path = Path(base) / path
            try:
                criteria = _criteria_file(str(path), path.stat().st_mtime_ns)
            except OSError as exc:
                return Verdict.error(f"cannot read the sample's rubric file {raw!r}: {exc.strerror or exc}")
            except ConfigError as exc:
                return Verdict.error(f"the sample's rubric file {raw!r} is invalid: {exc}")
        elif raw is not None:
            try:
                criteria = _parse_all(raw)
            except _Invalid as exc:
                return Verdict.error(f"the sample's criteria are invalid: {exc}")
        elif self._criteria is not None:
            criteria = self._criteria
        else:
            return Verdict.error("no rubric: give criteria= to the verifier or a 'criteria' field on the sample")
        text = sample.output
        results: list[dict[str, Any]] = []
        total = sum(c.weight for c in criteria)
        earned = 0.0
        for c in criteria:
            ok, note = _evaluate(c, text)
            if ok:
                earned += c.weight
            results.append({"name": c.name, "type": c.type, "weight": c.weight, "passed": ok, "note": note})
        score = min(1.0, earned / total)
        details: dict[str, Any] = {"criteria": results, "earned": earned, "total_weight": total}
        stuffing = self._stuffing(criteria, text)
        if stuffing is not None:
            details["keyword_share"] = stuffing
            return Verdict.incorrect(
                f"keyword stuffing: keywords are {stuffing:.0%} of the output's words "
                f"(limit {self.max_keyword_share:.0%}); score set to 0",
                score=0.0,
                **details,
            )
        failed = [f"{r['name']} ({r['note'][:80]})" for r in results if not r["passed"]]
        if score >= self.pass_threshold - 1e-9:
            reason = "all criteria met" if not failed else f"score {score:.2f}; missed: {'; '.join(failed)[:200]}"
            return Verdict.correct(reason, score=score, **details)
        return Verdict.incorrect(f"score {score:.2f}; missed: {'; '.join(failed)[:300]}", score=score, **details)

    def _stuffing(self, criteria: Sequence[Criterion], text: str) -> float | None:
        if self.max_keyword_share is None:
            return None
        keyword_res = [r for c in criteria if c.type == "keyword" for r in c.regexes]
        if not keyword_res:
            return None
        words = len(_WORD.findall(text))
        if words == 0:
            return None
        # Count the words covered by keyword matches (a multi-word keyword covers several).
        covered = sum(len(_WORD.findall(m.group())) for r in keyword_res for m in r.finditer(text))
        share = covered / words
        return share if share > self.max_keyword_share else None

    def __repr__(self) -> str:
        n = "per-sample" if self._criteria is None else f"{len(self._criteria)} criteria"
        return f"RubricVerifier({n})"


def _count(regex: re.Pattern[str], text: str, limit: int) -> int:
    n = 0
    for _ in regex.finditer(text):
        n += 1
        if n >= limit:
            break
    return n


def _evaluate(c: Criterion, text: str) -> tuple[bool, str]:
    p = c.params
    if c.type in ("keyword", "regex"):
        lo, hi = p["min_count"], p["max_count"]
        limit = (hi if hi is not None else lo) + 1
        counts = [_count(r, text, limit) for r in c.regexes]
        words = p.get("words") or [c.regexes[0].pattern]
        ok_each = [lo <= n and (hi is None or n <= hi) for n in counts]
        ok = any(ok_each) if p.get("mode", "all") == "any" else all(ok_each)
        missing = [w for w, good in zip(words, ok_each) if not good]
        return ok, "found" if ok else f"count out of range for: {', '.join(missing)[:120]}"
    if c.type == "forbidden":
        hits = [w for w, r in zip(p["words"], c.regexes) if r.search(text)]
        return not hits, "none present" if not hits else f"contains {', '.join(hits)[:120]}"
    if c.type in ("length", "word_count"):
        n = len(text.strip()) if c.type == "length" else len(text.split())
        ok = (p["min"] is None or n >= p["min"]) and (p["max"] is None or n <= p["max"])
        return ok, f"{n} {'characters' if c.type == 'length' else 'words'}"
    if c.type == "sections":
        fold = (lambda s: s) if p["case_sensitive"] else str.casefold
        found = [fold(h) for h in _headings(text)]
        positions = []
        missing = []
        for title in p["required"]:
            try:
                positions.append(found.index(fold(title)))
            except ValueError:
                missing.append(title)
        if missing:
            return False, f"missing section(s): {', '.join(missing)[:120]}"
        if p["ordered"] and positions != sorted(positions):
            return False, "sections are out of order"
        return True, "all sections present"
    # json_schema
    candidate = extract_fenced(text, ("json",))
    body = (candidate if candidate is not None else text).strip()
    if not _json_depth_ok(body):
        return False, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        return False, f"not valid JSON: {getattr(exc, 'msg', exc)}"
    problem = validate_json(value, p["schema"])
    return problem is None, problem or "valid"
