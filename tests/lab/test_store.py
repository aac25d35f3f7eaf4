"""Job results stored as they finish: fingerprints, atomic files, and what a resume reuses."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from rlvr.errors import ConfigError
from rlvr.lab import lab_config
from rlvr.lab.store import config_diff, file_hash, fingerprint, job_path, load_job, save_job


def test_fingerprint_keeps_only_what_changes_a_jobs_numbers():
    cfg = lab_config("quick")
    same = replace(cfg, out_dir="elsewhere", workers=7, progress=False, cache_dir="/c", threads=3, seeds=9,
                   n_boot=10, spurious_threshold=0.5, kl_limit=9.0)
    assert fingerprint(same) == fingerprint(cfg)
    for field, value in (("steps", 101), ("seed", 1), ("learning_rate", 1e-3), ("band", (0.1, 0.9)),
                         ("format_control", False)):
        assert fingerprint(cfg.updated(**{field: value})) != fingerprint(cfg), field
    assert fingerprint(cfg)["band"] == [0.05, 0.95]  # JSON data: as it reads back from a job file
    assert "out_dir" not in fingerprint(cfg) and "workers" not in fingerprint(cfg)


def test_config_diff_names_each_changed_field():
    assert config_diff({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b: 2 -> 3"]
    assert config_diff({"x": {"lr": 1, "k": 2}}, {"x": {"lr": 2, "k": 2}, "n": 5}) == [
        "n: '<unset>' -> 5", "x.lr: 1 -> 2"]
    assert config_diff({"a": [1, 2]}, {"a": [1, 2]}) == []


def test_saved_job_reads_back_as_the_json_copy_it_returns(tmp_path):
    cfg = lab_config("quick")
    result = {"seconds": 1.5, "flags": {"p1": [True, False]}, "pair": (1, 2), "nan": float("nan"), "n": None}
    copy = save_job(tmp_path, "prep", cfg, result)
    assert copy["pair"] == [1, 2] and math.isnan(copy["nan"]) and copy["flags"] == {"p1": [True, False]}
    loaded = load_job(tmp_path, "prep", cfg)
    assert json.dumps(loaded) == json.dumps(copy)  # the same values, fresh or reused
    assert [p.name for p in (tmp_path / "jobs").iterdir()] == ["prep.json"]  # no temp file left
    assert load_job(tmp_path, "trained", cfg) is None
    # Settings no job reads keep it; one a job reads refuses it, naming the field and both values.
    assert load_job(tmp_path, "prep", replace(cfg, workers=3, n_boot=7)) is not None
    with pytest.raises(ConfigError, match=r"jobs/prep.json was run with another config \(steps: 100 -> 50\)"):
        load_job(tmp_path, "prep", cfg.updated(steps=50))


def test_bad_job_files_and_results_fail_clearly(tmp_path):
    cfg = lab_config("quick")
    with pytest.raises(TypeError, match="Path, which is not JSON data"):
        save_job(tmp_path, "prep", cfg, {"where": Path("x")})
    assert not job_path(tmp_path, "prep").exists()
    path = job_path(tmp_path, "trained")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{half", encoding="utf-8")
    with pytest.raises(ConfigError, match="trained.json: not a lab job result"):
        load_job(tmp_path, "trained", cfg)
    path.write_text('{"format": 99, "result": 1}', encoding="utf-8")
    with pytest.raises(ConfigError, match="not a lab job result of this rlvr version"):
        load_job(tmp_path, "trained", cfg)


def test_an_edited_prompt_file_is_new_data(tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "1+1=", "answer": "2"}\n')
    cfg = lab_config("custom", model="m", data=str(data))
    before = fingerprint(cfg)
    assert before["files_sha256"] == {"data": file_hash(str(data))} and len(before["files_sha256"]["data"]) == 64
    save_job(tmp_path, "prep", cfg, {"x": 1})
    data.write_text('{"prompt": "1+1=", "answer": "3"}\n')
    with pytest.raises(ConfigError, match=r"another config \(files_sha256.data: '[0-9a-f]{64}' -> '[0-9a-f]{64}'\)"):
        load_job(tmp_path, "prep", cfg)
    assert fingerprint(lab_config("quick"))["files_sha256"] == {}
