"""Approval gates: an agent stops until a human (or another agent) approves, rejects, or time runs out.

A request is a key whose TTL outlives its deadline a little (so a late answer gets "expired", not "unknown");
the decision is a second key written only if absent, so the first answer wins and a timeout is itself an
answer (a rejection). The wait is an ``await_approval {kind}`` span carrying the outcome. Any process can
answer: ``agentkit approvals approve ID``. Store failures raise :class:`StoreError`, in bounded time: a wait
(``request``, ``request_async``, ``wait``) returns within the request's timeout plus
:data:`.store.DEADLINE_MARGIN` (counted from when ``on_request`` returns, if that takes longer), the store
answering or not; ``request_async`` makes its store calls in a worker thread, so the loop keeps running.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..instrument.content import mask_secrets
from .. import semconv
from . import telemetry as tel
from .store import (
    DEADLINE_MARGIN,
    MAX_VALUE_BYTES,
    StateStore,
    StoreError,
    check_name,
    check_seconds,
    decode,
    encode,
    open_store,
    within,
)

DEFAULT_TIMEOUT = 300.0
KEEP_AFTER_DEADLINE = 3600.0  # requests and decisions stay readable this long after the deadline
CLEANUP_MARGIN = 5.0  # seconds past the deadline before cleanup() removes a request
APPROVED, REJECTED, TIMEOUT, CANCELLED = "approved", "rejected", "timeout", "cancelled"
_REQ = "approval:req:"
_RESP = "approval:resp:"


class ApprovalError(ValueError):
    """An answer that cannot be taken: unknown or expired request, or one already decided."""


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    kind: str
    context: Any
    requester: str | None
    requested_at: float
    expires_at: float
    trace_id: str | None = None
    span_id: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> ApprovalRequest:
        return cls(r["id"], r["kind"], r.get("context"), r.get("requester"), r["requested_at"], r["expires_at"],
                   r.get("trace_id"), r.get("span_id"))


@dataclass(frozen=True)
class ApprovalResult:
    id: str
    kind: str
    status: str  # approved | rejected | timeout | cancelled
    reason: str | None
    responder: str | None
    decided_at: float
    waited_s: float = 0.0

    @property
    def approved(self) -> bool:
        return self.status == APPROVED


class Approvals:
    """Request approvals (blocking or async) and answer them."""

    def __init__(self, store: StateStore | str | None = None, requester: str | None = None, poll: float = 0.1,
                 telemetry: tel.Telemetry | None = None, max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.store = open_store(store)
        self.requester = check_name("requester", requester) if requester is not None else None
        self.poll = check_seconds("poll", poll)
        self.telemetry = telemetry or tel.default()
        self.max_value_bytes = max_value_bytes

    # --- asking -------------------------------------------------------------------------------------------
    def submit(self, kind: str, context: Any = None, timeout: float = DEFAULT_TIMEOUT,
               requester: str | None = None) -> ApprovalRequest:
        """Post a request without waiting (``wait`` for it later); ``request`` does both."""
        check_name("kind", kind)
        timeout = check_seconds("timeout", timeout)
        who = check_name("requester", requester) if requester is not None else self.requester
        now = time.time()
        trace_id, span_id = tel.current_ids()
        while True:
            req = ApprovalRequest(uuid.uuid4().hex[:12], kind, context, who, now, now + timeout, trace_id, span_id)
            text = encode("context", req.__dict__, self.max_value_bytes)
            if self.store.set(_REQ + req.id, text, timeout + KEEP_AFTER_DEADLINE, only_if_absent=True):
                return req

    def request(self, kind: str, context: Any = None, timeout: float = DEFAULT_TIMEOUT,
                requester: str | None = None,
                on_request: Callable[[ApprovalRequest], None] | None = None) -> ApprovalResult:
        """Block until the request is approved, rejected, or times out (a timeout is a rejection)."""
        with self._span(kind) as span:
            with within(check_seconds("timeout", timeout) + DEADLINE_MARGIN):
                req = self.submit(kind, context, timeout, requester)
            span.set_attribute(semconv.AGENTKIT_APPROVAL_ID, req.id)
            result: ApprovalResult | None = None
            try:
                if on_request is not None:
                    on_request(req)
            except BaseException:
                with self._until(req):
                    self._settle(span, req, None)
                raise
            with self._until(req):
                try:
                    result = self._block(req, self.poll)
                    return result
                finally:
                    self._settle(span, req, result)

    async def request_async(self, kind: str, context: Any = None, timeout: float = DEFAULT_TIMEOUT,
                            requester: str | None = None,
                            on_request: Callable[[ApprovalRequest], None] | None = None) -> ApprovalResult:
        """``request`` for asyncio code: the wait awaits instead of blocking the loop, and so do the store
        calls (each runs in a worker thread, within the same deadline)."""
        with self._span(kind) as span:
            with within(check_seconds("timeout", timeout) + DEADLINE_MARGIN):
                req = await asyncio.to_thread(self.submit, kind, context, timeout, requester)
            span.set_attribute(semconv.AGENTKIT_APPROVAL_ID, req.id)
            result: ApprovalResult | None = None
            try:
                if on_request is not None:
                    on_request(req)
            except BaseException:
                with self._until(req):
                    await asyncio.to_thread(self._settle, span, req, None)
                raise
            with self._until(req):
                try:
                    while (result := await asyncio.to_thread(self._poll, req)) is None:
                        await asyncio.sleep(max(0.0, min(self.poll, req.expires_at - time.time())))
                    return result
                finally:
                    await asyncio.to_thread(self._settle, span, req, result)

    def wait(self, request_id: str, poll: float | None = None) -> ApprovalResult:
        """Block until a submitted request is decided or its deadline passes. Once the request is found (an
        ordinary store lookup), returns within DEADLINE_MARGIN of its deadline, the store answering or not."""
        req = self.get(request_id)
        if req is None:
            raise ApprovalError(f"approval request {request_id!r} is unknown or expired and cleaned up")
        every = check_seconds("poll", poll) if poll is not None else self.poll
        with self._until(req):
            return self._block(req, every)

    @staticmethod
    def _until(req: ApprovalRequest) -> within:
        """The deadline of a wait's store calls: the request's own deadline plus the margin (at least the
        margin from now: a last look, and the timeout decision, after a slow ``on_request``)."""
        return within(max(0.0, req.expires_at - time.time()) + DEADLINE_MARGIN)

    def _block(self, req: ApprovalRequest, poll: float) -> ApprovalResult:
        while (result := self._poll(req)) is None:
            time.sleep(max(0.0, min(poll, req.expires_at - time.time())))
        return result

    def _poll(self, req: ApprovalRequest) -> ApprovalResult | None:
        text = self.store.get(_RESP + req.id)
        if text is not None:
            return _result(req, decode(text))
        if time.time() >= req.expires_at:
            return self._decide(req, TIMEOUT, f"no answer within {req.expires_at - req.requested_at:g}s", None)[0]
        return None

    def _decide(self, req: ApprovalRequest, status: str, reason: str | None,
                responder: str | None) -> tuple[ApprovalResult, bool]:
        """Write the decision unless one exists: the decision that stands, and whether it is this one."""
        record = {"status": status, "reason": reason, "responder": responder, "decided_at": time.time()}
        ttl = max(req.expires_at - time.time(), 0.0) + KEEP_AFTER_DEADLINE
        if self.store.set(_RESP + req.id, encode("reason", record, self.max_value_bytes), ttl, only_if_absent=True):
            return _result(req, record), True
        existing = self.store.get(_RESP + req.id)
        return _result(req, decode(existing) if existing else record), False

    def _settle(self, span: Any, req: ApprovalRequest, result: ApprovalResult | None) -> None:
        """End of a wait: the outcome on the span; a wait left early (an exception, a cancelled task)
        cancels the request so that it does not stay pending."""
        if result is None:
            if time.time() >= req.expires_at:
                return  # nothing to cancel: from its deadline on, an answer is refused anyway
            try:
                result = self._decide(req, CANCELLED, "the requester stopped waiting", None)[0]
            except StoreError as exc:  # the original exception is the one that matters
                from .. import diagnostics
                diagnostics.report("agents.approvals.cancel", exc)
                return
        self._finish(span, req, result)

    def _span(self, kind: str) -> Any:
        check_name("kind", kind)
        return self.telemetry.span(semconv.span_name(semconv.OP_AWAIT_APPROVAL, kind),
                                   {semconv.AGENTKIT_APPROVAL_KIND: kind})

    def _finish(self, span: Any, req: ApprovalRequest, result: ApprovalResult) -> None:
        t = self.telemetry
        try:
            span.set_attribute(semconv.AGENTKIT_APPROVAL_OUTCOME, result.status)
            if result.responder:
                span.set_attribute(semconv.AGENTKIT_APPROVAL_RESPONDER, mask_secrets(result.responder))
            if result.reason:
                span.set_attribute(semconv.AGENTKIT_APPROVAL_REASON, mask_secrets(result.reason))
        except Exception as exc:
            from .. import diagnostics
            diagnostics.report("agents.approvals.span", exc)
        t.record(t.approval_wait, result.waited_s, {semconv.AGENTKIT_APPROVAL_KIND: req.kind,
                                                    semconv.AGENTKIT_APPROVAL_OUTCOME: result.status})

    # --- answering ----------------------------------------------------------------------------------------
    def respond(self, request_id: str, approved: bool, reason: str | None = None,
                responder: str | None = None) -> ApprovalResult:
        """Approve or reject a pending request; ApprovalError if it is unknown, expired or already decided."""
        check_name("request_id", request_id)
        if not isinstance(approved, bool):
            raise ValueError(f"approved={approved!r}: expected True or False")
        if reason is not None and not isinstance(reason, str):
            raise ValueError(f"reason={reason!r}: expected a string")
        if responder is not None:
            check_name("responder", responder)
        req = self.get(request_id)
        if req is None:
            raise ApprovalError(f"approval request {request_id!r} is unknown or expired and cleaned up")
        status = APPROVED if approved else REJECTED
        if time.time() >= req.expires_at:
            result, _ = self._decide(req, TIMEOUT, f"no answer within {req.expires_at - req.requested_at:g}s", None)
            written = False
        else:
            result, written = self._decide(req, status, reason, responder)
        if not written:
            by = f" by {result.responder}" if result.responder else ""
            raise ApprovalError(f"approval request {request_id!r} was already decided: {result.status}{by}"
                                + (f" ({result.reason})" if result.reason else ""))
        self.telemetry.span_event(semconv.EVENT_APPROVAL_RESPONSE, {
            semconv.AGENTKIT_APPROVAL_ID: req.id, semconv.AGENTKIT_APPROVAL_KIND: req.kind,
            semconv.AGENTKIT_APPROVAL_OUTCOME: status, **({semconv.AGENTKIT_APPROVAL_RESPONDER: responder}
                                                           if responder else {})})
        return result

    def get(self, request_id: str) -> ApprovalRequest | None:
        text = self.store.get(_REQ + request_id)
        return ApprovalRequest.from_record(decode(text)) if text is not None else None

    def decision(self, request_id: str) -> ApprovalResult | None:
        req = self.get(request_id)
        text = self.store.get(_RESP + request_id)
        return _result(req, decode(text)) if req is not None and text is not None else None

    def pending(self) -> list[ApprovalRequest]:
        """Requests still waiting for an answer, oldest first (expired ones are cleaned up first)."""
        self.cleanup()
        now = time.time()
        reqs = [ApprovalRequest.from_record(decode(v)) for v in self.store.scan(_REQ).values()]
        reqs = [r for r in reqs if r.expires_at > now]
        answered = self.store.get_many([_RESP + r.id for r in reqs])
        return sorted((r for r, a in zip(reqs, answered) if a is None), key=lambda r: (r.requested_at, r.id))

    def cleanup(self) -> int:
        """Remove requests (and their decisions) whose deadline passed; how many."""
        limit = time.time() - CLEANUP_MARGIN
        expired = [k[len(_REQ):] for k, v in self.store.scan(_REQ).items() if decode(v)["expires_at"] < limit]
        if expired:
            self.store.delete(*[_REQ + i for i in expired], *[_RESP + i for i in expired])
        return len(expired)


def _result(req: ApprovalRequest, record: dict[str, Any]) -> ApprovalResult:
    decided = record.get("decided_at", time.time())
    return ApprovalResult(req.id, req.kind, record["status"], record.get("reason"), record.get("responder"),
                          decided, max(0.0, decided - req.requested_at))
