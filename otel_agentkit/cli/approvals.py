"""``agentkit approvals list | approve ID | reject ID --reason TEXT``: answer agents waiting at a gate.

With ``--json``, ``list`` prints one JSON object per line and ``approve``/``reject`` one JSON object for the
decision taken; an error is then the one JSON error line every command prints."""

from __future__ import annotations

import argparse
import getpass
import json
import time
from typing import Any

from .agents import add_store_options, ago, clip, fail, open_cli_store
from .main import CliError, json_line, needs_subcommand


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("approvals", help="approval gates: list pending requests, approve, reject")
    sub = group.add_subparsers(dest="approvals_command", metavar="SUBCOMMAND")
    listing = sub.add_parser("list", help="requests waiting for an answer")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    add_store_options(listing)
    listing.set_defaults(func=_list)
    for name, approved in (("approve", True), ("reject", False)):
        cmd = sub.add_parser(name, help=f"{name} a pending request")
        cmd.add_argument("id", metavar="ID", help="request id (from `agentkit approvals list`)")
        cmd.add_argument("--reason", help="why (shown to the agent and recorded on its trace)")
        cmd.add_argument("--by", dest="responder", help="who answers (default: your user name)")
        cmd.add_argument("--json", action="store_true",
                         help="print the decision as one JSON object: id, kind, decision, reason, responder, "
                              "decided_at")
        add_store_options(cmd)
        cmd.set_defaults(func=_respond, approved=approved)
    group.set_defaults(func=needs_subcommand(group))


def _list(args: argparse.Namespace) -> int:
    from ..agents.approvals import Approvals
    from ..agents.store import StoreError
    from ..analytics.formatting import safe_text

    store = open_cli_store(args)
    try:
        pending = Approvals(store).pending()
    except StoreError as exc:
        raise fail(exc) from None
    finally:
        store.close()
    if args.json:
        for req in pending:
            print(json.dumps(req.__dict__, ensure_ascii=False))
        return 0
    if not pending:
        print("no pending approval requests")
        return 0
    now = time.time()
    print(f"{'ID':<12} {'KIND':<20} {'REQUESTER':<16} {'AGE':>6} {'LEFT':>6} CONTEXT")
    for req in pending:
        context = json.dumps(req.context, ensure_ascii=False, separators=(",", ":"))
        print(f"{safe_text(req.id):<12} {clip(safe_text(req.kind), 20):<20} "
              f"{clip(safe_text(req.requester or '-'), 16):<16} {ago(req.requested_at, now):>6} "
              f"{ago(now, req.expires_at):>6} {clip(safe_text(context), 60)}")
    return 0


def _respond(args: argparse.Namespace) -> int:
    from ..agents.approvals import ApprovalError, Approvals
    from ..agents.store import StoreError
    from ..analytics.formatting import safe_text

    responder = args.responder or _user()
    store = open_cli_store(args)
    try:
        result = Approvals(store).respond(args.id, args.approved, reason=args.reason, responder=responder)
    except ApprovalError as exc:
        raise CliError(str(exc)) from None
    except (StoreError, ValueError) as exc:
        raise fail(exc) from None
    finally:
        store.close()
    if args.json:
        print(json_line({"id": result.id, "kind": result.kind, "decision": result.status, "reason": result.reason,
                         "responder": result.responder, "decided_at": result.decided_at}))
        return 0
    print(safe_text(f"{result.id}: {result.status} by {responder}" + (f" ({result.reason})" if result.reason else "")))
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "cli"
