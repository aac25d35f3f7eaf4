"""``rlvr eval``, ``rlvr compare`` and ``rlvr report`` end to end, plus local-model sampling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

runner = CliRunner()


def cli(*args):
    from rlvr.cli import app

    return runner.invoke(app, [str(a) for a in args])


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = TESTS_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "120"
    proc = subprocess.run([sys.executable, "-m", "rlvr.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    return proc


def samples(path: Path, spec: list[tuple[int, int]], n: int = 8, *, verified: bool = True, start: int = 0) -> Path:
    """``spec``: (problems, correct each). Unverified lines carry output/answer for ExactMatch."""
    lines = []
    i = start
    for count, c in spec:
        for _ in range(count):
            for j in range(n):
                ok = j < c
                rec = {"problem_id": f"p{i}", "sample_index": j}
                if verified:
                    rec.update(reward=float(ok), status="correct" if ok else "incorrect")
                else:
                    rec.update(output="42" if ok else "41", answer="42")
                lines.append(json.dumps(rec))
            i += 1
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eval_json_table(tmp_path):
    f = samples(tmp_path / "m.jsonl", [(10, 2), (10, 0)])
    r = cli("eval", f, "--k", "1,2,8", "--json", "--bootstrap", "200")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["kind"] == "eval" and d["ks"] == [1, 2, 8]
    s = d["sets"][0]
    assert s["pass_at_k"]["1"] == pytest.approx(2 / 8 / 2)
    assert s["pass_at_k"]["8"] == pytest.approx(0.5)
    lo, hi = s["pass_at_k_ci"]["8"]
    assert lo <= 0.5 <= hi
    assert s["set"]["samples"] == 160


def test_eval_verifies_with_a_verifier_and_prints_a_table(tmp_path):
    f = samples(tmp_path / "m.jsonl", [(4, 3), (4, 1)], n=4, verified=False)
    proc = run_cli("eval", f, "--verifier", "engine_helpers:ExactMatch", "--workers", "0", "--k", "1,4", "--cons")
    assert proc.returncode == 0, proc.stderr
    assert "pass@k" in proc.stdout and "cons@k" in proc.stdout
    # pass@1 = (3/4 + 1/4) / 2 = 50.0 %
    assert "50.0" in proc.stdout


def test_eval_several_models_and_html(tmp_path):
    a = samples(tmp_path / "a.jsonl", [(10, 1)])
    b = samples(tmp_path / "b.jsonl", [(10, 4)])
    html = tmp_path / "eval.html"
    r = cli("eval", a, b, "--html", html, "--json", "--bootstrap", "100")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [s["name"] for s in d["sets"]] == ["a", "b"]
    page = html.read_text()
    assert "<svg" in page and "pass@k curves" in page


def test_compare_json_contract(tmp_path):
    base = samples(tmp_path / "base.jsonl", [(30, 1), (30, 0)])
    trained = samples(tmp_path / "trained.jsonl", [(30, 6), (20, 6), (10, 0)])
    r = cli("compare", base, trained, "--k", "1,2,4,8", "--json", "--bootstrap", "300")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d["pass_at_k"]["base"]) == {"1", "2", "4", "8"}
    assert d["compression_ratio"]["1"] is None
    assert d["capability_gain"]["8"] == pytest.approx(1 / 3)
    assert d["crossover_k"] is None
    assert d["transitions"]["counts"]["newly_capable"] == 20
    assert d["verdict"] == "capability_gain_and_compression"
    assert "spurious" not in d


def test_compare_with_random_arm_and_report_from_json(tmp_path):
    base = samples(tmp_path / "base.jsonl", [(300, 2), (100, 0)])
    trained = samples(tmp_path / "trained.jsonl", [(300, 6), (100, 0)])
    rand = samples(tmp_path / "random.jsonl", [(300, 3), (100, 0)])
    r = cli("compare", base, trained, "--random", rand, "--k", "1,8", "--json", "--bootstrap", "200")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["spurious"]["flagged"] is True
    cmp_json = tmp_path / "cmp.json"
    cmp_json.write_text(r.stdout)
    out = tmp_path / "report.html"
    r = cli("report", cmp_json, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["verdict"] == "pure_compression"
    page = out.read_text()
    assert "Random-reward control" in page and "FLAGGED" in page and "pure compression" in page


def test_compare_terminal_summary(tmp_path):
    base = samples(tmp_path / "base.jsonl", [(60, 2), (20, 0)])
    trained = samples(tmp_path / "trained.jsonl", [(30, 8), (30, 0), (20, 0)])
    proc = run_cli("compare", base, trained, "--k", "1,8", "--bootstrap", "200", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "verdict: mode_collapse" in proc.stdout
    assert "directions: pass@1 up, pass@8 down (margin ±2.0 pts)" in proc.stdout
    assert "self-distilled 30" in proc.stdout and "lost 30" in proc.stdout


def pairs_files(tmp_path: Path, pairs: list[tuple[int, int]], n: int = 8) -> tuple[Path, Path]:
    """Base and trained samples from (base correct, trained correct) per problem."""
    def write(path: Path, which: int) -> Path:
        lines = [
            json.dumps({"problem_id": f"p{i}", "reward": float(j < pair[which])})
            for i, pair in enumerate(pairs)
            for j in range(n)
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    return write(tmp_path / "base.jsonl", 0), write(tmp_path / "trained.jsonl", 1)


# Blocks of (base, trained) correct counts that move one change one way (see test_eval_verdict).
PASS1 = {"up": [(1, 3)] * 100, "flat": [], "down": [(3, 1)] * 100, "inconclusive": [(1, 7)] * 100 + [(7, 1)] * 100}
PASSK = {"up": [(2, 1), (0, 1)] * 60, "flat": [], "down": [(1, 2), (1, 0)] * 60,
         "inconclusive": [(1, 0), (0, 1)] * 40}
FILLER = [(0, 0)] * 100 + [(2, 2)] * 100
TABLE = {
    ("up", "up"): "capability_gain_and_compression", ("up", "flat"): "pure_compression",
    ("up", "down"): "mode_collapse", ("up", "inconclusive"): "compression_ceiling_unresolved",
    ("flat", "up"): "coverage_gain", ("flat", "flat"): "no_change", ("flat", "down"): "regression",
    ("flat", "inconclusive"): "inconclusive", ("down", "up"): "trade_off", ("down", "flat"): "regression",
    ("down", "down"): "regression", ("down", "inconclusive"): "regression", ("inconclusive", "up"): "coverage_gain",
    ("inconclusive", "flat"): "inconclusive", ("inconclusive", "down"): "regression",
    ("inconclusive", "inconclusive"): "inconclusive",
}


@pytest.mark.parametrize(("d1", "dK"), list(TABLE))
def test_compare_json_gives_the_tables_label_for_every_cell(tmp_path, d1, dK):
    base, trained = pairs_files(tmp_path, PASS1[d1] + PASSK[dK] + FILLER)
    r = cli("compare", base, trained, "--k", "1,8", "--json", "--bootstrap", "200")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["directions"] == {"pass_at_1": d1, "pass_at_K": dK}
    assert d["verdict"] == TABLE[(d1, dK)]
    assert d["margin"] == 0.02
    assert set(d["capability_gain_ci"]) == {"1", "8"}


def test_compare_json_uninformative_at_a_ceiling(tmp_path):
    base, trained = pairs_files(tmp_path, [(4, 7)] * 100)  # the base solves everything at k=8
    d = json.loads(cli("compare", base, trained, "--k", "1,8", "--json", "--bootstrap", "100").stdout)
    assert d["verdict"] == "uninformative" and d["directions"]["pass_at_1"] == "up"


def test_margin_decides_flat_against_inconclusive(tmp_path):
    # pass@1 changes ±1/8 on 200 of 300 problems: mean 0, 95% interval about ±1.2 points.
    base, trained = pairs_files(tmp_path, [(2, 3), (3, 2)] * 100 + [(0, 0)] * 100)
    wide = json.loads(cli("compare", base, trained, "--k", "1,8", "--json", "--bootstrap", "300").stdout)
    assert wide["directions"] == {"pass_at_1": "flat", "pass_at_K": "flat"} and wide["verdict"] == "no_change"
    narrow = json.loads(
        cli("compare", base, trained, "--k", "1,8", "--json", "--bootstrap", "300", "--margin", "0.01").stdout
    )
    assert narrow["margin"] == 0.01
    assert narrow["directions"] == {"pass_at_1": "inconclusive", "pass_at_K": "flat"}
    assert narrow["verdict"] == "inconclusive"
    assert "would need about" in narrow["verdict_reason"]


def _runs(tmp_path: Path, counts: list[int], problems: int = 40, extra: int = 0, name: str = "t") -> Path:
    path = tmp_path / f"{name}.jsonl"
    lines = [json.dumps({"problem_id": f"p{i}", "reward": float(j < c)})
             for i in range(problems + extra) for j, c in zip(range(8), [counts[i % len(counts)]] * 8)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compare_pools_several_runs(tmp_path):
    base = _runs(tmp_path, [1, 0], name="base")
    runs = [_runs(tmp_path, [4, 0], name="run0"), _runs(tmp_path, [3, 0], name="run1"),
            _runs(tmp_path, [5, 0], extra=2, name="run2")]  # run2 has 2 problems nobody else has
    r = cli("compare", base, *runs, "--k", "1,8", "--json", "--bootstrap", "200")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [x["name"] for x in d["runs"]] == ["run0.jsonl", "run1.jsonl", "run2.jsonl"]
    # Per run pass@1 gains (3, 2, 4)/8 on half the problems → mean 3/16.
    assert d["capability_gain"]["1"] == pytest.approx(3 / 16)
    assert [x["capability_gain"]["1"] for x in d["runs"]] == pytest.approx([3 / 16, 2 / 16, 4 / 16])
    assert d["runs"][2]["problems_dropped"] == 2 and d["problems_only_in_trained"] == 2
    assert d["significance"]["runs"] == 3 and "3 runs" in d["verdict_reason"]
    assert d["trained"]["files"] == [str(p) for p in runs]
    # Terminal: the per-run table and what was dropped; HTML: the per-run table.
    html = tmp_path / "runs.html"
    proc = run_cli("compare", base, *runs, "--k", "1,8", "--bootstrap", "200", "-q", "--html", html)
    assert proc.returncode == 0, proc.stderr
    assert "per run (3 runs of the same base)" in proc.stdout and "run1.jsonl" in proc.stdout
    assert "2 only in trained file(s)" in proc.stdout
    assert "Per run (3 runs of the same base)" in html.read_text()


def test_compare_pools_random_runs_and_names_a_file_that_shares_nothing(tmp_path):
    base = _runs(tmp_path, [1, 0], name="base")
    runs = [_runs(tmp_path, [4, 0], name="run0"), _runs(tmp_path, [3, 0], name="run1")]
    rands = [_runs(tmp_path, [2, 0], name="rand0"), _runs(tmp_path, [2, 0], name="rand1")]
    r = cli("compare", base, *runs, "--random", rands[0], "--random", rands[1], "--k", "1,8", "--json",
            "--bootstrap", "200")
    assert r.exit_code == 0, r.output
    sp = json.loads(r.stdout)["spurious"]
    assert sp["improvement"]["random"]["pass_at_1"] == pytest.approx(1 / 16)
    assert sp["improvement"]["random"]["runs"] == 2
    assert sp["flagged"] is True  # +6.25 points > the 5-point threshold
    stranger = tmp_path / "stranger.jsonl"
    stranger.write_text(json.dumps({"problem_id": "zz", "reward": 1.0}) + "\n")
    r = cli("compare", base, runs[0], stranger, "--k", "1")
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: stranger.jsonl: shares no problem_id with the base samples; compare samples of the "
                      "same problems"]


def test_report_from_sample_files(tmp_path):
    base = samples(tmp_path / "base.jsonl", [(20, 1)])
    trained = samples(tmp_path / "trained.jsonl", [(20, 5)])
    out = tmp_path / "r.html"
    r = cli("report", base, trained, "--out", out, "--bootstrap", "100", "-q")
    assert r.exit_code == 0, r.output
    assert "verdict" in r.output and "<svg" in out.read_text()
    out2 = tmp_path / "single.html"
    r = cli("report", base, "--out", out2, "-q")
    assert r.exit_code == 0, r.output
    assert "pass@k curves" in out2.read_text()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["eval", "{bad}"], "bad.jsonl:2: invalid JSON"),
        (["eval", "{unverified}"], "unverified.jsonl:1: no reward or status on this sample; pass --verifier NAME"),
        (["eval", "{good}", "--k", "1,16"], "problem 'p0' has 8 usable sample(s), fewer than k=16"),
        (["eval", "{good}", "--k", "1,x"], "--k expects comma-separated integers"),
        (["eval", "{missing}"], "missing.jsonl: no such file"),
        (["compare", "{good}", "{other}"], "share no problem_id"),
        (["eval", "{good}", "--verifier", "no_such_verifier"], "no_such_verifier"),
        (["report", "{notjson}"], "notjson.json:1: invalid JSON"),
        (["report", "{wrongjson}"], "not an rlvr result"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path, args, needle):
    tmp_path = tmp_path.resolve()
    files = {
        "good": samples(tmp_path / "good.jsonl", [(3, 1)]),
        "other": samples(tmp_path / "other.jsonl", [(3, 1)], start=100),
        "unverified": samples(tmp_path / "unverified.jsonl", [(1, 1)], verified=False),
        "missing": tmp_path / "missing.jsonl",
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem_id": "a", "reward": 1}\n{"problem_id": \n')
    files["bad"] = bad
    (tmp_path / "notjson.json").write_text("{nope")
    files["notjson"] = tmp_path / "notjson.json"
    (tmp_path / "wrongjson.json").write_text('{"hello": 1}')
    files["wrongjson"] = tmp_path / "wrongjson.json"
    r = cli(*[a.format(**{k: str(v) for k, v in files.items()}) for a in args])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output  # not a traceback
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert needle in errors[0], errors[0]


def test_bad_input_through_the_real_entry_point(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem_id": "a", "reward": 1}\n[1, 2]\n')
    proc = run_cli("compare", bad, bad)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f"error: {bad}:2: expected a JSON object, got an array"


@pytest.mark.parametrize("command", ["sample", "eval", "compare", "report"])
def test_help_has_an_example(command):
    r = cli(command, "--help")
    assert r.exit_code == 0 and "Example" in r.output and "--json" in r.output


@pytest.mark.slow
def test_sample_from_a_local_tiny_model(tmp_path):
    pytest.importorskip("torch")
    try:
        from rlvr.policy.tiny import TinyPolicy
    except ImportError as exc:  # pragma: no cover - the trainer's policy package
        pytest.skip(f"rlvr.policy.tiny not available: {exc}")
    model_dir = tmp_path / "tiny"
    TinyPolicy(seed=0).save(model_dir)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": i, "prompt": f"{i}+1=", "answer": str(i + 1)}) + "\n" for i in range(3)))
    out = tmp_path / "s.jsonl"
    r = cli("sample", prompts, "-n", "2", "--model", model_dir, "--out", out, "--max-tokens", "6", "--seed", "1", "--json")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted((x["problem_id"], x["sample_index"]) for x in lines) == [(str(i), j) for i in range(3) for j in range(2)]
    assert all(isinstance(x["output"], str) and x["model"] == str(model_dir) for x in lines)
    # Resuming a complete file samples nothing.
    r = cli("sample", prompts, "-n", "2", "--model", model_dir, "--out", out, "--json")
    assert json.loads(r.stdout)["sampled"] == 0
