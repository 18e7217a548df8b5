"""Approval gates on both stores: blocking and async waits, answers, timeouts, cleanup, the wait span."""

from __future__ import annotations

import asyncio
import threading

import pytest

from otel_agentkit import semconv
from otel_agentkit.agents import ApprovalError, Approvals
from tests.support.procs import wait_until


@pytest.fixture
def gate(store, captured):
    return Approvals(store, requester="deployer", poll=0.02, telemetry=captured.telemetry)


def answer_when_pending(store, approved, reason=None, responder="alice"):
    """Another thread (a stand-in for a human) answers the first pending request."""
    other = Approvals(store)

    def run():
        wait_until(lambda: other.pending() != [], 20, "a pending request")
        other.respond(other.pending()[0].id, approved, reason=reason, responder=responder)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_request_blocks_until_approved(store, gate, captured):
    thread = answer_when_pending(store, True, reason="looks fine")
    result = gate.request("deploy", {"service": "api", "version": "1.2"}, timeout=30)
    thread.join()
    assert result.approved and result.status == "approved"
    assert (result.reason, result.responder, result.kind) == ("looks fine", "alice", "deploy")
    assert gate.pending() == []
    (span,) = captured.finished_spans()
    assert span.name == "await_approval deploy"
    attrs = span.attributes
    assert attrs[semconv.AGENTKIT_APPROVAL_OUTCOME] == "approved"
    assert attrs[semconv.AGENTKIT_APPROVAL_RESPONDER] == "alice"
    assert attrs[semconv.AGENTKIT_APPROVAL_ID] == result.id
    (wait,) = captured.points(semconv.METRIC_APPROVAL_WAIT)
    assert wait.count == 1


def test_request_rejected(store, gate, captured):
    thread = answer_when_pending(store, False, reason="not on a Friday")
    result = gate.request("deploy", timeout=30)
    thread.join()
    assert not result.approved and result.status == "rejected" and result.reason == "not on a Friday"
    (span,) = captured.finished_spans()
    assert span.attributes[semconv.AGENTKIT_APPROVAL_OUTCOME] == "rejected"


def test_timeout_rejects_and_a_late_answer_is_refused(gate, captured):
    seen = []
    result = gate.request("delete-data", {"rows": 10}, timeout=0.3, on_request=seen.append)
    assert not result.approved and result.status == "timeout" and "0.3s" in result.reason
    (span,) = captured.finished_spans()
    assert span.attributes[semconv.AGENTKIT_APPROVAL_OUTCOME] == "timeout"
    with pytest.raises(ApprovalError, match="already decided: timeout"):
        gate.respond(seen[0].id, True, responder="bob")


async def test_async_request_awaits_without_blocking_the_loop(store, gate, captured):
    thread = answer_when_pending(store, True)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    result = await gate.request_async("spend", {"usd": 20}, timeout=30)
    task.cancel()
    thread.join()
    assert result.approved and ticks > 1
    (span,) = captured.finished_spans()
    assert span.name == "await_approval spend"


async def test_cancelled_wait_cancels_the_request(store, gate):
    task = asyncio.create_task(gate.request_async("spend", timeout=30))
    for _ in range(2000):  # let the task post its request (awaiting, so the task can run)
        if gate.pending():
            break
        await asyncio.sleep(0.01)
    (req,) = gate.pending()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.decision(req.id).status == "cancelled"
    assert gate.pending() == []


def test_answers_to_unknown_or_decided_requests_are_refused(gate):
    req = gate.submit("deploy", {"v": 1}, timeout=30)
    assert [p.id for p in gate.pending()] == [req.id]
    first = gate.respond(req.id, False, reason="no", responder="carol")
    assert first.status == "rejected"
    with pytest.raises(ApprovalError, match=r"already decided: rejected by carol \(no\)"):
        gate.respond(req.id, True, responder="dave")
    with pytest.raises(ApprovalError, match="'nope' is unknown or expired"):
        gate.respond("nope", True)
    with pytest.raises(ValueError, match="approved='yes'"):
        gate.respond(req.id, "yes")
    assert gate.wait(req.id).status == "rejected"


def test_expired_requests_are_cleaned_up(store, gate, monkeypatch):
    monkeypatch.setattr("otel_agentkit.agents.approvals.CLEANUP_MARGIN", 0.0)
    old = gate.submit("deploy", timeout=0.2)
    live = gate.submit("deploy", timeout=60)
    wait_until(lambda: [p.id for p in gate.pending()] == [live.id], 10, "the short request to expire")
    assert gate.get(old.id) is None  # pending() cleaned it up
    with pytest.raises(ApprovalError, match="unknown or expired"):
        gate.respond(old.id, True)
    assert gate.cleanup() == 0


def test_bad_input_is_refused(gate):
    with pytest.raises(ValueError, match="context=.*not JSON-serializable"):
        gate.submit("deploy", {"f": lambda: 1})
    with pytest.raises(ValueError, match="context is too large"):
        gate.submit("deploy", {"blob": "x" * 70_000})
    with pytest.raises(ValueError, match="timeout=-1"):
        gate.submit("deploy", timeout=-1)
    assert gate.pending() == []


def test_a_failing_on_request_callback_cancels_the_request(gate, captured):
    seen = []

    def broken(req):
        seen.append(req)
        raise RuntimeError("could not notify anyone")

    with pytest.raises(RuntimeError, match="could not notify anyone"):
        gate.request("deploy", timeout=30, on_request=broken)
    assert gate.decision(seen[0].id).status == "cancelled"
    assert gate.pending() == []
    (span,) = captured.finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.AGENTKIT_APPROVAL_OUTCOME] == "cancelled"
    assert span.attributes[semconv.ERROR_TYPE] == "RuntimeError"
