"""Heartbeats on both stores: liveness by TTL, status, stale agents, background beats, telemetry."""

from __future__ import annotations

import json

import pytest

from otel_agentkit import semconv
from otel_agentkit.agents import Heartbeats
from tests.support.procs import wait_until


@pytest.fixture
def hb(store, captured):
    return Heartbeats(store, telemetry=captured.telemetry)


def test_start_beat_stop_lifecycle(hb):
    agent = hb.start("worker-1", {"role": "summarizer"})
    assert hb.is_alive("worker-1")
    assert [a.agent_id for a in hb.active_agents()] == ["worker-1"]
    assert agent.beat("working", progress=0.25, current_task="chapter 1") is True
    st = hb.status("worker-1")
    assert (st.status, st.progress, st.current_task, st.metadata) == ("working", 0.25, "chapter 1", {"role": "summarizer"})
    assert st.alive and st.beats == 2 and st.pid > 0
    agent.beat(progress=0.5)  # keeps the status and task it had
    st = hb.status("worker-1")
    assert (st.status, st.progress, st.current_task) == ("working", 0.5, "chapter 1")
    agent.stop("completed")
    assert not hb.is_alive("worker-1")
    assert hb.active_agents() == []
    st = hb.status("worker-1")
    assert st.status == "completed" and not st.alive and st.finished
    assert hb.status("never-seen") is None


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.5", True])
def test_progress_outside_unit_interval_is_refused_not_clamped(hb, bad):
    agent = hb.start("w")
    with pytest.raises(ValueError, match=r"progress=.*: must be a number within 0\.\.1"):
        agent.beat(progress=bad)
    assert hb.status("w").progress is None


def test_bad_values_are_refused_with_the_field_named(hb):
    with pytest.raises(ValueError, match="metadata=.*not JSON-serializable"):
        hb.start("w", {"conn": object()})
    with pytest.raises(ValueError, match="metadata is too large"):
        hb.start("w", {"blob": "x" * 70_000})
    with pytest.raises(ValueError, match="agent_id=''"):
        hb.start("")
    agent = hb.start("w")
    with pytest.raises(ValueError, match="final_status='done'"):
        agent.stop("done")
    with pytest.raises(ValueError, match="use stop"):
        agent.beat("failed")
    assert hb.status("w") is not None and hb.status("w").status == "running"


def test_liveness_expires_with_the_ttl_and_the_agent_turns_stale(store, captured):
    hb = Heartbeats(store, ttl=0.3, telemetry=captured.telemetry)
    hb.start("quiet")
    finished = hb.start("done")
    finished.stop("failed")
    assert hb.is_alive("quiet")
    wait_until(lambda: not hb.is_alive("quiet"), 10, "the heartbeat TTL to expire")
    assert hb.active_agents() == []
    st = hb.status("quiet")
    assert st is not None and st.status == "running" and not st.alive
    assert st.stale and st.state == "dead" and st.age >= 0.3
    # stale by its own TTL, no threshold needed; the failed one is finished, not stale
    assert [a.agent_id for a in hb.stale_agents()] == ["quiet"]
    assert [(a.agent_id, a.state) for a in hb.agents()] == [("done", "finished"), ("quiet", "dead")]
    wait_until(lambda: hb.stale_agents(0.5) != [], 10, "the last beat to be older than 0.5 s")
    assert [a.agent_id for a in hb.stale_agents(threshold_s=0.5)] == ["quiet"]
    assert hb.stale_agents(3600) == []  # an explicit threshold overrides the TTL
    with pytest.raises(ValueError, match="threshold_s=0"):
        hb.stale_agents(0)


def test_an_explicit_threshold_below_the_ttl_flags_a_live_agent(store, captured):
    hb = Heartbeats(store, ttl=3600, telemetry=captured.telemetry)
    hb.start("slow")
    wait_until(lambda: hb.status("slow").age > 0.1, 10, "the last beat to be older than 0.1 s")
    st = hb.status("slow")
    assert st.alive and not st.stale and st.state == "alive"
    assert hb.stale_agents() == []
    assert [a.agent_id for a in hb.stale_agents(0.1)] == ["slow"]  # the caller asked for this rule


