"""The HTML report: self-contained, escaped, complete; rendered for real in headless Chromium."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from rlvr.errors import InputError
from rlvr.evaluate import compare, spurious_analysis, summarize
from rlvr.evaluate.samples import ProblemOutcomes, SampleSet
from rlvr.report import render_html, write_report
from rlvr.report.svg import Series, line_plot

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from png_pixels import CHROMIUM, NO_CHROMIUM, decode_png, dump_dom, grey_stats, screenshot  # noqa: E402


def problems(spec, n=8, name="set", model=None):
    out = {}
    i = 0
    for count, c in spec:
        for _ in range(count):
            out[f"p{i}"] = ProblemOutcomes(f"p{i}", tuple([True] * c + [False] * (n - c)))
            i += 1
    return SampleSet(name=name, problems=out, model=model, source=f"{name}.jsonl")


def comparison_doc():
    base = problems([(30, 1), (30, 0)], name="base", model="Qwen/<base>")
    trained = problems([(30, 6), (20, 6), (10, 0)], name="trained")
    rand = problems([(30, 2), (30, 1)], name="random")
    d = compare(base, trained, [1, 2, 4, 8], n_boot=200).to_dict()
    d["spurious"] = spurious_analysis(base, trained, rand, [1, 2, 4, 8], n_boot=200).to_dict()
    return d


def test_comparison_page_has_every_part_and_nothing_external():
    page = render_html(comparison_doc())
    assert page.startswith("<!DOCTYPE html>")
    for needle in (
        "capability gain and compression",  # the verdict
        "pass@k curves",
        "<svg",
        "<polygon",  # interval bands
        "self-distilled",
        "newly capable",
        "never solved",
        "compression ratio",
        "Random-reward control",
        "k (log scale)",
    ):
        assert needle in page, needle
    # Self-contained: no scripts, no stylesheets or images fetched, no URLs but the SVG namespace.
    assert "<script" not in page.lower() and "<link" not in page.lower() and "<img" not in page.lower()
    assert not re.search(r"\b(src|href)\s*=", page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    # Names from the data are escaped.
    assert "Qwen/&lt;base&gt;" in page and "Qwen/<base>" not in page


def test_log_k_axis_spaces_powers_of_two_evenly():
    svg = line_plot([Series("a", "#000", [(1, 0.1), (2, 0.2), (4, 0.3), (8, 0.4)])], title="t")
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    gaps = [b - a for a, b in zip(xs, xs[1:])]
    assert max(gaps) - min(gaps) < 0.2
    assert "<title>a: k=8, 40.0%</title>" in svg


def test_eval_page_and_results_as_objects(tmp_path):
    s1 = summarize(problems([(10, 2)], name="one"), [1, 2, 8], n_boot=50)
    s2 = summarize(problems([(10, 5)], name="two"), [1, 2, 8], n_boot=50)
    page = render_html([s1, s2], title="My <eval>")
    assert "<title>My &lt;eval&gt;</title>" in page and "pass^k" in page and "two" in page
    path = write_report(tmp_path / "sub" / "r.html", compare(problems([(5, 1)]), problems([(5, 3)]), n_boot=20))
    assert path.read_text().count("<svg") == 2
    assert not (tmp_path / "sub" / "r.html.partial").exists()


def test_not_a_result_is_rejected():
    with pytest.raises(InputError, match="not an rlvr result"):
        render_html({"hello": 1})


def test_png_decoder_reads_a_known_image():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # 2×2 RGB: rows use filters None and Sub.
    raw = b"\x00" + bytes([255, 0, 0, 0, 255, 0]) + b"\x01" + bytes([10, 10, 10, 5, 5, 5])
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    w, h, ch, rows = decode_png(png)
    assert (w, h, ch) == (2, 2, 3)
    assert rows[1] == bytes([10, 10, 10, 15, 15, 15])


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_renders_in_headless_chromium(tmp_path):
    html = tmp_path / "report.html"
    write_report(html, comparison_doc())
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    proc = screenshot(html, shot, "1000,1400", profile)
    assert shot.exists(), proc.stderr[-2000:]
    console = [
        line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line or "console" in line.lower()
    ]
    assert not console, console
    mean, var, levels = grey_stats(shot.read_bytes())
    assert var > 100 and levels > 20, (mean, var, levels)  # not a blank page
    # The DOM Chromium built holds the plots and the verdict.
    dom = dump_dom(html, profile)
    assert dom.count("<svg") >= 2 and "capability gain and compression" in dom
    # Control: the same console check does catch a page whose script fails.
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>missingFunction();</script>x</body></html>")
    proc = screenshot(bad, tmp_path / "bad.png", "200,200", profile)
    assert "Uncaught ReferenceError" in proc.stderr
