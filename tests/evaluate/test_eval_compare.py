"""``compare`` and ``spurious_analysis`` on synthetic sample sets whose answers are known by design."""

from __future__ import annotations

import random

import pytest

from rlvr.errors import ConfigError
from rlvr.evaluate import VERDICTS, compare, spurious_analysis
from rlvr.evaluate.intervals import gain_floor
from rlvr.evaluate.passk import pass_at_k


def problems(spec: list[tuple[int, int]], n: int = 8, start: int = 0) -> dict[str, list[bool]]:
    """``spec``: (how many problems, correct samples each) → problem id → correctness flags."""
    out: dict[str, list[bool]] = {}
    i = start
    for count, c in spec:
        for _ in range(count):
            out[f"p{i}"] = [True] * c + [False] * (n - c)
            i += 1
    return out


def test_pure_compression_with_hand_computed_ratio():
    base = problems([(400, 1)])  # every problem: 1 of 8 correct → pass@8 = 1, pass@1 = 1/8
    trained = problems([(400, 6)])  # 6 of 8 → pass@1 = 0.75, pass@8 = 1
    r = compare(base, trained, [1, 2, 8], n_boot=300)
    # The base solves every problem at k=8 (a ceiling): nothing could be gained, so no finding.
    assert r.verdict == "uninformative"
    assert r.directions == {"pass_at_1": "up", "pass_at_K": "flat"}
    assert "ceiling" in r.verdict_reason
    assert r.pass_at_k_base[1] == pytest.approx(0.125)
    assert r.pass_at_k_trained[1] == pytest.approx(0.75)
    assert r.capability_gain[8] == pytest.approx(0.0)
    # (0.75 − 0.125) / (1 − 0.125)
    assert r.compression_ratio[8] == pytest.approx(0.625 / 0.875)
    # At k=2 the base reaches 1 − 7/8·6/7 = 0.25: ratio (0.75 − 0.125)/(0.25 − 0.125) = 5.
    assert r.compression_ratio[2] == pytest.approx(5.0)
    assert r.compression_ratio[1] is None and "k=1" in r.compression_ratio_reason[1]
    assert r.transitions["counts"] == {"self_distilled": 400, "newly_capable": 0, "lost": 0, "never_solved": 0}
    assert r.crossover_k == 8  # base pass@8 = 1 ≥ trained pass@8 = 1
    assert r.crossover_k_significant is None  # equal is not significantly behind


def test_capability_gain_and_compression():
    base = problems([(30, 1), (30, 0)])
    trained = problems([(30, 6), (20, 6), (10, 0)])  # 20 problems the base never solved are now solved
    r = compare(base, trained, [1, 4, 8], n_boot=300)
    assert r.verdict == "capability_gain_and_compression"
    assert r.capability_gain[8] == pytest.approx(50 / 60 - 30 / 60)
    assert r.capability_gain_ci[8][0] > 0
    assert r.transitions["counts"] == {"self_distilled": 30, "newly_capable": 20, "lost": 0, "never_solved": 10}
    assert r.crossover_k is None


def test_mode_collapse_is_flagged():
    base = problems([(60, 2), (20, 0)])  # pass@1 = 0.25 and pass@8 = 1 on 60 problems; 20 never solved
    trained = problems([(30, 8), (30, 0), (20, 0)])  # pass@1 up, but 30 problems gone at any k
    r = compare(base, trained, [1, 8], n_boot=300)
    assert r.verdict == "mode_collapse"
    assert r.capability_gain[8] == pytest.approx(-30 / 80)
    assert r.transitions["counts"] == {"self_distilled": 30, "newly_capable": 0, "lost": 30, "never_solved": 20}
    assert r.transitions["coverage_at_k"] == {"both": 30, "base_only": 30, "trained_only": 0, "neither": 20}
    assert r.crossover_k_significant == 8


def test_regression():
    r = compare(problems([(300, 4), (100, 0)]), problems([(300, 1), (100, 0)]), [1, 8], n_boot=300)
    assert r.verdict == "regression"
    assert r.directions == {"pass_at_1": "down", "pass_at_K": "flat"}
    assert r.capability_gain[1] == pytest.approx(-3 / 8 * 60 / 80)
    assert r.crossover_k is None and "not ahead" in r.crossover_reason


