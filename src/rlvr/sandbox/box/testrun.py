"""Running a check's test code in the harness, against handles to the candidate's names.

``assert a == b`` becomes ``__rlvr_rec.eq(i, a, b, src)`` and other asserts ``.truth``: the
recorder keeps both sides of every equality as plain data, so the verifier re-checks each one
itself. Top-level asserts (MBPP style) are one test each, and so is a top-level statement that
asserted (a loop, a helper call); a ``check(candidate)`` function (HumanEval style) is called
with the handle of ``entry_point`` and is one more test. Each check gets a fresh namespace.

When the tests read no name from the candidate's module but ``entry_point`` (``candidate``), they
start at once: their first call goes to the candidate right behind its code (handle 1 is the entry
point's), and the candidate's load report is read ahead of that call's reply; a load that failed
or lacks the entry point is reported as such, whatever the tests did meanwhile. One round trip
fewer per check. Tests that read other names of the candidate's (a HumanEval prompt's helper,
MBPP's functions) wait for the load report and get a handle for each name, as before.
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
import types

from .rpc import CandidateDied, CandidateRaised, Handle, LoadFailed, Rpc
from .wire import Unserialisable, decode_value, encode_value, short_repr


class Recorder:
    """Collects assertion outcomes; the rewritten asserts call into it."""

    def __init__(self, max_records: int = 200) -> None:
        self.records: list[dict] = []
        self.count = 0
        self.max_records = max_records
        self.current_test = 0

    def _add(self, rec: dict) -> None:
        self.count += 1
        rec["test"] = self.current_test
        rec["n"] = self.count
        if rec["passed"] and len(self.records) >= self.max_records:
            return
        if len(self.records) < self.max_records * 2:
            self.records.append(rec)

    def eq(self, idx: int, left: object, right: object, src: str) -> None:
        try:
            passed = bool(left == right)
        except TypeError as exc:
            self._add({"assert": idx, "kind": "eq", "passed": False, "src": src, "error": str(exc)[:300]})
            raise AssertionError(str(exc)) from None
        rec = {"assert": idx, "kind": "eq", "passed": passed, "src": src}
        try:
            rec["got"] = encode_value(left)
            rec["expected"] = encode_value(right)
        except Unserialisable as exc:
            rec["passed"], passed = False, False
            rec["error"] = f"not plain data: {exc}"
        if not passed:
            rec["got_repr"], rec["expected_repr"] = short_repr(left), short_repr(right)
        self._add(rec)
        if not passed:
            raise AssertionError(src)

    def truth(self, idx: int, value: object, src: str) -> None:
        try:
            passed = bool(value)
        except TypeError as exc:
            self._add({"assert": idx, "kind": "truth", "passed": False, "src": src, "error": str(exc)[:300]})
            raise AssertionError(str(exc)) from None
        self._add({"assert": idx, "kind": "truth", "passed": passed, "src": src})
        if not passed:
            raise AssertionError(src)


class AssertRewriter(ast.NodeTransformer):
    """``assert a == b`` -> ``__rlvr_rec.eq(i, a, b, src)``; other asserts -> ``.truth``.
    The recorder keeps both sides as plain data, so the verifier can recheck every equality."""

    def __init__(self, source: str) -> None:
        # Split once, as the parser counts lines (\r\n, \r, \n): ast.get_source_segment splits
        # the whole source again, in a character loop, on every call (quadratic in the tests).
        self.lines = re.split(r"(?<=\n)|(?<=\r)(?!\n)", source)
        self.n = 0

    def _segment(self, node: ast.AST) -> str:
        """``ast.get_source_segment(source, node)``, cut to 200 characters."""
        try:
            first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined,operator]
            col, end_col = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
            if end_col is None:
                return "?"
            if first == last:
                return self.lines[first].encode()[col:end_col].decode()[:200]
            parts = [self.lines[first].encode()[col:].decode(), *self.lines[first + 1:last],
                     self.lines[last].encode()[:end_col].decode()]
            return "".join(parts)[:200]
        except (AttributeError, IndexError, TypeError, UnicodeDecodeError):
            return "?"

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.n += 1
        src = self._segment(node.test) or "?"
        # Every new node gets the assert's location here (ast.fix_missing_locations would walk the
        # whole tree again, which costs more than the rewrite itself on HumanEval-sized tests).
        def at(new: ast.AST) -> ast.AST:
            return ast.copy_location(new, node)

        rec = at(ast.Name("__rlvr_rec", ast.Load()))
        t = node.test
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
            call = ast.Call(at(ast.Attribute(rec, "eq", ast.Load())),
                            [at(ast.Constant(self.n)), t.left, t.comparators[0], at(ast.Constant(src))], [])
        else:
            call = ast.Call(at(ast.Attribute(rec, "truth", ast.Load())),
                            [at(ast.Constant(self.n)), t, at(ast.Constant(src))], [])
        return at(ast.Expr(at(call)))


def private_builtins(imported: set[str] | None = None) -> dict:
    """A copy of the builtins for one check's tests; ``import builtins`` there gets that copy, so
    a test that patches a builtin patches only its own (the harness's stay as they are). Every
    module the tests import is added to ``imported`` (the harness's state guard checks those)."""
    mod = types.ModuleType("builtins")
    mod.__dict__.update(builtins.__dict__)
    real_import = builtins.__import__

    def _import(name: str, globals: object = None, locals: object = None, fromlist: object = (),
                level: int = 0) -> object:
        if imported is not None:
            imported.add(name if level == 0 else "." * level + name)
            if fromlist:
                imported.update(f"{name}.{x}" for x in fromlist if isinstance(x, str))  # type: ignore[union-attr]
        if name == "builtins" and level == 0:
            return mod
        return real_import(name, globals, locals, fromlist, level)

    mod.__dict__["__import__"] = _import
    return mod.__dict__


def describe(exc: BaseException) -> str:
    if isinstance(exc, CandidateRaised):
        return f"the candidate raised {exc}"
    if isinstance(exc, CandidateDied):
        return str(exc)
    if isinstance(exc, AssertionError):
        return f"assertion failed: {exc}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class Program(list):
    """Compiled test code: one (code object, is a top-level assert, line) per top-level statement;
    ``free``: the names the tests read that they never bind (builtins aside)."""

    free: frozenset = frozenset()


def free_names(tests: str) -> frozenset:
    """Names the test code reads from its module namespace without binding them there: those it
    expects the candidate (or the harness) to provide. Conservative: any doubt adds a name."""
    top = symtable.symtable(tests, "tests.py", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    wanted: set[str] = set()
    todo = [top]
    while todo:
        table = todo.pop()
        for sym in table.get_symbols():
            if sym.is_referenced() and (table is top or sym.is_global()) and sym.get_name() not in bound:
                wanted.add(sym.get_name())
        todo.extend(table.get_children())
    return frozenset(n for n in wanted if not hasattr(builtins, n))

_COMPILED: dict[str, Program | str] = {}
_CACHE_SIZE = 256


def compile_tests(tests: str) -> Program | str:
    """The rewritten, compiled statements of ``tests``, or the reason they do not parse. Cached by
    source in this long-lived harness: a GRPO group's samples (and a benchmark's repeats) share
    their tests, and rewriting and compiling them costs more than running them. Code objects are
    immutable, and only test code (trusted) goes in."""
    hit = _COMPILED.pop(tests, None)
    if hit is None:
        try:
            tree = AssertRewriter(tests).visit(ast.parse(tests, "tests.py"))
            hit = Program()
            hit.free = free_names(tests)
            for stmt in tree.body:
                is_test = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
                    stmt.value.func, ast.Attribute) and isinstance(stmt.value.func.value, ast.Name) and \
                    stmt.value.func.value.id == "__rlvr_rec"
                hit.append((compile(ast.Module([stmt], []), "tests.py", "exec"), is_test, stmt.lineno))
        except SyntaxError as exc:
            hit = f"the test code does not parse: {exc}"
        except (ValueError, RecursionError, MemoryError) as exc:
            hit = f"the test code does not compile: {type(exc).__name__}: {str(exc)[:200]}"
        if len(_COMPILED) >= _CACHE_SIZE:
            del _COMPILED[next(iter(_COMPILED))]
    _COMPILED[tests] = hit  # most recently used last
    return hit


def run_tests(rpc: Rpc, program: Program | str, entry_point: str | None, imported: set[str] | None = None) -> dict:
    """Load the candidate's names, then run the compiled test code with proxies for them."""
    report: dict[str, object] = {"tests": [], "records": []}
    if pipelined(program, entry_point):
        rpc.entry = entry_point
        cand: object = Handle(rpc, 1, "function", True)
        proxies: dict[str, object] = {str(entry_point): cand}
        done = _run(rpc, program, cand, proxies, imported)  # type: ignore[arg-type]
        if rpc.entry is not None:  # the tests never called the candidate: its report is still to come
            try:
                rpc.take_load(rpc.recv())
            except CandidateDied as exc:
                report["load_error"] = f"{exc} before the tests ran"
                return report
            except LoadFailed:
                pass
        problem = _load_problem(rpc.load, entry_point)
        if problem:
            return {**report, **problem}
        report["names"] = sorted(rpc.load["names"])[:50]  # type: ignore[index]
        return {**report, **done}
    try:
        load = rpc.recv()
    except CandidateDied as exc:
        report["load_error"] = f"{exc} before the tests ran"
        return report
    problem = _load_problem(load, None)
    if problem:
        return {**report, **problem}
    names = load.get("names") if isinstance(load.get("names"), dict) else {}  # type: ignore[union-attr]
    proxies = {}
    for name, ref in names.items():  # type: ignore[union-attr]
        try:
            proxies[str(name)] = decode_value(ref, lambda h, t, c: Handle(rpc, h, t, c))
        except ValueError:
            continue
    report["names"] = sorted(proxies)[:50]
    cand = proxies.get(entry_point) if entry_point else None
    if entry_point and cand is None:
        report["tests"] = [{"test": 1, "status": "error", "check": True,
                            "message": f"the candidate defines no function named {entry_point!r}"}]
        return report
    if isinstance(program, str):
        report["test_error"] = program
        return report
    return {**report, **_run(rpc, program, cand, proxies, imported)}


def pipelined(program: Program | str, entry_point: str | None) -> bool:
    """Whether the tests may start before the candidate's load report (see the module docstring)."""
    return bool(entry_point) and isinstance(program, Program) and program.free <= {entry_point, "candidate"}


def _load_problem(load: object, entry_point: str | None) -> dict | None:
    """What is wrong with the candidate's load report, as report fields; None when nothing is."""
    if isinstance(load, dict) and load.get("op") == "setup_error":  # the sandbox's failure, not the model's
        return {"setup_error": str(load.get("msg"))[-1500:]}
    if not isinstance(load, dict) or load.get("op") not in ("loaded", "load_error"):
        return {"load_error": "the candidate sent a malformed first message"}
    if load["op"] == "load_error":
        return {"load_error": f"the candidate code raised {str(load.get('exc'))[:80]}: {str(load.get('msg'))[:300]}",
                "traceback": str(load.get("traceback", ""))[-1500:]}
    names = load.get("names")
    if entry_point and not (isinstance(names, dict) and isinstance(names.get(entry_point), list)):
        return {"tests": [{"test": 1, "status": "error", "check": True,
                           "message": f"the candidate defines no function named {entry_point!r}"}]}
    return None


def _run(rpc: Rpc, program: Program, cand: object, proxies: dict[str, object], imported: set[str] | None) -> dict:
    """Run the compiled tests with ``proxies`` for the candidate's names; the report's test fields."""
    rec = Recorder()
    glb: dict[str, object] = {"__name__": "__tests__", "__builtins__": private_builtins(imported), **proxies,
                              "__rlvr_rec": rec}
    if cand is not None:
        glb.setdefault("candidate", cand)  # asserts written against ``candidate(...)`` (no check())
    tests_out: list[dict] = []
    for code, is_test, lineno in program:
        rec.current_test = len(tests_out) + 1
        before = rec.count
        try:
            exec(code, glb)
            if is_test or rec.count > before:  # a loop or helper call that asserted is a test too
                tests_out.append({"test": len(tests_out) + 1, "status": "passed"})
        except BaseException as exc:
            entry = {"test": len(tests_out) + 1, "status": "failed" if isinstance(exc, AssertionError) else "error",
                     "message": describe(exc)[:500], "line": lineno}
            if is_test or rec.count > before:
                tests_out.append(entry)
            else:
                entry["status"] = "error"
                entry["setup"] = True
                tests_out.append(entry)
                if isinstance(exc, CandidateDied):
                    break
            if isinstance(exc, LoadFailed):
                break  # the load report replaces whatever the tests did
    check = glb.get("check")
    if cand is not None and callable(check):
        rec.current_test = len(tests_out) + 1
        try:
            check(cand)
            tests_out.append({"test": rec.current_test, "status": "passed", "check": True})
        except BaseException as exc:
            tests_out.append({"test": rec.current_test, "check": True,
                              "status": "failed" if isinstance(exc, AssertionError) else "error",
                              "message": describe(exc)[:500]})
    elif cand is not None and not any(not t.get("setup") for t in tests_out):
        tests_out.append({"test": len(tests_out) + 1, "status": "error", "check": True, "data_error": True,
                          "message": "the test code defines no check(candidate) function and no "
                                     "top-level assert"})
    return {"tests": tests_out, "records": rec.records, "assertions": rec.count}

