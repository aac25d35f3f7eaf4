"""The code-execution verifier: run the model's Python against tests, in a real sandbox.

Two test protocols:

* ``tests`` is Python test code: top-level ``assert`` statements (MBPP style; each is one test,
  and so is a top-level loop or call that asserts; with ``entry_point`` they call the function by
  its name, or as ``candidate``), and/or a ``check(candidate)`` function called with the function
  named by ``entry_point`` (HumanEval style). The tests run in the sandbox's harness process; the model's code runs in a
  separate candidate process and answers calls with plain data only (``rlvr.sandbox`` explains
  the threat model).
* ``tests`` is a list of ``{"input": stdin, "output": expected stdout}`` cases. Each case runs
  the program fresh; the verifier compares the whole stdout (whitespace-normalised, optionally
  token-wise with a float tolerance). Expected outputs never enter the sandbox.

Correctness is decided here, never in a sandboxed process: a pass needs the harness's per-run
token, every ``assert a == b`` is re-checked on the returned plain data with exact types (``True``
is not ``1``), and an exit code proves nothing. ``details`` lists per-test statuses and the
first failure, e.g. ``test 3 failed: candidate(2) returned 5, expected 4``.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from rlvr.errors import ConfigError
from rlvr.sandbox import Sandbox, SandboxConfig
from rlvr.sandbox.box.wire import decode_value, short_repr
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.extract import extract_code

__all__ = ["CodeVerifier", "compare_stdout", "plain_equal"]

_COMPARE_MODES = ("whitespace", "exact", "tokens")
_MAX_DETAIL_TESTS = 50


def plain_equal(a: Any, b: Any) -> bool:
    """Equality of plain data with exact types: bool is not int, list is not tuple, set is not
    frozenset. int and float compare by value (``2 == 2.0``), as a test author expects."""
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return a == b
    if ta is not tb:
        return False
    if ta in (list, tuple):
        return len(a) == len(b) and all(plain_equal(x, y) for x, y in zip(a, b))
    if ta is dict:
        return a.keys() == b.keys() and all(plain_equal(a[k], b[k]) for k in a)
    return bool(a == b)


_WS = re.compile(r"[ \t\r\f\v]+")


def _norm_lines(text: str) -> list[str]:
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _tokens_equal(got: str, want: str, rel_tol: float, abs_tol: float) -> bool:
    if got == want:
        return True
    try:
        g, w = float(got), float(want)
    except ValueError:
        return False
    if g != g or w != w:  # NaN equals nothing
        return False
    return abs(g - w) <= abs_tol + rel_tol * max(abs(g), abs(w))


def compare_stdout(got: str, want: str, mode: str = "whitespace", float_tol: float = 0.0) -> str | None:
    """None when ``got`` matches ``want``, else a short description of the first difference.

    ``whitespace``: line by line, runs of blanks collapsed, leading/trailing blank lines and
    trailing spaces ignored. ``tokens``: whitespace-separated tokens, line breaks ignored.
    ``exact``: byte for byte. ``float_tol`` > 0 lets numeric tokens differ by that much
    (absolute and relative), in ``whitespace`` and ``tokens`` modes.
    """
    if mode == "exact":
        if got == want:
            return None
        i = next((k for k, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
        return f"output differs at character {i}"
    if mode == "tokens":
        g, w = got.split(), want.split()
        for i, (x, y) in enumerate(zip(g, w)):
            if not _tokens_equal(x, y, float_tol, float_tol):
                return f"token {i + 1}: got {x[:60]!r}, expected {y[:60]!r}"
        if len(g) != len(w):
            return f"got {len(g)} tokens, expected {len(w)}"
        return None
    gl, wl = _norm_lines(got), _norm_lines(want)
    for i, (x, y) in enumerate(zip(gl, wl)):
        if x == y:
            continue
        if float_tol > 0:
            xs, ys = x.split(), y.split()
            if len(xs) == len(ys) and all(_tokens_equal(a, b, float_tol, float_tol) for a, b in zip(xs, ys)):
                continue
        return f"line {i + 1}: got {x[:80]!r}, expected {y[:80]!r}"
    if len(gl) != len(wl):
        return f"got {len(gl)} lines, expected {len(wl)}"
    return None


def _left_src(src: str) -> str:
    """``candidate(2) == 4`` -> ``candidate(2)`` (for messages)."""
    try:
        node = ast.parse(src, mode="eval").body
    except SyntaxError:
        return src
    if isinstance(node, ast.Compare):
        return ast.get_source_segment(src, node.left) or src
    return src


class CodeVerifier(BaseVerifier):
    """Runs the model's Python against the sample's tests in a sandbox; see the module docstring."""

    name = "code"
    required_fields = ("output", "tests")

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        total_timeout: float = 20.0,
        memory_mb: int = 1024,
        isolation: str = "auto",
        max_output_bytes: int = 1 << 20,
        max_processes: int = 32,
        compare: str = "whitespace",
        float_tol: float = 0.0,
        partial_credit: bool = False,
        prepend_prompt: bool = False,
        site_packages: bool = False,
    ) -> None:
        """
        timeout: wall-clock seconds for one program run (the whole assert suite, or one
            stdin/stdout case). total_timeout: seconds for the whole check; keep it below the
            engine's per-sample limit (30 s by default).
        memory_mb: address-space limit per sandboxed process. max_processes: RLIMIT_NPROC.
        isolation: "auto" | "namespaces" | "bwrap" | "none" (unsafe: no isolation).
        max_output_bytes: stdout kept per run; more fails the case.
        compare: stdout comparison, "whitespace" | "tokens" | "exact"; float_tol: numeric
            tolerance for stdout tokens (0 = exact text).
        partial_credit: score = fraction of tests passed (status stays "incorrect").
        prepend_prompt: the output is a completion; run ``prompt + output`` (HumanEval style).
        site_packages: let candidates import installed packages.
        """
        if compare not in _COMPARE_MODES:
            raise ConfigError(f"compare must be one of {', '.join(_COMPARE_MODES)}; got {compare!r}")
        if not float_tol >= 0:
            raise ConfigError(f"float_tol must be >= 0, got {float_tol}")
        if total_timeout >= 30.0:
            raise ConfigError(
                f"total_timeout={total_timeout:g}s would reach the engine's 30 s per-sample limit; "
                "use a smaller value (or raise the engine's --timeout and this together)"
            )
        self.config = SandboxConfig(
            isolation=isolation,
            timeout=float(timeout),
            total_timeout=float(total_timeout),
            memory_mb=int(memory_mb),
            max_output_bytes=int(max_output_bytes),
            max_processes=int(max_processes),
            site_packages=bool(site_packages),
        )
        self.compare = compare
        self.float_tol = float(float_tol)
        self.partial_credit = bool(partial_credit)
        self.prepend_prompt = bool(prepend_prompt)
        self.sandbox = Sandbox(self.config)
        # Resolve the tier now: a kernel without isolation is a loud setup error, not a verdict.
        self.isolation = self.sandbox.tier

    def close(self) -> None:
        """Stop this process's warm sandbox processes (they also stop at exit)."""
        self.sandbox.close()

    # -- BaseVerifier --------------------------------------------------------------------------
    def check(self, sample: Sample) -> Verdict:
        meta = sample.metadata
        tests = meta.get("tests")
        text = sample.output
        if self.prepend_prompt:
            prompt = meta.get("prompt")
            if not isinstance(prompt, str):
                return Verdict.error("prepend_prompt is set but the sample has no string 'prompt'")
            text = prompt + text
        code = extract_code(text, "python")
        if code is None or not code.strip():
            return Verdict.unparsable("no Python code found in the output")
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return Verdict.unparsable(f"the code does not parse: {exc.msg} (line {exc.lineno})", code_chars=len(code))
        except (ValueError, MemoryError, RecursionError) as exc:
            return Verdict.unparsable(f"the code does not parse: {type(exc).__name__}")
        if isinstance(tests, str):
            entry = meta.get("entry_point")
            if entry is not None and not (isinstance(entry, str) and entry.isidentifier()):
                return Verdict.error(f"entry_point must be a function name, got {entry!r}")
            return self._check_asserts(code, tests, entry)
        if isinstance(tests, list) and tests and all(
            isinstance(t, dict) and isinstance(t.get("input", ""), str) and isinstance(t.get("output"), str)
            for t in tests
        ):
            return self._check_stdio(code, tests)
        return Verdict.error(
            "the sample's 'tests' must be Python test code (a string) or a non-empty list of "
            '{"input": str, "output": str} cases'
        )

    # -- assert / check(candidate) ------------------------------------------------------------
    def _check_asserts(self, code: str, tests: str, entry_point: str | None) -> Verdict:
        out = self.sandbox.run_tests(code, tests, entry_point)
        base: dict[str, Any] = {"mode": "asserts", "isolation": out.isolation, "elapsed_s": round(out.elapsed_s, 4)}
        if out.setup_error:
            return Verdict.error(f"the sandbox could not start this run: {out.setup_error.strip().splitlines()[-1][:300]}",
                                 **base, setup_error=out.setup_error)
        if out.timed_out:
            return Verdict.timeout(f"the tests did not finish within {self.config.timeout:g}s", **base,
                                   timeout_s=self.config.timeout)
        if not out.messages or out.messages[0].get("op") != "results":
            return Verdict.error(f"the test harness stopped without results ({out.died or 'no message'})", **base)
        if not out.token_ok:
            return Verdict.error("the test harness's results lack this run's token; ignoring them", **base)
        report = out.messages[0]
        if report.get("load_error"):
            reason = str(report["load_error"])[:400]
            return Verdict.incorrect(reason, **base, traceback=str(report.get("traceback", ""))[-1500:])
        if report.get("test_error"):
            return Verdict.error(str(report["test_error"])[:400], **base)
        tests_out = [t for t in report.get("tests", []) if isinstance(t, dict)]
        bad_data = next((t for t in tests_out if t.get("data_error")), None)
        if bad_data is not None:  # the record's fault, not the model's
            return Verdict.error(f"bad test data: {bad_data.get('message')}", **base)
        records = [r for r in report.get("records", []) if isinstance(r, dict)]
        # Recheck every equality the harness saw, on plain data, with exact types.
        failed_tests: dict[int, str] = {}
        for r in records:
            if r.get("kind") != "eq" or "got" not in r:
                continue
            try:
                got, want = decode_value(r["got"]), decode_value(r["expected"])
            except (ValueError, TypeError, OverflowError):
                failed_tests.setdefault(int(r.get("test", 0)), f"assertion {r.get('src')!s:.100} returned an invalid value")
                continue
            if not plain_equal(got, want) and r.get("passed"):
                failed_tests.setdefault(
                    int(r.get("test", 0)),
                    f"{_left_src(str(r.get('src')))} returned {short_repr(got)}, expected {short_repr(want)} "
                    "(types differ)",
                )
        statuses: list[dict[str, Any]] = []
        for t in tests_out:
            n = int(t.get("test", 0))
            status = t.get("status")
            message = t.get("message")
            if status == "passed" and n in failed_tests:
                status, message = "failed", failed_tests[n]
            elif status == "failed":
                rec = next((r for r in records if r.get("test") == n and not r.get("passed")), None)
                if rec is not None and rec.get("kind") == "eq" and "got_repr" in rec:
                    message = (f"{_left_src(str(rec.get('src')))} returned {rec['got_repr']}, "
                               f"expected {rec['expected_repr']}")
                elif rec is not None and rec.get("error"):
                    message = f"{rec.get('src')}: {rec['error']}"
                elif rec is not None:
                    message = f"assertion failed: {rec.get('src')}"
            entry = {"test": n, "status": status}
            if message:
                entry["message"] = str(message)[:400]
            if t.get("setup"):
                entry["setup"] = True
            statuses.append(entry)
        real = [s for s in statuses if not s.get("setup")]
        base.update(
            tests=statuses[:_MAX_DETAIL_TESTS],
            assertions=int(report.get("assertions") or 0),
            passed=sum(s["status"] == "passed" for s in real),
            total=len(real),
        )
        if not real:
            bad = next((s for s in statuses if s["status"] != "passed"), None)
            if bad:
                return Verdict.incorrect(f"the test code failed before any test ran: {bad.get('message')}", **base)
            return Verdict.error("the tests contain no assert statement and no check(candidate) to call", **base)
        first_bad = next((s for s in statuses if s["status"] != "passed"), None)
        if first_bad is None:
            if base["assertions"] == 0:
                return Verdict.error("the tests ran without evaluating a single assertion", **base)
            return Verdict.correct(f"all {len(real)} tests passed ({base['assertions']} assertions)", **base)
        verb = "failed" if first_bad["status"] == "failed" else "raised an error"
        where = "the test setup" if first_bad.get("setup") else f"test {first_bad['test']}"
        reason = f"{where} {verb}: {first_bad.get('message', '')}"[:500]
        base["first_failure"] = reason
        score = base["passed"] / len(real) if self.partial_credit else 0.0
        return Verdict.incorrect(reason, score=score, **base)

    # -- stdin/stdout --------------------------------------------------------------------------
    def _check_stdio(self, code: str, cases: list[dict[str, Any]]) -> Verdict:
        statuses: list[dict[str, Any]] = []

        def judge(msg: dict[str, Any]) -> bool:
            i = int(msg.get("index", len(statuses)))
            want = cases[i]["output"]
            got = str(msg.get("stdout", "")).encode("latin-1").decode("utf-8", "replace")
            entry: dict[str, Any] = {"test": i + 1, "elapsed_s": msg.get("elapsed_s")}
            if msg.get("timed_out"):
                entry.update(status="timeout", message=f"ran longer than {self.config.timeout:g}s")
            elif msg.get("truncated"):
                entry.update(status="failed", message=f"printed more than {self.config.max_output_bytes:,} bytes")
            elif msg.get("exit_code") != 0:
                tail = str(msg.get("stderr_tail", "")).strip().splitlines()
                entry.update(status="error", message=f"exited with code {msg.get('exit_code')}"
                             + (f": {tail[-1][:200]}" if tail else ""))
            else:
                diff = compare_stdout(got, want, self.compare, self.float_tol)
                if diff is None:
                    entry["status"] = "passed"
                else:
                    entry.update(status="failed", message=diff)
            statuses.append(entry)
            return entry["status"] == "passed" or self.partial_credit

        out = self.sandbox.run_stdio(code, [c.get("input", "") for c in cases], judge)
        base: dict[str, Any] = {"mode": "stdio", "isolation": out.isolation, "elapsed_s": round(out.elapsed_s, 4)}
        if out.setup_error:
            return Verdict.error(f"the sandbox could not start this run: {out.setup_error.strip().splitlines()[-1][:300]}",
                                 **base, setup_error=out.setup_error)
        passed = sum(s["status"] == "passed" for s in statuses)
        base.update(tests=statuses[:_MAX_DETAIL_TESTS], passed=passed, total=len(cases))
        first_bad = next((s for s in statuses if s["status"] != "passed"), None)
        score = passed / len(cases) if self.partial_credit else 0.0
        if first_bad is not None:
            reason = f"test {first_bad['test']} {first_bad['status']}: {first_bad.get('message', '')}"[:500]
            base["first_failure"] = reason
            if first_bad["status"] == "timeout":
                return Verdict.timeout(reason, **base)
            return Verdict.incorrect(reason, score=score, **base)
        if out.timed_out:
            return Verdict.timeout(f"the cases did not finish within {self.config.total_timeout:g}s in total", **base)
        if len(statuses) != len(cases) or not out.token_ok:
            return Verdict.error(f"the test harness stopped early ({out.died or 'no token'})", **base)
        return Verdict.correct(f"all {len(cases)} cases passed", **base)
