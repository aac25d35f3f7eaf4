"""The rubric verifier: weighted programmatic criteria, whole-token matching, per-criterion details."""

from __future__ import annotations

import json

import pytest

from rlvr.errors import ConfigError
from rlvr.types import Sample
from rlvr.verifiers.registry import get_verifier
from rlvr.verifiers.rubric import RubricVerifier, validate_json


def verdict(criteria, output, **kw):
    return RubricVerifier(criteria, **kw).verify(Sample(output))


@pytest.mark.parametrize(
    ("output", "hit"),
    [
        ("the answer is 7", True),
        ("7.", True),
        ("(7)", True),
        ("the answer is 17", False),
        ("the answer is 0.7", False),
        ("about 7.5", False),
        ("1,700 people", False),
        ("it is -7", False),
        ("x7 y", False),
        ("7th place", False),
    ],
)
def test_keyword_is_a_whole_token(output, hit):
    v = verdict([{"type": "keyword", "text": "7"}], output, max_keyword_share=None)
    assert v.score == (1.0 if hit else 0.0), v.details


def test_weighted_score_and_breakdown():
    criteria = [
        {"type": "keyword", "text": "Paris", "weight": 3},
        {"type": "forbidden", "phrases": ["I think", "maybe"], "weight": 1},
        {"type": "word_count", "min": 5, "max": 50, "weight": 1},
        {"type": "regex", "pattern": r"capital\s+of\s+France", "flags": "i", "weight": 1, "name": "restates"},
    ]
    v = verdict(criteria, "Maybe the capital of France is Paris.")
    # Paris (3) + words 7 (1) + restates (1) of 6; 'maybe' is forbidden (case-insensitive).
    assert v.score == pytest.approx(5 / 6) and v.status == "incorrect"
    by_name = {c["name"]: c for c in v.details["criteria"]}
    assert by_name["restates"]["passed"] and not by_name["avoids I think, maybe"]["passed"]
    assert "contains maybe" in by_name["avoids I think, maybe"]["note"]
    assert v.details["earned"] == 5 and v.details["total_weight"] == 6
    full = verdict(criteria, "The capital of France is Paris, of course.")
    assert full.status == "correct" and full.score == 1.0 and full.reason == "all criteria met"
    partial_ok = verdict(criteria, "Maybe the capital of France is Paris.", pass_threshold=0.8)
    assert partial_ok.status == "correct" and partial_ok.score == pytest.approx(5 / 6)


def test_keyword_modes_and_counts():
    any_of = [{"type": "keyword", "any": ["cat", "dog"]}]
    all_of = [{"type": "keyword", "all": ["cat", "dog"]}]
    text = "A cat sat on the mat with a friend."
    assert verdict(any_of, text).score == 1.0
    assert verdict(all_of, text).score == 0.0
    assert verdict([{"type": "keyword", "text": "cat", "min_count": 2}], text).score == 0.0
    capped = [{"type": "keyword", "text": "cat", "max_count": 1}]
    assert verdict(capped, "a cat and another cat here, plus more words to dilute").score == 0.0
    assert verdict([{"type": "keyword", "text": "CAT", "case_sensitive": True}], text).score == 0.0


def test_keyword_stuffing_scores_zero():
    criteria = [{"type": "keyword", "all": ["photosynthesis", "chlorophyll", "sunlight", "glucose"]}]
    honest = (
        "Plants use sunlight, captured by chlorophyll in their leaves, to turn water and carbon "
        "dioxide into glucose and oxygen; this process is called photosynthesis."
    )
    assert verdict(criteria, honest).status == "correct"
    for stuffed in (
        "photosynthesis chlorophyll sunlight glucose",
        "Photosynthesis, chlorophyll, sunlight, glucose. " * 20,
        "It is glucose. " + "photosynthesis chlorophyll sunlight " * 10,
    ):
        v = verdict(criteria, stuffed)
        assert v.score == 0.0 and "keyword stuffing" in v.reason, stuffed
    assert verdict(criteria, "photosynthesis chlorophyll sunlight glucose", max_keyword_share=None).score == 1.0


def test_sections():
    criteria = [{"type": "sections", "required": ["Summary", "Risks"], "ordered": True}]
    md = "# Summary\nIt works.\n\n## Risks\nNone known.\n"
    assert verdict(criteria, md).score == 1.0
    assert verdict(criteria, "**Summary**\ntext\nRisks:\nmore").score == 1.0
    assert verdict(criteria, "## Risks\nx\n# Summary\ny").details["criteria"][0]["note"] == "sections are out of order"
    # Mentioning a section name inside a sentence is not a heading.
    assert verdict(criteria, "# Summary\nThe Risks are low.").score == 0.0


