"""A real agent process for the multi-process tests: ``python -m tests.agents.worker ROLE STORE ...``.

Roles:
  peer STORE ME OTHER        beat, wait for "go", signal OTHER "hello", wait for OTHER's "hello", publish
                             "peer.done", stop; prints a JSON summary; exit 1 if a wait timed out
  request STORE KIND TIMEOUT ask for an approval and print the result as JSON
"""

from __future__ import annotations

import json
import os
import sys

from otel_agentkit.agents import Approvals, EventStream, Heartbeats, Signals, open_store

WAIT = 60.0


def peer(url: str, me: str, other: str) -> int:
    store = open_store(url)
    agent = Heartbeats(store).start(me, {"pid": os.getpid(), "role": "peer"})
    agent.beat("ready", progress=0.0)
    signals = Signals(store, me)
    go = signals.wait_for("go", timeout=WAIT, poll=0.02)
    if go is None:
        agent.stop("failed")
        return 1
    agent.beat("greeting", progress=0.3, current_task=f"say hello to {other}")
    signals.signal("hello", other, {"from": me, "pid": os.getpid()})
    hello = signals.wait_for("hello", timeout=WAIT, poll=0.02)
    if hello is None:
        agent.stop("failed")
        return 1
    agent.beat("working", progress=0.9)
    EventStream(store, source=me).publish("peer.done", {"agent": me, "hello_from": hello.sender,
                                                        "hello_pid": hello.payload["pid"]})
    agent.stop("completed")
    print(json.dumps({"agent": me, "go_from": go.sender, "hello_from": hello.sender}))
    return 0


def request(url: str, kind: str, timeout: str) -> int:
    result = Approvals(open_store(url), requester=f"worker-{os.getpid()}", poll=0.05).request(
        kind, {"pid": os.getpid()}, timeout=float(timeout))
    print(json.dumps({"id": result.id, "status": result.status, "reason": result.reason,
                      "responder": result.responder}))
    return 0


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    sys.exit({"peer": peer, "request": request}[role](*rest))
