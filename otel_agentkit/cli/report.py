"""``agentkit report --html PATH``: one self-contained HTML file with the usage charts and tables."""

from __future__ import annotations

import argparse
from typing import Any

from .usage import add_common, cli_errors, footer, print_json, run_read, say


def register(subparsers: Any) -> None:
    report = subparsers.add_parser("report", help="a self-contained HTML report of usage, cost and latency")
    report.add_argument("--html", required=True, metavar="PATH", help="file to write")
    report.add_argument("--title", default="LLM usage report", help="page title")
    report.add_argument("--force", action="store_true", help="replace the file if it exists")
    add_common(report)
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from ..analytics.output import safe_output_path
    from ..analytics.report import build_report, write_report

    with cli_errors():
        safe_output_path(args.html, args.force)  # fail before reading anything
    data = run_read(args, build_report, args.title)
    with cli_errors():
        path = write_report(args.html, data, force=args.force)
    if args.json:
        print_json({"path": path, "report": data})
        return 0
    say(f"wrote {path}: {data.total.calls} calls, {data.period.description}")
    print(footer(data.read))
    return 0
