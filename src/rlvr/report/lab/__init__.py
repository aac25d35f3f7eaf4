"""The ``rlvr lab`` report: ``summary.json`` as a self-contained HTML page and a terminal summary.

``render_lab_html(summary)`` builds one page (inline CSS and SVG, no scripts, no URLs at all) in
the style of ``rlvr report``: the verdict, what RL bought per arm, pass@k curves in and out of
distribution, the random-reward control, training curves, run health, data, timings, and the
full base-vs-trained comparison folded under ``<details>``. ``print_lab_summary`` prints the
short version with rich. Every field may be missing or null (a run that stopped early, user data
without a shifted set): it renders as "—"; every string from the summary is escaped.

One module per part of the page: ``common`` (arms, colours, CSS, safe access and formatting),
``verdict``, ``runs`` and ``details`` (the sections, top to bottom), ``page`` (the page and its
atomic write) and ``terminal`` (``print_lab_summary``).
"""

from __future__ import annotations

from rlvr.report.lab.common import ARMS, CONTROL_ROWS, DASH, FORMAT_COLOR, SPLITS, step_ticks, verdict_color
from rlvr.report.lab.page import render_lab_html, write_lab_report
from rlvr.report.lab.terminal import print_lab_summary

__all__ = [
    "ARMS",
    "CONTROL_ROWS",
    "DASH",
    "FORMAT_COLOR",
    "SPLITS",
    "print_lab_summary",
    "render_lab_html",
    "step_ticks",
    "verdict_color",
    "write_lab_report",
]

_step_ticks = step_ticks  # tests/report/test_lab_report.py imports the name the module had before the split
