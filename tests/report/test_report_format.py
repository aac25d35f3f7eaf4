"""The shared number formatters, the progress widget and the key=value splitter, against
hand-written strings."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from rlvr.errors import ConfigError
from rlvr.options import split_pair
from rlvr.report.format import interval, number, percent, points, seconds, share, size
from rlvr.report.progress import progress_bar


def test_percent_and_share():
    assert percent(0.125) == "12.5" and percent(0.125, signed=True) == "+12.5"
    assert percent(-0.031, signed=True) == "-3.1" and percent(1 / 3, digits=0) == "33"
    assert percent(None) == "–"
    assert share(0.125) == "12.5%" and share(0.5, 0) == "50%" and share(None, missing="n/a") == "n/a"


def test_points_interval_number():
    assert points(0.031) == "+3.1 points" and points(-0.2) == "-20.0 points"
    assert interval((0.1, 0.2)) == "[10.0, 20.0]" and interval((-0.05, 0.1), signed=True) == "[-5.0, +10.0]"
    assert interval(None) == "" and interval(()) == ""
    assert number(0.12345) == "0.123" and number(2, 1) == "2.0" and number(None) == "-" and number("x") == "x"


@pytest.mark.parametrize(
    ("s", "text"),
    [(0.85, "850 ms"), (12.34, "12.3 s"), (245, "4 min 05 s"), (7380, "2 h 03 min"), (None, "–")],
)
def test_seconds(s, text):
    assert seconds(s) == text


@pytest.mark.parametrize(
    ("n", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (5 * 2**20, "5.0 MiB"), (3 * 2**30, "3.0 GiB")]
)
def test_size(n, text):
    assert size(n) == text


def test_progress_widget_shows_counts_and_an_optional_info_field():
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=False)
    with progress_bar(console=console) as bar:
        plain = bar.add_task("verifying", total=4)
        bar.advance(plain, 3)
        info = bar.add_task("training", total=2, info="reward 0.500")
        bar.advance(info, 2)
    text = buf.getvalue()
    assert "verifying" in text and "3/4" in text
    assert "training" in text and "2/2" in text and "reward 0.500" in text


def test_progress_widget_can_be_disabled():
    buf = io.StringIO()
    with progress_bar(disable=True, console=Console(file=buf)) as bar:
        bar.advance(bar.add_task("x", total=1))
    assert buf.getvalue() == ""


def test_split_pair():
    assert split_pair(" a.b = 1", option="--set", form="k=v") == ("a.b", " 1")
    assert split_pair("k=", option="--opt", form="k=v") == ("k", "")
    for bad in ("novalue", "=1"):
        with pytest.raises(ConfigError, match=r"--opt expects k=v, got '"):
            split_pair(bad, option="--opt", form="k=v")
    with pytest.raises(ConfigError, match="--map expects"):
        split_pair("a= ", option="--map", form="theirs=ours", empty_value=False)
