"""Adversarial suite for the rubric verifier: keyword stuffing and near-miss tricks.

Each case carries its own ``criteria``. Known-good cases are honest answers; known-bad ones earn
keywords without the content (bare keyword lists, repetition, a stuffed tail), hit a keyword only
as part of a bigger token ("7" inside "17"), hide forbidden phrases in a different case, fake a
section heading inside a sentence, or wrap invalid JSON in a code fence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PHOTO = [
    {"type": "keyword", "all": ["photosynthesis", "chlorophyll", "sunlight", "glucose"], "weight": 3},
    {"type": "word_count", "min": 15, "max": 200},
]
HONEST = (
    "Plants use sunlight, captured by chlorophyll in their leaves, to turn water and carbon "
    "dioxide into glucose and oxygen. Biologists call this process photosynthesis."
)
SEVEN = [{"type": "keyword", "text": "7"}]
# The criterion a case attacks carries most of the weight, so fooling it cannot reach the pass mark.
POLITE = [
    {"type": "keyword", "text": "refund"},
    {"type": "forbidden", "phrases": ["as an AI", "I cannot help"], "weight": 3},
]
REPORT = [
    {"type": "sections", "required": ["Summary", "Risks"], "ordered": True, "weight": 3},
    {"type": "word_count", "min": 6},
]
SHORT = [{"type": "keyword", "text": "refund"}, {"type": "length", "max": 5000, "weight": 3}]
PERSON = [
    {
        "type": "json_schema",
        "schema": {
            "type": "object",
            "required": ["name", "age"],
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
            "additionalProperties": False,
        },
    }
]


def _case(test: str, output: str, criteria: list[dict[str, Any]], should_pass: bool) -> dict[str, Any]:
    return {"test": test, "output": output, "answer": None, "criteria": criteria, "should_pass": should_pass}


def cases(workdir: Path) -> list[dict[str, Any]]:
    """The rubric suite (``workdir`` is unused)."""
    return [
        _case("good/honest-answer", HONEST, PHOTO, True),
        _case("good/seven", "Counting the marbles again, there are 7 in the jar.", SEVEN, True),
        _case("good/polite", "We have issued your refund; it should arrive within five days.", POLITE, True),
        _case("good/report", "# Summary\nThe launch went well overall.\n\n## Risks\nSupply is tight.", REPORT, True),
        _case("good/json", '```json\n{"name": "Ada", "age": 36}\n```', PERSON, True),
        _case("stuffing/keyword-list", "photosynthesis chlorophyll sunlight glucose", PHOTO, False),
        _case(
            "stuffing/keyword-list-padded",
            "Keywords: photosynthesis, chlorophyll, sunlight, glucose, photosynthesis, chlorophyll, "
            "sunlight, glucose, photosynthesis, chlorophyll, sunlight, glucose, photosynthesis.",
            PHOTO,
            False,
        ),
        _case("stuffing/repeated", "photosynthesis " * 40 + "chlorophyll sunlight glucose", PHOTO, False),
        _case(
            "stuffing/stuffed-tail",
            "It is a plant thing. " + "sunlight glucose chlorophyll photosynthesis " * 6,
            PHOTO,
            False,
        ),
        _case("substring/seven-in-seventeen", "Counting again, there are 17 marbles in the jar.", SEVEN, False),
        _case("substring/seven-in-decimal", "The ratio comes out to 0.7 of the total.", SEVEN, False),
        _case("substring/seven-in-negative", "The temperature was -7 degrees.", SEVEN, False),
        _case("substring/seven-in-thousands", "About 1,700 people attended.", SEVEN, False),
        _case("substring/seven-in-word", "The 7th attempt worked.", SEVEN, False),
        _case("forbidden/case-change", "As An AI, I have issued your refund today.", POLITE, False),
        _case("forbidden/spacing", "I cannot  help with that refund request.", POLITE, False),
        _case("sections/inline-mention", "Summary: the Risks are small and the launch went well.", REPORT, False),
        _case("sections/out-of-order", "## Risks\nSupply is tight.\n\n# Summary\nThe launch went well.", REPORT, False),
        _case("json/trailing-comma", '```json\n{"name": "Ada", "age": 36,}\n```', PERSON, False),
        _case("json/wrong-type", '{"name": "Ada", "age": "36"}', PERSON, False),
        _case("json/boolean-as-integer", '{"name": "Ada", "age": true}', PERSON, False),
        _case("json/extra-key", '{"name": "Ada", "age": 36, "admin": true}', PERSON, False),
        _case("json/deep-nesting", "[" * 20_000 + "]" * 20_000, PERSON, False),
        _case("dos/huge-output", "refund " + "word " * 150_000, SHORT, False),
        _case("dos/many-keywords", "refund " * 100_000, SHORT, False),
    ]
