"""``agentkit replay``: send what the disk spool holds to the OTLP endpoint now (at-least-once)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..config import default_home

SIGNALS = ("traces", "metrics", "logs")


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="send spooled OTLP batches to the endpoint now",
                       description="Replays batches spooled while the OTLP endpoint was down, oldest first. "
                                   "The endpoint comes from the standard OTEL_EXPORTER_OTLP_* variables.")
    p.add_argument("--signal", choices=SIGNALS, action="append", help="only this signal (repeatable)")
    p.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export.spool import replay
    from .main import CliError

    if args.max_batches is not None and args.max_batches < 1:
        raise CliError(f"--max-batches={args.max_batches}: expected a whole number above 0")
    home = args.home or default_home()
    result = replay(home, tuple(args.signal or SIGNALS), max_batches=args.max_batches)
    fields = {k: getattr(result, k) for k in ("sent_batches", "sent_items", "remaining_batches", "corrupt",
                                              "rejected", "skipped_locked")}
    errors = [str(e) for e in (result.errors or [])]
    if args.json:
        print(json.dumps({**fields, "errors": errors}))
    else:
        print(f"sent {result.sent_batches} batch(es), {result.sent_items} item(s); "
              f"{result.remaining_batches} still spooled; {result.corrupt} corrupt and {result.rejected} "
              f"rejected moved aside")
        for error in errors:
            print(f"  {error}")
    return 1 if result.remaining_batches else 0
