"""Regenerate the README's `rlvr lab` figures from a real run: no hand-copied number.

    python bench/readme_lab.py --out runs/readme-lab            # runs `rlvr lab`, measures it, prints the block
    python bench/readme_lab.py --out runs/readme-lab --quick    # the --quick profile instead
    python bench/readme_lab.py --summary runs/lab/summary.json  # an existing run (no timing line)
    python bench/readme_lab.py --calibration runs/cal/calibration.json   # the calibration table
    python bench/readme_lab.py --calibrate quick --seed 10000 --cal-out runs/cal  # run a calibration, measure it, tabulate it
    ... --write README.md    # replace the text between <!-- lab-output:start/end --> markers
    python bench/readme_lab.py --task tool --out runs/readme-tool --quick --calibrate quick --cal-out runs/cal-tool \
        --write README.md --marker tool-output    # the tool task's run and calibration, in their own block

Every run gets a fresh, empty warm-up cache (RLVR_CACHE_DIR in a temporary folder), so its time is a
cold-cache time whatever ran before.

The run is a child process; its wall time and the peak of the *summed* resident memory of its
process tree (the seeds run in parallel worker processes) are sampled every 0.2 s with psutil, and
its CPU time (user + system of the tree) is reported too, since wall time on a shared machine
depends on what else runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(cmd: list[str], ok_codes: tuple[int, ...] = (0,)) -> dict[str, float]:
    """Run ``cmd`` on a cold warm-up cache; wall seconds, peak summed RSS (MB) of its process tree,
    CPU seconds."""
    import psutil

    cache = tempfile.mkdtemp(prefix="rlvr-readme-cache-")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, "RLVR_CACHE_DIR": cache})
    root = psutil.Process(proc.pid)
    peak, cpu = 0, {}
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            total = 0
            for p in tree:
                try:
                    total += p.memory_info().rss
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    pass
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.2)
    shutil.rmtree(cache, ignore_errors=True)
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return {"wall_s": time.perf_counter() - t0, "peak_mb": peak / 2**20, "cpu_s": sum(cpu.values()),
            "exit": proc.returncode}


def lab_block(summary: dict, measured: dict[str, float] | None, command: str) -> str:
    from rich.console import Console

    from rlvr.report.lab import print_lab_summary

    buf = io.StringIO()
    print_lab_summary(summary, console=Console(file=buf, width=110, color_system=None), report_path="report.html")
    lines = []
    if measured:
        lines.append(
            f"`{command}` (cold cache, {len(summary.get('seeds') or [0])} seeds on "
            f"{summary.get('timings', {}).get('workers', 1)} processes): **{measured['wall_s']:.0f} s wall-clock, "
            f"{measured['peak_mb']:.0f} MB peak summed RSS, {measured['cpu_s']:.0f} CPU-seconds** "
            "(bench/readme_lab.py; wall time depends on what else shares the cores)."
        )
        lines.append("")
    lines += ["```text", buf.getvalue().rstrip(), "```"]
    return "\n".join(lines)


def calibration_table(cal: dict, measured: dict[str, float] | None = None) -> str:
    verdict = "**passed**" if cal.get("passed") else "**FAILED**"
    task = f"--task {cal['task']}, " if cal.get("task", "arithmetic") != "arithmetic" else ""
    head = (f"Calibration (`rlvr lab calibrate`, {task}profile {cal['profile']}, seeds {cal.get('seed')} onwards): {verdict}")
    if measured:
        head += (f"; {measured['wall_s'] / 60:.1f} min wall-clock, {measured['peak_mb']:.0f} MB peak summed RSS, "
                 f"{measured['cpu_s']:.0f} CPU-seconds, cold cache")
    elif cal.get("resumed"):
        head += "; re-judged by `--resume` from the stored jobs of an earlier run (times: that run's)"
    elif cal.get("seconds"):
        head += f"; {cal['seconds'] / 60:.1f} min wall-clock by its own clock (calibration.json)"
    rows = [
        head + ".",
        "",
        "| scenario | planted | pooled (what the user is shown) | seeds recovered | per seed | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for sc in cal["scenarios"]:
        planted = ", ".join(f"{k} = `{v}`" for k, v in sc["planted"].items() if v is not None)
        judged = [k for k, v in sc["planted"].items() if v is not None]
        pooled = " / ".join(str((sc.get("pooled") or {}).get(k)) for k in judged)
        mark = "" if sc.get("pooled_recovered") else " (missed)"
        seen = "; ".join(f"{o['seed']}: " + " / ".join(str(o.get(k)) for k in judged) for o in sc["observed"])
        rows.append(f"| {sc['name']} | {planted} | {pooled}{mark} | {sc['recovered']}/{sc['seeds']} | {seen} | "
                    f"{sc['seconds']:.0f} |")
    mutants = cal.get("mutants") or []
    if mutants:
        rows += ["", "| broken lab | caught by |", "|---|---|"]
        rows += [f"| {m['name']} ({m['why']}) | {', '.join(m['caught_by']) or '**not caught**'} |" for m in mutants]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="run folder for a fresh `rlvr lab` run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--summary", help="an existing summary.json instead of a run")
    ap.add_argument("--calibration", action="append", default=[], help="a calibration.json to tabulate (repeatable)")
    ap.add_argument("--calibrate", choices=["quick", "full"], help="run `rlvr lab calibrate` with this profile")
    ap.add_argument("--seed", type=int, help="first seed of --calibrate (default: the command's)")
    ap.add_argument("--cal-out", help="folder of the --calibrate run")
    ap.add_argument("--write", help="README to update between <!-- lab-output:start/end --> markers")
    ap.add_argument("--task", default="arithmetic", help="the lab task of --out and --calibrate (arithmetic or tool)")
    ap.add_argument("--marker", default="lab-output", help="the README block --write replaces: <!-- MARKER:start/end -->")
    args = ap.parse_args()
    parts = []
    if args.out:
        cmd = ["rlvr", "lab", "--out", args.out, "--quiet"] + (["--quick"] if args.quick else [])
        cmd += ["--task", args.task] if args.task != "arithmetic" else []
        # The rlvr of this interpreter's environment, whatever is on PATH.
        exe = Path(sys.executable).with_name("rlvr")
        measured = measure([str(exe) if exe.exists() else "rlvr", *cmd[1:]])
        summary = json.loads((Path(args.out) / "summary.json").read_text())
        parts.append(lab_block(summary, measured, " ".join(c for c in cmd if c != "--quiet")))
    elif args.summary:
        parts.append(lab_block(json.loads(Path(args.summary).read_text()), None, "rlvr lab"))
    if args.calibrate:
        if not args.cal_out:
            raise SystemExit("--calibrate needs --cal-out")
        exe = Path(sys.executable).with_name("rlvr")
        cmd = [str(exe) if exe.exists() else "rlvr", "lab", "calibrate", "--out", args.cal_out, "--quiet"]
        cmd += (["--quick"] if args.calibrate == "quick" else []) + ([] if args.seed is None else ["--seed", str(args.seed)])
        cmd += ["--task", args.task] if args.task != "arithmetic" else []
        measured = measure(cmd, ok_codes=(0, 1))  # 1: the bar was missed, which the table says
        parts.append(calibration_table(json.loads((Path(args.cal_out) / "calibration.json").read_text()), measured))
    for path in args.calibration:
        parts.append(calibration_table(json.loads(Path(path).read_text())))
    text = "\n\n".join(parts)
    print(text)
    if args.write:
        readme = Path(args.write)
        old = readme.read_text(encoding="utf-8")
        m = re.escape(args.marker)
        pattern = re.compile(rf"(<!-- {m}:start -->\n).*?(<!-- {m}:end -->)", re.S)
        if not pattern.search(old):
            raise SystemExit(f"{readme}: no <!-- {args.marker}:start --> ... <!-- {args.marker}:end --> markers")
        readme.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), old), encoding="utf-8")


if __name__ == "__main__":
    main()
