"""``agentkit replay``: send what the disk spool holds to the OTLP endpoint now (at-least-once).

The summary goes to stdout (JSON with ``--json``) whatever happened, so a script sees what was sent. A batch
the endpoint did not take is an error: the summary, then the one error line and exit code 2. Batches left
without an error (another replay held the spool, ``--max-batches`` stopped it) are exit code 1."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import default_home

SIGNALS = ("traces", "metrics", "logs")


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="send spooled OTLP batches to the endpoint now",
                       description="Replays batches spooled while the OTLP endpoint was down, oldest first. "
                                   "The endpoint comes from the standard OTEL_EXPORTER_OTLP_* variables. "
                                   "Exit code 0: nothing is left spooled; 1: batches are left (another replay was "
                                   "running, or --max-batches stopped it); 2: an error, such as the endpoint "
                                   "not taking a batch.")
    p.add_argument("--signal", choices=SIGNALS, action="append", help="only this signal (repeatable)")
    p.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export.spool import replay
    from .main import EXIT_NOT_ALL, CliError, json_line

    if args.max_batches is not None and args.max_batches < 1:
        raise CliError(f"--max-batches={args.max_batches}: expected a whole number above 0")
    home = args.home or default_home()
    result = replay(home, tuple(args.signal or SIGNALS), max_batches=args.max_batches)
    fields = {k: getattr(result, k) for k in ("sent_batches", "sent_items", "remaining_batches", "corrupt",
                                              "rejected", "skipped_locked")}
    errors = [str(e) for e in (result.errors or [])]
    if args.json:
        print(json_line({**fields, "errors": errors}), flush=True)
    else:
        print(f"sent {result.sent_batches} batch(es), {result.sent_items} item(s); "
              f"{result.remaining_batches} still spooled; {result.corrupt} corrupt and {result.rejected} "
              f"rejected moved aside", flush=True)
    if errors:
        raise CliError(f"{result.remaining_batches} batch(es) still spooled: {'; '.join(errors)}")
    return EXIT_NOT_ALL if result.remaining_batches else 0