def test_json_schema():
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "age": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        },
        "additionalProperties": False,
    }
    criteria = [{"type": "json_schema", "schema": schema}]
    assert verdict(criteria, '{"name": "Ann", "age": 3}').score == 1.0
    assert verdict(criteria, 'Here:\n```json\n{"name": "Ann", "age": 3, "tags": ["a"]}\n```').score == 1.0
    cases = {
        '{"name": "Ann"}': "missing required key 'age'",
        '{"name": "Ann", "age": -1}': "below the minimum",
        '{"name": "Ann", "age": true}': "should be integer",
        '{"name": "Ann", "age": 3, "x": 1}': "unexpected key 'x'",
        '{"name": "Ann", "age": 3, "tags": ["c"]}': "$.tags[0] should be one of",
        '{"name": "Ann", "age": 3,}': "not valid JSON",
        "[" * 5000 + "]" * 5000: "nested deeper",
    }
    for text, note in cases.items():
        v = verdict(criteria, text)
        assert v.score == 0.0 and note in v.details["criteria"][0]["note"], (text[:40], v.details)
    assert validate_json(1.0, {"type": "integer"}) is None  # JSON has one number type


def test_length():
    criteria = [{"type": "length", "min": 3, "max": 5}]
    assert [verdict(criteria, t).score for t in ("ab", "abc", "abcde", "abcdef")] == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([], "non-empty list"),
        ([{"type": "vibes"}], "unknown type 'vibes'"),
        ([{"type": "keyword"}], "exactly one of text, any, all"),
        ([{"type": "keyword", "text": "x", "wieght": 2}], "unknown key(s) wieght"),
        ([{"type": "regex", "pattern": "("}], "invalid regex"),
        ([{"type": "length", "min": 5, "max": 2}], "min 5 is greater than max 2"),
        ([{"type": "keyword", "text": "x", "weight": -1}], "weight must be"),
        ([{"type": "keyword", "text": "x", "weight": 0}], "sum to 0"),
        ([{"type": "json_schema", "schema": {"type": "object", "oneOf": []}}], "unsupported JSON Schema keyword"),
    ],
)
def test_invalid_criteria_fail_at_construction(criteria, message):
    with pytest.raises(ConfigError, match="invalid rubric") as info:
        RubricVerifier(criteria)
    assert message in str(info.value)


def test_per_sample_criteria_and_bad_ones_are_errors():
    v = RubricVerifier()
    ok = v.verify(Sample("It is 42.", metadata={"criteria": [{"type": "keyword", "text": "42"}]}))
    assert ok.status == "correct"
    bad = v.verify(Sample("It is 42.", metadata={"criteria": [{"type": "nope"}]}))
    assert bad.status == "error" and "criteria are invalid" in bad.reason
    none = v.verify(Sample("It is 42."))
    assert none.status == "error" and "no rubric" in none.reason
    # The sample's criteria win over the verifier's own.
    mine = RubricVerifier([{"type": "keyword", "text": "41"}])
    assert mine.verify(Sample("It is 42.", metadata={"criteria": [{"type": "keyword", "text": "42"}]})).score == 1.0


def test_rubric_files(tmp_path):
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps({"criteria": [{"type": "keyword", "text": "42"}]}))
    assert get_verifier("rubric", criteria=str(path)).verify(Sample("It is 42.")).score == 1.0
    toml = tmp_path / "rubric.toml"
    toml.write_text('[[criteria]]\ntype = "keyword"\ntext = "42"\nweight = 2\n')
    assert RubricVerifier(toml).verify(Sample("It is 42.")).score == 1.0
    # A record may name its rubric file, relative to the JSONL file's folder.
    sample = Sample("It is 42.", metadata={"criteria": "rubric.json", "_source_dir": str(tmp_path)})
    assert RubricVerifier().verify(sample).score == 1.0
    missing = RubricVerifier().verify(Sample("x", metadata={"criteria": "nope.json", "_source_dir": str(tmp_path)}))
    assert missing.status == "error" and "cannot read the sample's rubric file 'nope.json'" in missing.reason
    (tmp_path / "bad.json").write_text(json.dumps([{"type": "keyword"}]))
    bad = RubricVerifier().verify(Sample("x", metadata={"criteria": "bad.json", "_source_dir": str(tmp_path)}))
    assert bad.status == "error" and "exactly one of text, any, all" in bad.reason
    with pytest.raises(ConfigError, match="cannot read rubric file"):
        RubricVerifier(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid json"):
        RubricVerifier(tmp_path / "broken.json")
