"""The ``rlvr lab`` report: ``summary.json`` as a self-contained HTML page and a terminal summary.

``render_lab_html(summary)`` builds one page (inline CSS and SVG, no scripts, no URLs at all) in
the style of ``rlvr report``: the verdict, what RL bought per arm, pass@k curves in and out of
distribution, the random-reward control, training curves, run health, data, timings, and the
full base-vs-trained comparison folded under ``<details>``. ``print_lab_summary`` prints the
short version with rich. Every field may be missing or null (a run that stopped early, user data
without a shifted set): it renders as "—"; every string from the summary is escaped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from rlvr.diagnostics import keys
from rlvr.errors import InputError
from rlvr.report.html import _CSS, BASE_COLOR, RANDOM_COLOR, TRAINED_COLOR, VERDICT_COLORS, _comparison
from rlvr.report.svg import Bar, Series, _nice_step, bar_plot, line_plot

__all__ = ["print_lab_summary", "render_lab_html", "write_lab_report"]

FORMAT_COLOR = "#9b59b6"  # the palette's fourth colour
DASH = "—"
ARMS: tuple[tuple[str, str, str], ...] = (
    ("base", "base", BASE_COLOR),
    ("trained", "trained", TRAINED_COLOR),
    ("random_control", "random control", RANDOM_COLOR),
    ("format_control", "format-only control", FORMAT_COLOR),
)
SPLITS = (("in_distribution", "in-distribution"), ("shifted", "shifted"))
TRAINING_METRICS = (
    (keys.REWARD_MEAN, "mean reward"),
    (keys.POLICY_ENTROPY, "policy entropy"),
    (keys.POLICY_KL, "KL to the reference"),
)
_NEUTRAL = "#5f6368"
MAX_WARNING_ROWS = 50  # a run that warns every step would bury the page
_SVG_NS = ' xmlns="http://www.w3.org/2000/svg"'  # optional for SVG inside HTML: dropped, no URL left

_LAB_CSS = """
.banner{color:#fff;border-radius:8px;padding:14px 18px;margin:14px 0}
.banner .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;opacity:.9}
.banner .headline{font-size:22px;font-weight:700;margin:2px 0 6px}
.banner ul{margin:4px 0 0 20px}.banner li{font-size:14px}
.plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.plots svg.plot{flex:0 1 auto}
details{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:10px 16px;margin:12px 0}
details summary{cursor:pointer;font-weight:600}
.note{color:#5f6368;font-style:italic}
td.msg{text-align:left;max-width:640px}
.two{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
"""


# -- safe access and formatting -------------------------------------------------------------------


def _get(d: Any, *keys: str) -> Any:
    """``d[k1][k2]...`` or None when any level is missing or not a mapping."""
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text(v: Any) -> str:
    """Escaped text, or the dash for a missing value."""
    return DASH if v is None or v == "" else escape(str(v))


def _pct(v: Any, signed: bool = False) -> str:
    """A fraction as a percentage ("41.3%"), or points when ``signed`` ("+22.5 pts")."""
    if not _is_num(v):
        return DASH if v is None else escape(str(v))
    return f"{100 * v:+.1f} pts" if signed else f"{100 * v:.1f}%"


def _num(v: Any, fmt: str = ".2f") -> str:
    if not _is_num(v):
        return DASH if v is None else escape(str(v))
    return format(v, fmt)


def _ci(ci: Any, signed: bool = False) -> str:
    """``[low, high]`` in points under a value, or nothing when the interval is absent."""
    if not (isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2 and all(map(_is_num, ci))):
        return ""
    f = "{:+.1f}" if signed else "{:.1f}"
    return f'<div class="ci">[{f.format(100 * ci[0])}, {f.format(100 * ci[1])}]</div>'


def _duration(v: Any) -> str:
    if not _is_num(v):
        return DASH if v is None else escape(str(v))
    if v < 60:
        return f"{v:.1f} s"
    m, s = divmod(round(v), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _ks(summary: Mapping[str, Any]) -> list[int]:
    """The k values: ``summary["ks"]``, else the keys of the base arm's in-distribution pass@k."""
    raw = summary.get("ks")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raw = list(_get(summary, "arms", "base", "pass_at_k", "in_distribution") or {})
    ks = set()
    for k in raw:
        try:
            ks.add(int(k))
        except (TypeError, ValueError):
            continue
    return sorted(k for k in ks if k > 0)


def _passk(summary: Mapping[str, Any], arm: str, split: str, k: int) -> Any:
    return _get(summary, "arms", arm, "pass_at_k", split, str(k))


def _passk_ci(summary: Mapping[str, Any], arm: str, split: str, k: int) -> Any:
    return _get(summary, "arms", arm, "pass_at_k_ci", split, str(k))


def _arms(summary: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The arms to show: base, trained and the random control always (a missing one shows as a
    dash), the format-only control only when the run had it."""
    arms = summary.get("arms") if isinstance(summary.get("arms"), Mapping) else {}
    return tuple(a for a in ARMS if a[0] != "format_control" or a[0] in arms)


def _has_split(summary: Mapping[str, Any], split: str) -> bool:
    return any(isinstance(_get(summary, "arms", arm, "pass_at_k", split), Mapping) for arm, _, _ in ARMS)


def verdict_color(label: Any) -> str:
    """The banner colour of a verdict label (known labels, else by the words in it)."""
    text = str(label or "")
    if text in VERDICT_COLORS:
        return VERDICT_COLORS[text]
    if any(w in text for w in ("regress", "collapse", "spurious")):
        return VERDICT_COLORS["regression"]
    if "compress" in text:
        return VERDICT_COLORS["pure_compression"]
    if "gain" in text:
        return VERDICT_COLORS["capability_gain_and_compression"]
    return _NEUTRAL


def _g(v: float) -> str:
    return f"{v:.3g}"


def _step_ticks(n: int) -> list[float]:
    """About six round step numbers from 1 to n (every step would be unreadable on long runs)."""
    if n <= 1:
        return [1.0]
    step = max(1.0, _nice_step(n - 1))
    return [1.0] + [t * step for t in range(1, int(n // step) + 1) if t * step > 1]


# -- page sections --------------------------------------------------------------------------------


def _header(s: Mapping[str, Any]) -> str:
    title = f"rlvr lab — {s.get('task') or DASH} on {s.get('model') or DASH}"
    v = s.get("verdict") if isinstance(s.get("verdict"), Mapping) else {}
    label = v.get("label")
    headline = v.get("headline") or (str(label).replace("_", " ") if label else "no verdict: the run did not reach it")
    reasons = v.get("reasons") if isinstance(v.get("reasons"), Sequence) else []
    if isinstance(reasons, str):
        reasons = [reasons]
    out = [f"<h1>{escape(title)}</h1>"]
    out.append(f'<div class="banner" style="background:{verdict_color(label)}">')
    out.append(f'<div class="label">verdict: {_text(str(label).replace("_", " ") if label else None)}</div>')
    out.append(f'<div class="headline">{escape(str(headline))}</div>')
    dirs = v.get("directions") if isinstance(v.get("directions"), Mapping) else {}
    if dirs:
        margin = v.get("margin")
        out.append('<div class="label">' + escape(" · ".join(f"{k.replace('_at_', '@')}: {d}" for k, d in dirs.items()))
                   + (f" · equivalence margin ±{100 * margin:.1f} points" if _is_num(margin) else "") + "</div>")
    if reasons:
        out.append("<ul>" + "".join(f"<li>{_text(r)}</li>" for r in reasons) + "</ul>")
    out.append("</div>")
    total = _get(s, "timings", "total")
    prov = [
        escape(_seed_text(s)),
        f"profile {_text(s.get('profile'))}",
        f"device {_text(s.get('device'))}",
        f"total time {_duration(total)}",
    ]
    date = s.get("date") or s.get("created") or s.get("started")
    if date:
        prov.append(_text(date))
    out.append(f'<div class="sub">{" · ".join(prov)} · generated by rlvr lab</div>')
    return "".join(out)


def _what_rl_bought(s: Mapping[str, Any], ks: list[int]) -> str:
    out = ["<h2>What RL bought</h2>"]
    if not ks:
        return out[0] + f'<p class="note">{DASH} no pass@k was measured.</p>'
    big = ks[-1]
    shifted_desc = _get(s, "data", "shifted_description")
    shifted_head = "shifted" + (f"<br><small>{escape(str(shifted_desc))}</small>" if shifted_desc else "")
    cols = [1, big] if big != 1 else [1]
    out.append(
        '<table><tr><th class="l" rowspan="2">arm</th>'
        f'<th colspan="{len(cols)}">in-distribution</th><th colspan="{len(cols)}">{shifted_head}</th></tr><tr>'
        + "".join(f"<th>pass@{k}</th>" for _ in SPLITS for k in cols)
        + "</tr>"
    )
    for arm, name, color in _arms(s):
        out.append(f'<tr><td class="l"><span style="color:{color}">■</span> {escape(name)}</td>')
        for split, _ in SPLITS:
            for k in cols:
                out.append(f"<td>{_pct(_passk(s, arm, split, k))}{_ci(_passk_ci(s, arm, split, k))}</td>")
        out.append("</tr>")
    out.append("</table>")
    if not _has_split(s, "shifted"):
        out.append('<p class="note">No shifted test set in this run: out-of-distribution columns are empty.</p>')
    inform = s.get("informative") if isinstance(s.get("informative"), Mapping) else {}
    for split, label in SPLITS:
        if inform.get(split) is False and _has_split(s, split):
            out.append(
                f'<p class="note">{escape(label)}: <b>uninformative</b> — the base\'s pass@{big} is '
                f"{_pct(_passk(s, 'base', split, big))}, outside 5–95% (a floor or a ceiling), so this comparison "
                "can show no change and is not reported as a finding.</p>"
            )
    seeds = s.get("seeds")
    if isinstance(seeds, Sequence) and not isinstance(seeds, str) and len(seeds) > 1:
        out.append(
            f'<p class="sub">Pooled over {len(seeds)} seeds ({escape(", ".join(map(str, seeds)))}): the mean of the '
            "seeds' estimates; intervals from a bootstrap over seeds, then problems, so they include the "
            "seed-to-seed spread (see Seeds).</p>"
        )

    gains = s.get("capability_gain") if isinstance(s.get("capability_gain"), Mapping) else {}
    ratios = s.get("compression_ratio") if isinstance(s.get("compression_ratio"), Mapping) else {}
    gain_cis = _get(s, "comparison", "capability_gain_ci") or {}
    out.append(
        '<h3 class="sub">Trained vs base, in-distribution, per k</h3><table><tr><th class="l"></th>'
        + "".join(f"<th>k={k}</th>" for k in ks)
        + "</tr>"
    )
    out.append('<tr><td class="l">capability gain pass@k<sub>trained</sub> − pass@k<sub>base</sub></td>')
    for k in ks:
        g = gains.get(str(k))
        cls = "pos" if _is_num(g) and g > 0 else "neg" if _is_num(g) and g < 0 else ""
        ci = gain_cis.get(str(k)) if isinstance(gain_cis, Mapping) else None
        out.append(f'<td class="{cls}">{_pct(g, True)}{_ci(ci, True)}</td>')
    out.append('</tr><tr><td class="l">compression ratio</td>')
    out.extend(f"<td>{_num(ratios.get(str(k)))}</td>" for k in ks)
    out.append("</tr></table>")
    cross = s.get("crossover_k")
    out.append(
        '<p class="sub">Compression ratio = (pass@1<sub>trained</sub> − pass@1<sub>base</sub>) / '
        "(pass@k<sub>base</sub> − pass@1<sub>base</sub>): the share of the base model's k-sample headroom "
        "the trained model reaches in one sample (— where the base has no headroom). Crossover k "
        f"(where the base overtakes the trained model): {_text(cross) if cross is not None else 'none'}.</p>"
    )
    return "".join(out)


def _passk_plots(s: Mapping[str, Any], ks: list[int]) -> str:
    out = ["<h2>pass@k curves</h2>"]
    plots: list[str] = []
    notes: list[str] = []
    for split, label in SPLITS:
        if not _has_split(s, split):
            notes.append(f'<p class="note">No {escape(label)} test set in this run: its plot is skipped.</p>')
            continue
        series = []
        for arm, name, color in _arms(s):
            pts = [(k, v) for k in ks if _is_num(v := _passk(s, arm, split, k))]
            band = []
            for k in ks:
                ci = _passk_ci(s, arm, split, k)
                if isinstance(ci, Sequence) and len(ci) == 2 and all(map(_is_num, ci)):
                    band.append((k, ci[0], ci[1]))
            series.append(Series(name, color, pts, band, dashed=arm == "random_control"))
        title = f"pass@k, {label}"
        plots.append(line_plot(series, title=title, y_label="pass@k", y_range=(0.0, 1.0), width=520, height=330))
    if plots:
        out.append('<div class="plots">' + "".join(plots) + "</div>")
        out.append(
            '<p class="sub">Shaded: 95% bootstrap interval over problems; dashed: the random-reward control. '
            "pass@k: unbiased estimator (Chen et al. 2021), mean over problems; k on a log scale.</p>"
        )
    return "".join(out + notes)


def _seeds(s: Mapping[str, Any], ks: list[int]) -> str:
    per = s.get("per_seed")
    if not isinstance(per, Sequence) or isinstance(per, str) or not per or not ks:
        return ""
    big = ks[-1]
    controls = [(a, n) for a, n, _ in _arms(s) if a in ("random_control", "format_control")]
    out = [
        "<h2>Seeds</h2><table><tr><th class=\"l\">seed</th><th class=\"l\">verdict</th>"
        f"<th>pass@1 base → trained</th><th>pass@{big} base → trained</th>"
        + "".join(f"<th>{escape(n)}</th>" for _, n in controls)
        + "</tr>"
    ]
    gains = []
    for p in per:
        if not isinstance(p, Mapping):
            continue
        row = [f'<tr><td class="l">{_text(p.get("seed"))}</td><td class="l">{_text(p.get("verdict"))}</td>']
        for k in (1, big):
            b = _get(p, "pass_at_k", "base", "in_distribution", str(k))
            t = _get(p, "pass_at_k", "trained", "in_distribution", str(k))
            d = t - b if _is_num(b) and _is_num(t) else None
            if k == 1 and d is not None:
                gains.append(d)
            row.append(f"<td>{_pct(b)} → {_pct(t)} ({_pct(d, True)})</td>")
        for arm, _ in controls:
            row.append(f"<td>{_text(_get(p, 'spurious', arm))}</td>")
        out.append("".join(row) + "</tr>")
    out.append("</table>")
    if len(gains) > 1:
        out.append(
            f'<p class="sub">Spread of the in-distribution pass@1 gain across seeds: {_pct(min(gains), True)} to '
            f"{_pct(max(gains), True)}. The verdict comes from the pooled intervals, not from one seed.</p>"
        )
    return "".join(out)


def _trajectory(s: Mapping[str, Any]) -> str:
    traj = s.get("trajectory") if isinstance(s.get("trajectory"), Mapping) else {}
    if not any(isinstance(v, Sequence) and v for v in traj.values()):
        return ""
    out = ["<h2>Trajectories: generalisation vs entropy</h2>"]
    plots = []
    for key, label in (
        ("pass1_in_distribution", "pass@1, in-distribution"),
        ("pass1_shifted", "pass@1, shifted"),
        ("passk_shifted", "pass@k (probe), shifted"),
        ("entropy", "entropy (nats/token)"),
    ):
        series = []
        for arm, name, color in _arms(s)[1:]:
            pts = [(p["step"], p[key]) for p in traj.get(arm) or [] if isinstance(p, Mapping) and _is_num(p.get(key))]
            if pts:
                series.append(Series(name, color, pts, dashed=arm != "trained"))
        if series:
            plots.append(line_plot(
                series, title=label, x_label="step", log_x=False, percent=key != "entropy",
                y_range=(0.0, 1.0) if key != "entropy" else None, width=420, height=280,
            ))
    out.append('<div class="plots">' + "".join(plots) + "</div>")
    stats = s.get("trajectory_stats") if isinstance(s.get("trajectory_stats"), Mapping) else {}
    rows = []
    for arm, name, _ in _arms(s)[1:]:
        c = _get(stats, arm, "entropy_correlation")
        if isinstance(c, Mapping):
            rows.append(
                f'<tr><td class="l">{escape(name)}</td>'
                + "".join(f"<td>{_num(c.get(k))}</td>" for k in ("pass1_in_distribution", "pass1_shifted", "passk_shifted"))
                + "</tr>"
            )
    if rows:
        out.append(
            '<table><tr><th class="l">correlation of entropy with</th><th>pass@1 in-dist.</th><th>pass@1 shifted</th>'
            "<th>pass@k shifted</th></tr>" + "".join(rows) + "</table>"
        )
    warns = s.get("trajectory_warnings")
    if isinstance(warns, Sequence) and not isinstance(warns, str) and warns:
        out.append("<ul>" + "".join(
            f'<li class="neg">{escape(str(_get(w, "arm")))}: {_text(_get(w, "message"))}</li>' for w in warns
        ) + "</ul>")
    out.append(
        '<p class="sub">Each RL arm is probed every few steps on the first problems of both test sets (the real '
        "verifier; mean over seeds), next to its mean policy entropy since the previous probe. The entropy/transfer "
        "warning fires only when the shifted pass@1 fell with its pooled interval below 0, every seed agreeing, and the "
        "entropy fell by 10% or more on every seed (measured on the full test samples, not on two probe points).</p>"
    )
    return "".join(out)


CONTROL_ROWS = (("random_control", "random reward (control)"), ("format_control", "format-only reward (control)"))


def _spurious(s: Mapping[str, Any]) -> str:
    sp = s.get("spurious")
    out = ["<h2>Spurious-reward controls</h2>"]
    if not isinstance(sp, Mapping):
        return out[0] + f'<p class="note">{DASH} the random-reward control was not measured.</p>'
    flagged = sp.get("flag") is True
    out[0] = f"<h2>Spurious-reward controls{' — FLAGGED' if flagged else ''}</h2>"
    out.append(f'<div class="card{" flag" if flagged else ""}"><p><b>{_text(sp.get("message"))}</b></p>')
    k = sp.get("k")
    show_k = _is_num(k) and k != 1
    out.append(
        '<table><tr><th class="l">arm</th><th class="l">call (every call that holds)</th><th>pass@1 gain over base</th>'
        + (f"<th>pass@{int(k)} gain</th>" if show_k else "")
        + "<th>shifted pass@1 gain</th><th>KL at end</th><th>zero-variance groups</th></tr>"
    )
    comp = s.get("comparison") if isinstance(s.get("comparison"), Mapping) else {}
    real = _get(comp, "capability_gain", "1")
    real_k = _get(comp, "capability_gain", str(int(k))) if show_k else None
    out.append(
        f'<tr><td class="l">real reward (trained)</td><td class="l">{DASH}</td>'
        f'<td>{_pct(real, True)}{_ci(_get(comp, "capability_gain_ci", "1"), True)}</td>'
        + (f'<td>{_pct(real_k, True)}{_ci(_get(comp, "capability_gain_ci", str(int(k))), True)}</td>' if show_k else "")
        + f"<td>{DASH}</td><td>{DASH}</td><td>{DASH}</td></tr>"
    )
    controls = sp.get("controls") if isinstance(sp.get("controls"), Mapping) else {}
    for arm, name in CONTROL_ROWS:
        c = controls.get(arm)
        if not isinstance(c, Mapping):
            continue
        labels = c.get("labels") if isinstance(c.get("labels"), Sequence) and not isinstance(c.get("labels"), str) else []
        call = _text(c.get("label")) + (f' <span class="sub">({_text(", ".join(map(str, labels)))})</span>'
                                        if len(labels) > 1 else "")
        gain = c.get("pass_at_1")
        cls = "neg" if c.get("label") in ("spurious_gain", "control_unstable") else ""
        row = (f'<tr><td class="l">{name}</td><td class="l {cls}">{call}</td>'
               f'<td>{_pct(gain, True)}{_ci(c.get("pass_at_1_ci"), True)}</td>')
        if show_k:
            row += f"<td>{_pct(c.get(f'pass_at_{int(k)}'), True)}{_ci(c.get(f'pass_at_{int(k)}_ci'), True)}</td>"
        row += (f'<td>{_pct(c.get("shifted_pass_at_1"), True)}{_ci(c.get("shifted_pass_at_1_ci"), True)}</td>'
                f'<td>{_num(c.get("kl_end"), ".3f")}</td><td>{_pct(c.get("zero_std_share"))}</td></tr>')
        out.append(row)
        out.append(f'<tr><td></td><td class="l msg sub" colspan="6">{_text(c.get("reason"))}</td></tr>')
    out.append("</table>")
    diff = sp.get("real_minus_random")
    if isinstance(diff, Mapping):
        out.append(
            f'<p>Real minus random reward at pass@1: <b>{_pct(diff.get("pass_at_1"), True)}</b>'
            f'{_ci(diff.get("pass_at_1_ci"), True)} (paired over seeds and problems): the part of the gain the '
            "reward's signal can claim.</p>"
        )
    out.append(
        f'<p class="sub">Study call: {_text(sp.get("label"))}. A spurious gain is a control pass@1 gain above '
        f"{_pct(sp.get('threshold'), True)} with its interval above 0; \"no spurious gain\" is claimed only when the "
        "whole interval lies below that threshold, and never for a control whose reward was constant (uninformative). "
        f"The random control pays 1 to a random share of samples ({_pct(_get(s, 'config', 'random_p') or s.get('hit_rate'))}),"
        " same seed and budget as the real run: any gain it shows came from training itself.</p>"
    )
    expl = sp.get("explanation") if flagged else None
    if isinstance(expl, Sequence) and not isinstance(expl, str) and expl:
        out.append("<ul>" + "".join(f"<li>{_text(e)}</li>" for e in expl) + "</ul>")
    out.append("</div>")
    return "".join(out)


def _training(s: Mapping[str, Any]) -> str:
    out = ["<h2>Training curves</h2>"]
    tr = s.get("training") if isinstance(s.get("training"), Mapping) else {}
    plots = []
    gaps = []
    for metric, label in TRAINING_METRICS:
        series = []
        n = 0
        for arm, name, color in _arms(s)[1:]:
            values = _get(tr, arm, metric)
            if not isinstance(values, Sequence) or isinstance(values, str):
                continue
            pts = [(i + 1, v) for i, v in enumerate(values) if _is_num(v)]  # steps count from 1
            n = max(n, len(values))
            if len(pts) < len(values):
                gaps.append(f"{escape(name)} {escape(metric)}: {len(values) - len(pts)} step(s)")
            if pts:
                series.append(Series(name, color, pts, dashed=arm == "random_control"))
        if not series:
            plots.append(f'<p class="note">{escape(metric)}: not recorded.</p>')
            continue
        ys = [y for se in series for _, y in se.points]
        # Entropy and KL are never negative: start their axis at zero rather than below it.
        y_range = (0.0, max(ys) * 1.08 or 1.0) if metric != keys.REWARD_MEAN and min(ys) >= 0 else None
        plots.append(
            line_plot(
                series,
                title=label,
                x_label="step",
                y_label=metric,
                log_x=False,
                percent=False,
                markers=False,
                x_ticks=_step_ticks(n),
                y_format=_g,
                y_range=y_range,
                legend=False,
                width=340,
                height=250,
            )
        )
    out.append(
        '<p class="sub">'
        + " ".join(
            f'<span style="color:{color}">{"- - -" if arm == "random_control" else "━━"}</span> {escape(name)}'
            for arm, name, color in _arms(s)[1:]
        )
        + " — the same seed, steps and group size; only the reward differs.</p>"
    )
    out.append('<div class="plots">' + "".join(plots) + "</div>")
    if gaps:
        out.append(f'<p class="neg">Missing or non-finite values, left out of the curves: {"; ".join(gaps)}.</p>')
    ent = s.get("entropy") if isinstance(s.get("entropy"), Mapping) else {}
    rows = [
        f"{escape(name)} {_num(_get(ent, arm, 'start'))} → {_num(_get(ent, arm, 'end'))}"
        for arm, name, _ in _arms(s)[1:]
        if isinstance(ent.get(arm), Mapping)
    ]
    if rows:
        out.append(f'<p class="sub">Policy entropy, first → last step: {"; ".join(rows)}.</p>')
    return "".join(out)


def _health(s: Mapping[str, Any]) -> str:
    out = ["<h2>Health</h2>"]
    h = s.get("health") if isinstance(s.get("health"), Mapping) else None
    warnings = h.get("warnings") if h else None
    if h is None or not isinstance(warnings, Sequence) or isinstance(warnings, str):
        out.append(f'<p class="note">{DASH} health was not monitored.</p>')
    elif not warnings:
        out.append('<p class="pos"><b>No health warnings</b> in either training run.</p>')
    else:
        out.append(
            '<table><tr><th class="l">arm</th><th>step</th><th class="l">code</th><th class="l">message</th></tr>'
        )
        for w in warnings[:MAX_WARNING_ROWS]:
            w = w if isinstance(w, Mapping) else {"message": w}
            sev = str(w.get("severity") or "warning")
            cls = ' class="flag"' if sev in ("error", "critical") else ""
            out.append(
                f'<tr{cls}><td class="l">{_text(w.get("arm"))}</td><td>{_text(w.get("step"))}</td>'
                f'<td class="l">{_text(w.get("code"))}</td><td class="msg">{_text(w.get("message"))}</td></tr>'
            )
        if len(warnings) > MAX_WARNING_ROWS:
            out.append(
                f'<tr><td class="l" colspan="4">… and {len(warnings) - MAX_WARNING_ROWS} more '
                "(all of them are in summary.json)</td></tr>"
            )
        out.append("</table>")
    if h:
        rows = []
        for arm, name, _ in _arms(s)[1:]:
            a = h.get(arm)
            if not isinstance(a, Mapping):
                continue
            counts = a.get("counts") if isinstance(a.get("counts"), Mapping) else {}
            codes = ", ".join(f"{escape(str(c))} ×{_text(n)}" for c, n in counts.items()) or DASH
            healthy = a.get("healthy")
            rows.append(
                f'<tr><td class="l">{escape(name)}</td><td>{_text(a.get("updates"))}</td>'
                f'<td>{_text(a.get("warnings"))}</td><td class="l">{codes}</td>'
                f'<td class="l {"pos" if healthy is True else "neg" if healthy is False else ""}">'
                f'{"yes" if healthy is True else "no" if healthy is False else DASH}</td></tr>'
            )
        if rows:
            out.append(
                '<p></p><table><tr><th class="l">arm</th><th>steps checked</th><th>warnings</th>'
                '<th class="l">by code</th><th class="l">healthy</th></tr>' + "".join(rows) + "</table>"
            )
    return "".join(out)


def _curation(s: Mapping[str, Any]) -> str:
    c = s.get("curation") if isinstance(s.get("curation"), Mapping) else None
    out = ["<h3>Curation (pass-rate band)</h3>"]
    if c is None:
        return out[0] + f'<p class="note">{DASH} no curation summary.</p>'
    band = c.get("band")
    band_txt = (
        f"{_pct(band[0])} – {_pct(band[1])}"
        if isinstance(band, Sequence) and not isinstance(band, str) and len(band) == 2
        else _text(band)
    )
    kept = f"{_text(c.get('kept'))} of {_text(c.get('prompts'))}"
    if _is_num(c.get("kept_frac")):
        kept += f" ({_pct(c['kept_frac'])})"
    rows = [
        ("kept / prompts", kept),
        ("band kept", band_txt),
        ("samples per prompt (k)", _text(c.get("k"))),
        ("too easy (dropped)", _text(c.get("too_easy"))),
        ("too hard (dropped)", _text(c.get("too_hard"))),
        ("no valid samples", _text(c.get("no_valid_samples"))),
        ("mean base pass rate", _pct(c.get("mean_pass_rate"))),
    ]
    table = "<table>" + "".join(f'<tr><td class="l">{a}</td><td>{b}</td></tr>' for a, b in rows) + "</table>"
    hist = c.get("histogram")
    bars = []
    if isinstance(hist, Sequence) and not isinstance(hist, str):
        for b in hist:
            if not isinstance(b, Mapping) or not _is_num(b.get("count")):
                continue
            rate = b.get("pass_rate")
            k = c.get("k")
            if _is_num(rate) and isinstance(k, int) and k > 0:
                label = f"{round(rate * k)}/{k}"  # the bins are j/k: say so exactly
            else:
                label = f"{100 * rate:.0f}%" if _is_num(rate) else str(rate)
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


def _data_and_timings(s: Mapping[str, Any]) -> str:
    out = ['<div class="two"><div><h3>Data</h3>']
    data = s.get("data") if isinstance(s.get("data"), Mapping) else {}
    keys = list(_DATA_LABELS) + [k for k in data if k not in _DATA_LABELS]
    out.append(
        "<table>"
        + "".join(
            f'<tr><td class="l">{escape(_DATA_LABELS.get(k, str(k)))}</td><td>{_text(data.get(k))}</td></tr>' for k in keys
        )
        + "</table></div><div><h3>Timings</h3>"
    )
    t = s.get("timings") if isinstance(s.get("timings"), Mapping) else {}
    total = t.get("total")
    rows = []
    for phase, sec in t.items():
        if phase in ("total", "per_seed") or not _is_num(sec):
            continue
        if phase in ("workers", "job_seconds"):  # not phases of the wall time: no share
            label = "processes" if phase == "workers" else "job seconds (summed over processes)"
            value = str(sec) if phase == "workers" else _duration(sec)
            rows.append(f'<tr><td class="l">{label}</td><td>{value}</td><td></td></tr>')
            continue
        share = f"{100 * sec / total:.0f}%" if _is_num(sec) and _is_num(total) and total > 0 else DASH
        rows.append(f'<tr><td class="l">{escape(str(phase))}</td><td>{_duration(sec)}</td><td>{share}</td></tr>')
    rows.append(f'<tr><th class="l">total</th><th>{_duration(total)}</th><th></th></tr>')
    out.append(
        '<table><tr><th class="l">phase</th><th>time</th><th>share</th></tr>' + "".join(rows) + "</table></div></div>"
    )
    return "".join(out)


def _config(s: Mapping[str, Any]) -> str:
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
    rows = "".join(f'<tr><td class="l">{escape(k)}</td><td class="l">{_text(v)}</td></tr>' for k, v in flat)
    return f"<details><summary>Lab configuration</summary><table>{rows}</table></details>"


def _comparisons(s: Mapping[str, Any]) -> str:
    out = []
    for key, label in (("comparison", "in-distribution"), ("comparison_shifted", "shifted")):
        c = s.get(key)
        if not isinstance(c, Mapping):
            continue
        try:
            body = _comparison(c)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            # The page is the last thing a long run writes: a malformed part must not take it down.
            body = f'<p class="note">{DASH} this comparison could not be rendered ({escape(type(e).__name__)}: {escape(str(e))}).</p>'
        out.append(
            f"<details><summary>Full comparison: trained vs base, {label} (transitions, intervals, "
            f"significance)</summary>{body}</details>"
        )
    return "".join(out)


# -- public ---------------------------------------------------------------------------------------


def _check(summary: Any) -> dict[str, Any]:
    """The summary as ``summary.json`` would hold it: an in-memory dict may still have int k keys,
    tuples or paths, so it goes through a JSON round trip (keys become strings, as in the file)."""
    if not isinstance(summary, Mapping) or (summary.get("kind") not in (None, "lab")) or (
        summary.get("kind") is None and "arms" not in summary
    ):
        raise InputError("not an rlvr lab summary: expected the summary.json that rlvr lab writes")
    return json.loads(json.dumps(dict(summary), default=str))


def render_lab_html(summary: Mapping[str, Any]) -> str:
    """The complete, self-contained report page of one lab run (no scripts, no URLs)."""
    s = _check(summary)
    ks = _ks(s)
    title = f"rlvr lab — {s.get('task') or DASH} on {s.get('model') or DASH}"
    body = "".join(
        (
            _header(s),
            _what_rl_bought(s, ks),
            _passk_plots(s, ks),
            _seeds(s, ks),
            _spurious(s),
            _trajectory(s),
            _training(s),
            _health(s),
            _curation(s),
            _data_and_timings(s),
            _config(s),
            "<h2>Details</h2>" if isinstance(s.get("comparison"), Mapping) else "",
            _comparisons(s),
        )
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}{_LAB_CSS}</style></head><body><main>"
        f"{body}</main></body></html>\n"
    )
    # Data strings are escaped (quotes included), so only the plots' own namespace attribute matches.
    return page.replace(_SVG_NS, "")


def write_lab_report(path: str | os.PathLike[str], summary: Mapping[str, Any]) -> Path:
    """Render and write ``report.html`` atomically (a half-written page never replaces a good one)."""
    p = Path(path)
    html = render_lab_html(summary)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, p)
    return p


def _seed_text(s: Mapping[str, Any]) -> str:
    seeds = s.get("seeds")
    if isinstance(seeds, Sequence) and not isinstance(seeds, str) and len(seeds) > 1:
        return "seeds " + ", ".join(map(str, seeds))
    return f"seed {DASH if s.get('seed') is None else s['seed']}"


def _tpct(v: Any, signed: bool = False) -> str:
    if not _is_num(v):
        return DASH if v is None else str(v)
    return f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"


def _tci(ci: Any) -> str:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2 and all(map(_is_num, ci)):
        return f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    return ""


def print_lab_summary(
    summary: Mapping[str, Any], console: Console | None = None, *, report_path: str | os.PathLike[str] | None = None
) -> None:
    """The verdict, the what-RL-bought table, the spurious control, health and where the report is."""
    s = _check(summary)
    console = console or Console()
    esc = rich_escape  # task names, paths and messages are data, never rich markup
    ks = _ks(s)
    big = ks[-1] if ks else 1
    cols = [1, big] if big != 1 else [1]
    splits = [sp for sp in SPLITS if _has_split(s, sp[0])] or [SPLITS[0]]
    v = s.get("verdict") if isinstance(s.get("verdict"), Mapping) else {}
    label = str(v.get("label") or "")
    color = verdict_color(label or None)
    style = {"#1e8e3e": "bold green", "#b7791f": "bold yellow", "#c5221f": "bold red"}.get(color, "bold")
    total = _get(s, "timings", "total")
    console.print(
        f"[bold]rlvr lab — {esc(str(s.get('task') or DASH))} on {esc(str(s.get('model') or DASH))}[/]  "
        f"[dim]({esc(_seed_text(s))} · {esc(str(s.get('profile') or DASH))} · "
        f"{esc(str(s.get('device') or DASH))} · {_duration(total) if _is_num(total) else DASH})[/]",
        highlight=False,
    )
    table = Table(title="What RL bought (pass@k %, 95% interval)", show_header=True, title_justify="left")
    table.add_column("arm")
    for _, split_label in splits:
        for k in cols:
            table.add_column(f"pass@{k} {split_label}", justify="right")
    for arm, name, _ in _arms(s):
        cells = [
            esc(f"{_tpct(_passk(s, arm, sp, k))}{_tci(_passk_ci(s, arm, sp, k))}") for sp, _ in splits for k in cols
        ]
        table.add_row(name, *cells)
    console.print(table)
    gains = s.get("capability_gain") if isinstance(s.get("capability_gain"), Mapping) else {}
    ratios = s.get("compression_ratio") if isinstance(s.get("compression_ratio"), Mapping) else {}
    if gains or ratios:
        g = " ".join(f"k={k} {esc(_tpct(gains.get(str(k)), True))}" for k in ks)
        r = " ".join(
            f"k={k} {f'{ratio:.2f}' if _is_num(ratio := ratios.get(str(k))) else DASH}" for k in ks if k != 1
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
    h = s.get("health")
    warnings = h.get("warnings") if isinstance(h, Mapping) else None
    if isinstance(warnings, Sequence) and not isinstance(warnings, str):
        if warnings:
            codes: dict[str, int] = {}
            for w in warnings:
                key = f"{_get(w, 'arm') or '?'}: {_get(w, 'code') or '?'}" if isinstance(w, Mapping) else "?"
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
    where = report_path if report_path is not None else _get(s, "files", "report")
    if where:
        console.print(f"report: {esc(str(where))}", highlight=False)
