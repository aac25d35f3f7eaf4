"""rlvr lab calibrate: the scenario table, the recovery rule, calibration.json's contract."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from typer.testing import CliRunner

from rlvr.cli import app
from rlvr.errors import ConfigError
from rlvr.evaluate.compare import VERDICTS
from rlvr.evaluate.spurious import SPURIOUS_LABELS
from rlvr.lab import LabConfig, lab_config
from rlvr.lab.calibrate import SCENARIOS, Scenario, recovered, run_calibration

runner = CliRunner()


def test_recovered_judges_only_the_planted_fields():
    sc = Scenario("x", "why", "pure_compression", None)
    assert recovered(sc, {"verdict": "pure_compression", "spurious": "control_unstable"})
    assert not recovered(sc, {"verdict": "mode_collapse", "spurious": "no_spurious_gain"})
    both = Scenario("y", "why", "pure_compression", "spurious_gain", control="format_control")
    assert not recovered(both, {"verdict": "pure_compression", "spurious": "no_spurious_gain"})
    assert recovered(both, {"verdict": "pure_compression", "spurious": "spurious_gain"})


def test_scenarios_are_the_five_of_the_issue_and_build_valid_configs():
    assert [s.name for s in SCENARIOS] == ["compression", "capability", "collapse", "spurious", "null"]
    names = {f.name for f in fields(LabConfig)}
    for sc in SCENARIOS:
        assert sc.verdict is None or sc.verdict in VERDICTS
        assert sc.spurious is None or sc.spurious in SPURIOUS_LABELS
        assert sc.verdict is not None or sc.spurious is not None  # plants something
        assert set(sc.overrides) <= names
        lab_config("quick", **sc.overrides)  # a valid config
    assert next(s for s in SCENARIOS if s.name == "spurious").control == "format_control"


def test_bad_calibration_requests_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown scenario"):
        run_calibration(tmp_path / "a", names=["nope"])
    with pytest.raises(ConfigError, match="quick or full"):
        run_calibration(tmp_path / "a", profile="huge")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "calibration.json").write_text("{}")
    res = runner.invoke(app, ["lab", "calibrate", "--out", str(tmp_path / "b"), "--only", "null"])
    assert res.exit_code == 1 and "already holds a calibration" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_calibration_json_follows_the_contract(tmp_path, monkeypatch):
    """A miniature calibration (one scenario, two seeds, a few steps): the file has the contract's
    shape and its counts agree with its own observations."""
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    tiny = {"n_pretrain": 200, "pretrain_steps": 30, "n_pool": 64, "n_test": 12, "n_shifted": 12, "steps": 2,
            "prompts_per_step": 4, "group_size": 2, "n_samples": 4, "n_boot": 50, "band": (0.0, 1.0),
            "trajectory_every": 1, "trajectory_problems": 4, "workers": 1, "progress": False}
    result = run_calibration(tmp_path / "cal", seeds=2, names=["null"], base=tiny)
    on_disk = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["profile"] == "quick"
    (sc,) = on_disk["scenarios"]
    assert sc["name"] == "null" and sc["planted"] == {"verdict": None, "spurious": "no_spurious_gain"}
    assert [o["seed"] for o in sc["observed"]] == [0, 1] and sc["seeds"] == 2
    assert all(o["spurious"] in SPURIOUS_LABELS and o["verdict"] in VERDICTS for o in sc["observed"])
    assert sc["recovered"] == sum(o["spurious"] == "no_spurious_gain" for o in sc["observed"])
    assert sc["seconds"] > 0
    assert (tmp_path / "cal" / "null" / "summary.json").is_file()
    page = (tmp_path / "cal" / "calibration.html").read_text()
    assert "<svg" in page and "<script" not in page and f"recovered {sc['recovered']}/2" in page


def test_calibration_page_marks_recovered_and_missed_seeds():
    from rlvr.report.calibration import render_calibration_html

    cal = {"profile": "quick", "scenarios": [{
        "name": "null", "why": "<b>x</b>", "planted": {"verdict": None, "spurious": "no_spurious_gain"},
        "observed": [{"seed": 0, "verdict": "pure_compression", "spurious": "no_spurious_gain"},
                     {"seed": 1, "verdict": "pure_compression", "spurious": "control_unstable"}],
        "recovered": 1, "seeds": 2, "seconds": 3.0,
        "pass_at_k": {"base": {"in_distribution": {"1": 0.3, "8": 0.6}, "shifted": None}},
    }]}
    page = render_calibration_html(cal)
    assert '<span class="pos">no_spurious_gain</span>' in page
    assert '<span class="neg">control_unstable</span>' in page
    assert '<span class="note">pure_compression</span>' in page  # not judged
    assert "recovered 1/2" in page and "<b>x</b>" not in page and "<svg" in page
