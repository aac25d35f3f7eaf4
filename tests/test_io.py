import pytest

from rlvr import InputError
from rlvr.io import iter_jsonl


def write(tmp_path, text: str, name="d.jsonl"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_reads_records_with_line_numbers_and_skips_blank_lines(tmp_path):
    p = write(tmp_path, '{"a": 1}\n\n{"a": 2}\n')
    got = [(r.line, r.record) for r in iter_jsonl(p)]
    assert got == [(1, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"output": "o", "answer": 1}\n{"a": \n', "d.jsonl:2: invalid JSON"),
        ("[1, 2]\n", "d.jsonl:1: expected a JSON object, got an array"),
        ('{"output": "x"}\n', "d.jsonl:1: missing required field(s): answer"),
        (b'{"a": "\xff"}\n', "d.jsonl:1: line is not valid UTF-8"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        list(iter_jsonl(p, required=("output", "answer")))
    assert message in str(info.value)


def test_skip_invalid_yields_errors_instead_of_raising(tmp_path):
    p = write(tmp_path, '{"a": 1}\nnot json\n{"a": 3}\n')
    items = list(iter_jsonl(p, skip_invalid=True))
    assert [i.line for i in items] == [1, 2, 3]
    assert items[1].record is None and "d.jsonl:2" in str(items[1].error)


def test_overlong_line_is_refused_and_numbering_continues(tmp_path):
    p = write(tmp_path, '{"a": "' + "x" * 5000 + '"}\n{"a": 2}\n')
    items = list(iter_jsonl(p, skip_invalid=True, max_line_bytes=1000))
    assert "longer than 1,000 bytes" in str(items[0].error)
    assert (items[1].line, items[1].record) == (2, {"a": 2})


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(iter_jsonl(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="directory"):
        list(iter_jsonl(tmp_path))
