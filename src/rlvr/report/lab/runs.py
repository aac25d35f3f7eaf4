"""The lab page's sections on the runs themselves: probe trajectories, the spurious-reward
controls, training curves and run health.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from rlvr.diagnostics import keys
from rlvr.report.lab.common import (
    CONTROL_ROWS,
    DASH,
    MAX_WARNING_ROWS,
    TRAINING_METRICS,
    ci_html,
    g3,
    get,
    is_num,
    num,
    pct,
    shown_arms,
    step_ticks,
    text,
    tool_lines,
)
from rlvr.report.svg import Series, line_plot


def trajectory_section(s: Mapping[str, Any]) -> str:
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
        for arm, name, color in shown_arms(s)[1:]:
            pts = [(p["step"], p[key]) for p in traj.get(arm) or [] if isinstance(p, Mapping) and is_num(p.get(key))]
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
    for arm, name, _ in shown_arms(s)[1:]:
        c = get(stats, arm, "entropy_correlation")
        if isinstance(c, Mapping):
            rows.append(
                f'<tr><td class="l">{escape(name)}</td>'
                + "".join(f"<td>{num(c.get(k))}</td>" for k in ("pass1_in_distribution", "pass1_shifted", "passk_shifted"))
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
            f'<li class="neg">{escape(str(get(w, "arm")))}: {text(get(w, "message"))}</li>' for w in warns
        ) + "</ul>")
    out.append(
        '<p class="sub">Each RL arm is probed every few steps on the first problems of both test sets (the real '
        "verifier; mean over seeds), next to its mean policy entropy since the previous probe. The entropy/transfer "
        "warning fires only when the shifted pass@1 fell with its pooled interval below 0, every seed agreeing, and the "
        "entropy fell by 10% or more on every seed (measured on the full test samples, not on two probe points).</p>"
    )
    return "".join(out)


def spurious_section(s: Mapping[str, Any]) -> str:
    sp = s.get("spurious")
    out = ["<h2>Spurious-reward controls</h2>"]
    if not isinstance(sp, Mapping):
        return out[0] + f'<p class="note">{DASH} the random-reward control was not measured.</p>'
    flagged = sp.get("flag") is True
    out[0] = f"<h2>Spurious-reward controls{' — FLAGGED' if flagged else ''}</h2>"
    out.append(f'<div class="card{" flag" if flagged else ""}"><p><b>{text(sp.get("message"))}</b></p>')
    k = sp.get("k")
    show_k = is_num(k) and k != 1
    out.append(
        '<table><tr><th class="l">arm</th><th class="l">call (every call that holds)</th><th>pass@1 gain over base</th>'
        + (f"<th>pass@{int(k)} gain</th>" if show_k else "")
        + "<th>shifted pass@1 gain</th><th>KL at end</th><th>zero-variance groups</th></tr>"
    )
    comp = s.get("comparison") if isinstance(s.get("comparison"), Mapping) else {}
    real = get(comp, "capability_gain", "1")
    real_k = get(comp, "capability_gain", str(int(k))) if show_k else None
    out.append(
        f'<tr><td class="l">real reward (trained)</td><td class="l">{DASH}</td>'
        f'<td>{pct(real, True)}{ci_html(get(comp, "capability_gain_ci", "1"), True)}</td>'
        + (f'<td>{pct(real_k, True)}{ci_html(get(comp, "capability_gain_ci", str(int(k))), True)}</td>' if show_k else "")
        + f"<td>{DASH}</td><td>{DASH}</td><td>{DASH}</td></tr>"
    )
    controls = sp.get("controls") if isinstance(sp.get("controls"), Mapping) else {}
    for arm, name in CONTROL_ROWS:
        c = controls.get(arm)
        if not isinstance(c, Mapping):
            continue
        labels = c.get("labels") if isinstance(c.get("labels"), Sequence) and not isinstance(c.get("labels"), str) else []
        call = text(c.get("label")) + (f' <span class="sub">({text(", ".join(map(str, labels)))})</span>'
                                        if len(labels) > 1 else "")
        gain = c.get("pass_at_1")
        cls = "neg" if c.get("label") in ("spurious_gain", "control_unstable") else ""
        row = (f'<tr><td class="l">{name}</td><td class="l {cls}">{call}</td>'
               f'<td>{pct(gain, True)}{ci_html(c.get("pass_at_1_ci"), True)}</td>')
        if show_k:
            row += f"<td>{pct(c.get(f'pass_at_{int(k)}'), True)}{ci_html(c.get(f'pass_at_{int(k)}_ci'), True)}</td>"
        row += (f'<td>{pct(c.get("shifted_pass_at_1"), True)}{ci_html(c.get("shifted_pass_at_1_ci"), True)}</td>'
                f'<td>{num(c.get("kl_end"), 3)}</td><td>{pct(c.get("zero_std_share"))}</td></tr>')
        out.append(row)
        out.append(f'<tr><td></td><td class="l msg sub" colspan="6">{text(c.get("reason"))}</td></tr>')
    out.append("</table>")
    diff = sp.get("real_minus_random")
    if isinstance(diff, Mapping):
        out.append(
            f'<p>Real minus random reward at pass@1: <b>{pct(diff.get("pass_at_1"), True)}</b>'
            f'{ci_html(diff.get("pass_at_1_ci"), True)} (paired over seeds and problems): the part of the gain the '
            "reward's signal can claim.</p>"
        )
    out.append(
        f'<p class="sub">Study call: {text(sp.get("label"))}. A spurious gain is a control pass@1 gain above '
        f"{pct(sp.get('threshold'), True)} with its interval above 0; \"no spurious gain\" is claimed only when the "
        "whole interval lies below that threshold, and never for a control whose reward was constant (uninformative). "
        f"The random control pays 1 to a random share of samples ({pct(get(s, 'config', 'random_p') or s.get('hit_rate'))}),"
        " same seed and budget as the real run: any gain it shows came from training itself.</p>"
    )
    expl = sp.get("explanation") if flagged else None
    if isinstance(expl, Sequence) and not isinstance(expl, str) and expl:
        out.append("<ul>" + "".join(f"<li>{text(e)}</li>" for e in expl) + "</ul>")
    out.append("</div>")
    return "".join(out)


def training_section(s: Mapping[str, Any]) -> str:
    out = ["<h2>Training curves</h2>"]
    tr = s.get("training") if isinstance(s.get("training"), Mapping) else {}
    plots = []
    gaps = []
    for metric, label in TRAINING_METRICS:
        series = []
        n = 0
        for arm, name, color in shown_arms(s)[1:]:
            values = get(tr, arm, metric)
            if not isinstance(values, Sequence) or isinstance(values, str):
                continue
            pts = [(i + 1, v) for i, v in enumerate(values) if is_num(v)]  # steps count from 1
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
                x_ticks=step_ticks(n),
                y_format=g3,
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
            for arm, name, color in shown_arms(s)[1:]
        )
        + " — the same seed, steps and group size; only the reward differs.</p>"
    )
    out.append('<div class="plots">' + "".join(plots) + "</div>")
    if gaps:
        out.append(f'<p class="neg">Missing or non-finite values, left out of the curves: {"; ".join(gaps)}.</p>')
    ent = s.get("entropy") if isinstance(s.get("entropy"), Mapping) else {}
    rows = [
        f"{escape(name)} {num(get(ent, arm, 'start'))} → {num(get(ent, arm, 'end'))}"
        for arm, name, _ in shown_arms(s)[1:]
        if isinstance(ent.get(arm), Mapping)
    ]
    if rows:
        out.append(f'<p class="sub">Policy entropy, first → last step: {"; ".join(rows)}.</p>')
    return "".join(out)


def health_section(s: Mapping[str, Any]) -> str:
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
                f'<tr{cls}><td class="l">{text(w.get("arm"))}</td><td>{text(w.get("step"))}</td>'
                f'<td class="l">{text(w.get("code"))}</td><td class="msg">{text(w.get("message"))}</td></tr>'
            )
        if len(warnings) > MAX_WARNING_ROWS:
            out.append(
                f'<tr><td class="l" colspan="4">… and {len(warnings) - MAX_WARNING_ROWS} more '
                "(all of them are in summary.json)</td></tr>"
            )
        out.append("</table>")
    if h:
        rows = []
        for arm, name, _ in shown_arms(s)[1:]:
            a = h.get(arm)
            if not isinstance(a, Mapping):
                continue
            counts = a.get("counts") if isinstance(a.get("counts"), Mapping) else {}
            codes = ", ".join(f"{escape(str(c))} ×{text(n)}" for c, n in counts.items()) or DASH
            healthy = a.get("healthy")
            rows.append(
                f'<tr><td class="l">{escape(name)}</td><td>{text(a.get("updates"))}</td>'
                f'<td>{text(a.get("warnings"))}</td><td class="l">{codes}</td>'
                f'<td class="l {"pos" if healthy is True else "neg" if healthy is False else ""}">'
                f'{"yes" if healthy is True else "no" if healthy is False else DASH}</td></tr>'
            )
        if rows:
            out.append(
                '<p></p><table><tr><th class="l">arm</th><th>steps checked</th><th>warnings</th>'
                '<th class="l">by code</th><th class="l">healthy</th></tr>' + "".join(rows) + "</table>"
            )
    return "".join(out)


def tool_section(s: Mapping[str, Any]) -> str:
    """A tool task's section: tool use per arm, tool vs no tool, the impossible-task control."""
    lines = tool_lines(s)
    if not lines:
        return ""
    flagged = get(s, "tool", "impossible", "flag") is True
    items = "".join(f"<li>{text(line)}</li>" for line in lines)
    return (f"<h2>Tool use{' — FLAGGED' if flagged else ''}</h2>"
            f'<div class="card{" flag" if flagged else ""}"><ul>{items}</ul></div>')
