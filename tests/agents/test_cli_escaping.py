"""The agents, events and approvals tables escape control characters in stored text (issue 13, item 9).

An agent's task, an event's payload or an approval's context is free text from any process that can reach
the store; printed raw, an ANSI escape recolours or rewrites the terminal and a CR/LF forges a row. Names
refuse C0 controls at the API, but the 8-bit CSI (U+009B) gets through, so names are escaped too. Both
stores (SQLite and a real redis-server), the CLI in-process as in test_cli.py.
"""

from __future__ import annotations

import json

from otel_agentkit.agents import Approvals, EventStream, Heartbeats
from otel_agentkit.cli.main import main

NASTY = "\x1b[31mred\r\nFORGED ROW\x9b2J"
RAW = ("\x1b", "\r", "\x9b")


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def clean(text: str) -> bool:
    return not any(c in text for c in RAW)


def test_agents_list_escapes_task_and_name(store_url, store, capsys):
    hb = Heartbeats(store, ttl=60)
    hb.start("agent\x9b31m").beat("working", progress=0.5, current_task=NASTY)
    code, out, _ = cli(capsys, "agents", "list", "--store", store_url)
    assert code == 0 and clean(out)
    header, row = out.strip("\n").split("\n")  # one row: the CR/LF did not make a second
    assert row.startswith("agent\\x9b31m") and "FORGED ROW" in row
    code, out, _ = cli(capsys, "agents", "list", "--json", "--store", store_url)
    assert json.loads(out)["current_task"] == NASTY  # JSON keeps the exact value


def test_events_tail_and_list_escape_payload_source_and_type(store_url, store, capsys):
    events = EventStream(store, source="writer\x9b")
    events.publish("draft\x9bsaved", {"text": NASTY})
    code, out, _ = cli(capsys, "events", "tail", "draft\x9bsaved", "--store", store_url)
    assert code == 0 and clean(out) and out.count("\n") == 1
    assert "writer\\x9b" in out and "FORGED ROW" in out
    code, out, _ = cli(capsys, "events", "list", "--store", store_url)
    assert code == 0 and clean(out) and out.strip().splitlines()[1].startswith("draft\\x9bsaved")
    code, out, _ = cli(capsys, "events", "tail", "draft\x9bsaved", "--json", "--store", store_url)
    assert json.loads(out)["data"] == {"text": NASTY}


def test_approvals_list_and_answer_escape_stored_text(store_url, store, capsys):
    gate = Approvals(store, requester="bot\x9b")
    req = gate.submit("deploy\x9b", {"note": NASTY}, timeout=60)
    code, out, _ = cli(capsys, "approvals", "list", "--store", store_url)
    assert code == 0 and clean(out)
    header, row = out.strip("\n").split("\n")
    assert row.split()[:3] == [req.id, "deploy\\x9b", "bot\\x9b"]
    code, out, _ = cli(capsys, "approvals", "reject", req.id, "--reason", NASTY, "--by", "alice",
                       "--store", store_url)
    assert code == 0 and clean(out) and out.count("\n") == 1 and "FORGED ROW" in out
