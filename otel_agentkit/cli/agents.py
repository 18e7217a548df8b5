"""``agentkit agents list [--stale | --alive]``: every agent on record, alive, dead or finished.

An agent is dead (stale) the moment its own heartbeat TTL lapses since its last beat, as ``Heartbeats.status()``
says; ``--threshold`` replaces that TTL by a fixed age only when given, and only for ``--stale``.

Also holds the store options shared by the ``agents``, ``events`` and ``approvals`` groups: ``--store URL``
(default $AGENTKIT_AGENT_STORE, else SQLite at <home>/agents.db) and ``--home`` (accepted after the
subcommand too, as in ``agentkit approvals approve ID --home DIR``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from .main import CliError, needs_subcommand


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="URL",
                        help="agent state store: sqlite:///path, a file path, or redis://host:port/db "
                             "(default: $AGENTKIT_AGENT_STORE, else agents.db in the data directory)")
    # SUPPRESS: when not given here, the top-level --home (or its default) stays in effect
    parser.add_argument("--home", default=argparse.SUPPRESS, help="data directory")


def open_cli_store(args: argparse.Namespace) -> Any:
    """The store the options name; a bad URL or an unreachable store is a one-line CliError."""
    from ..agents.store import StoreError, open_store
    from ..config import default_home

    home = getattr(args, "home", None) or default_home()
    try:
        store = open_store(getattr(args, "store", None) or None, home=home)
        store.ping()
        return store
    except (StoreError, ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None


def fail(exc: BaseException) -> CliError:
    return CliError(str(exc))


def ago(ts: float, now: float | None = None) -> str:
    return duration((time.time() if now is None else now) - ts)


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("agents", help="agents' heartbeats: alive, stale, finished")
    sub = group.add_subparsers(dest="agents_command", metavar="SUBCOMMAND")
    listing = sub.add_parser("list", help="every agent on record and its state: alive, dead or finished")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--stale", action="store_true",
                       help="only the dead: unfinished agents whose own heartbeat TTL lapsed since their last beat")
    which.add_argument("--alive", action="store_true", help="only agents alive by their heartbeat TTL")
    which.add_argument("--all", action="store_true", help="every agent on record (the default; kept for scripts)")
    listing.add_argument("--threshold", type=float, metavar="SECONDS",
                         help="with --stale: unfinished agents whose last beat is older than this, instead of "
                              "each agent's own TTL")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    add_store_options(listing)
    listing.set_defaults(func=_list)
    group.set_defaults(func=needs_subcommand(group))


def _list(args: argparse.Namespace) -> int:
    from ..agents.heartbeats import Heartbeats
    from ..agents.store import StoreError
    from ..analytics.formatting import safe_text

    if args.threshold is not None:
        if args.threshold <= 0:
            raise CliError(f"--threshold={args.threshold!r}: must be a number of seconds above 0")
        if not args.stale:
            raise CliError(f"--threshold={args.threshold!r}: applies only with --stale")
    store = open_cli_store(args)
    try:
        hb = Heartbeats(store)
        agents = hb.stale_agents(args.threshold) if args.stale else hb.active_agents() if args.alive else hb.agents()
    except StoreError as exc:
        raise fail(exc) from None
    finally:
        store.close()
    if args.json:
        for a in agents:
            print(json.dumps({**a.__dict__, "alive": a.alive, "stale": a.stale, "state": a.state}))
        return 0
    if not agents:
        print("no stale agents" if args.stale else "no active agents" if args.alive else "no agents on record")
        return 0
    print(f"{'AGENT':<24} {'STATUS':<12} {'PROGRESS':>8} {'LAST BEAT':>9} {'STATE':<8} {'HOST/PID':<22} TASK")
    for a in agents:
        progress = f"{a.progress:.0%}" if a.progress is not None else "-"
        # every stored text is escaped: an agent's task or name must not drive the terminal
        print(f"{clip(safe_text(a.agent_id), 24):<24} {clip(safe_text(a.status), 12):<12} {progress:>8} "
              f"{duration(a.age):>9} {a.state:<8} {clip(safe_text(f'{a.host}/{a.pid}'), 22):<22} "
              f"{safe_text(a.current_task or '')}")
    return 0
