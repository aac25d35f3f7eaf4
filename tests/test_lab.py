"""rlvr lab: the task generators behind it, its config, and the whole study at reduced scale."""

from __future__ import annotations

import json
import random
import re

import pytest
from typer.testing import CliRunner

from rlvr.cli import app
from rlvr.data.tasks import HELD_OUT_PAIRS, countdown, disjoint_splits, multidigit, slip, twin_key
from rlvr.errors import ConfigError
from rlvr.lab import TASK_SPECS, lab_config
from rlvr.types import Sample
from rlvr.verifiers.registry import get_verifier

runner = CliRunner()

SUMMARY_KEYS = {"arms", "compression_ratio", "capability_gain", "spurious", "health", "verdict", "timings"}
CONTRACT_KEYS = {"seeds", "per_seed", "informative", "trajectory"}


# -- tasks -------------------------------------------------------------------------------------------


def test_multidigit_answers_and_levels():
    recs = multidigit(300, seed=3, level=2)
    for r in recs:
        a, op, b = re.fullmatch(r"(\d+)([+*])(\d+)=", r["prompt"]).groups()
        assert len(a) == 2
        assert (len(b) == 2) if op == "+" else (2 <= int(b) <= 9)
        assert int(r["answer"]) == (int(a) + int(b) if op == "+" else int(a) * int(b))
        assert r["solution"] == r["answer"] and r["level"] == 2
    assert {r["prompt"][2] for r in recs} == {"+", "*"}
    assert len({r["prompt"] for r in recs}) == 300
    shifted = multidigit(50, seed=3, level=3)
    assert all(len(re.match(r"\d+", r["prompt"]).group()) == 3 for r in shifted)
    assert multidigit(20, seed=5) == multidigit(20, seed=5)  # seeded


def test_multidigit_splits_are_stratified_twin_free_and_hold_out_a_shift():
    opts = {"level": 2, "mul_share": 0.2, "held_out": HELD_OUT_PAIRS}
    splits = disjoint_splits(
        "multidigit",
        [("pretrain", 1000, opts), ("pool", 300, opts), ("test", 150, opts),
         ("shifted", 80, {**opts, "shifted": True})],
        seed=4,
    )
    for name in ("pretrain", "pool", "test"):
        recs = splits[name]
        # Stratified by operator: exactly the share of products asked for, in every split.
        assert sum(r["prompt"][2] == "*" for r in recs) == round(0.2 * len(recs))
        # No addition of the held-out leading-digit pairs outside the shifted set.
        assert all(
            {int(r["prompt"][0]), int(r["prompt"][3])} not in [set(p) for p in HELD_OUT_PAIRS]
            for r in recs if r["prompt"][2] == "+"
        )
    shifted = splits["shifted"]
    assert all(r["stratum"] == "held_out" and r["prompt"][2] == "+" for r in shifted)
    assert all({int(r["prompt"][0]), int(r["prompt"][3])} in [set(p) for p in HELD_OUT_PAIRS] for r in shifted)
    assert {len(r["prompt"]) for r in shifted} == {len(r["prompt"]) for r in splits["test"] if r["prompt"][2] == "+"}
    # No problem shares its commuted twin with another split (nor within one).
    keys = {name: [twin_key(r["prompt"]) for r in recs] for name, recs in splits.items()}
    assert all(len(set(v)) == len(v) for v in keys.values())
    names = list(keys)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not set(keys[a]) & set(keys[b]), (a, b)
    # Carry additions carry the carry-dropped solution the warm-up may show instead.
    for r in splits["test"]:
        a, op, b = re.fullmatch(r"(\d+)([+*])(\d+)=", r["prompt"]).groups()
        carry = op == "+" and int(a[-1]) + int(b[-1]) >= 10
        assert r["stratum"] == ("mul" if op == "*" else "carry" if carry else "plain")
        assert ("carry_dropped" in r) == carry
        if carry:
            assert int(r["carry_dropped"]) == int(r["answer"]) - 10


def test_twin_key_and_bad_multidigit_options():
    assert twin_key("47+38=") == twin_key("38+47=") == "38+47="
    assert twin_key("47*6=") == twin_key("6*47=") == "6*47="
    assert twin_key("2 4 9>15:") == "2 4 9>15:"
    with pytest.raises(ConfigError, match="mul_share"):
        multidigit(10, mul_share=1.5)
    with pytest.raises(ConfigError, match="needs held_out"):
        multidigit(10, shifted=True)


