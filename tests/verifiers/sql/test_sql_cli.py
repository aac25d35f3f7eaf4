"""`rlvr verify examples/sql.jsonl --verifier sql` through the real typer app (CliRunner)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr.cli import app

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sql.jsonl"

# What each example record must get (hand-checked against examples/sql/shop.sql).
EXPECTED = {
    "shop-1": "correct",  # fenced block, same rows
    "shop-2": "correct",  # SUM/COUNT vs AVG
    "shop-3": "incorrect",  # ASC vs DESC under the gold's ORDER BY ... LIMIT 3
    "shop-4": "incorrect",  # DISTINCT drops duplicate cities
    "shop-5": "correct",  # subquery vs DISTINCT join
    "shop-6": "incorrect",  # DELETE refused (BIRD would score it correct)
    "shop-7": "incorrect",  # = NULL instead of IS NULL
    "shop-8": "correct",  # extra ORDER BY, gold has none
    "shop-9": "unparsable",  # prose, no SQL
}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_verify_example_file(tmp_path: Path, workers: str) -> None:
    # A copy, so relative `db` paths are shown to resolve against the JSONL file, not the cwd.
    shutil.copytree(ROOT / "examples" / "sql", tmp_path / "sql")
    data = tmp_path / "sql.jsonl"
    shutil.copy(EXAMPLE, data)
    db = tmp_path / "sql" / "shop.sqlite"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(
        app, ["verify", str(data), "--verifier", "sql", "--workers", workers, "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["n"] == len(EXPECTED)
    assert summary["counts"] == {"correct": 4, "incorrect": 4, "unparsable": 1}
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["id"]: r["status"] for r in records} == EXPECTED
    for r in records:
        assert r["reward"] == (1.0 if r["status"] == "correct" else 0.0)
        assert r["reason"]
    shop6 = next(r for r in records if r["id"] == "shop-6")
    assert "DELETE" in shop6["reason"]
    shop4 = next(r for r in records if r["id"] == "shop-4")
    assert shop4["details"]["rows"] == {"gold": 7, "predicted": 4}
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in (tmp_path / "sql").iterdir()) == ["shop.sql", "shop.sqlite"]


def test_verify_with_options_and_missing_db(tmp_path: Path) -> None:
    data = tmp_path / "x.jsonl"
    data.write_text(
        json.dumps({"output": "SELECT 1", "answer": "SELECT 1", "db": "missing.sqlite"}) + "\n"
    )
    result = CliRunner().invoke(
        app, ["verify", str(data), "--verifier", "sql", "--workers", "0", "--opt", "timeout=2", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["counts"] == {"error": 1}


def test_verify_bad_option_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["verify", str(EXAMPLE), "--verifier", "sql", "--workers", "0", "--opt", "backend=oracle"]
    )
    assert result.exit_code != 0
    assert "backend must be one of" in result.output
    assert "Traceback" not in result.output


def test_verify_requires_db_field(tmp_path: Path) -> None:
    data = tmp_path / "x.jsonl"
    data.write_text(json.dumps({"output": "SELECT 1", "answer": "SELECT 1"}) + "\n")
    result = CliRunner().invoke(app, ["verify", str(data), "--verifier", "sql", "--workers", "0"])
    assert result.exit_code != 0
    assert "db" in result.output and "x.jsonl" in result.output
