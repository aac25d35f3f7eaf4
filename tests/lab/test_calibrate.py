"""rlvr lab calibrate: the scenario table, calibration.json's contract, the page and the exit code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rlvr.cli import app
from rlvr.errors import ConfigError
from rlvr.evaluate.spurious import SPURIOUS_LABELS
from rlvr.evaluate.verdict import VERDICTS
from rlvr.lab import LabConfig, lab_config
from rlvr.lab.calibrate import DEFAULT_SEED, SCENARIOS, run_calibration
from rlvr.lab.mutants import MUTANTS

runner = CliRunner()


def test_scenarios_plant_every_kind_of_answer_and_build_valid_configs():
    names = set(LabConfig().flat())  # the flat names lab_config takes (the trainer's included)
    for sc in SCENARIOS:
        assert sc.verdict is None or sc.verdict in VERDICTS
        assert sc.spurious is None or sc.spurious in SPURIOUS_LABELS
        assert any(v is not None for v in sc.planted().values())  # plants something
        assert set(sc.overrides) <= names
        lab_config("quick", **sc.overrides)  # a valid config
    verdicts = {sc.verdict for sc in SCENARIOS} - {None}
    controls = {sc.spurious for sc in SCENARIOS} - {None}
    # A constant verdict or a constant control call can pass at most one scenario of its kind.
    assert {"pure_compression", "capability_gain_and_compression", "mode_collapse", "uninformative",
            "inconclusive"} <= verdicts
    assert {"spurious_gain", "no_spurious_gain", "control_unstable", "control_uninformative"} <= controls
    assert {sc.ood[1] for sc in SCENARIOS if sc.ood} == {True, False}


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
def test_a_calibration_below_the_bar_says_so_and_exits_1(tmp_path, monkeypatch):
    """A miniature calibration (two scenarios, two seeds, a few RL steps) cannot recover its plants:
    the file follows the contract, its counts agree with its own observations, every mutant is
    judged, ``passed`` is false and the command exits 1."""
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "cal"
    args = ["lab", "calibrate", "--quick", "--out", str(out), "--only", "null,underpowered", "--seeds", "2",
            "--seed", "7", "--workers", "1", "--json"]
    tiny = {"n_pretrain": 200, "pretrain_steps": 30, "n_pool": 64, "n_test": 12, "n_shifted": 12, "steps": 2,
            "prompts_per_step": 4, "group_size": 2, "n_samples": 4, "n_boot": 50, "band": (0.0, 1.0),
            "trajectory_every": 1, "trajectory_problems": 4}
    monkeypatch.setitem(__import__("rlvr.lab.config", fromlist=["PROFILES"]).PROFILES, "quick", tiny)
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    on_disk = json.loads((out / "calibration.json").read_text())
    assert json.loads(res.output) == on_disk
    assert on_disk["profile"] == "quick" and on_disk["seed"] == 7 and on_disk["passed"] is False
    assert on_disk["seeds_tuned_on"] == [7, 8]  # said, never hidden
    assert [s["name"] for s in on_disk["scenarios"]] == ["null", "underpowered"]
    for sc in on_disk["scenarios"]:
        assert [o["seed"] for o in sc["observed"]] == [7, 8] and sc["seeds"] == 2 and sc["needed"] == 2
        assert all(o["verdict"] in VERDICTS and o["spurious"] in SPURIOUS_LABELS for o in sc["observed"])
        planted = {k: v for k, v in sc["planted"].items() if v is not None}
        assert sc["recovered"] == sum(all(o[k] == v for k, v in planted.items()) for o in sc["observed"])
        assert sc["pooled_recovered"] == all(sc["pooled"][k] == v for k, v in planted.items())
        assert sc["met"] == (sc["pooled_recovered"] and sc["recovered"] >= 2)
        assert (out / sc["name"] / "summary.json").is_file()
    assert [m["name"] for m in on_disk["mutants"]] == [m.name for m in MUTANTS]
    assert all(set(m) == {"name", "why", "caught", "caught_by"} for m in on_disk["mutants"])
    page = (out / "calibration.html").read_text()
    assert "FAILED" in page and "<b>pooled</b>" in page and "Broken labs" in page and "<script" not in page


def test_calibration_page_marks_recovered_missed_and_mutants():
    from rlvr.report.calibration import render_calibration_html

    cal = {"profile": "quick", "seed": DEFAULT_SEED, "passed": False, "scenarios": [{
        "name": "null", "why": "<b>x</b>", "planted": {"verdict": None, "spurious": "no_spurious_gain"},
        "observed": [{"seed": 0, "verdict": "pure_compression", "spurious": "no_spurious_gain"},
                     {"seed": 1, "verdict": "pure_compression", "spurious": "control_unstable"}],
        "pooled": {"verdict": "inconclusive", "spurious": "control_inconclusive"}, "pooled_recovered": False,
        "recovered": 1, "seeds": 2, "needed": 2, "met": False, "seconds": 3.0,
        "pass_at_k": {"base": {"in_distribution": {"1": 0.3, "8": 0.6}, "shifted": None}},
    }], "mutants": [{"name": "dead_random_arm", "why": "w", "caught": False, "caught_by": []}]}
    page = render_calibration_html(cal)
    assert '<span class="pos">no_spurious_gain</span>' in page
    assert '<span class="neg">control_unstable</span>' in page
    assert '<span class="neg">control_inconclusive</span>' in page  # the pooled call, missed
    assert '<span class="note">pure_compression</span>' in page  # not judged
    assert "recovered 1/2" in page and "misses the bar" in page and "NOT caught" in page
    assert "<b>x</b>" not in page and "<svg" in page and "FAILED" in page
