"""The agents, events and approvals CLI groups against both stores (in-process main(); the multi-process
tests run the same commands as real subprocesses)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from otel_agentkit.agents import Approvals, EventStream, Heartbeats
from otel_agentkit.cli.main import main
from tests.support.procs import wait_until


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_agents_list_every_agent_with_its_state(store_url, store, capsys):
    assert cli(capsys, "agents", "list", "--store", store_url)[1].strip() == "no agents on record"
    assert cli(capsys, "agents", "list", "--alive", "--store", store_url)[1].strip() == "no active agents"
    assert cli(capsys, "agents", "list", "--stale", "--store", store_url)[1].strip() == "no stale agents"
    hb = Heartbeats(store, ttl=0.3)
    hb.start("planner", {"role": "plan"}).beat("thinking", progress=0.4, current_task="outline")
    hb.start("done").stop("completed")
    code, out, _ = cli(capsys, "agents", "list", "--store", store_url)
    assert code == 0
    header, done, planner = out.strip().splitlines()
    assert header.split()[:6] == ["AGENT", "STATUS", "PROGRESS", "LAST", "BEAT", "STATE"]
    assert planner.split()[:3] == ["planner", "thinking", "40%"] and planner.endswith("outline")
    assert planner.split()[4] == "alive" and done.split()[:2] == ["done", "completed"]
    assert done.split()[4] == "finished"
    code, out, _ = cli(capsys, "agents", "list", "--alive", "--store", store_url)
    assert [line.split()[0] for line in out.strip().splitlines()[1:]] == ["planner"]
    wait_until(lambda: not hb.is_alive("planner"), 10, "the planner's TTL to expire")
    # dead by its own 0.3 s TTL: no threshold needed
    code, out, _ = cli(capsys, "agents", "list", "--stale", "--json", "--store", store_url)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["agent_id"], r["status"], r["alive"], r["stale"], r["state"]) for r in rows] == [
        ("planner", "thinking", False, True, "dead")]
    code, out, _ = cli(capsys, "agents", "list", "--stale", "--threshold", "0.1", "--json", "--store", store_url)
    assert [json.loads(line)["agent_id"] for line in out.splitlines()] == ["planner"]
    code, out, _ = cli(capsys, "agents", "list", "--stale", "--threshold", "3600", "--store", store_url)
    assert out.strip() == "no stale agents"
    assert cli(capsys, "agents", "list", "--alive", "--store", store_url)[1].strip() == "no active agents"
    for extra in ((), ("--all",)):  # --all is the default, kept for scripts
        code, out, _ = cli(capsys, "agents", "list", *extra, "--store", store_url)
        rows = [line.split() for line in out.strip().splitlines()[1:]]
        assert [(r[0], r[4]) for r in rows] == [("done", "finished"), ("planner", "dead")]  # AGENT, STATE
    code, _, err = cli(capsys, "agents", "list", "--threshold", "0", "--store", store_url)
    assert code == 2 and err.strip() == "agentkit: error: --threshold=0.0: must be a number of seconds above 0"
    code, _, err = cli(capsys, "agents", "list", "--threshold", "5", "--json", "--store", store_url)
    assert code == 2 and json.loads(err) == {"error": "--threshold=5.0: applies only with --stale", "code": 2}


def test_events_tail_list_and_follow(store_url, store, capsys):
    events = EventStream(store, source="writer")
    for i in range(4):
        events.publish("draft.saved", {"n": i})
    code, out, _ = cli(capsys, "events", "tail", "draft.saved", "-n", "2", "--store", store_url)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].endswith('writer {"n":2}') and lines[1].endswith('writer {"n":3}')
    code, out, _ = cli(capsys, "events", "list", "--store", store_url)
    assert out.strip().splitlines()[1].split()[:2] == ["draft.saved", "4"]
    timer = threading.Timer(0.3, lambda: events.publish("draft.saved", {"n": "live"}))
    timer.start()
    try:
        code, out, _ = cli(capsys, "events", "tail", "draft.saved", "-n", "1", "--follow", "--for", "1.5",
                           "--json", "--store", store_url)
    finally:
        timer.join()
    assert code == 0
    assert [json.loads(line)["data"] for line in out.strip().splitlines()] == [{"n": 3}, {"n": "live"}]
    code, out, _ = cli(capsys, "events", "tail", "nothing", "--store", store_url)
    assert out.strip() == "no events of type 'nothing'"


def test_approvals_list_approve_reject(store_url, store, capsys):
    gate = Approvals(store, requester="bot")
    assert cli(capsys, "approvals", "list", "--store", store_url)[1].strip() == "no pending approval requests"
    a = gate.submit("deploy", {"version": "2.0"}, timeout=60)
    b = gate.submit("delete", {"table": "users"}, timeout=60)
    code, out, _ = cli(capsys, "approvals", "list", "--store", store_url)
    rows = out.strip().splitlines()[1:]
    assert [r.split()[:3] for r in rows] == [[a.id, "deploy", "bot"], [b.id, "delete", "bot"]]
    assert rows[0].endswith('{"version":"2.0"}')
    code, out, _ = cli(capsys, "approvals", "approve", a.id, "--by", "alice", "--store", store_url)
    assert code == 0 and out.strip() == f"{a.id}: approved by alice"
    code, out, _ = cli(capsys, "approvals", "reject", b.id, "--reason", "never", "--by", "bob", "--store", store_url)
    assert out.strip() == f"{b.id}: rejected by bob (never)"
    assert gate.decision(a.id).status == "approved" and gate.decision(b.id).reason == "never"
    code, out, _ = cli(capsys, "approvals", "list", "--json", "--store", store_url)
    assert out == ""
    code, _, err = cli(capsys, "approvals", "approve", "nope", "--store", store_url)
    assert code == 2 and err.strip() == "agentkit: error: approval request 'nope' is unknown or expired and cleaned up"


def test_approve_and_reject_print_the_decision_as_json(store_url, store, capsys):
    gate = Approvals(store, requester="bot")
    a = gate.submit("deploy", {"version": "2.0"}, timeout=60)
    b = gate.submit("delete", {"table": "users"}, timeout=60)
    before = time.time()
    code, out, err = cli(capsys, "approvals", "approve", a.id, "--by", "alice", "--json", "--store", store_url)
    assert (code, err) == (0, "")
    approved = json.loads(out)
    assert out.count("\n") == 1 and before <= approved.pop("decided_at") <= time.time()
    assert approved == {"id": a.id, "kind": "deploy", "decision": "approved", "reason": None, "responder": "alice"}
    code, out, _ = cli(capsys, "approvals", "reject", b.id, "--reason", "never", "--by", "bob", "--json",
                       "--store", store_url)
    rejected = json.loads(out)
    assert code == 0 and (rejected["id"], rejected["decision"], rejected["reason"], rejected["responder"]) == (
        b.id, "rejected", "never", "bob")
    assert gate.decision(a.id).status == "approved" and gate.decision(b.id).status == "rejected"
    # errors under --json: the one JSON line on stderr, nothing on stdout
    code, out, err = cli(capsys, "approvals", "reject", a.id, "--json", "--store", store_url)
    assert (code, out) == (2, "") and json.loads(err) == {
        "error": f"approval request {a.id!r} was already decided: approved by alice", "code": 2}
    code, out, err = cli(capsys, "approvals", "approve", "nope", "--json", "--store", store_url)
    assert (code, out) == (2, "") and json.loads(err)["error"] == (
        "approval request 'nope' is unknown or expired and cleaned up")


def test_home_after_the_subcommand_picks_the_default_sqlite_store(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AGENTKIT_AGENT_STORE", raising=False)
    home = tmp_path / "home"
    Heartbeats(f"sqlite://{home}/agents.db").start("here")
    code, out, _ = cli(capsys, "agents", "list", "--home", str(home))
    assert code == 0 and out.strip().splitlines()[1].startswith("here")
    code, out, _ = cli(capsys, "--home", str(home), "agents", "list")
    assert out.strip().splitlines()[1].startswith("here")


@pytest.mark.parametrize("url, message", [
    ("mysql://h/db", "unknown scheme"),
    ("sqlite:///", "expected sqlite:///path/to/file.db"),
])
def test_bad_store_urls_are_one_line_errors(capsys, url, message):
    code, _, err = cli(capsys, "agents", "list", "--store", url)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
