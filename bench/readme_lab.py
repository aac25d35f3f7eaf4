"""Regenerate the README's `rlvr lab` figures from a real run: no hand-copied number.

    python bench/readme_lab.py --out runs/readme-lab            # runs `rlvr lab`, measures it, prints the block
    python bench/readme_lab.py --out runs/readme-lab --quick    # the --quick profile instead
    python bench/readme_lab.py --summary runs/lab/summary.json  # an existing run (no timing line)
    python bench/readme_lab.py --calibration runs/cal/calibration.json   # the calibration table
    ... --write README.md    # replace the text between <!-- lab-output:start/end --> markers

The run is a child process; its wall time and the peak of the *summed* resident memory of its
process tree (the seeds run in parallel worker processes) are sampled every 0.2 s with psutil, and
its CPU time (user + system of the tree) is reported too, since wall time on a shared machine
depends on what else runs.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; wall seconds, peak summed RSS (MB) of its process tree, CPU seconds."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
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
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return {"wall_s": time.perf_counter() - t0, "peak_mb": peak / 2**20, "cpu_s": sum(cpu.values())}


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


def calibration_table(cal: dict) -> str:
    rows = [
        f"Calibration (`rlvr lab calibrate`, profile {cal['profile']}):",
        "",
        "| scenario | planted | recovered | observed per seed (verdict / control) | seconds |",
        "|---|---|---|---|---|",
    ]
    for sc in cal["scenarios"]:
        planted = ", ".join(f"{k} = `{v}`" for k, v in sc["planted"].items() if v is not None)
        seen = "; ".join(f"{o['seed']}: {o['verdict']} / {o['spurious']}" for o in sc["observed"])
        rows.append(f"| {sc['name']} | {planted} | {sc['recovered']}/{sc['seeds']} | {seen} | {sc['seconds']:.0f} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="run folder for a fresh `rlvr lab` run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--summary", help="an existing summary.json instead of a run")
    ap.add_argument("--calibration", help="a calibration.json to tabulate")
    ap.add_argument("--write", help="README to update between <!-- lab-output:start/end --> markers")
    args = ap.parse_args()
    parts = []
    if args.out:
        cmd = ["rlvr", "lab", "--out", args.out, "--quiet"] + (["--quick"] if args.quick else [])
        # The rlvr of this interpreter's environment, whatever is on PATH.
        exe = Path(sys.executable).with_name("rlvr")
        measured = measure([str(exe) if exe.exists() else "rlvr", *cmd[1:]])
        summary = json.loads((Path(args.out) / "summary.json").read_text())
        parts.append(lab_block(summary, measured, " ".join(c for c in cmd if c != "--quiet")))
    elif args.summary:
        parts.append(lab_block(json.loads(Path(args.summary).read_text()), None, "rlvr lab"))
    if args.calibration:
        parts.append(calibration_table(json.loads(Path(args.calibration).read_text())))
    text = "\n\n".join(parts)
    print(text)
    if args.write:
        readme = Path(args.write)
        old = readme.read_text(encoding="utf-8")
        pattern = re.compile(r"(<!-- lab-output:start -->\n).*?(<!-- lab-output:end -->)", re.S)
        if not pattern.search(old):
            raise SystemExit(f"{readme}: no <!-- lab-output:start --> ... <!-- lab-output:end --> markers")
        readme.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), old), encoding="utf-8")


if __name__ == "__main__":
    main()
