"""Store faults with real parts: Redis killed and restarted, a SQLite file locked by another process, a
read-only SQLite store. Hot-path calls (heartbeats, events) log and count; the rest raise naming the store."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agentkit import diagnostics, semconv
from otel_agentkit.agents import Approvals, EventStream, Feedback, Heartbeats, Signals, StoreError, open_store
from tests.agents.conftest import run_cli, start_redis
from tests.support.procs import free_port, wait_until


def store_errors(captured) -> dict[str, int]:
    return {dict(p.attributes)[semconv.AGENTKIT_OPERATION]: p.value
            for p in captured.points(semconv.METRIC_AGENT_STORE_ERRORS)}


def test_redis_down_then_back(tmp_path: Path, captured):
    diagnostics.reset()
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port, tmp_path)
    try:
        hb = Heartbeats(url, ttl=5, telemetry=captured.telemetry)
        events = EventStream(url, telemetry=captured.telemetry)
        agent = hb.start("survivor", {"role": "resilient"})
        assert hb.is_alive("survivor")

        server.kill()  # SIGKILL: a crash, not a clean shutdown
        assert agent.beat("working", progress=0.5) is False  # logged once and counted, not raised
        assert events.publish("progress", {"step": 1}) is None
        assert events.consume("progress", block_ms=10) == []
        counts = diagnostics.error_counts()
        assert counts[("heartbeat.beat", "StoreError")] == 1
        assert counts[("events.publish", "StoreError")] == 1
        assert store_errors(captured) == {"heartbeat.beat": 1, "events.publish": 1, "events.consume": 1}
        for call in (hb.active_agents, lambda: Signals(url, "x").signal("go", "y"),
                     lambda: Approvals(url).submit("deploy"), lambda: Feedback(url).record("w", "s", "small", 1.0),
                     lambda: events.recent("progress")):
            with pytest.raises(StoreError, match=rf"agent state store redis://127.0.0.1:{port}/0: \w+ failed"):
                call()
        down = run_cli("agents", "list", "--store", url)
        assert down.returncode != 0
        assert down.stderr.strip().splitlines() == [down.stderr.strip()]
        assert f"redis://127.0.0.1:{port}/0" in down.stderr and "Traceback" not in down.stderr

        agent.start_background(interval=0.05)  # keeps trying while the server is away
        server = start_redis(port, tmp_path)  # back, empty (no persistence): beats must repopulate it
        wait_until(lambda: hb.is_alive("survivor"), 30, "heartbeats to resume after the restart")
        st = hb.status("survivor")
        assert (st.status, st.progress, st.metadata) == ("working", 0.5, {"role": "resilient"})
        assert agent.beat(progress=0.75) is True
        assert events.publish("progress", {"step": 2}) is not None
        agent.stop("completed")
        assert hb.status("survivor").status == "completed"
    finally:
        server.stop()


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def test_sqlite_locked_by_another_process(tmp_path: Path, captured):
    diagnostics.reset()
    db = tmp_path / "agents.db"
    store = open_store(f"sqlite://{db}?timeout=0.2")
    hb = Heartbeats(store, telemetry=captured.telemetry)
    agent = hb.start("w")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        assert agent.beat(progress=0.5) is False
        assert EventStream(store, telemetry=captured.telemetry).publish("e", 1) is None
        assert diagnostics.error_counts()[("heartbeat.beat", "StoreError")] == 1
        with pytest.raises(StoreError, match=re.escape(f"agent state store sqlite://{db}: set failed: "
                                                       "OperationalError: database is locked")):
            Signals(store, "a").signal("go", "b")
    finally:
        locker.stdin.close()
        locker.wait(timeout=30)
    assert agent.beat(progress=0.6) is True
    assert hb.status("w").progress == 0.6
    store.close()


def test_sqlite_read_only(tmp_path: Path, captured):
    db = tmp_path / "agents.db"
    writer = open_store(db)
    Heartbeats(writer).start("existing").beat(progress=0.1)
    writer.close()
    ro = open_store(f"sqlite://{db}?mode=ro")
    hb = Heartbeats(ro, telemetry=captured.telemetry)
    assert hb.status("existing").progress == 0.1  # reading works
    agent = hb.start("new")  # contained: the hot path does not break the agent
    assert agent.beat() is False
    with pytest.raises(StoreError, match=rf"sqlite://{db}\?mode=ro: set failed: .*readonly"):
        Approvals(ro).submit("deploy")
    assert store_errors(captured)["heartbeat.beat"] == 1
    ro.close()
    with pytest.raises(StoreError, match="missing.db.*open failed"):
        open_store(f"sqlite://{tmp_path}/missing.db?mode=ro")
