"""The verdict vocabulary: directions, DESIGN.md's 4 x 4 table, ``uninformative``, reasons that say
what would resolve an unresolved call, and the t quantile behind the pooled intervals."""

from __future__ import annotations

import math

import pytest

from rlvr.errors import ConfigError
from rlvr.evaluate import compare
from rlvr.evaluate.intervals import pooled_mean, t_cdf, t_quantile
from rlvr.evaluate.verdict import (
    VERDICT_MEANING,
    VERDICT_TABLE,
    VERDICTS,
    direction,
    resolution_hint,
    verdict_label,
)

# -- directions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "ci", "margin", "min_effect", "want"),
    [
        (0.05, (0.01, 0.09), 0.02, 0.0, "up"),
        (0.05, (0.01, 0.09), 0.02, 0.06, "inconclusive"),  # significant but below min_effect, not inside margin
        (0.01, (0.001, 0.019), 0.02, 0.02, "flat"),  # below min_effect and inside the margin
        (-0.05, (-0.09, -0.01), 0.02, 0.0, "down"),
        (0.0, (-0.015, 0.015), 0.02, 0.0, "flat"),
        (0.0, (-0.015, 0.015), 0.01, 0.0, "inconclusive"),  # the margin decides
        (0.014, (-0.039, 0.079), 0.02, 0.0, "inconclusive"),  # README's old "no new capability" case
        (0.0, (0.0, 0.0), 0.0, 0.0, "flat"),
    ],
)
def test_direction(point, ci, margin, min_effect, want):
    assert direction(point, ci, margin, min_effect) == want


def test_direction_rejects_a_negative_margin():
    with pytest.raises(ConfigError, match="margin"):
        direction(0.0, (0.0, 0.0), -0.01)


def test_table_is_designs_and_every_label_has_a_meaning():
    assert len(VERDICT_TABLE) == 16
    assert VERDICT_TABLE[("up", "flat")] == "pure_compression"
    assert VERDICT_TABLE[("up", "inconclusive")] == "compression_ceiling_unresolved"
    assert VERDICT_TABLE[("flat", "up")] == "coverage_gain"
    assert VERDICT_TABLE[("down", "up")] == "trade_off"
    assert VERDICT_TABLE[("inconclusive", "down")] == "regression"
    assert set(VERDICT_TABLE.values()) | {"uninformative"} == set(VERDICTS)
    assert set(VERDICT_MEANING) == set(VERDICTS)
    assert "no_significant_change" not in VERDICTS
    assert verdict_label("up", None) == "compression_ceiling_unresolved"  # only k = 1 requested
    assert verdict_label("up", "up", informative=False) == "uninformative"


# -- crafted cases through compare: every cell -----------------------------------------------------

N = 8  # samples per problem; K = 8, so pass@8 is "solved by some sample"

# Blocks of (base correct, trained correct) per problem, each moving one change one way.
PASS1 = {
    "up": [(1, 3)] * 100,  # +2/8 on 100 problems, pass@8 unchanged
    "flat": [],
    "down": [(3, 1)] * 100,
    "inconclusive": [(1, 7)] * 100 + [(7, 1)] * 100,  # zero mean, wide
}
PASSK = {
    "up": [(2, 1), (0, 1)] * 60,  # pass@1 unchanged, 60 newly solved problems
    "flat": [],
    "down": [(1, 2), (1, 0)] * 60,  # pass@1 unchanged, 60 problems lost
    "inconclusive": [(1, 0), (0, 1)] * 40,  # zero mean, wide
}
FILLER = [(0, 0)] * 100 + [(2, 2)] * 100  # base pass@8 stays inside 5-95%


def _sets(pairs):
    base = {f"p{i}": [True] * b + [False] * (N - b) for i, (b, _) in enumerate(pairs)}
    trained = {f"p{i}": [True] * t + [False] * (N - t) for i, (_, t) in enumerate(pairs)}
    return base, trained


@pytest.mark.parametrize(("d1", "dK"), list(VERDICT_TABLE))
def test_every_cell_of_the_table(d1, dK):
    base, trained = _sets(PASS1[d1] + PASSK[dK] + FILLER)
    r = compare(base, trained, [1, N], n_boot=300, seed=1)
    assert r.directions == {"pass_at_1": d1, "pass_at_K": dK}
    assert r.verdict == VERDICT_TABLE[(d1, dK)]
    d = r.to_dict()
    assert d["directions"] == {"pass_at_1": d1, "pass_at_K": dK} and d["margin"] == 0.02
    if r.verdict in ("inconclusive", "compression_ceiling_unresolved"):
        assert "would need about" in r.verdict_reason


