"""The calibration page of ``rlvr lab calibrate``: scenario × seed (planted vs observed) and each
scenario's pooled pass@k curves, from ``calibration.json``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from rlvr.report.html import CSS
from rlvr.report.lab import ARMS
from rlvr.report.svg import Series, line_plot

__all__ = ["render_calibration_html", "write_calibration_report"]


def _cell(planted: Any, seen: Any) -> str:
    if planted is None:
        return f'<span class="note">{escape(str(seen))}</span>'
    cls = "pos" if seen == planted else "neg"
    return f'<span class="{cls}">{escape(str(seen))}</span>'


def _row(name: str, who: str, planted: Mapping[str, Any], seen: Mapping[str, Any]) -> str:
    ood = ""
    if "ood_warning" in planted:
        ood = f'<td class="l">{_cell(planted.get("ood_warning"), seen.get("ood_warning"))}</td>'
    return (
        f'<tr><td class="l">{escape(name)}</td><td>{who}</td>'
        f'<td class="l">{_cell(planted.get("verdict"), seen.get("verdict"))}</td>'
        f'<td class="l">{_cell(planted.get("spurious"), seen.get("spurious"))}</td>{ood or "<td></td>"}</tr>'
    )


def render_calibration_html(cal: Mapping[str, Any]) -> str:
    """The page: per scenario, its pooled call (what the user is shown) and each seed's, green where
    the lab recovered the planted answer; then every broken lab and whether some scenario caught it."""
    rows, plots = [], []
    for sc in cal.get("scenarios") or []:
        planted = sc.get("planted") or {}
        name = str(sc.get("name"))
        if isinstance(sc.get("pooled"), Mapping):
            rows.append(_row(name, "<b>pooled</b>", planted, sc["pooled"]))
        for o in sc.get("observed") or []:
            rows.append(_row(name, escape(str(o.get("seed"))), planted, o))
        met = sc.get("met")
        status = "" if met is None else (' <span class="pos">meets the bar</span>' if met else
                                          ' <span class="neg">misses the bar</span>')
        rows.append(
            f'<tr><td class="l" colspan="5"><b>{escape(name)}: recovered {sc.get("recovered")}/'
            f'{sc.get("seeds")}</b>{status} (planted: '
            f'{escape(", ".join(f"{k} = {v}" for k, v in planted.items() if v is not None))}; '
            f'{escape(str(sc.get("why") or ""))})</td></tr>'
        )
        pk = sc.get("pass_at_k") if isinstance(sc.get("pass_at_k"), Mapping) else {}
        series = []
        for arm, label, color in ARMS:
            curve = (pk.get(arm) or {}).get("in_distribution") if isinstance(pk.get(arm), Mapping) else None
            if isinstance(curve, Mapping):
                series.append(Series(label, color, sorted((int(k), float(v)) for k, v in curve.items()),
                                     dashed=arm not in ("base", "trained")))
        if series:
            plots.append(line_plot(series, title=f"{sc.get('name')}: pass@k, in-distribution (pooled)",
                                   y_label="pass@k", y_range=(0.0, 1.0), width=460, height=300))
    mutants = "".join(
        f'<tr><td class="l">{escape(str(m.get("name")))}</td><td class="l">{escape(str(m.get("why")))}</td>'
        f'<td class="l"><span class="{"pos" if m.get("caught") else "neg"}">'
        f'{"caught by " + escape(", ".join(map(str, m.get("caught_by") or []))) if m.get("caught") else "NOT caught"}'
        "</span></td></tr>"
        for m in cal.get("mutants") or []
    )
    passed = cal.get("passed")
    head = "" if passed is None else (
        f'<p><b class="{"pos" if passed else "neg"}">{"PASSED" if passed else "FAILED"}</b> on seeds '
        f'{escape(str(cal.get("seed")))} onwards.</p>'
    )
    body = (
        f"<h1>rlvr lab calibrate ({escape(str(cal.get('profile')))})</h1>{head}"
        '<p class="sub">Each scenario plants an answer by construction and runs the whole study per seed; green: '
        "the lab reported the planted label, red: it did not, grey: not judged. The pooled row is what a user "
        "is shown.</p>"
        '<table><tr><th class="l">scenario</th><th>seed</th><th class="l">verdict</th>'
        '<th class="l">control</th><th class="l">entropy/transfer warning</th></tr>' + "".join(rows) + "</table>"
        + ('<h2>Broken labs</h2><table><tr><th class="l">mutant</th><th class="l">how it is broken</th>'
           f'<th class="l">caught</th></tr>{mutants}</table>' if mutants else "")
        + '<div class="plots" style="display:flex;flex-wrap:wrap;gap:12px">' + "".join(plots) + "</div>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>rlvr lab calibrate</title>'
        f"<style>{CSS}</style></head><body><main>{body}</main></body></html>\n"
    ).replace(' xmlns="http://www.w3.org/2000/svg"', "")


def write_calibration_report(path: str | os.PathLike[str], cal: Mapping[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(render_calibration_html(cal), encoding="utf-8")
    os.replace(tmp, p)
    return p
