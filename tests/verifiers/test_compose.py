"""Composite verifiers: all_of, any_of, weighted with gates, route; error and skip rules; spec files."""

from __future__ import annotations

import json
import pickle

import pytest

from rlvr.engine import EngineConfig, verify_iter
from rlvr.errors import ConfigError, VerifierNotFoundError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.compose import AllOf, Route, Weighted, all_of, any_of, from_spec, route, weighted
from rlvr.verifiers.format import FormatVerifier
from rlvr.verifiers.registry import get_verifier
from rlvr.verifiers.rubric import RubricVerifier


class Fixed(BaseVerifier):
    """Always returns the same verdict."""

    def __init__(self, status: str, score: float | None = None, name: str | None = None) -> None:
        self.status = status
        self.score = (1.0 if status == "correct" else 0.0) if score is None else score
        self.name = name or status

    def check(self, sample: Sample) -> Verdict:
        return Verdict(self.score, self.status, f"fixed {self.status}")


class Crashes(BaseVerifier):
    name = "crashes"

    def check(self, sample: Sample) -> Verdict:
        raise RuntimeError("bug in the checker")


S = Sample("out", answer="x")
C, N, E, K, T, U = (Fixed(s) for s in ("correct", "incorrect", "error", "skipped", "timeout", "unparsable"))


@pytest.mark.parametrize(
    ("children", "status", "score"),
    [
        ([C, C], "correct", 1.0),
        ([C, N], "incorrect", 0.0),
        ([C, K], "correct", 1.0),  # a skipped child does not count
        ([K, K], "skipped", 0.0),
        ([C, E], "error", 0.0),
        ([N, E], "error", 0.0),  # error stays error even when another child already failed
        ([T, T], "timeout", 0.0),
        ([T, U], "incorrect", 0.0),
        ([C, Fixed("correct", 0.5, "half")], "correct", 0.5),
    ],
)
def test_all_of(children, status, score):
    v = all_of(*children).verify(S)
    assert (v.status, v.score) == (status, score), v.reason
    assert len(v.details["children"]) == len(children)


@pytest.mark.parametrize(
    ("children", "status", "score"),
    [
        ([N, C], "correct", 1.0),
        ([N, N], "incorrect", 0.0),
        ([N, K], "incorrect", 0.0),
        ([C, E], "error", 0.0),
        ([K, K], "skipped", 0.0),
        ([U, U], "unparsable", 0.0),
        ([Fixed("correct", 0.6, "pass"), Fixed("incorrect", 0.8, "partial")], "correct", 0.6),
        ([Fixed("incorrect", 0.3, "a"), Fixed("incorrect", 0.4, "b")], "incorrect", 0.4),
    ],
)
def test_any_of(children, status, score):
    v = any_of(*children).verify(S)
    assert (v.status, v.score) == (status, score), v.reason


def test_crash_inside_a_composite_is_an_error_naming_the_child():
    v = all_of(C, Crashes()).verify(S)
    assert v.status == "error" and "child 'crashes' failed" in v.reason
    assert v.details["children"]["crashes"]["status"] == "error"
    assert v.details["children"]["correct"]["status"] == "correct"


def test_weighted_with_gate():
    acc_good, acc_bad = Fixed("correct", name="acc"), Fixed("incorrect", name="acc")
    style = Fixed("correct", 0.5, name="style")
    gate_ok, gate_bad = Fixed("correct", name="fmt"), Fixed("incorrect", name="fmt")
    v = weighted([(acc_good, 0.8), (style, 0.2)], gates=[gate_ok]).verify(S)
    assert v.score == pytest.approx(0.9) and v.status == "incorrect"  # below the default threshold 1.0
    assert v.details["weights"] == {"acc": 0.8, "style": 0.2}
    v = weighted([(acc_good, 0.8), (style, 0.2)], gates=[gate_ok], pass_threshold=0.85).verify(S)
    assert v.status == "correct" and v.score == pytest.approx(0.9)
    gated = weighted([(acc_good, 0.8), (style, 0.2)], gates=[gate_bad]).verify(S)
    assert gated.score == 0.0 and gated.status == "incorrect" and "gate:fmt failed" in gated.reason
    assert weighted([(acc_bad, 1.0)], gates=[Fixed("timeout")]).verify(S).status == "timeout"
    # Skipped children leave the normalisation; a skipped gate does not block.
    v = weighted([(acc_good, 0.8), (K, 0.2)], gates=[K]).verify(S)
    assert v.score == 1.0 and v.status == "correct"
    assert weighted([(acc_good, 1.0)], gates=[E]).verify(S).status == "error"
    assert weighted([(acc_bad, 1), (Fixed("unparsable"), 1)]).verify(S).status == "incorrect"


def test_weighted_config_errors():
    with pytest.raises(ConfigError, match="sum to 0"):
        Weighted([(C, 0.0)])
    with pytest.raises(ConfigError, match="weight must be"):
        Weighted([(C, -1)])
    with pytest.raises(ConfigError, match="pass_threshold"):
        Weighted([(C, 1)], pass_threshold=0)
    with pytest.raises(ConfigError, match="must be a verifier"):
        AllOf(["math"])  # type: ignore[list-item]