def test_pass1_up_with_pass_k_unresolved_is_never_pure_compression():
    base, trained = _sets(PASS1["up"] + PASSK["inconclusive"] + FILLER)
    r = compare(base, trained, [1, N], n_boot=300)
    assert r.verdict == "compression_ceiling_unresolved"
    # Only k = 1 requested: pass@K is unknown, so it is unresolved too.
    only1 = compare(base, trained, [1], n_boot=300)
    assert only1.directions == {"pass_at_1": "up", "pass_at_K": "inconclusive"}
    assert only1.verdict == "compression_ceiling_unresolved"
    assert "only k=1 requested" in only1.verdict_reason


@pytest.mark.parametrize("level", [0, N], ids=["floor", "ceiling"])
def test_uninformative_at_a_floor_or_a_ceiling(level):
    base = {f"p{i}": [True] * level + [False] * (N - level) for i in range(100)}
    trained = {f"p{i}": [True] * 4 + [False] * 4 for i in range(100)}
    r = compare(base, trained, [1, N], n_boot=100)
    assert r.verdict == "uninformative"
    assert ("floor" if level == 0 else "ceiling") in r.verdict_reason


# -- what would resolve it -------------------------------------------------------------------------


def test_resolution_hint_single_run_scales_problems_by_the_square_of_the_width_ratio():
    # Half-width 0.04 around 0.01; to exclude 0 it must fall below 0.01: (0.04/0.01)^2 = 16x problems.
    text = resolution_hint("pass@1", 0.01, (-0.03, 0.05), margin=0.02, n_problems=100)
    assert "exclude 0" in text
    assert "about 1600 problems (now 100)" in text
    # Centred on 0.005, equivalence is nearer: half-width below 0.015 → (0.04/0.015)^2 ≈ 7.1x.
    text = resolution_hint("pass@1", 0.005, (-0.035, 0.045), margin=0.02, n_problems=100)
    assert "fit inside ±2.0 pts" in text and "about 712 problems (now 100)" in text


def test_resolution_hint_names_runs_when_run_spread_dominates():
    q = lambda df: t_quantile(0.975, df)  # noqa: E731
    half = q(2) * math.sqrt(0.0009 + 0.00001)
    text = resolution_hint("pass@1", 0.04, (0.04 - half, 0.04 + half), margin=0.02, n_problems=200, n_runs=3,
                           var_runs=0.0009, var_problems=0.00001, quantile=q)
    assert "rests on 3 runs x 200 problems" in text and "run-to-run spread dominates" in text
    # By hand: the smallest S with t(S-1)·sqrt(0.0027/S + 0.00001) < 0.04.
    want = next(s for s in range(4, 100) if q(s - 1) * math.sqrt(0.0027 / s + 0.00001) <= 0.04)
    assert f"about {want} runs (now 3)" in text
    assert "more problems alone cannot" in text


# -- t quantile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("df", "want"), [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042),
                                          (1e9, 1.960)])
def test_t_quantile_known_values(df, want):
    assert t_quantile(0.975, df) == pytest.approx(want, abs=1e-3)


def test_t_quantile_inverts_the_cdf_and_is_symmetric():
    for df in (1, 2.5, 7):
        for p in (0.6, 0.9, 0.995):
            assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)
            assert t_quantile(1 - p, df) == pytest.approx(-t_quantile(p, df))
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/π


def test_pooled_mean_is_the_one_way_t_interval_on_unrelated_problems():
    # Two runs, constant within each run (no problem effect): mean 0.2, run means 0.1 and 0.3,
    # s = 0.1414, se = 0.1, half-width t(0.975, 1)·0.1 = 1.2706.
    pm = pooled_mean([[0.1, 0.1], [0.3, 0.3]])
    assert pm.point == pytest.approx(0.2)
    assert pm.ci == (pytest.approx(0.2 - 1.27062, abs=1e-4), pytest.approx(0.2 + 1.27062, abs=1e-4))
    assert pm.var_problems == 0.0