def test_the_agents_own_ttl_decides_not_the_readers(store, captured):
    writer = Heartbeats(store, ttl=0.3, telemetry=captured.telemetry)
    writer.start("short")
    patient = Heartbeats(store, ttl=3600, telemetry=captured.telemetry)
    wait_until(lambda: not patient.is_alive("short"), 10, "the agent's own 0.3 s TTL to lapse")
    assert patient.status("short").ttl == 0.3 and patient.active_agents() == []
    assert [a.agent_id for a in patient.stale_agents()] == ["short"]


def test_a_record_without_a_ttl_is_judged_by_the_readers_ttl(store, captured):
    """A record written without ``ttl`` (an older writer) falls back on the reading Heartbeats' own."""
    Heartbeats(store, telemetry=captured.telemetry).start("old")
    key = next(iter(store.scan("hb:")))
    record = json.loads(store.get(key))
    del record["ttl"]
    store.set(key, json.dumps(record), record["retention"])
    wait_until(lambda: store.get_ttl(key)[1] < record["retention"] - 0.2, 10, "0.2 s to pass")
    assert Heartbeats(store, ttl=0.1).status("old").stale
    assert Heartbeats(store, ttl=3600).status("old").alive
    assert [a.agent_id for a in Heartbeats(store, ttl=0.1).stale_agents()] == ["old"]


def test_background_beats_keep_an_agent_alive(store, captured):
    hb = Heartbeats(store, ttl=0.5, telemetry=captured.telemetry)
    agent = hb.start("long-step")
    agent.beat("thinking", progress=0.1)
    with agent.beating(interval=0.05):
        wait_until(lambda: hb.status("long-step").beats >= 5, 10, "five background beats")
        assert hb.is_alive("long-step")
        assert hb.status("long-step").status == "thinking"
    beats = hb.status("long-step").beats
    agent.stop("cancelled")
    assert hb.status("long-step").status == "cancelled"
    assert hb.status("long-step").beats == beats  # the helper thread stopped with the step


def test_context_manager_marks_failure(hb):
    with pytest.raises(KeyError), hb.start("crashy"):
        raise KeyError("boom")
    assert hb.status("crashy").status == "failed"
    with hb.start("fine") as agent:
        agent.beat(progress=1.0)
    assert hb.status("fine").status == "completed"


def test_telemetry_active_gauge_and_span_events(hb, captured):
    with captured.tracer.start_as_current_span("step"):
        a = hb.start("a", {"x": 1})
        b = hb.start("b")
        a.beat("working", progress=0.75, current_task="t1")
        b.beat(progress=0.2)
        b.stop("completed")
    active = captured.points(semconv.METRIC_AGENTS_ACTIVE)
    assert sum(p.value for p in active) == 1
    progress = {dict(p.attributes)[semconv.GEN_AI_AGENT_ID]: p.value
                for p in captured.points(semconv.METRIC_AGENT_PROGRESS)}
    assert progress == {"a": 0.75, "b": 0.2}
    (span,) = captured.finished_spans()
    names = [e.name for e in span.events]
    assert names == [semconv.EVENT_AGENT_START, semconv.EVENT_AGENT_START, semconv.EVENT_AGENT_HEARTBEAT,
                     semconv.EVENT_AGENT_HEARTBEAT, semconv.EVENT_AGENT_STOP]
    beat = span.events[2].attributes
    assert beat[semconv.GEN_AI_AGENT_ID] == "a" and beat[semconv.AGENTKIT_AGENT_PROGRESS] == 0.75
    assert beat[semconv.AGENTKIT_AGENT_TASK] == "t1"
    # the heartbeat record remembers the trace it started in
    ctx = span.get_span_context()
    assert hb.status("a").trace_id == f"{ctx.trace_id:032x}"