def test_route():
    r = route({"math": C, "code": N}, field="task")
    assert r.verify(Sample("o", metadata={"task": "math"})).status == "correct"
    v = r.verify(Sample("o", metadata={"task": "code"}))
    assert v.status == "incorrect" and v.details["route"] == "code"
    unknown = r.verify(Sample("o", metadata={"task": "poetry"}))
    assert unknown.status == "skipped" and "task='poetry'" in unknown.reason and "code, math" in unknown.reason
    assert r.verify(Sample("o")).status == "skipped"
    strict = route({"math": C}, on_unknown="error")
    assert strict.verify(Sample("o", metadata={"task": "sql"})).status == "error"
    fallback = route({"math": N}, default=C)
    v = fallback.verify(Sample("o", metadata={"task": "sql"}))
    assert v.status == "correct" and v.details["route"] == "default"
    with pytest.raises(ConfigError, match="on_unknown"):
        Route({"a": C}, on_unknown="ignore")


def test_format_gates_rubric_end_to_end_and_pickles():
    fmt = FormatVerifier()
    content = RubricVerifier([{"type": "keyword", "text": "42"}])
    v = weighted([(content, 1.0)], gates=[fmt])
    good = Sample("<think>6*7</think><answer>42</answer>")
    sloppy = Sample("<think>6*7</think>42")
    assert v.verify(good).status == "correct"
    assert v.verify(sloppy).score == 0.0 and "bad structure" in v.verify(sloppy).reason
    clone = pickle.loads(pickle.dumps(v))
    assert clone.verify(good).status == "correct"
    pooled = list(verify_iter([good, sloppy] * 4, v, EngineConfig(workers=2)))
    assert [x.status for x in pooled] == ["correct", "incorrect"] * 4


def test_spec_files(tmp_path):
    spec = {
        "type": "route",
        "field": "task",
        "routes": {
            "fmt": {
                "type": "weighted",
                "children": [
                    {"verifier": "rubric", "options": {"criteria": [{"type": "keyword", "text": "42"}]}, "weight": 3},
                    {"verifier": "random", "options": {"p": 0.0}, "weight": 1},
                ],
                "gates": [{"verifier": "format"}],
                "pass_threshold": 0.7,
            },
            "any": {"type": "any_of", "children": [{"verifier": "random", "options": {"p": 1.0}}]},
        },
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    v = get_verifier("compose", file=str(path))
    good = v.verify(Sample("<think>x</think><answer>42</answer>", metadata={"task": "fmt"}))
    assert good.status == "correct" and good.score == pytest.approx(0.75)
    assert v.verify(Sample("42", metadata={"task": "fmt"})).score == 0.0
    assert v.verify(Sample("anything", metadata={"task": "any"})).status == "correct"
    toml = tmp_path / "spec.toml"
    toml.write_text('type = "all_of"\nchildren = ["format", {verifier = "random", options = {p = 1.0}}]\n')
    assert from_spec(toml).verify(Sample("<think>x</think><answer>1</answer>")).status == "correct"


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"type": "both_of", "children": ["format"]}, ConfigError, "got type 'both_of'"),
        ({"type": "all_of", "children": []}, ConfigError, "non-empty 'children'"),
        ({"type": "all_of", "children": ["nonexistent"]}, VerifierNotFoundError, "unknown verifier"),
        ({"type": "route", "routes": {"a": "format"}, "fields": "x"}, ConfigError, "unknown key(s) for route: fields"),
        ({"type": "all_of", "children": [{"verifier": "random", "options": {"p": 2}}]}, ConfigError, "p must be"),
    ],
)
def test_bad_specs(spec, error, message):
    with pytest.raises(error) as info:
        from_spec(spec)
    assert message in str(info.value)


def test_bad_spec_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read composite spec"):
        from_spec(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid json"):
        from_spec(tmp_path / "bad.json")


def test_rlvr_verify_with_a_spec_file(tmp_path):
    from typer.testing import CliRunner

    from rlvr.cli import app

    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "type": "route",
                "routes": {
                    "format": "format",
                    "rubric": {"verifier": "rubric", "options": {"criteria": [{"type": "keyword", "text": "42"}]}},
                },
            }
        )
    )
    data = tmp_path / "mixed.jsonl"
    rows = [
        {"id": 1, "task": "format", "output": "<think>x</think><answer>1</answer>"},
        {"id": 2, "task": "rubric", "output": "It is 42."},
        {"id": 3, "task": "rubric", "output": "It is 142."},
        {"id": 4, "task": "poetry", "output": "roses"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(
        app, ["verify", str(data), "--verifier", "compose", "--opt", f"file={spec}", "--workers", "0", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in scored] == ["correct", "correct", "incorrect", "skipped"]
    assert json.loads(result.stdout)["counts"] == {"correct": 2, "incorrect": 1, "skipped": 1}
