"""Reports people can read: a self-contained HTML page (inline SVG, no network) and rich
terminal summaries of ``rlvr eval``/``rlvr compare`` results."""

from rlvr.report.html import render_html, to_report_dict, write_report
from rlvr.report.terminal import print_comparison, print_evaluation, print_spurious

__all__ = [
    "print_comparison",
    "print_evaluation",
    "print_spurious",
    "render_html",
    "to_report_dict",
    "write_report",
]
