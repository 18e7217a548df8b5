"""Coordination signals on both stores: direct, broadcast, consume semantics, waits, TTL and the policy hook."""

from __future__ import annotations

import threading

import pytest

from otel_agentkit import semconv
from otel_agentkit.agents import Signals
from tests.support.procs import wait_until


@pytest.fixture
def make(store, captured):
    def make(agent_id, **kw):
        return Signals(store, agent_id, telemetry=captured.telemetry, **kw)
    return make


def test_direct_signal_is_delivered_once(make):
    coord, worker, other = make("coord"), make("worker"), make("other")
    sid = coord.signal("start", "worker", {"job": 7})
    assert other.check() == []
    (sig,) = worker.check("start", consume=False)
    assert (sig.id, sig.type, sig.sender, sig.target, sig.payload) == (sid, "start", "coord", "worker", {"job": 7})
    assert not sig.broadcast
    assert [s.id for s in worker.check("start")] == [sid]
    assert worker.check("start") == []


def test_check_filters_by_type_and_orders_oldest_first(make):
    coord, worker = make("coord"), make("worker")
    first = coord.signal("pause", "worker")
    coord.signal("resume", "worker")
    third = coord.signal("pause", "worker")
    assert [s.id for s in worker.check("pause")] == [first, third]
    assert [s.type for s in worker.check()] == ["resume"]


def test_broadcast_reaches_each_agent_once_but_not_the_sender(make):
    coord, a, b = make("coord"), make("a"), make("b")
    sid = coord.broadcast("shutdown", {"why": "deploy"})
    assert [s.id for s in a.pending()] == [sid]
    assert [s.id for s in a.check("shutdown")] == [sid]
    assert a.check("shutdown") == []
    assert a.pending() == []
    (got,) = b.check()
    assert got.broadcast and got.target == "*" and got.payload == {"why": "deploy"}
    assert coord.check() == []


def test_pending_and_clear(make):
    coord, w = make("coord"), make("w")
    coord.signal("x", "w")
    coord.broadcast("y")
    assert sorted(s.type for s in w.pending()) == ["x", "y"]
    assert w.clear() == 2
    assert w.pending() == [] and w.check() == []


def test_wait_for_returns_one_signal_when_it_arrives(make):
    coord, w = make("coord"), make("w")
    timer = threading.Timer(0.3, lambda: [coord.signal("go", "w", 1), coord.signal("go", "w", 2)])
    timer.start()
    try:
        got = w.wait_for("go", timeout=30, poll=0.02)
    finally:
        timer.join()
    assert got is not None and got.payload in (1, 2)
    wait_until(lambda: len(w.pending()) == 1, 5, "the second signal to stay pending")
    assert w.wait_for("go", timeout=5, poll=0.02) is not None


def test_wait_for_times_out_with_none(make):
    assert make("w").wait_for("never", timeout=0.2, poll=0.05) is None


def test_signals_expire_with_their_ttl(make):
    coord, w = make("coord"), make("w")
    coord.signal("stale", "w", ttl=0.2)
    coord.broadcast("stale-too", ttl=0.2)
    wait_until(lambda: w.pending() == [], 10, "the signals to expire")
    assert w.check() == []


def test_policy_refuses_with_permission_error(make, captured):
    def only_coordinator(sender, target, type):
        return sender == "coord" or (target == "coord" and type == "report")

    coord, w = make("coord", policy=only_coordinator), make("w", policy=only_coordinator)
    coord.signal("start", "w")
    w.signal("report", "coord")
    with pytest.raises(PermissionError, match="signal 'start' from agent 'w' to agent 'coord' refused"):
        w.signal("start", "coord")
    with pytest.raises(PermissionError, match="to every agent refused"):
        w.broadcast("stop")
    assert [s.type for s in coord.check()] == ["report"]
    refused = {dict(p.attributes)[semconv.AGENTKIT_SIGNAL_TYPE]: p.value for p in
               captured.points(semconv.METRIC_AGENT_SIGNALS)
               if dict(p.attributes)[semconv.AGENTKIT_SIGNAL_OUTCOME] == "refused"}
    assert refused == {"start": 1, "stop": 1}


def test_bad_input_is_refused(make):
    coord = make("coord")
    with pytest.raises(ValueError, match="payload=.*not JSON-serializable"):
        coord.signal("x", "w", payload=object())
    with pytest.raises(ValueError, match="payload is too large"):
        coord.signal("x", "w", payload="x" * 70_000)
    with pytest.raises(ValueError, match="use broadcast"):
        coord.signal("x", "*")
    with pytest.raises(ValueError, match="ttl=0"):
        coord.signal("x", "w", ttl=0)
    with pytest.raises(ValueError, match="policy="):
        make("p", policy="allow-all")


def test_names_with_separators_do_not_collide(make):
    coord = make("coord")
    coord.signal("t", "a:b")
    coord.signal("b:t", "a")
    assert [s.type for s in make("a").check()] == ["b:t"]
    assert [s.type for s in make("a:b").check()] == ["t"]


def test_telemetry_span_events_and_counters(make, captured):
    coord, w = make("coord"), make("w")
    with captured.tracer.start_as_current_span("coordinate"):
        sid = coord.signal("go", "w")
    with captured.tracer.start_as_current_span("work"):
        (sig,) = w.check()
    spans = {s.name: s for s in captured.finished_spans()}
    sent = spans["coordinate"].events[0]
    assert sent.name == semconv.EVENT_SIGNAL_SENT and sent.attributes[semconv.AGENTKIT_SIGNAL_ID] == sid
    received = spans["work"].events[0]
    assert received.name == semconv.EVENT_SIGNAL_RECEIVED
    assert received.attributes[semconv.AGENTKIT_SIGNAL_SENDER] == "coord"
    assert sig.trace_id == f"{spans['coordinate'].context.trace_id:032x}"