def test_countdown_solutions_are_exact_under_the_countdown_verifier():
    v = get_verifier("countdown")
    recs = countdown(400, seed=1)
    for r in recs:
        nums, target = r["prompt"][:-1].split(">")
        assert [int(x) for x in nums.split()] == r["numbers"] == sorted(r["numbers"])
        assert int(target) == r["answer"]
        verdict = v.verify(Sample.from_record({**r, "output": r["solution"]}))
        assert verdict.status == "correct", (r, verdict.reason)
    four = countdown(50, seed=2, level=4)
    assert all(len(r["numbers"]) == 4 for r in four)


def test_disjoint_splits_never_share_a_prompt():
    splits = disjoint_splits(
        "multidigit", [("a", 80, {"level": 1}), ("b", 20, {"level": 1}), ("c", 20, {"level": 2})], seed=0
    )
    prompts = [{r["prompt"] for r in recs} for recs in splits.values()]
    assert [len(p) for p in prompts] == [80, 20, 20]
    assert not (prompts[0] & prompts[1]) and not (prompts[0] & prompts[2]) and not (prompts[1] & prompts[2])
    # One-digit operands up to commuted twins give 55 sums and 52 products (107 problems): asking
    # for more is a clear error.
    with pytest.raises(ConfigError, match="distinct problems"):
        disjoint_splits("multidigit", [("a", 100, {"level": 1}), ("b", 10, {"level": 1})], seed=0)


def test_slip_always_changes_the_solution_plausibly():
    rng = random.Random(0)
    for sol in ("85", "1009", "0", "3*5+7", "(13-3)*2"):
        for _ in range(20):
            s = slip(sol, rng)
            assert s != sol and len(s) == len(sol)
    assert slip("42", random.Random(1))[:-1] == "4"  # only the last digit moves