def test_regression_when_only_coverage_falls():
    base = problems([(30, 1), (30, 0)])
    trained = problems([(10, 1), (20, 0), (5, 4), (25, 0)])  # same pass@1 (30/480), half the coverage
    r = compare(base, trained, [1, 8], n_boot=300)
    assert r.capability_gain[1] == pytest.approx(0.0)
    assert r.verdict == "regression"
    assert r.directions["pass_at_K"] == "down"
    assert "pass@8 -25.0 pts" in r.verdict_reason


def test_identical_sets_show_no_change():
    s = problems([(100, 0), (100, 3), (100, 8)])
    r = compare(s, s, [1, 2, 8], n_boot=200)
    assert r.verdict == "no_change"  # both intervals at the pseudo-count floor: inside the margin, absence shown
    assert all(g == 0 for g in r.capability_gain.values())
    floor = gain_floor(300)
    assert r.capability_gain_ci[1] == pytest.approx((-floor, floor)) and 0 < floor < 0.01


def test_agreement_on_a_handful_of_problems_shows_no_equivalence():
    """20 problems on which both sets agree everywhere: a bootstrap interval of zero width would call
    the change flat; the pseudo-count floor keeps it inconclusive (a change up to ~14 points cannot be
    excluded from 20 problems)."""
    s = problems([(10, 0), (10, 8)])
    r = compare(s, s, [1, 8], n_boot=200)
    assert r.directions == {"pass_at_1": "inconclusive", "pass_at_K": "inconclusive"}
    assert r.verdict == "inconclusive"
    assert r.capability_gain_ci[8][1] == pytest.approx(gain_floor(20)) and gain_floor(20) > 0.1


def test_noise_is_not_a_change():
    # Two independent draws from the same model: raw differences exist, the intervals cover zero.
    rng = random.Random(11)
    rates = [rng.random() for _ in range(80)]

    def draw() -> dict[str, list[bool]]:
        return {f"p{i}": [rng.random() < q for _ in range(16)] for i, q in enumerate(rates)}

    a, b = draw(), draw()
    r = compare(a, b, [1, 4], n_boot=500, seed=3)
    assert r.capability_gain[1] != 0
    # 80 problems cannot show a change is within 2 points: the data cannot tell, and say so.
    assert r.verdict == "inconclusive"
    assert "would need about" in r.verdict_reason and "problems (now 80)" in r.verdict_reason


def test_small_but_consistent_gain_is_significant():
    # Every problem gains exactly 1 of 16 samples: tiny, but the paired interval excludes zero.
    base = problems([(300, 4), (120, 0)], n=16)
    trained = problems([(300, 5), (120, 0)], n=16)
    r = compare(base, trained, [1, 16], n_boot=200)
    assert r.capability_gain[1] == pytest.approx(1 / 16 * 50 / 70)
    assert r.capability_gain_ci[1][0] > 0
    # pass@16 is unchanged on every problem (interval [0, 0]): no new capability is *shown*.
    assert r.verdict == "pure_compression"
    # min_effect raises the bar above what a benchmark owner cares about; a 4.5-point interval is
    # not inside the 2-point margin either, so the call is inconclusive, not "no change".
    assert compare(base, trained, [1, 16], n_boot=200, min_effect=0.1).verdict == "inconclusive"


def test_crossover_where_the_base_overtakes():
    base = problems([(40, 1), (10, 0)], n=16)  # pass@k = 0.8 k/16
    trained = problems([(20, 16), (30, 0)], n=16)  # pass@k = 0.4 for every k
    r = compare(base, trained, [1, 2, 4, 8, 16], n_boot=200)
    assert r.pass_at_k_base[4] == pytest.approx(0.2)
    assert r.crossover_k == 8  # base pass@8 = 0.4 ≥ 0.4
    assert r.crossover_k_significant == 16
    assert r.verdict == "mode_collapse"


def test_compression_ratio_undefined_without_headroom():
    base = problems([(30, 8)])  # already perfect: pass@k = pass@1 = 1
    r = compare(base, base, [1, 4], n_boot=100)
    assert r.compression_ratio[4] is None
    assert "no headroom" in r.compression_ratio_reason[4]
    assert r.to_dict()["compression_ratio"]["4"] is None


