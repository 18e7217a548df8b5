"""Real processes sharing one store: agents beat and signal each other; an approval requested in one
process is answered by the CLI (``python -m otel_agentkit.cli.main``) in another."""

from __future__ import annotations

import json
from pathlib import Path

from otel_agentkit.agents import Approvals, EventStream, Heartbeats, Signals
from tests.agents.conftest import run_cli, spawn
from tests.support.procs import wait_until


def finish(proc, timeout=90):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker exit {proc.returncode}\nstdout: {out}\nstderr: {err}"
    return out


def test_agents_in_separate_processes_beat_and_signal_each_other(store_url, store):
    hb, events = Heartbeats(store), EventStream(store)
    events.consume("peer.done", block_ms=0)  # only events from now on
    procs = [spawn("peer", store_url, "alpha", "beta"), spawn("peer", store_url, "beta", "alpha")]
    try:
        wait_until(lambda: {a.agent_id for a in hb.active_agents()} == {"alpha", "beta"}, 60,
                   "both worker processes to beat")
        pids = {a.agent_id: a.pid for a in hb.active_agents()}
        assert pids["alpha"] != pids["beta"] and pids["alpha"] == procs[0].pid
        coordinator = Signals(store, "coordinator")
        coordinator.signal("go", "alpha")
        coordinator.signal("go", "beta")
        done = []
        wait_until(lambda: done.extend(events.consume("peer.done", block_ms=500)) or len(done) >= 2, 60,
                   "both peers to publish peer.done")
        outs = [json.loads(finish(p)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert {(o["agent"], o["hello_from"], o["go_from"]) for o in outs} == {
        ("alpha", "beta", "coordinator"), ("beta", "alpha", "coordinator")}
    by_agent = {e.data["agent"]: e.data for e in done}
    assert by_agent["alpha"]["hello_pid"] == procs[1].pid and by_agent["beta"]["hello_pid"] == procs[0].pid
    assert {e.source for e in done} == {"alpha", "beta"}
    assert hb.status("alpha").status == hb.status("beta").status == "completed"
    assert hb.active_agents() == []


def test_approval_requested_in_one_process_is_answered_from_the_cli(store_url, tmp_path: Path):
    home = tmp_path / "home"
    if store_url.startswith("sqlite"):
        worker_url, cli_store = f"sqlite:///{home}/agents.db", []  # the CLI finds <home>/agents.db itself
    else:
        worker_url, cli_store = store_url, ["--store", store_url]
    gate = Approvals(worker_url)
    requester = spawn("request", worker_url, "deploy", "60")
    try:
        wait_until(lambda: gate.pending() != [], 60, "the worker's approval request")
        (req,) = gate.pending()
        listed = run_cli("approvals", "list", *cli_store, home=home)
        assert listed.returncode == 0, listed.stderr
        assert req.id in listed.stdout and "deploy" in listed.stdout
        answer = run_cli("approvals", "approve", req.id, "--reason", "ship it", "--by", "ops", *cli_store, home=home)
        assert answer.returncode == 0, answer.stderr
        assert f"{req.id}: approved by ops (ship it)" in answer.stdout
        result = json.loads(finish(requester))
    finally:
        if requester.poll() is None:
            requester.kill()
            requester.wait()
    assert result == {"id": req.id, "status": "approved", "reason": "ship it", "responder": "ops"}
    again = run_cli("approvals", "reject", req.id, "--reason", "too late", *cli_store, home=home)
    assert again.returncode != 0
    assert again.stderr.strip().splitlines() == [
        f"agentkit: error: approval request {req.id!r} was already decided: approved by ops (ship it)"]


def test_rejection_from_the_cli_reaches_the_waiting_process(store_url, store):
    gate = Approvals(store)
    cli_store = ["--store", store_url]
    requester = spawn("request", store_url, "spend", "60")
    try:
        wait_until(lambda: gate.pending() != [], 60, "the worker's approval request")
        (req,) = gate.pending()
        answer = run_cli("approvals", "reject", req.id, "--reason", "over budget", *cli_store)
        assert answer.returncode == 0, answer.stderr
        result = json.loads(finish(requester))
    finally:
        if requester.poll() is None:
            requester.kill()
            requester.wait()
    assert (result["status"], result["reason"]) == ("rejected", "over budget")
