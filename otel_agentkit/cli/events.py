"""``agentkit events tail TYPE [-n N] [--follow]`` and ``agentkit events list``: agents' event streams.

With ``--json`` both print one JSON object per line, as ``agents list`` and ``approvals list`` do."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from .agents import add_store_options, fail, open_cli_store
from .main import CliError, json_line, needs_subcommand


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("events", help="agents' event streams")
    sub = group.add_subparsers(dest="events_command", metavar="SUBCOMMAND")
    tail = sub.add_parser("tail", help="the newest events of a type; --follow waits for more")
    tail.add_argument("type", metavar="TYPE", help="event type")
    tail.add_argument("-n", "--count", type=int, default=10, help="how many of the newest to show (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new events until Ctrl-C")
    tail.add_argument("--for", dest="follow_for", type=float, metavar="SECONDS",
                      help="with --follow: stop after this many seconds")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    add_store_options(tail)
    tail.set_defaults(func=_tail)
    listing = sub.add_parser("list", help="event types with a stream, and their lengths")
    listing.add_argument("--json", action="store_true",
                         help="one JSON object per line: type, length, first_id, last_id")
    add_store_options(listing)
    listing.set_defaults(func=_list)
    group.set_defaults(func=needs_subcommand(group))


def _print(event: Any, as_json: bool) -> None:
    from ..analytics.formatting import safe_text

    if as_json:
        print(json.dumps(event.__dict__, ensure_ascii=False), flush=True)
        return
    when = datetime.fromtimestamp(event.timestamp).strftime("%Y-%m-%d %H:%M:%S")
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    print(f"{when} {safe_text(str(event.id))} {safe_text(event.source or '-')} {safe_text(data)}", flush=True)


def _tail(args: argparse.Namespace) -> int:
    from ..agents.events import EventStream
    from ..agents.store import StoreError

    if args.count < 1:
        raise CliError(f"--count={args.count!r}: must be a whole number above 0")
    if args.follow_for is not None and args.follow_for <= 0:
        raise CliError(f"--for={args.follow_for!r}: must be a number of seconds above 0")
    store = open_cli_store(args)
    try:
        stream = EventStream(store)
        try:
            recent = stream.recent(args.type, args.count)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        for event in recent:
            _print(event, args.json)
        if not args.follow:
            if not recent and not args.json:
                print(f"no events of type {args.type!r}")
            return 0
        start: str | None = recent[-1].id if recent else "$"
        deadline = time.monotonic() + args.follow_for if args.follow_for else None
        while deadline is None or time.monotonic() < deadline:
            left = 1000 if deadline is None else max(1, min(1000, int((deadline - time.monotonic()) * 1000)))
            # raise_errors: the CLI fails loudly instead of logging and counting like an agent's consumer
            for event in stream.consume(args.type, block_ms=left, count=100, start_id=start, raise_errors=True):
                _print(event, args.json)
            start = None  # from now on, continue where the last read ended
        return 0
    except StoreError as exc:
        raise fail(exc) from None
    finally:
        store.close()


def _list(args: argparse.Namespace) -> int:
    from ..agents.events import EventStream
    from ..agents.store import StoreError
    from ..analytics.formatting import safe_text

    store = open_cli_store(args)
    try:
        stream = EventStream(store)
        infos = [(name, info) for name in stream.types() if (info := stream.info(name)) is not None]
    except StoreError as exc:
        raise fail(exc) from None
    finally:
        store.close()
    if args.json:  # nothing at all for no streams, as the sibling listings print
        for name, info in infos:
            print(json_line({"type": name, **info.__dict__}))
        return 0
    if not infos:
        print("no event streams")
        return 0
    print(f"{'TYPE':<32} {'LENGTH':>8} LAST ID")
    for name, info in infos:
        print(f"{safe_text(name):<32} {info.length:>8} {safe_text(str(info.last_id or '-'))}")
    return 0
