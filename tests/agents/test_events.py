"""Event streams on both stores: publish, blocking consume, cursors, caps, and events as OTel log records."""

from __future__ import annotations

import threading

import pytest

from otel_agentkit import semconv
from otel_agentkit.agents import EventStream


@pytest.fixture
def events(store, captured):
    return EventStream(store, source="tester", max_len=50, telemetry=captured.telemetry)


def test_publish_recent_info(events):
    ids = [events.publish("task.done", {"n": i}) for i in range(3)]
    assert all(ids) and len(set(ids)) == 3
    recent = events.recent("task.done", 2)
    assert [e.data for e in recent] == [{"n": 1}, {"n": 2}]
    assert recent[0].type == "task.done" and recent[0].source == "tester" and recent[0].timestamp > 0
    info = events.info("task.done")
    assert (info.length, info.first_id, info.last_id) == (3, ids[0], ids[2])
    assert events.info("nothing") is None
    assert events.types() == ["task.done"]


def test_consume_from_start_and_then_continues_where_it_left_off(events):
    events.publish("a", 1)
    events.publish("a", 2)
    assert [e.data for e in events.consume("a", block_ms=0, start_id="0")] == [1, 2]
    events.publish("a", 3)
    assert [e.data for e in events.consume("a", block_ms=0)] == [3]
    assert events.consume("a", block_ms=50) == []


def test_first_consume_without_start_sees_only_new_events(store, events):
    events.publish("b", "old")
    reader = EventStream(store)
    assert reader.consume("b", block_ms=0) == []
    events.publish("b", "new")
    assert [e.data for e in reader.consume("b", block_ms=0)] == ["new"]


def test_consume_blocks_until_an_event_arrives(store, events):
    reader = EventStream(store)
    reader.consume(["x", "y"], block_ms=0)  # pin the cursors at the current end
    timer = threading.Timer(0.3, lambda: events.publish("y", {"wake": True}))
    timer.start()
    try:
        got = reader.consume(["x", "y"], block_ms=20_000, count=10)
    finally:
        timer.join()
    assert [(e.type, e.data) for e in got] == [("y", {"wake": True})]


def test_count_limits_a_read(events):
    for i in range(5):
        events.publish("c", i)
    assert [e.data for e in events.consume("c", block_ms=0, count=2, start_id="0")] == [0, 1]
    assert [e.data for e in events.consume("c", block_ms=0, count=10)] == [2, 3, 4]


def test_streams_are_capped_trimmed_and_deleted(store, captured):
    small = EventStream(store, max_len=5, telemetry=captured.telemetry)
    for i in range(9):
        small.publish("log", i)
    assert small.info("log").length == 5
    assert [e.data for e in small.recent("log", 100)] == [4, 5, 6, 7, 8]
    assert small.trim("log", 2) == 3
    assert [e.data for e in small.recent("log", 100)] == [7, 8]
    assert small.delete("log") is True
    assert small.info("log") is None


def test_bad_input_is_refused(events):
    with pytest.raises(ValueError, match="data=.*not JSON-serializable"):
        events.publish("t", {"x": {1, 2}})
    with pytest.raises(ValueError, match="data is too large"):
        events.publish("t", "x" * 70_000)
    with pytest.raises(ValueError, match="type=''"):
        events.publish("", 1)
    with pytest.raises(ValueError, match="types=\\[\\]"):
        events.consume([])
    with pytest.raises(ValueError, match="block_ms=-1"):
        events.consume("t", block_ms=-1)
    assert events.info("t") is None


def test_published_events_are_log_records_in_the_publishers_trace(events, captured):
    with captured.tracer.start_as_current_span("publisher") as span:
        event_id = events.publish("stage.finished", {"stage": "draft", "ok": True})
    ctx = span.get_span_context()
    (record,) = [r for r in captured.log_records() if r.event_name == semconv.EVENT_AGENT_EVENT]
    assert record.trace_id == ctx.trace_id and record.span_id == ctx.span_id
    assert record.attributes[semconv.AGENTKIT_EVENT_TYPE] == "stage.finished"
    assert record.attributes[semconv.AGENTKIT_EVENT_ID] == event_id
    assert record.attributes[semconv.AGENTKIT_EVENT_SOURCE] == "tester"
    # consumers get the publisher's span ids to link their own work to it
    (event,) = events.recent("stage.finished")
    assert event.trace_id == f"{ctx.trace_id:032x}" and event.span_id == f"{ctx.span_id:016x}"
