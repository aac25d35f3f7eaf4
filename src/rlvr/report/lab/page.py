"""The lab report page: every section in order, inline CSS and SVG, written atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from rlvr.report.html import CSS
from rlvr.report.lab.common import DASH, LAB_CSS, SVG_NS, check_summary, k_values
from rlvr.report.lab.details import (
    comparisons_section,
    config_section,
    curation_section,
    data_and_timings_section,
)
from rlvr.report.lab.runs import (
    health_section,
    spurious_section,
    tool_section,
    training_section,
    trajectory_section,
)
from rlvr.report.lab.verdict import header_section, passk_plots_section, seeds_section, what_rl_bought_section


def render_lab_html(summary: Mapping[str, Any]) -> str:
    """The complete, self-contained report page of one lab run (no scripts, no URLs)."""
    s = check_summary(summary)
    ks = k_values(s)
    title = f"rlvr lab — {s.get('task') or DASH} on {s.get('model') or DASH}"
    body = "".join(
        (
            header_section(s),
            what_rl_bought_section(s, ks),
            passk_plots_section(s, ks),
            seeds_section(s, ks),
            spurious_section(s),
            tool_section(s),
            trajectory_section(s),
            training_section(s),
            health_section(s),
            curation_section(s),
            data_and_timings_section(s),
            config_section(s),
            "<h2>Details</h2>" if isinstance(s.get("comparison"), Mapping) else "",
            comparisons_section(s),
        )
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}{LAB_CSS}</style></head><body><main>"
        f"{body}</main></body></html>\n"
    )
    # Data strings are escaped (quotes included), so only the plots' own namespace attribute matches.
    return page.replace(SVG_NS, "")


def write_lab_report(path: str | os.PathLike[str], summary: Mapping[str, Any]) -> Path:
    """Render and write ``report.html`` atomically (a half-written page never replaces a good one)."""
    p = Path(path)
    html = render_lab_html(summary)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, p)
    return p
