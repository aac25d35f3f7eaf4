"""CLI smoke tests: the real entry point (``python -m rlvr.cli``) in a subprocess, plus CliRunner.

Every invocation is checked for a Python traceback: bad input must end in a one-line reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

# A verifier that needs nothing but this folder: CLI plumbing tests do not depend on the math verifier.
PLUGIN = "engine_helpers:ExactMatch"


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = TESTS_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("COLUMNS", "100")
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]
    return proc


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    lines = error_lines(proc)
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def write_jsonl(path: Path, records: list[dict] | list[str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
            fh.write("\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# (output, answer, expected status) — real-looking model outputs for the math verifier.
MATH_ROWS = [
    ("Adding the two amounts gives 17 + 25 = 42.\nThe answer is 42.", 42, "correct"),
    ("She has 3 boxes of 4 apples, so 3*4 = 12 apples.\n#### 13", "12", "incorrect"),
    ("Simplifying, we get $\\boxed{\\frac{1}{2}}$.", "0.5", "correct"),
    ("So the total is 1,250 dollars.\n#### 1250", 1250, "correct"),
    ("The temperature drops to $\\boxed{-3}$ degrees.", -3, "correct"),
    ("The temperature drops to $\\boxed{3}$ degrees.", -3, "incorrect"),
    ("I am not sure how to solve this problem.", "5", "unparsable"),
    ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}", "correct"),
]


def math_records() -> list[dict]:
    return [
        {
            "id": f"q{i}",
            "prompt": f"Problem {i}: ...",
            "output": out,
            "answer": ans,
            "source": "gsm8k" if i % 2 else "math",
            "meta": {"level": i, "tags": ["a", "b"], "note": "ünïcode ✓"},
        }
        for i, (out, ans, _) in enumerate(MATH_ROWS)
    ]


def plugin_records(n: int) -> list[dict]:
    return [
        {"id": i, "output": str(i) if i % 3 else f"{i}!", "answer": str(i), "extra": [i, None]}
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------------
# Entry point and help
# ---------------------------------------------------------------------------------------------


def test_module_entry_point_help() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    assert "verify" in proc.stdout


def test_verify_help_shows_an_example() -> None:
    proc = run_cli("verify", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Example" in proc.stdout
    assert "rlvr verify" in proc.stdout
    assert "--verifier" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Happy path (math verifier)
# ---------------------------------------------------------------------------------------------


def test_verify_out_preserves_fields_and_order(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    out = tmp_path / "scored.jsonl"
    proc = run_cli("verify", src, "--verifier", "math", "--out", out, "--workers", "0", "-q")
    assert proc.returncode == 0, proc.stderr
    scored = read_jsonl(out)
    inputs = math_records()
    assert [r["id"] for r in scored] == [r["id"] for r in inputs]
    for rec, inp, (_, _, want) in zip(scored, inputs, MATH_ROWS):
        for key, value in inp.items():
            assert rec[key] == value, (key, rec)
        assert set(rec) == set(inp) | {"reward", "status", "reason", "details"}
        assert isinstance(rec["reward"], float) and 0.0 <= rec["reward"] <= 1.0
        assert isinstance(rec["reason"], str) and rec["reason"]
        assert isinstance(rec["details"], dict)
        assert "_source_dir" not in rec
        assert rec["status"] == want, (inp["output"], rec)
        assert rec["reward"] == (1.0 if want == "correct" else 0.0)
    assert not (tmp_path / "scored.jsonl.partial").exists()


def test_verify_json_summary(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    proc = run_cli("verify", src, "--verifier", "math", "--workers", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # stdout is exactly one JSON object
    wanted: dict[str, int] = {}
    for _, _, status in MATH_ROWS:
        wanted[status] = wanted.get(status, 0) + 1
    assert summary["n"] == len(MATH_ROWS)
    assert summary["invalid_lines"] == 0
    assert summary["counts"] == wanted
    assert summary["mean_reward"] == pytest.approx(wanted["correct"] / len(MATH_ROWS))
    assert summary["verifier"] == "math"
    assert summary["out"] is None


def test_verify_table_summary(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    proc = run_cli("verify", src, "--verifier", "math", "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    assert "correct" in proc.stdout and f"{len(MATH_ROWS)} checked" in proc.stdout


def test_workers_0_and_2_write_identical_files(tmp_path: Path) -> None:
    records = [dict(r, id=f"{r['id']}-{k}") for k in range(8) for r in math_records()]
    src = write_jsonl(tmp_path / "answers.jsonl", records)
    outs = []
    for workers in (0, 2):
        out = tmp_path / f"out{workers}.jsonl"
        proc = run_cli("verify", src, "--verifier", "math", "--out", out, "--workers", str(workers), "-q")
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert len(outs[0].splitlines()) == len(records)


def test_verifier_options_are_passed(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", [{"output": "The answer is 100.0001", "answer": 100}])
    strict = run_cli("verify", src, "--verifier", "math", "--workers", "0", "--json")
    loose = run_cli("verify", src, "--verifier", "math", "--workers", "0", "--json", "--opt", "rel_tol=1e-3")
    assert strict.returncode == loose.returncode == 0, (strict.stderr, loose.stderr)
    assert json.loads(strict.stdout)["counts"] == {"incorrect": 1}
    assert json.loads(loose.stdout)["counts"] == {"correct": 1}


def test_huge_output_line_is_a_verdict_not_a_crash(tmp_path: Path) -> None:
    huge = "Let me think. " + "1 + 1 = 2. " * 500_000  # ~5.5 MB
    src = write_jsonl(
        tmp_path / "answers.jsonl",
        [{"id": "a", "output": "The answer is 4.", "answer": 4}, {"id": "big", "output": huge, "answer": 3}],
    )
    for workers in ("0", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        proc = run_cli(
            "verify", src, "--verifier", "math", "--out", out, "--workers", workers, "-q", "--timeout", "60"
        )
        assert proc.returncode == 0, proc.stderr
        scored = read_jsonl(out)
        assert [r["id"] for r in scored] == ["a", "big"]
        assert scored[0]["status"] == "correct"
        assert scored[1]["status"] in ("unparsable", "incorrect"), scored[1]["reason"]
        assert scored[1]["output"] == huge  # the record itself is kept whole


# ---------------------------------------------------------------------------------------------
# Bad input: non-zero exit, one line, file and line named, never a traceback
# ---------------------------------------------------------------------------------------------


def broken_file(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "broken.jsonl",
        [
            {"id": 1, "output": "1", "answer": "1"},
            {"id": 2, "output": "2", "answer": "3"},
            '{"id": 3, "output": "3", "answer": ',  # line 3: cut off
            {"id": 4, "output": "4", "answer": "4"},
            {"id": 5, "output": "5", "answer": "5"},
        ],
    )


@pytest.mark.parametrize("verifier", ["math", PLUGIN])
@pytest.mark.parametrize("workers", ["0", "2"])
def test_malformed_line_fails_with_file_and_line(tmp_path: Path, verifier: str, workers: str) -> None:
    src = broken_file(tmp_path)
    out = tmp_path / "scored.jsonl"
    proc = run_cli("verify", src, "--verifier", verifier, "--workers", workers, "--out", out, "-q")
    line = assert_one_line_error(proc, f"{src}:3", "JSON")
    assert proc.returncode == 1, line
    assert not out.exists()  # no output file that looks complete
    assert list(tmp_path.glob("*.partial")) == []  # and no half-written one left behind


@pytest.mark.parametrize("verifier", ["math", PLUGIN])
def test_skip_invalid_reports_and_continues(tmp_path: Path, verifier: str) -> None:
    # A long folder name: the report must not be wrapped mid-path on a narrow terminal.
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    src = broken_file(deep)
    out = tmp_path / "scored.jsonl"
    proc = run_cli(
        "verify", src, "--verifier", verifier, "--workers", "0", "--out", out, "--skip-invalid", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{src}:3" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["invalid_lines"] == 1
    assert summary["n"] == 4
    assert summary["counts"] == {"correct": 3, "incorrect": 1}
    assert [r["id"] for r in read_jsonl(out)] == [1, 2, 4, 5]


@pytest.mark.parametrize(
    "bad_line,needle",
    [
        ("[1, 2, 3]", "JSON object"),
        ('"just a string"', "JSON object"),
        ("\xff\xfe", ""),
        ("{'single': 'quotes'}", "JSON"),
    ],
    ids=["array", "string", "binary", "python-dict"],
)
def test_other_malformed_lines(tmp_path: Path, bad_line: str, needle: str) -> None:
    src = tmp_path / "bad.jsonl"
    good = json.dumps({"output": "1", "answer": "1"})
    if bad_line == "\xff\xfe":
        src.write_bytes(good.encode() + b"\n" + good.encode() + b"\n\xff\xfe\n")
    else:
        write_jsonl(src, [good, good, bad_line])
    proc = run_cli("verify", src, "--verifier", PLUGIN, "--workers", "0", "-q")
    assert_one_line_error(proc, f"{src}:3", needle)


@pytest.mark.parametrize("verifier", ["math", PLUGIN])
def test_missing_answer_field(tmp_path: Path, verifier: str) -> None:
    src = write_jsonl(
        tmp_path / "answers.jsonl",
        [{"id": "a", "output": "The answer is 4.", "answer": "4"}, {"id": "b", "output": "The answer is 4."}],
    )
    out = tmp_path / "scored.jsonl"
    proc = run_cli("verify", src, "--verifier", verifier, "--workers", "0", "--out", out, "-q")
    if proc.returncode != 0:
        # Loud failure is fine: it must name the line and the field.
        assert_one_line_error(proc, f"{src}:2", "answer")
    else:
        # Or a verdict that does not blame the model for missing ground truth.
        scored = read_jsonl(out)
        assert scored[0]["status"] == "correct"
        assert scored[1]["status"] in ("error", "skipped"), scored[1]
        assert scored[1]["reward"] == 0.0


@pytest.mark.parametrize("verifier", ["math", PLUGIN])
def test_missing_output_field(tmp_path: Path, verifier: str) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", [{"id": "a", "answer": "4"}])
    proc = run_cli("verify", src, "--verifier", verifier, "--workers", "0", "-q")
    assert_one_line_error(proc, f"{src}:1", "output")


@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text(content)
    proc = run_cli("verify", src, "--verifier", "math", "--workers", "0", "-q")
    assert_one_line_error(proc, str(src), "empty")


def test_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    proc = run_cli("verify", missing, "--verifier", "math", "--workers", "0", "-q")
    assert_one_line_error(proc, str(missing), "no such file")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    proc = run_cli("verify", tmp_path, "--verifier", PLUGIN, "--workers", "0", "-q")
    assert_one_line_error(proc, str(tmp_path), "directory")


def test_unknown_verifier(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    proc = run_cli("verify", src, "--verifier", "no-such-verifier", "-q")
    line = assert_one_line_error(proc, "no-such-verifier")
    assert "math" in line  # the available names are listed


def test_unknown_plugin_module(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    proc = run_cli("verify", src, "--verifier", "no_such_module_xyz:Thing", "-q")
    assert_one_line_error(proc, "no_such_module_xyz")


def test_bad_verifier_option(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    proc = run_cli("verify", src, "--verifier", "math", "--opt", "no_such_option=1", "-q")
    assert_one_line_error(proc, "no_such_option")
    proc = run_cli("verify", src, "--verifier", "math", "--opt", "missing-equals", "-q")
    assert_one_line_error(proc, "key=value")


def test_bad_timeout(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    proc = run_cli("verify", src, "--verifier", PLUGIN, "--timeout", "0", "-q")
    assert_one_line_error(proc, "timeout")


# ---------------------------------------------------------------------------------------------
# Plumbing with a plugin verifier (independent of the math verifier)
# ---------------------------------------------------------------------------------------------


def test_plugin_verifier_workers_0_and_2_identical(tmp_path: Path) -> None:
    records = plugin_records(100)
    src = write_jsonl(tmp_path / "answers.jsonl", records)
    outs = []
    for workers in ("0", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        proc = run_cli("verify", src, "--verifier", PLUGIN, "--out", out, "--workers", workers, "--json")
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["n"] == 100
        assert summary["counts"] == {"correct": 66, "incorrect": 34}
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    scored = read_jsonl(tmp_path / "out2.jsonl")
    for rec, inp in zip(scored, records):
        assert {k: rec[k] for k in inp} == inp
        assert rec["status"] == ("correct" if inp["id"] % 3 else "incorrect")


# ---------------------------------------------------------------------------------------------
# In-process, through typer's CliRunner
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


def test_cli_runner_happy_path(tmp_path: Path, runner) -> None:
    from rlvr.cli import app

    src = write_jsonl(tmp_path / "answers.jsonl", math_records())
    out = tmp_path / "scored.jsonl"
    result = runner.invoke(
        app, ["verify", str(src), "--verifier", "math", "--workers", "0", "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.exception is None
    summary = json.loads(result.stdout)
    assert summary["n"] == len(MATH_ROWS)
    assert summary["out"] == str(out)
    assert len(read_jsonl(out)) == len(MATH_ROWS)


def test_cli_runner_malformed_line(tmp_path: Path, runner) -> None:
    from rlvr.cli import app

    src = broken_file(tmp_path)
    result = runner.invoke(app, ["verify", str(src), "--verifier", PLUGIN, "--workers", "0", "-q"])
    assert result.exit_code == 1
    assert not result.exception or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"{src}:3" in result.stderr
    assert "Traceback" not in result.output


def test_cli_runner_help(runner) -> None:
    from rlvr.cli import app

    result = runner.invoke(app, ["verify", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
