"""The lab page's reference sections: curation, data and timings, the configuration and the full
base-vs-trained comparisons folded under ``<details>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from rlvr.report.format import share
from rlvr.report.html import BASE_COLOR, comparison_html
from rlvr.report.lab.common import DASH, duration, is_num, pct, text
from rlvr.report.svg import Bar, bar_plot


def curation_section(s: Mapping[str, Any]) -> str:
    c = s.get("curation") if isinstance(s.get("curation"), Mapping) else None
    out = ["<h3>Curation (pass-rate band)</h3>"]
    if c is None:
        return out[0] + f'<p class="note">{DASH} no curation summary.</p>'
    band = c.get("band")
    band_txt = (
        f"{pct(band[0])} – {pct(band[1])}"
        if isinstance(band, Sequence) and not isinstance(band, str) and len(band) == 2
        else text(band)
    )
    kept = f"{text(c.get('kept'))} of {text(c.get('prompts'))}"
    if is_num(c.get("kept_frac")):
        kept += f" ({pct(c['kept_frac'])})"
    rows = [
        ("kept / prompts", kept),
        ("band kept", band_txt),
        ("samples per prompt (k)", text(c.get("k"))),
        ("too easy (dropped)", text(c.get("too_easy"))),
        ("too hard (dropped)", text(c.get("too_hard"))),
        ("no valid samples", text(c.get("no_valid_samples"))),
        ("mean base pass rate", pct(c.get("mean_pass_rate"))),
    ]
    table = "<table>" + "".join(f'<tr><td class="l">{a}</td><td>{b}</td></tr>' for a, b in rows) + "</table>"
    hist = c.get("histogram")
    bars = []
    if isinstance(hist, Sequence) and not isinstance(hist, str):
        for b in hist:
            if not isinstance(b, Mapping) or not is_num(b.get("count")):
                continue
            rate = b.get("pass_rate")
            k = c.get("k")
            if is_num(rate) and isinstance(k, int) and k > 0:
                label = f"{round(rate * k)}/{k}"  # the bins are j/k: say so exactly
            else:
                label = share(rate, digits=0) if is_num(rate) else str(rate)
            kept_bin = b.get("kept") is True
            bars.append(Bar(label, b["count"], BASE_COLOR if kept_bin else "#c4c7cc", "kept" if kept_bin else "dropped"))
    plot = (
        bar_plot(bars, title="prompts per base pass rate (blue: kept)", x_label="base pass rate", y_label="prompts")
        if bars
        else ""
    )
    return out[0] + f'<div class="two">{table}{plot}</div>'


_DATA_LABELS = {
    "train": "training prompts (generated)",
    "curated": "training prompts kept by curation",
    "test_in_distribution": "in-distribution test problems",
    "test_shifted": "shifted test problems",
    "shifted_description": "shift",
}


def data_and_timings_section(s: Mapping[str, Any]) -> str:
    out = ['<div class="two"><div><h3>Data</h3>']
    data = s.get("data") if isinstance(s.get("data"), Mapping) else {}
    keys = list(_DATA_LABELS) + [k for k in data if k not in _DATA_LABELS]
    out.append(
        "<table>"
        + "".join(
            f'<tr><td class="l">{escape(_DATA_LABELS.get(k, str(k)))}</td><td>{text(data.get(k))}</td></tr>' for k in keys
        )
        + "</table></div><div><h3>Timings</h3>"
    )
    t = s.get("timings") if isinstance(s.get("timings"), Mapping) else {}
    total = t.get("total")
    rows = []
    for phase, sec in t.items():
        if phase in ("total", "per_seed") or not is_num(sec):
            continue
        if phase in ("workers", "job_seconds"):  # not phases of the wall time: no share
            label = "processes" if phase == "workers" else "job seconds (summed over processes)"
            value = str(sec) if phase == "workers" else duration(sec)
            rows.append(f'<tr><td class="l">{label}</td><td>{value}</td><td></td></tr>')
            continue
        # 100 * sec / total, not format.share(sec / total): the rounding can differ in the last digit.
        part = f"{100 * sec / total:.0f}%" if is_num(sec) and is_num(total) and total > 0 else DASH
        rows.append(f'<tr><td class="l">{escape(str(phase))}</td><td>{duration(sec)}</td><td>{part}</td></tr>')
    rows.append(f'<tr><th class="l">total</th><th>{duration(total)}</th><th></th></tr>')
    out.append(
        '<table><tr><th class="l">phase</th><th>time</th><th>share</th></tr>' + "".join(rows) + "</table></div></div>"
    )
    return "".join(out)


def config_section(s: Mapping[str, Any]) -> str:
    cfg = s.get("config")
    if not isinstance(cfg, Mapping) or not cfg:
        return ""
    flat: list[tuple[str, Any]] = []

    def walk(prefix: str, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping):
                walk(key, v)
            else:
                flat.append((key, v))

    walk("", cfg)
    rows = "".join(f'<tr><td class="l">{escape(k)}</td><td class="l">{text(v)}</td></tr>' for k, v in flat)
    return f"<details><summary>Lab configuration</summary><table>{rows}</table></details>"


def comparisons_section(s: Mapping[str, Any]) -> str:
    out = []
    for key, label in (("comparison", "in-distribution"), ("comparison_shifted", "shifted")):
        c = s.get(key)
        if not isinstance(c, Mapping):
            continue
        try:
            body = comparison_html(c)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            # The page is the last thing a long run writes: a malformed part must not take it down.
            body = f'<p class="note">{DASH} this comparison could not be rendered ({escape(type(e).__name__)}: {escape(str(e))}).</p>'
        out.append(
            f"<details><summary>Full comparison: trained vs base, {label} (transitions, intervals, "
            f"significance)</summary>{body}</details>"
        )
    return "".join(out)
