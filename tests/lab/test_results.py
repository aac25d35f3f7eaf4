"""Typed seed / arm records: the job store's JSON boundary keeps the job files' keys, so job files
written before the records were typed still load, and a record survives its JSON round trip."""

from __future__ import annotations

import json

import pytest

from rlvr.errors import ConfigError
from rlvr.lab.results import ArmRun, SeedPrep, TrainingRun, job_record

# A prep and an arm result as the dict-based lab wrote them into jobs/<job>.json ("result").
OLD_PREP = {
    "seed": 7, "base_outcomes": {"in_distribution": {"test-1": [True, False]}, "shifted": {}},
    "kept": [{"id": "pool-1", "prompt": "1+2=", "pass_rate": 0.5}], "curation": {"prompts": 4, "kept": 1},
    "hit_rate": 0.5, "verifier": "math", "test_sets": {"in_distribution": [{"id": "test-1"}], "shifted": []},
    "data": {"train": 4, "curated": 1, "shifted_description": "held out"}, "timings": {"data": 0.1, "total": 1.5},
    "seconds": 1.6,
}
OLD_ARM = {
    "arm": "trained", "outcomes": {"in_distribution": {"test-1": [True, True]}},
    "run": {"summary": {"health": {"healthy": True}}, "curves": {"policy/kl": [0.0, 0.01]},
            "warnings": [{"check": "x"}], "trajectory": [{"step": 0, "entropy": None}]},
    "timings": {"train_real": 2.0}, "seconds": 2.5,
}


def test_old_job_results_load_as_records_and_write_back_the_same_json():
    prep = job_record("prep", json.loads(json.dumps(OLD_PREP)))
    arm = job_record("trained", json.loads(json.dumps(OLD_ARM)))
    assert isinstance(prep, SeedPrep) and isinstance(arm, ArmRun) and isinstance(arm.run, TrainingRun)
    assert (prep.seed, prep.hit_rate, prep.seconds, prep.kept[0]["prompt"]) == (7, 0.5, 1.6, "1+2=")
    assert (arm.arm, arm.seconds, arm.run.curves["policy/kl"], arm.run.warnings) == ("trained", 2.5, [0.0, 0.01], [{"check": "x"}])
    # Same keys, same order, same values: a job file written now reads as one written before.
    assert json.dumps(prep.to_dict()) == json.dumps(OLD_PREP)
    assert json.dumps(arm.to_dict()) == json.dumps(OLD_ARM)
    assert SeedPrep.from_dict(prep.to_dict()) == prep and ArmRun.from_dict(arm.to_dict()) == arm


def test_a_job_result_missing_a_field_is_a_config_error():
    with pytest.raises(ConfigError, match="a stored seed prep lacks 'hit_rate'"):
        job_record("prep", {k: v for k, v in OLD_PREP.items() if k != "hit_rate"})
    with pytest.raises(ConfigError, match="a stored training run lacks 'curves'"):
        job_record("trained", {**OLD_ARM, "run": {"summary": {}}})
