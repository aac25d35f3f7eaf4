"""The short terminal version of the lab report, printed with rich at the end of ``rlvr lab``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from rlvr.report.format import interval, percent
from rlvr.report.lab.common import (
    CONTROL_ROWS,
    DASH,
    SPLITS,
    check_summary,
    duration,
    get,
    has_split,
    is_num,
    k_values,
    passk,
    passk_ci,
    seed_text,
    shown_arms,
    tool_lines,
    verdict_color,
)


def _tpct(v: Any, signed: bool = False) -> str:
    if not is_num(v):
        return DASH if v is None else str(v)
    return percent(v, signed)


def _tci(ci: Any) -> str:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2 and all(map(is_num, ci)):
        return " " + interval(ci)
    return ""


def print_lab_summary(
    summary: Mapping[str, Any], console: Console | None = None, *, report_path: str | os.PathLike[str] | None = None
) -> None:
    """The verdict, the what-RL-bought table, the spurious control, health and where the report is."""
    s = check_summary(summary)
    console = console or Console()
    esc = rich_escape  # task names, paths and messages are data, never rich markup
    ks = k_values(s)
    big = ks[-1] if ks else 1
    cols = [1, big] if big != 1 else [1]
    splits = [sp for sp in SPLITS if has_split(s, sp[0])] or [SPLITS[0]]
    v = s.get("verdict") if isinstance(s.get("verdict"), Mapping) else {}
    label = str(v.get("label") or "")
    color = verdict_color(label or None)
    style = {"#1e8e3e": "bold green", "#b7791f": "bold yellow", "#c5221f": "bold red"}.get(color, "bold")
    total = get(s, "timings", "total")
    console.print(
        f"[bold]rlvr lab — {esc(str(s.get('task') or DASH))} on {esc(str(s.get('model') or DASH))}[/]  "
        f"[dim]({esc(seed_text(s))} · {esc(str(s.get('profile') or DASH))} · "
        f"{esc(str(s.get('device') or DASH))} · {duration(total) if is_num(total) else DASH})[/]",
        highlight=False,
    )
    table = Table(title="What RL bought (pass@k %, 95% interval)", show_header=True, title_justify="left")
    table.add_column("arm")
    for _, split_label in splits:
        for k in cols:
            table.add_column(f"pass@{k} {split_label}", justify="right")
    for arm, name, _ in shown_arms(s):
        cells = [
            esc(f"{_tpct(passk(s, arm, sp, k))}{_tci(passk_ci(s, arm, sp, k))}") for sp, _ in splits for k in cols
        ]
        table.add_row(name, *cells)
    console.print(table)
    gains = s.get("capability_gain") if isinstance(s.get("capability_gain"), Mapping) else {}
    ratios = s.get("compression_ratio") if isinstance(s.get("compression_ratio"), Mapping) else {}
    if gains or ratios:
        g = " ".join(f"k={k} {esc(_tpct(gains.get(str(k)), True))}" for k in ks)
        r = " ".join(
            f"k={k} {f'{ratio:.2f}' if is_num(ratio := ratios.get(str(k))) else DASH}" for k in ks if k != 1
        )
        console.print(f"gain trained−base (pts): {g}", highlight=False)
        if r:
            console.print(f"compression ratio: {r}", highlight=False)
    headline = v.get("headline") or (label.replace("_", " ") if label else "no verdict")
    console.print(f"verdict: [{style}]{esc(str(headline))}[/]", highlight=False)
    reasons = v.get("reasons") if isinstance(v.get("reasons"), Sequence) and not isinstance(v.get("reasons"), str) else []
    for reason in list(reasons)[:5]:
        console.print(f"  • {esc(str(reason))}", highlight=False)
    sp = s.get("spurious")
    if isinstance(sp, Mapping):
        flagged = sp.get("flag") is True
        label = str(sp.get("label") or DASH)
        style = "bold red" if flagged else "green" if label == "no_spurious_gain" else "bold yellow"
        console.print(
            f"spurious-reward controls: real {_tpct(sp.get('real_improvement'), True)} vs random "
            f"{_tpct(sp.get('random_improvement'), True)} pts at pass@1 — [{style}]{'FLAGGED: ' if flagged else ''}"
            f"{esc(label.replace('_', ' '))}[/]",
            highlight=False,
        )
        controls = sp.get("controls") if isinstance(sp.get("controls"), Mapping) else {}
        for arm, name in CONTROL_ROWS:
            c = controls.get(arm)
            if isinstance(c, Mapping):
                console.print(
                    f"  {name}: {esc(str(c.get('label')).replace('_', ' '))} — {esc(str(c.get('reason')))}",
                    highlight=False,
                )
    for line in tool_lines(s):
        console.print(esc(line), highlight=False)
    h = s.get("health")
    warnings = h.get("warnings") if isinstance(h, Mapping) else None
    if isinstance(warnings, Sequence) and not isinstance(warnings, str):
        if warnings:
            codes: dict[str, int] = {}
            for w in warnings:
                key = f"{get(w, 'arm') or '?'}: {get(w, 'code') or '?'}" if isinstance(w, Mapping) else "?"
                codes[key] = codes.get(key, 0) + 1
            listed = ", ".join(f"{c} ×{n}" for c, n in codes.items())
            console.print(
                f"health: [yellow]{len(warnings)} warning{'s' if len(warnings) != 1 else ''}[/] ({esc(listed)})",
                highlight=False,
            )
        else:
            console.print("health: [green]no warnings[/]", highlight=False)
    else:
        console.print(f"health: {DASH}", highlight=False)
    where = report_path if report_path is not None else get(s, "files", "report")
    if where:
        console.print(f"report: {esc(str(where))}", highlight=False)
