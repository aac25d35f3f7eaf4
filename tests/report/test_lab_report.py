"""The ``rlvr lab`` report: every section, escaping, null parts, the terminal summary, real Chromium."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from rlvr.errors import InputError
from rlvr.report.lab import _step_ticks, print_lab_summary, render_lab_html, verdict_color, write_lab_report
from rlvr.report.svg import Bar, Series, bar_plot, line_plot

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from lab_fixture import lab_summary, minimal_summary, without_shifted  # noqa: E402
from png_pixels import CHROMIUM, NO_CHROMIUM, dump_dom, grey_stats, screenshot  # noqa: E402

HOSTILE = "<img src=x onerror=alert(1)>"
# Hand-computed from the fixture's outcome tables (16 samples per problem, 100 problems):
# base (0+2+6+10+15)/16/5, trained (0+8+12+15+16)/16/5, random control (0+2+6+11+15)/16/5.
PASS1 = {"base": 33 / 80, "trained": 51 / 80, "random_control": 34 / 80}
# Shifted: base and control (20·1 + 10·4)/16/100, trained (20·3 + 10·8)/16/100.
PASS1_SHIFTED = {"base": 60 / 1600, "trained": 140 / 1600, "random_control": 60 / 1600}


@pytest.fixture(scope="module")
def summary():
    return lab_summary()


@pytest.fixture(scope="module")
def page(summary):
    return render_lab_html(summary)


def svg_labels(page: str) -> list[str]:
    return re.findall(r'<svg[^>]*aria-label="([^"]*)"', page)


def test_fixture_numbers_are_the_hand_computed_ones(summary):
    for arm, v in PASS1.items():
        assert summary["arms"][arm]["pass_at_k"]["in_distribution"]["1"] == pytest.approx(v)
        assert summary["arms"][arm]["pass_at_k"]["shifted"]["1"] == pytest.approx(PASS1_SHIFTED[arm])
    # pass@16 with 16 samples: the share of problems solved at least once (the 20 all-zero ones never).
    assert summary["arms"]["trained"]["pass_at_k"]["in_distribution"]["16"] == pytest.approx(0.8)
    assert summary["capability_gain"]["1"] == pytest.approx(18 / 80)
    assert summary["health"]["warnings"][0]["code"] == "entropy_collapse"


def test_page_has_every_section_in_order(summary, page):
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>rlvr lab — arithmetic on tiny</title>" in page
    headline = summary["verdict"]["headline"]
    assert headline == "RLVR compressed search: pass@1 +22 points, pass@16 +0 points"
    assert f'<div class="headline">{headline}</div>' in page
    for reason in summary["verdict"]["reasons"]:
        assert f"<li>{reason}</li>" in page
    assert "seed 0 · profile default · device cpu · total time 2 min 24 s · 2026-11-26 07:30 UTC" in page
    order = [
        '<div class="banner"',
        "<h2>What RL bought</h2>",
        "<h2>pass@k curves</h2>",
        "<h2>Spurious-reward controls</h2>",
        "<h2>Training curves</h2>",
        "<h2>Health</h2>",
        "<h3>Curation (pass-rate band)</h3>",
        "<h3>Timings</h3>",
        "<details><summary>Full comparison: trained vs base, in-distribution",
        "<details><summary>Full comparison: trained vs base, shifted",
    ]
    positions = [page.index(x) for x in order]
    assert positions == sorted(positions)


def test_what_rl_bought_table_shows_each_arm(page):
    table = page[page.index("<h2>What RL bought</h2>") : page.index("<h2>pass@k curves</h2>")]
    rows = re.findall(r"<tr><td class=\"l\"><span[^>]*>■</span> ([a-z ]+)</td>(.*?)</tr>", table)
    assert [name for name, _ in rows] == ["base", "trained", "random control"]
    for (_, cells), arm in zip(rows, ("base", "trained", "random_control")):
        values = re.findall(r"<td>([\d.]+%)", cells)
        # pass@1 and pass@16 in-distribution, then shifted.
        assert values[0] == f"{100 * PASS1[arm]:.1f}%"
        assert values[1] == "80.0%"
        assert values[2] == f"{100 * PASS1_SHIFTED[arm]:.1f}%"
        assert values[3] == "30.0%"
        assert cells.count('<div class="ci">') == 4
    assert "63.7%" in table or "63.8%" in table  # 51/80 = 63.75%, whichever way it rounds
    # Capability gain per k: +22.5 points at k = 1 (18/80), compression ratio at k = 2 present.
    assert "+22.5 pts" in table and "<th>k=16</th>" in table
    assert "3-digit operands (train: 2-digit)" in table


def test_plots_are_inline_svg(page):
    labels = svg_labels(page)
    for needed in (
        "pass@k, in-distribution",
        "pass@k, shifted",  # its description is in the table header (tested above)
        "mean reward",
        "policy entropy",
        "KL to the reference",
        "prompts per base pass rate (blue: kept)",
    ):
        assert needed in labels, (needed, labels)
    # The comparison renderer's two plots, twice (in-distribution and shifted), inside <details>.
    assert labels.count("pass@k (shaded: 95% bootstrap interval)") == 2
    # Training curves: a line per arm, no dot per step; steps on a linear axis with round ticks.
    kl = page[page.index('aria-label="KL to the reference"') :]
    kl = kl[: kl.index("</svg>")]
    assert kl.count("<polyline") == 2 and "<circle" not in kl and "stroke-dasharray" in kl
    ticks = re.findall(r'text-anchor="middle" fill="#555">(\d+)</text>', kl)
    assert ticks == ["1", "10", "20", "30", "40"]
    # Histogram: one bar per pass-rate bin j/8, kept bins in the base colour.
    hist = page[page.index('aria-label="prompts per base pass rate') :]
    hist = hist[: hist.index("</svg>")]
    assert len(re.findall(r"<rect [^>]*><title>", hist)) == 9
    assert hist.count('fill="#3b6fb6"><title>') == 5  # 2/8 .. 6/8 inside the band [0.2, 0.8]
    assert "<title>8/8: 25 (dropped)</title>" in hist


def test_warnings_spurious_and_timings(summary, page):
    health = page[page.index("<h2>Health</h2>") :]
    w = summary["health"]["warnings"][0]
    assert f'<td class="l">trained</td><td>{w["step"]}</td><td class="l">entropy_collapse</td>' in health
    # The message carries "<": escaped, never raw.
    assert "fell to 0.228 (&lt; 0.268" in health and "(< 0.268" not in page
    assert "entropy_collapse ×1" in health
    spur = page[page.index("<h2>Spurious-reward controls</h2>") : page.index("<h2>Training curves</h2>")]
    assert "+22.5 pts" in spur and "+1.3 pts" in spur and "42.0%" in spur
    assert '<td class="l ">no_spurious_gain</td>' in spur and "Study call: no_spurious_gain." in spur
    assert "Real minus random reward at pass@1: <b>+21.2 pts</b>" in spur
    assert '<td class="l">train_real</td><td>1 min 00 s</td><td>42%</td>' in page
    assert "<th>2 min 24 s</th>" in page
    assert "<td>55 of 120 (45.8%)</td>" in page


def test_self_contained_no_script_no_url(page):
    low = page.lower()
    assert "<script" not in low and "<link" not in low and "<img" not in low and "<iframe" not in low
    assert "http://" not in low and "https://" not in low
    assert not re.search(r"\b(src|href)\s*=", page)
    assert not re.search(r"\bon\w+\s*=", page)  # no event handlers
    assert render_lab_html(lab_summary()) == page  # deterministic: no clock in the page


def test_hostile_strings_are_escaped_everywhere():
    s = lab_summary(model=HOSTILE, task='"><script>alert(1)</script>')
    s["verdict"]["reasons"].append("</li></ul><script>x()</script>")
    s["health"]["warnings"].append(
        {"arm": "<b>arm</b>", "step": "<i>3</i>", "code": "<u>c</u>", "message": "<iframe src=//evil>"}
    )
    s["data"]["shifted_description"] = '<svg onload="alert(1)">'
    s["timings"]["<phase>"] = 1.0
    s["config"]["<key>"] = "<value>"
    s["crossover_k"] = "<k>"
    s["spurious"]["message"] = "<marquee>"
    page = render_lab_html(s)
    low = page.lower()
    for bad in ("<img", "<script", "<iframe", "<marquee", "<b>arm", "<i>3", "<u>c", "onload=\"", "<phase>"):
        assert bad not in low, bad
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;iframe src=//evil&gt;" in page and "&lt;phase&gt;" in page and "&lt;key&gt;" in page
    # The full comparison (base model name comes from the summary's model) is escaped too.
    details = page[page.index("<details><summary>Full comparison") :]
    assert "base: &lt;img src=x onerror=alert(1)&gt;" in details
    # Rich markup in data is printed literally, not interpreted.
    s["task"] = "[red]task[/red]"
    console = Console(record=True, width=120)
    print_lab_summary(s, console)
    text = console.export_text()
    assert "rlvr lab — [red]task[/red] on <img src=x onerror=alert(1)>" in text


def test_no_shifted_set():
    s = without_shifted(lab_summary())
    page = render_lab_html(s)
    labels = svg_labels(page)
    assert "pass@k, in-distribution" in labels
    assert not any(label.startswith("pass@k, shifted") for label in labels)
    assert "No shifted test set in this run: its plot is skipped." in page
    assert "No shifted test set in this run: out-of-distribution columns are empty." in page
    assert "Full comparison: trained vs base, shifted" not in page
    table = page[page.index("<h2>What RL bought</h2>") :]
    table = table[: table.index("</table>")]
    assert table.count("<td>—</td>") == 6  # 3 arms × (shifted pass@1, pass@16)
    console = Console(record=True, width=120)
    print_lab_summary(s, console)
    text = console.export_text()
    assert "shifted" not in text.split("verdict:")[0]  # the table drops the empty columns


def test_missing_parts_render_as_dashes():
    s = minimal_summary()
    page = render_lab_html(s)
    assert "<title>rlvr lab — countdown on —</title>" in page
    assert "no verdict: the run did not reach it" in page
    assert "seed — · profile — · device — · total time —" in page
    assert "the random-reward control was not measured" in page
    assert "health was not monitored" in page and "no curation summary" in page
    assert "policy/entropy: not recorded" in page
    assert "this comparison could not be rendered (KeyError" in page  # incomplete comparison, page intact
    assert "30.0%" in page and page.rstrip().endswith("</html>")
    assert not re.search(r'="[^"]*nan', page)  # the NaN reward is left out, not drawn, and said so
    assert "Missing or non-finite values, left out of the curves: trained reward/mean: 1 step(s)." in page
    console = Console(record=True, width=120)
    print_lab_summary(s, console)
    text = console.export_text()
    assert "verdict: no verdict" in text and "health: —" in text and "30.0" in text
    # Even an empty lab summary renders.
    assert "What RL bought" in render_lab_html({"kind": "lab"})


def test_not_a_lab_summary_is_rejected():
    for bad in ([1, 2], {"kind": "comparison", "ks": [1]}, {"hello": 1}, None):
        with pytest.raises(InputError, match="not an rlvr lab summary"):
            render_lab_html(bad)
    with pytest.raises(InputError):
        print_lab_summary({"kind": "eval"}, Console(record=True))


def test_terminal_summary(summary):
    console = Console(record=True, width=120)
    print_lab_summary(summary, console, report_path="runs/lab/report.html")
    text = console.export_text()
    lines = text.splitlines()
    assert len(lines) <= 30, text
    assert lines[0].startswith("rlvr lab — arithmetic on tiny  (seed 0 · default · cpu · 2 min 24 s)")
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│ ")}
    assert set(rows) == {"base", "trained", "random control"}
    for arm, name in (("base", "base"), ("trained", "trained"), ("random_control", "random control")):
        cells = [c.strip() for c in rows[name].split("│")[2:-1]]
        assert cells[0].split(" [")[0] == f"{100 * PASS1[arm]:.1f}"
        assert cells[1].startswith("80.0 [")
        assert cells[2].split(" [")[0] == f"{100 * PASS1_SHIFTED[arm]:.1f}"
    assert "pass@16 in-distribution" in text and "pass@1 shifted" in text
    assert "gain trained−base (pts): k=1 +22.5" in text
    assert f"verdict: {summary['verdict']['headline']}" in text
    assert "  • " + summary["verdict"]["reasons"][1] in text
    assert "spurious-reward controls: real +22.5 vs random +1.3 pts at pass@1 — no spurious gain" in text
    assert "  random reward (control): no spurious gain — pass@1 +1.3 points" in text
    assert "health: 1 warning (trained: entropy_collapse ×1)" in text
    assert lines[-1] == "report: runs/lab/report.html"
    # Without a path the summary's own files.report is named; a flagged control says so.
    s = copy.deepcopy(summary)
    s["spurious"]["flag"] = True
    s["health"]["warnings"] = []
    console = Console(record=True, width=120)
    print_lab_summary(s, console)
    text = console.export_text()
    assert "FLAGGED" in text and "health: no warnings" in text and text.splitlines()[-1] == "report: report.html"


def test_in_memory_summary_with_int_keys_renders_like_its_json(summary):
    """The lab may render before writing summary.json: int k keys and tuples are read the same."""
    live = copy.deepcopy(summary)
    for arm in live["arms"].values():
        for split in ("in_distribution", "shifted"):
            arm["pass_at_k"][split] = {int(k): v for k, v in arm["pass_at_k"][split].items()}
            arm["pass_at_k_ci"][split] = {int(k): tuple(v) for k, v in arm["pass_at_k_ci"][split].items()}
    live["capability_gain"] = {int(k): v for k, v in live["capability_gain"].items()}
    live["files"]["report"] = Path("out/report.html")
    assert render_lab_html(live) == render_lab_html(summary)


def test_long_warning_lists_are_capped(summary):
    s = copy.deepcopy(summary)
    s["health"]["warnings"] = [
        {"arm": "trained", "step": i, "code": "kl_explosion", "message": f"m{i}"} for i in range(1, 131)
    ]
    page = render_lab_html(s)
    assert "<td class=\"msg\">m50</td>" in page and "<td class=\"msg\">m51</td>" not in page
    assert "… and 80 more (all of them are in summary.json)" in page


def test_write_lab_report_is_atomic(tmp_path, summary):
    path = write_lab_report(tmp_path / "out" / "report.html", summary)
    assert path.read_text(encoding="utf-8") == render_lab_html(summary)
    assert not (tmp_path / "out" / "report.html.partial").exists()


def test_verdict_colors():
    assert verdict_color("capability_gain_and_compression") == "#1e8e3e"
    assert verdict_color("search_compression") == verdict_color("pure_compression") == "#b7791f"
    assert verdict_color("mode_collapse") == "#c5221f"
    assert verdict_color("something_new") == "#5f6368" and verdict_color(None) == "#5f6368"


def test_step_ticks():
    assert _step_ticks(40) == [1, 10, 20, 30, 40]
    assert _step_ticks(7) == [1, 2, 4, 6]
    assert _step_ticks(1) == [1]
    assert _step_ticks(200)[-1] == 200 and len(_step_ticks(200)) <= 6


def test_bar_plot_heights_are_proportional():
    svg = bar_plot([Bar("a", 10, "#111"), Bar("b", 5, "#222"), Bar("c", 0, "#333")], title="t")
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="#\w+"><title>', svg)]
    assert len(heights) == 3
    assert heights[0] == pytest.approx(2 * heights[1], abs=0.2) and heights[2] == 0
    assert "<title>b: 5</title>" in svg
    assert "no data" in bar_plot([], title="t")


def test_line_plot_options_leave_the_default_alone():
    pts = [(s, s / 10) for s in range(1, 11)]
    default = line_plot([Series("a", "#000", pts)], title="t", log_x=False, percent=False)
    assert default.count("<circle") == 10 and 'font-size="12" fill="#222">a</text>' in default
    small = line_plot(
        [Series("a", "#000", pts)], title="t", log_x=False, percent=False, markers=False, legend=False,
        x_ticks=[1, 5, 10], y_format=lambda v: f"<{v:.1f}>",
    )
    assert "<circle" not in small and 'fill="#222">a</text>' not in small
    assert re.findall(r'fill="#555">(\d+)</text>', small) == ["1", "5", "10"]
    assert "&lt;" not in small and "<0.5>" in small  # y_format output is the caller's (trusted) text


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_lab_report_renders_in_headless_chromium(tmp_path, summary):
    html = write_lab_report(tmp_path / "report.html", summary)
    shot = tmp_path / "shot.png"
    proc = screenshot(html, shot, "1150,1600", tmp_path / "profile")
    assert shot.exists(), proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    mean, var, levels = grey_stats(shot.read_bytes())
    assert var > 100 and levels > 20, (mean, var, levels)  # not a blank page
    dom = dump_dom(html, tmp_path / "profile")
    assert dom.count("<svg") >= 6 and summary["verdict"]["headline"] in dom and "<details>" in dom


def _with_seeds(summary):
    """The fixture as a 2-seed run: per-seed tables, control labels, a trajectory with a warning."""
    s = copy.deepcopy(summary)
    s["seeds"] = [0, 1]
    pk = s["arms"]
    s["per_seed"] = [
        {"seed": 0, "verdict": "pure_compression",
         "pass_at_k": {a: {"in_distribution": {"1": 0.30, "16": 0.70}} for a in ("base",)}
         | {"trained": {"in_distribution": {"1": 0.52, "16": 0.71}}},
         "spurious": {"random_control": "no_spurious_gain"}},
        {"seed": 1, "verdict": "capability_gain_and_compression",
         "pass_at_k": {"base": {"in_distribution": {"1": 0.25, "16": 0.60}},
                       "trained": {"in_distribution": {"1": 0.60, "16": 0.72}}},
         "spurious": {"random_control": "control_unstable"}},
    ]
    s["informative"] = {"in_distribution": True, "shifted": False}
    s["trajectory"] = {
        "trained": [{"step": 0, "entropy": None, "pass1_in_distribution": 0.3, "pass1_shifted": 0.4,
                     "passk_in_distribution": 0.6, "passk_shifted": 0.5},
                    {"step": 20, "entropy": 0.3, "pass1_in_distribution": 0.5, "pass1_shifted": 0.3,
                     "passk_in_distribution": 0.6, "passk_shifted": 0.4}],
    }
    s["trajectory_warnings"] = [{"arm": "trained", "code": "pass1_shifted_falls", "step": 20, "message": "shifted fell"}]
    assert pk is s["arms"]
    return s


def test_seeds_uninformative_and_trajectory_sections(summary):
    page = render_lab_html(_with_seeds(summary))
    seeds = page[page.index("<h2>Seeds</h2>"):]
    seeds = seeds[: seeds.index("<h2>", 5)]
    # One row per seed with its verdict, pass@1 base -> trained and its control label.
    assert seeds.count("<tr>") == 3
    assert "pure_compression" in seeds and "control_unstable" in seeds
    assert "30.0% → 52.0% (+22.0 pts)" in seeds
    # The spread line: seed gains +22.0 and +35.0 points.
    assert "+22.0 pts to +35.0 pts" in seeds
    # The shifted set is flagged uninformative, in-distribution is not.
    assert "shifted: <b>uninformative</b>" in page and "in-distribution: <b>uninformative</b>" not in page
    traj = page[page.index("Trajectories"):]
    assert traj.count("<svg") >= 3 and "shifted fell" in traj
    # Without the new keys the sections are simply absent (an old summary still renders).
    old = render_lab_html(summary)
    assert "<h2>Seeds</h2>" not in old and "Trajectories" not in old
