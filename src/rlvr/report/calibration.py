"""The calibration page of ``rlvr lab calibrate``: scenario × seed (planted vs observed) and each
scenario's pooled pass@k curves, from ``calibration.json`` (DESIGN.md section 3)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from rlvr.report.html import _CSS
from rlvr.report.lab import ARMS
from rlvr.report.svg import Series, line_plot

__all__ = ["render_calibration_html", "write_calibration_report"]


def _cell(planted: Any, seen: Any) -> str:
    if planted is None:
        return f'<span class="note">{escape(str(seen))}</span>'
    cls = "pos" if seen == planted else "neg"
    return f'<span class="{cls}">{escape(str(seen))}</span>'


def render_calibration_html(cal: Mapping[str, Any]) -> str:
    """The page: one row per scenario and seed, green where the lab recovered the planted answer."""
    rows, plots = [], []
    for sc in cal.get("scenarios") or []:
        planted = sc.get("planted") or {}
        for o in sc.get("observed") or []:
            rows.append(
                f'<tr><td class="l">{escape(str(sc.get("name")))}</td><td>{escape(str(o.get("seed")))}</td>'
                f'<td class="l">{_cell(planted.get("verdict"), o.get("verdict"))}</td>'
                f'<td class="l">{_cell(planted.get("spurious"), o.get("spurious"))}</td></tr>'
            )
        rows.append(
            f'<tr><td class="l" colspan="4"><b>{escape(str(sc.get("name")))}: recovered {sc.get("recovered")}/'
            f'{sc.get("seeds")}</b> (planted: {escape(", ".join(f"{k} = {v}" for k, v in planted.items() if v))}; '
            f'{escape(str(sc.get("why") or ""))})</td></tr>'
        )
        pk = sc.get("pass_at_k") if isinstance(sc.get("pass_at_k"), Mapping) else {}
        series = []
        for arm, name, color in ARMS:
            curve = (pk.get(arm) or {}).get("in_distribution") if isinstance(pk.get(arm), Mapping) else None
            if isinstance(curve, Mapping):
                series.append(Series(name, color, sorted((int(k), float(v)) for k, v in curve.items()),
                                     dashed=arm not in ("base", "trained")))
        if series:
            plots.append(line_plot(series, title=f"{sc.get('name')}: pass@k, in-distribution (pooled)",
                                   y_label="pass@k", y_range=(0.0, 1.0), width=460, height=300))
    body = (
        f"<h1>rlvr lab calibrate ({escape(str(cal.get('profile')))})</h1>"
        '<p class="sub">Each scenario plants an answer by construction and runs the whole study per seed; green: '
        "the lab reported the planted label, red: it did not, grey: not judged.</p>"
        '<table><tr><th class="l">scenario</th><th>seed</th><th class="l">verdict</th>'
        '<th class="l">control</th></tr>' + "".join(rows) + "</table>"
        '<div class="plots" style="display:flex;flex-wrap:wrap;gap:12px">' + "".join(plots) + "</div>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>rlvr lab calibrate</title>'
        f"<style>{_CSS}</style></head><body><main>{body}</main></body></html>\n"
    ).replace(' xmlns="http://www.w3.org/2000/svg"', "")


def write_calibration_report(path: str | os.PathLike[str], cal: Mapping[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(render_calibration_html(cal), encoding="utf-8")
    os.replace(tmp, p)
    return p