# -- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "chess"}, "unknown task 'chess'"),
        ({"model": "x"}, "--model and --data go together"),
        ({"group_size": 1}, "group_size must be >= 2"),
        ({"band": (0.8, 0.2)}, "band must satisfy"),
        ({"steps": 0}, "steps must be >= 1"),
        ({"pretrain_noise": 1.0}, "pretrain_noise must be in"),
    ],
)
def test_lab_config_rejects_bad_settings(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        lab_config("default", **overrides)


def test_profiles_and_overrides():
    quick = lab_config("quick", seed=3, steps=None)
    assert quick.profile == "quick" and quick.seed == 3 and quick.grpo.run.steps < lab_config().grpo.run.steps
    assert quick.ks() == [1, 2, 4, 8]
    with pytest.raises(ConfigError, match="unknown profile"):
        lab_config("huge")
    for spec in TASK_SPECS.values():
        assert spec.max_new_tokens < spec.block_size


def test_cli_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["lab", "--task", "chess", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "unknown task 'chess'" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["lab", "--model", "smollm2", "--data", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 1 and "no such file" in res.output


# -- the study ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_lab_run_end_to_end(tmp_path, monkeypatch):
    """The reduced-scale study on 3 seeds: on every seed RL with the real verifier beats the base by a
    clear margin while the random control gains nothing and the format-only control (whose reward is
    constant on this base) says it could not move; the verdict is the table's label for the reported
    intervals and margin; pooled numbers are the seeds' means; every output is written."""
    from rlvr.evaluate.verdict import direction, verdict_label

    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "lab"
    res = runner.invoke(app, ["lab", "--quick", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary == json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS | CONTRACT_KEYS
    assert summary["seeds"] == [0, 1, 2] and [p["seed"] for p in summary["per_seed"]] == [0, 1, 2]
    arms = ("base", "trained", "random_control", "format_control")
    for arm in arms:
        for split in ("in_distribution", "shifted"):
            pk = summary["arms"][arm]["pass_at_k"][split]
            assert set(pk) == {"1", "2", "4", "8"} and all(0 <= v <= 1 for v in pk.values())
    # The shifted set can move: the base's pass@8 is off the floor and the ceiling.
    assert 0.15 <= summary["arms"]["base"]["pass_at_k"]["shifted"]["8"] <= 0.85
    assert summary["informative"] == {"in_distribution": True, "shifted": True}
    # Claims checked on every seed, not only pooled.
    for seed in summary["per_seed"]:
        pk = seed["pass_at_k"]
        ind = {arm: pk[arm]["in_distribution"] for arm in arms}
        real_gain = ind["trained"]["1"] - ind["base"]["1"]
        assert real_gain >= 0.03, seed
        assert ind["random_control"]["1"] - ind["base"]["1"] <= real_gain - 0.03, seed
        assert seed["spurious"]["random_control"] != "spurious_gain", seed
        # The format-only reward pays every answer of this base (all well formed): nothing to teach.
        assert seed["spurious"]["format_control"] == "control_uninformative", seed
        assert set(pk) == set(arms)
    # The verdict is the table's label for the directions the reported intervals give at the margin.
    v, comp, margin = summary["verdict"], summary["comparison"], summary["verdict"]["margin"]
    assert margin == 0.02
    dirs = {key: direction(comp["capability_gain"][k], comp["capability_gain_ci"][k], margin)
            for key, k in (("pass_at_1", "1"), ("pass_at_K", "8"))}
    assert v["directions"] == dirs
    assert v["label"] == verdict_label(dirs["pass_at_1"], dirs["pass_at_K"])
    # Every seed shows its own pass@1 gain (its paired problem interval above 0); pooled over 3 seeds
    # that differ (+9 to +22 points here) the t quantile of 2 df may leave it unresolved, and then
    # the verdict must not claim one.
    assert all(p["comparison"]["directions"]["pass_at_1"] == "up" for p in summary["per_seed"])
    if dirs["pass_at_1"] != "up":
        assert v["label"] in {"inconclusive", "coverage_gain"}
    # Pooled = mean of the seeds, its interval covering the seeds' spread.
    for arm in arms:
        seeds_p1 = [p["pass_at_k"][arm]["in_distribution"]["1"] for p in summary["per_seed"]]
        assert summary["arms"][arm]["pass_at_k"]["in_distribution"]["1"] == pytest.approx(sum(seeds_p1) / 3)
        lo, hi = summary["arms"][arm]["pass_at_k_ci"]["in_distribution"]["1"]
        assert lo <= min(seeds_p1) + 0.02 and hi >= max(seeds_p1) - 0.02
    real_gain = summary["capability_gain"]["1"]
    assert summary["spurious"]["real_improvement"] == pytest.approx(real_gain) and real_gain >= 0.03
    assert summary["spurious"]["flag"] is False and "spurious_gain" not in summary["spurious"]["labels"]
    assert summary["spurious"]["controls"]["format_control"]["label"] == "control_uninformative"
    assert set(summary["spurious"]["controls"]) == {"random_control", "format_control"}
    assert summary["spurious"]["controls"]["random_control"]["kl_end"] is not None  # KL to the base, logged
    assert summary["spurious"]["real_minus_random"]["pass_at_1_ci"][0] > 0  # the reward's signal shows
    assert summary["entropy"]["trained"]["end"] < summary["entropy"]["trained"]["start"]
    assert set(summary["capability_gain"]) == {"1", "2", "4", "8"}
    assert "pooled over 3 seeds" in summary["verdict"]["headline"]
    assert isinstance(summary["health"]["warnings"], list)
    assert 0 < summary["hit_rate"] < 1
    assert summary["timings"]["total"] > 0
    assert all(t["train_real"] > 0 for t in summary["timings"]["per_seed"].values())
    # Everything behind the numbers is on disk, per seed.
    html = (out / "report.html").read_text()
    assert "<svg" in html and "<script" not in html
    for s in (0, 1, 2):
        seed_dir = out / f"seed{s}"
        samples = (seed_dir / "samples" / "trained_in_distribution.jsonl").read_text().splitlines()
        assert len(samples) == 100 * 8
        assert {"problem_id", "output", "reward", "status"} <= set(json.loads(samples[0]))
        for run in ("train_real", "train_random", "train_format"):
            steps = (seed_dir / run / "metrics.jsonl").read_text().splitlines()
            assert len(steps) == summary["config"]["steps"]
        test = {json.loads(x)["prompt"] for x in (seed_dir / "data" / "test.jsonl").read_text().splitlines()}
        train = {json.loads(x)["prompt"] for x in (seed_dir / "data" / "pretrain.jsonl").read_text().splitlines()}
        train |= {json.loads(x)["prompt"] for x in (seed_dir / "data" / "pool.jsonl").read_text().splitlines()}
        assert test and not ({twin_key(p) for p in test} & {twin_key(p) for p in train})

    # rlvr report rebuilds the page from summary.json.
    res = runner.invoke(app, ["report", str(out / "summary.json"), "--out", str(tmp_path / "again.html")])
    assert res.exit_code == 0, res.output
    assert summary["verdict"]["headline"].split(":")[0] in (tmp_path / "again.html").read_text()

    # A finished run is never overwritten; a new folder reuses the cached base models.
    res = runner.invoke(app, ["lab", "--quick", "--out", str(out)])
    assert res.exit_code == 1 and "already holds a lab run" in res.output
    res = runner.invoke(app, ["lab", "--quick", "--out", str(tmp_path / "again"), "--steps", "2", "--json"])
    assert res.exit_code == 0, res.output
    again = json.loads(res.output)
    for s in ("0", "1", "2"):
        assert again["timings"]["per_seed"][s]["pretrain"] < summary["timings"]["per_seed"][s]["pretrain"] / 3
    assert again["arms"]["base"] == summary["arms"]["base"]  # same bases, same samples


def test_lab_on_a_user_model_and_data(tmp_path, monkeypatch):
    """--model/--data/--verifier: the same study on a saved model and the user's prompts."""
    from rlvr.policy.tiny import TinyConfig, TinyPolicy, pretrain

    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    records = multidigit(60, seed=9, level=1)
    policy = TinyPolicy(TinyConfig(n_layer=1, n_embd=32, block_size=12), seed=0)
    pretrain(policy, [(r["prompt"], r["answer"]) for r in records], steps=60)
    policy.save(tmp_path / "model")
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": r["id"], "prompt": r["prompt"], "answer": r["answer"]}) + "\n"
                            for r in records))
    cfg = lab_config(
        "custom", model=str(tmp_path / "model"), data=str(data), verifier="math", out_dir=str(tmp_path / "run"),
        steps=2, n_samples=4, max_new_tokens=3, band=(0.0, 1.0), prompts_per_step=4, group_size=2,
        n_boot=50, progress=False,
    )
    from rlvr.lab import run_lab

    summary = run_lab(cfg, quiet=True)
    assert summary["task"] == "custom" and summary["model"] == str(tmp_path / "model")
    assert summary["data"]["test_in_distribution"] == 12 and summary["data"]["train"] == 48
    assert summary["arms"]["base"]["pass_at_k"]["shifted"] is None
    assert summary["comparison_shifted"] is None
    assert set(summary["arms"]["trained"]["pass_at_k"]["in_distribution"]) == {"1", "2", "4"}
    assert (tmp_path / "run" / "report.html").is_file()
    assert len(json.loads((tmp_path / "run" / "seed0" / "train_real" / "summary.json").read_text())) > 0
    assert summary["seeds"] == [0] and len(summary["per_seed"]) == 1
    assert set(summary["arms"]) == {"base", "trained", "random_control"}  # no format control for --model


def test_verdict_never_reports_an_uninformative_comparison_as_a_finding():
    import copy
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "report"))
    from lab_fixture import lab_summary

    from rlvr.lab import lab_verdict

    s = lab_summary()
    s["informative"] = {"in_distribution": True, "shifted": True}
    normal = lab_verdict(s)
    assert normal["label"] == s["comparison"]["verdict"]
    assert any(r.startswith("Shifted set") and "→" in r for r in normal["reasons"])
    # The shifted base at a floor: named uninformative, its numbers are not reported as a change.
    floor = copy.deepcopy(s)
    floor["informative"]["shifted"] = False
    shifted = [r for r in lab_verdict(floor)["reasons"] if r.startswith("Shifted set")]
    assert len(shifted) == 1 and "uninformative" in shifted[0] and "→" not in shifted[0]
    # In-distribution at a ceiling: the whole verdict is "uninformative", no compression/capability claim.
    ceiling = copy.deepcopy(s)
    ceiling["informative"]["in_distribution"] = False
    v = lab_verdict(ceiling)
    assert v["label"] == "uninformative" and v["headline"].startswith("Uninformative")
    assert not any(w in " ".join([v["headline"], *v["reasons"]]) for w in ("compress", "capability gain", "collapse"))


def _fake_seed(seed, base_c, trained_c, random_c, shifted_c, kl=0.01, n=8):
    """One seed's run_seed output without any training: c correct of n per problem, per arm."""
    def flags(cs):
        return {f"p{i}": [True] * c + [False] * (n - c) for i, c in enumerate(cs)}

    from rlvr.lab.results import SeedResult, TrainingRun

    runs = {
        arm: TrainingRun(summary={"health": None}, curves={"policy/entropy": [0.4, 0.3], "policy/kl": [kl, kl]})
        for arm in ("trained", "random_control")
    }
    return SeedResult(
        seed=seed, hit_rate=0.4, curated=10, verifier="math", curation={},
        data={"shifted_description": "held out"}, timings={}, runs=runs,
        outcomes={
            "base": {"in_distribution": flags(base_c), "shifted": flags(shifted_c)},
            "trained": {"in_distribution": flags(trained_c), "shifted": flags(shifted_c)},
            "random_control": {"in_distribution": flags(random_c), "shifted": flags(shifted_c)},
        },
    )


def test_lab_summary_pools_seeds_and_calls_the_control():
    from rlvr.lab.summary import lab_summary

    cfg = lab_config("quick", n_samples=8, n_boot=300, format_control=False)
    base = [2] * 240 + [0] * 80
    seeds = [
        _fake_seed(0, base, [6] * 240 + [0] * 80, base, [0] * 320),
        _fake_seed(1, base, [5] * 240 + [0] * 80, [1] * 240 + [0] * 80, [0] * 320, kl=0.02),
    ]
    s = lab_summary(cfg, seeds)
    assert s["seeds"] == [0, 1] and [p["seed"] for p in s["per_seed"]] == [0, 1]
    # Pooled pass@1 = mean of the seeds': trained (0.75·6/8 + 0.75·5/8) / 2, base 0.75·2/8.
    assert s["arms"]["trained"]["pass_at_k"]["in_distribution"]["1"] == pytest.approx(0.75 * 5.5 / 8)
    assert s["arms"]["base"]["pass_at_k"]["in_distribution"]["1"] == pytest.approx(0.75 * 2 / 8)
    # The shifted base never solves anything: a floor, uninformative, and said so in the verdict.
    assert s["informative"] == {"in_distribution": True, "shifted": False}
    assert any("uninformative" in r for r in s["verdict"]["reasons"] if r.startswith("Shifted"))
    # Seed 1's control lost 0.75·1/8 ≈ 9 points: that seed's control is unstable on its own interval;
    # pooled, two seeds that disagree (a t quantile of 12.7 at one degree of freedom) show nothing.
    assert [p["spurious"]["random_control"] for p in s["per_seed"]] == ["no_spurious_gain", "control_unstable"]
    assert s["spurious"]["label"] == "control_inconclusive" and s["spurious"]["flag"] is False
    assert s["spurious"]["controls"]["random_control"]["per_seed"] == {"0": "no_spurious_gain", "1": "control_unstable"}
    assert s["spurious"]["controls"]["random_control"]["kl_end_per_seed"] == [0.01, 0.02]
    assert s["verdict"]["label"] == s["comparison"]["verdict"]


def test_typed_summary_round_trips_with_the_contract_keys():
    from rlvr.lab.record import LabSummary
    from rlvr.lab.summary import lab_summary

    cfg = lab_config("quick", n_samples=8, n_boot=50, format_control=False)
    base = [2] * 10 + [0] * 4
    s = lab_summary(cfg, [_fake_seed(0, base, [6] * 10 + [0] * 4, base, [3] * 14)])
    s["timings"] = {"total": 1.0}
    rec = LabSummary.from_dict(s)
    assert rec.to_dict() == s and list(rec.to_dict()) == list(s)  # same keys, same order
    assert rec.seeds == [0] and rec.label == s["verdict"]["label"] and rec.files is None
    assert set(s) >= SUMMARY_KEYS | CONTRACT_KEYS
    newer = {**s, "added_later": 1}
    assert LabSummary.from_dict(newer).to_dict() == newer
    with pytest.raises(ConfigError, match="lacks per_seed"):
        LabSummary.from_dict({k: v for k, v in s.items() if k != "per_seed"})
    with pytest.raises(ConfigError, match="not a lab summary"):
        LabSummary.from_dict({"kind": "compare"})
