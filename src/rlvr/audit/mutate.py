"""Mutation testing for verifiers: derive known-bad outputs from known-good ones.

Given a *correct* output, each operator makes one small change that should turn it wrong:

- ``final_answer``: the last number of the final answer (or, in code and SQL, the last numeric
  literal) is changed (+1);
- ``flip_operator``: one operator is flipped (``+``/``-``, ``*``/``/``, ``<``/``<=``, ``==``/``!=``,
  SQL ``AND``/``OR``); in prose only inside the final answer, where the grader looks;
- ``drop_branch``: code loses an ``else``/``elif`` clause (or an ``if`` block); SQL loses its last
  ``WHERE`` condition;
- ``truncate``: prose is cut before its final answer (skipped when the answer still appears
  before the cut), code and SQL are cut in half.

An operator that does not apply is skipped, and no mutant equal to its original is emitted.
Mutants are *presumed* wrong: an equivalent mutant (``x * 1`` → ``x / 1``) is possible, so a
"false positive" on a mutant is worth a look before it is called a verifier bug.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rlvr.audit.cases import AuditCase, case_from_record
from rlvr.errors import InputError
from rlvr.verifiers.extract import extract_code, extract_final_answer, extract_sql

__all__ = ["MUTATIONS", "load_mutants", "mutate_output"]

MUTATIONS = ("final_answer", "flip_operator", "drop_branch", "truncate")

_NUM = re.compile(r"(?<![\w.])(-?\d+)(\.\d+)?(?![\w])")
_PROSE_FLIPS = {"+": "-", "-": "+", "<": ">", ">": "<", "\\times": "\\div", "\\cdot": "\\div", "\\div": "\\times", "*": "/", "/": "*"}
_PY_FLIPS = {
    "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
    "+": "-", "-": "+", "*": "//", "//": "*", "/": "*", "%": "//", "and": "or", "or": "and",
}  # fmt: skip
_SQL_FLIP = re.compile(r"<=|>=|<>|!=|=|<|>|\bAND\b|\bOR\b|\bASC\b|\bDESC\b", re.I)
_SQL_FLIPS = {"<=": "<", ">=": ">", "<>": "=", "!=": "=", "=": "<>", "<": "<=", ">": ">=",
              "and": "OR", "or": "AND", "asc": "DESC", "desc": "ASC"}  # fmt: skip


def _bump(match: re.Match[str]) -> str:
    whole, frac = match.group(1), match.group(2) or ""
    return str(int(whole) + 1) + frac


def _replace_last_number(text: str, lo: int = 0, hi: int | None = None) -> str | None:
    hi = len(text) if hi is None else hi
    last = None
    for m in _NUM.finditer(text, lo, hi):
        last = m
    if last is None:
        return None
    return text[: last.start()] + _bump(last) + text[last.end() :]


# -- prose (math-style answers) -----------------------------------------------------------------


def _answer_span(text: str) -> tuple[int, int] | None:
    ext = extract_final_answer(text, fallback="last_number")
    if ext.problem or not ext.spans:
        return None
    return ext.spans[-1]


def _prose_final_answer(text: str, answer: Any) -> str | None:
    span = _answer_span(text)
    return _replace_last_number(text, *span) if span else _replace_last_number(text)


def _prose_flip(text: str, answer: Any) -> str | None:
    span = _answer_span(text)
    if span is None:
        return None
    lo, hi = span
    segment = text[lo:hi]
    # Binary operators only: a sign at the start of the answer (-3) is a value, not an operator.
    pattern = re.compile(r"(?<=[\w})\s])\s*(\\times|\\cdot|\\div|[+\-*/<>])\s*(?=[\w({\\])")
    for m in pattern.finditer(segment):
        op = m.group(1)
        if op == "/" and segment[max(0, m.start() - 1)] == "\\":
            continue
        new = segment[: m.start(1)] + _PROSE_FLIPS[op] + segment[m.end(1) :]
        return text[:lo] + new + text[hi:]
    return None


def _prose_truncate(text: str, answer: Any) -> str | None:
    span = _answer_span(text)
    if span is None:
        return None
    # Cut at the start of the line or sentence holding the final answer.
    start = span[0]
    cut = max(text.rfind("\n", 0, start), text.rfind(". ", 0, start) + 1, 0)
    head = text[:cut].rstrip()
    if not head:
        return None
    ext = extract_final_answer(text, fallback="last_number")
    wanted = {str(answer).strip()} if answer is not None else set()
    wanted.update(a.strip() for a in ext.answers)
    for token in wanted:
        if token and re.search(r"(?<![\w.])" + re.escape(token) + r"(?![\w])", head):
            return None  # the answer is still there: the cut output is not known-bad
    return head


# -- code ---------------------------------------------------------------------------------------


def _py_ops(code: str) -> list[tuple[int, int, str]]:
    """(start, end, op) offsets of operators outside strings and comments."""
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if (tok.type == tokenize.OP and tok.string in _PY_FLIPS) or (
                tok.type == tokenize.NAME and tok.string in ("and", "or")
            ):
                (r0, c0), (r1, c1) = tok.start, tok.end
                out.append((starts[r0 - 1] + c0, starts[r1 - 1] + c1, tok.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return out


def _code_flip(code: str) -> str | None:
    ops = _py_ops(code)
    if not ops:
        return None
    # Comparisons first (boundaries are where off-by-one bugs live), then arithmetic, then logic.
    rank = {op: i for i, op in enumerate(["<", "<=", ">", ">=", "==", "!=", "+", "-", "*", "//", "/", "%", "and", "or"])}
    s, e, op = min(ops, key=lambda t: (rank[t[2]], t[0]))
    return code[:s] + _PY_FLIPS[op] + code[e:]


def _code_literal(code: str) -> str | None:
    ops = [m for m in _NUM.finditer(code) if not _in_string_or_comment(code, m.start())]
    if not ops:
        return None
    last = ops[-1]
    return code[: last.start()] + _bump(last) + code[last.end() :]


def _in_string_or_comment(code: str, pos: int) -> bool:
    line_start = code.rfind("\n", 0, pos) + 1
    prefix = code[line_start:pos]
    if "#" in prefix.split("'")[0].split('"')[0]:
        return True
    return prefix.count("'") % 2 == 1 or prefix.count('"') % 2 == 1


def _code_drop_branch(code: str) -> str | None:
    lines = code.splitlines(keepends=True)

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" \t"))

    def block_end(i: int) -> int:
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or indent(lines[j]) > indent(lines[i])):
            j += 1
        return j

    for keyword in ("else", "elif"):
        for i, line in enumerate(lines):
            if re.match(rf"\s*{keyword}\b.*:\s*(#.*)?$", line):
                return "".join(lines[:i] + lines[block_end(i) :])
    for i, line in enumerate(lines):
        if re.match(r"\s*if\b.*:\s*(#.*)?$", line):
            end = block_end(i)
            # An if with no else: dropping it must leave a body behind in its enclosing block.
            rest = lines[:i] + lines[end:]
            candidate = "".join(rest)
            try:
                compile(candidate, "<mutant>", "exec")
            except SyntaxError:
                continue
            return candidate
    return None


def _code_truncate(code: str) -> str | None:
    lines = code.rstrip().splitlines(keepends=True)
    if len(lines) < 2:
        return None
    return "".join(lines[: len(lines) // 2])


# -- SQL ----------------------------------------------------------------------------------------


def _mask_sql_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", lambda m: "'" + "_" * (len(m.group()) - 2) + "'", sql)


def _sql_flip(sql: str) -> str | None:
    masked = _mask_sql_strings(sql)
    m = _SQL_FLIP.search(masked, masked.upper().find("WHERE") + 1 if "WHERE" in masked.upper() else 0)
    if not m:
        m = _SQL_FLIP.search(masked)
    if not m:
        return None
    return sql[: m.start()] + _SQL_FLIPS[m.group().lower()] + sql[m.end() :]


def _sql_literal(sql: str) -> str | None:
    masked = _mask_sql_strings(sql)
    nums = list(_NUM.finditer(masked))
    if not nums:
        return None
    last = nums[-1]
    return sql[: last.start()] + _bump(last) + sql[last.end() :]


def _sql_drop_condition(sql: str) -> str | None:
    masked = _mask_sql_strings(sql)
    where = re.search(r"\bWHERE\b", masked, re.I)
    if not where:
        return None
    end_m = re.compile(r"\b(GROUP\s+BY|ORDER\s+BY|HAVING|LIMIT|UNION|EXCEPT|INTERSECT)\b|;|\)\s*$", re.I).search(
        masked, where.end()
    )
    end = end_m.start() if end_m else len(sql.rstrip())
    conds = list(re.finditer(r"\b(AND|OR)\b", masked[where.end() : end], re.I))
    if conds:
        last = conds[-1]
        s = where.end() + last.start()
        return (sql[:s].rstrip() + " " + sql[end:].lstrip()).strip()
    return (sql[: where.start()].rstrip() + " " + sql[end:].lstrip()).strip()


def _sql_truncate(sql: str) -> str | None:
    words = sql.split()
    if len(words) < 4:
        return None
    return " ".join(words[: len(words) // 2])


# -- dispatch -----------------------------------------------------------------------------------


def _in_region(output: str, region: str | None, fn: Callable[[str], str | None]) -> str | None:
    """Apply ``fn`` to the code/SQL region of ``output`` and splice the result back."""
    if not region or not region.strip():
        return None
    new = fn(region)
    if new is None or new == region:
        return None
    idx = output.find(region)
    if idx < 0:
        return None
    return output[:idx] + new + output[idx + len(region) :]


def mutate_output(output: str, kind: str | None = None, answer: Any = None) -> list[tuple[str, str]]:
    """``(mutation label, mutant)`` pairs for one correct output; inapplicable mutations are skipped."""
    if not isinstance(output, str) or not output.strip():
        return []
    found: list[tuple[str, str | None]] = []
    if kind == "code":
        region = extract_code(output)
        found = [
            ("final_answer", _in_region(output, region, _code_literal)),
            ("flip_operator", _in_region(output, region, _code_flip)),
            ("drop_branch", _in_region(output, region, _code_drop_branch)),
            ("truncate", _in_region(output, region, _code_truncate)),
        ]
    elif kind == "sql":
        region = extract_sql(output)
        found = [
            ("final_answer", _in_region(output, region, _sql_literal)),
            ("flip_operator", _in_region(output, region, _sql_flip)),
            ("drop_branch", _in_region(output, region, _sql_drop_condition)),
            ("truncate", _in_region(output, region, _sql_truncate)),
        ]
    else:
        found = [
            ("final_answer", _prose_final_answer(output, answer)),
            ("flip_operator", _prose_flip(output, answer)),
            ("truncate", _prose_truncate(output, answer)),
        ]
    out: list[tuple[str, str]] = []
    seen = {output}
    for label, mutant in found:
        if mutant is not None and mutant not in seen:
            seen.add(mutant)
            out.append((label, mutant))
    return out


def load_mutants(
    path: str | os.PathLike[str], kind: str | None, *, include_originals: bool = True
) -> list[AuditCase]:
    """Known-bad mutants (and, by default, the originals as known-good) from a JSONL of correct outputs."""
    from rlvr.io import iter_jsonl

    p = Path(path)
    source_dir = str(p.resolve().parent)
    out: list[AuditCase] = []
    for item in iter_jsonl(p, required=("output",)):
        record: Mapping[str, Any] = item.record or {}
        where = f"{p}:{item.line}"
        if record.get("should_pass") is False:
            raise InputError("a --mutate file holds correct outputs; this line says should_pass: false", str(p), item.line)
        if not isinstance(record.get("output"), str):
            raise InputError("output must be a string to mutate", str(p), item.line)
        name = record.get("test") if isinstance(record.get("test"), str) else f"{p.name}:{item.line}"
        base = {k: v for k, v in record.items() if k not in ("should_pass", "test", "mutation")}
        if include_originals:
            out.append(
                case_from_record(
                    base, default_test=f"{name} (original)", source=where, source_dir=source_dir, force_should_pass=True
                )
            )
        for label, mutant in mutate_output(record["output"], kind, record.get("answer")):
            out.append(
                case_from_record(
                    {**base, "output": mutant},
                    default_test=f"{name} ({label})",
                    source=f"mutant of {where}",
                    source_dir=source_dir,
                    force_should_pass=False,
                    mutation=label,
                )
            )
    if not out:
        raise InputError("no correct outputs to mutate (the file is empty)", str(p))
    return out
