"""Reports people can read: a self-contained HTML page (inline SVG, no network) and rich
terminal summaries of ``rlvr eval``/``rlvr compare`` results and ``rlvr lab`` runs."""

from rlvr.report.html import render_html, to_report_dict, write_report
from rlvr.report.lab import print_lab_summary, render_lab_html, write_lab_report
from rlvr.report.terminal import print_comparison, print_evaluation, print_spurious

__all__ = [
    "print_comparison",
    "print_evaluation",
    "print_lab_summary",
    "print_spurious",
    "render_html",
    "render_lab_html",
    "to_report_dict",
    "write_lab_report",
    "write_report",
]