def test_json_contract_keys_and_shared_problems():
    base = problems([(10, 1)])
    trained = problems([(10, 4)], start=5)  # p5..p14: 5 shared with base
    d = compare(base, trained, [1, 4], n_boot=100).to_dict()
    for key in ("pass_at_k", "compression_ratio", "capability_gain", "crossover_k", "transitions", "verdict"):
        assert key in d
    assert set(d["pass_at_k"]) == {"base", "trained"}
    assert set(d["pass_at_k"]["base"]) == {"1", "4"}
    assert d["n_problems"] == 5
    assert d["problems_only_in_base"] == 5 and d["problems_only_in_trained"] == 5
    assert d["verdict"] in VERDICTS
    assert d["transitions"]["matrix"]["values"] == [[5, 0], [0, 0]]
    assert sorted(d["transitions"]["problems"]["self_distilled"]) == [f"p{i}" for i in range(5, 10)]


def test_k_one_always_included_and_k_above_n_rejected():
    base = problems([(5, 1)], n=4)
    r = compare(base, base, [4], n_boot=50)
    assert r.ks == (1, 4)
    with pytest.raises(ConfigError, match="fewer than k=8"):
        compare(base, base, [8])


def test_no_shared_problems_is_an_error():
    with pytest.raises(ConfigError, match="share no problem_id"):
        compare(problems([(3, 1)]), problems([(3, 1)], start=10))


def test_bootstrap_is_reproducible():
    rng = random.Random(2)
    base = {f"p{i}": [rng.random() < 0.3 for _ in range(8)] for i in range(40)}
    trained = {f"p{i}": [rng.random() < 0.5 for _ in range(8)] for i in range(40)}
    a = compare(base, trained, [1, 8], n_boot=200, seed=4).to_dict()
    b = compare(base, trained, [1, 8], n_boot=200, seed=4).to_dict()
    assert a == b


def test_cot_pass_at_k_counts_only_correct_reasoning():
    from rlvr.evaluate.samples import ProblemOutcomes

    base = {"a": ProblemOutcomes("a", (True, True, False, False), reasoning=(True, False, None, None))}
    trained = {"a": ProblemOutcomes("a", (True, True, True, False), reasoning=(True, True, True, False))}
    r = compare(base, trained, [1, 2], n_boot=50)
    assert r.cot is not None
    assert r.cot["base"]["1"] == pytest.approx(1 / 4)  # only one sample has answer and reasoning right
    assert r.cot["trained"]["2"] == pytest.approx(pass_at_k(4, 3, 2))
    assert r.cot["base"]["2"] <= r.pass_at_k_base[2]


# -- spurious-reward control ---------------------------------------------------------------------------


def test_random_arm_gaining_more_than_threshold_is_flagged():
    base = problems([(60, 2)])
    real = problems([(60, 6)])
    rand = problems([(60, 3)])  # +12.5 points at pass@1 from a reward that knows nothing
    s = spurious_analysis(base, real, rand, [1, 8], n_boot=200)
    assert s.flagged
    d = s.to_dict()
    assert d["improvement"]["random"]["pass_at_1"] == pytest.approx(1 / 8)
    assert d["improvement"]["real"]["pass_at_1"] == pytest.approx(0.5)
    assert d["real_minus_random_pass_at_1"] == pytest.approx(0.375)
    assert "spurious-reward sensitivity" in d["message"]
    text = " ".join(d["explanation"])
    for cause in ("contamination", "format", "clipping"):
        assert cause in text
    assert set(d["pass_at_k"]) == {"base", "real", "random"}


def test_random_arm_within_threshold_is_not_flagged():
    base = problems([(400, 2)], n=16)
    s = spurious_analysis(base, problems([(400, 8)], n=16), problems([(400, 2)], n=16), [1, 16], n_boot=100)
    assert not s.flagged
    assert s.to_dict()["explanation"] == []
    # A 3-point gain stays under the default 5-point threshold, above a 2-point one.
    rand = problems([(200, 3), (200, 2)], n=16)
    assert not spurious_analysis(base, base, rand, [1], n_boot=50).flagged
    assert spurious_analysis(base, base, rand, [1], n_boot=50, threshold=0.02).flagged
