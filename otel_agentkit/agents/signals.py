"""Coordination signals: one agent tells another (or all) to go, stop, hand over, with a time to live.

A direct signal is one key per signal; consuming it is an atomic take, so of several processes serving the
same agent id exactly one gets it. A broadcast is stored once and each receiver marks it seen for itself, so
every agent gets it once. An optional policy decides who may signal whom; a refusal raises PermissionError.
Store failures raise :class:`StoreError` (coordination is not something to silently skip), in bounded time: a
send gives the store :data:`.store.HOT_PATH_BUDGET` (a failed send is also counted and logged once, as the
hot paths' are), ``wait_for`` returns within its ``timeout`` plus :data:`.store.DEADLINE_MARGIN`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .. import semconv
from . import telemetry as tel
from .store import (
    DEADLINE_MARGIN,
    HOT_PATH_BUDGET,
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

BROADCAST = "*"
DEFAULT_TTL = 300.0
Policy = Callable[[str, str, str], bool]  # (sender, target or "*", type) -> allowed
_TO = "sig:to:"
_ALL = "sig:all:"
_SEEN = "sig:seen:"


@dataclass(frozen=True)
class Signal:
    id: str
    type: str
    sender: str
    target: str  # an agent id, or "*" for a broadcast
    payload: Any
    sent_at: float
    expires_at: float
    trace_id: str | None = None
    span_id: str | None = None

    @property
    def broadcast(self) -> bool:
        return self.target == BROADCAST


def _q(part: str) -> str:
    return quote(part, safe="")


class Signals:
    """Signals sent and received as ``agent_id``."""

    def __init__(self, store: StateStore | str | None, agent_id: str, policy: Policy | None = None,
                 default_ttl: float = DEFAULT_TTL, telemetry: tel.Telemetry | None = None,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.store = open_store(store)
        self.agent_id = check_name("agent_id", agent_id)
        if policy is not None and not callable(policy):
            raise ValueError(f"policy={policy!r}: expected a callable (sender, target, type) -> bool")
        self.policy = policy
        self.default_ttl = check_seconds("default_ttl", default_ttl)
        self.telemetry = telemetry or tel.default()
        self.max_value_bytes = max_value_bytes

    # --- sending ------------------------------------------------------------------------------------------
    def signal(self, type: str, target: str, payload: Any = None, ttl: float | None = None) -> str:
        """Send ``type`` to agent ``target``; the signal id. PermissionError if the policy refuses;
        StoreError if the store fails or does not answer within HOT_PATH_BUDGET."""
        check_name("target", target)
        if target == BROADCAST:
            raise ValueError(f"target={target!r}: use broadcast() to signal every agent")
        return self._send(type, target, payload, ttl)

    def broadcast(self, type: str, payload: Any = None, ttl: float | None = None) -> str:
        """Send ``type`` to every agent (each receives it once; the sender does not)."""
        return self._send(type, BROADCAST, payload, ttl)

    def _send(self, type: str, target: str, payload: Any, ttl: float | None) -> str:
        check_name("type", type)
        life = check_seconds("ttl", ttl) if ttl is not None else self.default_ttl
        t = self.telemetry
        attrs = {semconv.AGENTKIT_SIGNAL_TYPE: type, semconv.AGENTKIT_SIGNAL_SENDER: self.agent_id,
                 semconv.AGENTKIT_SIGNAL_TARGET: target}
        if self.policy is not None and not self.policy(self.agent_id, target, type):
            t.add(t.signals, 1, {semconv.AGENTKIT_SIGNAL_TYPE: type, semconv.AGENTKIT_SIGNAL_OUTCOME: "refused"})
            t.span_event(semconv.EVENT_SIGNAL_SENT, {**attrs, semconv.AGENTKIT_SIGNAL_OUTCOME: "refused"})
            who = "every agent" if target == BROADCAST else f"agent {target!r}"
            raise PermissionError(f"signal {type!r} from agent {self.agent_id!r} to {who} refused by the policy")
        now = time.time()
        signal_id = uuid.uuid4().hex
        trace_id, span_id = tel.current_ids()
        record = {"id": signal_id, "type": type, "sender": self.agent_id, "target": target, "payload": payload,
                  "sent_at": now, "expires_at": now + life, "trace_id": trace_id, "span_id": span_id}
        text = encode("payload", record, self.max_value_bytes)
        key = (_ALL if target == BROADCAST else f"{_TO}{_q(target)}:") + f"{_q(type)}:{signal_id}"
        try:
            with within(HOT_PATH_BUDGET):
                self.store.set(key, text, life)
        except StoreError as exc:
            t.contained("signals.send", exc, self.store.kind)  # counted and logged once; still raised
            raise
        t.add(t.signals, 1, {semconv.AGENTKIT_SIGNAL_TYPE: type, semconv.AGENTKIT_SIGNAL_OUTCOME: "sent"})
        t.span_event(semconv.EVENT_SIGNAL_SENT, {**attrs, semconv.AGENTKIT_SIGNAL_ID: signal_id,
                                                 semconv.AGENTKIT_SIGNAL_OUTCOME: "sent"})
        return signal_id

    # --- receiving ----------------------------------------------------------------------------------------
    def check(self, type: str | None = None, consume: bool = True) -> list[Signal]:
        """Signals for this agent (of ``type``, or all), oldest first; consumed unless ``consume=False``."""
        return self._receive(type, consume, limit=None)

    def wait_for(self, type: str, timeout: float = 30.0, poll: float = 0.1) -> Signal | None:
        """Block until a ``type`` signal arrives (consuming that one only); None after ``timeout`` seconds.
        Returns within ``timeout`` plus DEADLINE_MARGIN: StoreError if the store did not answer by then."""
        check_name("type", type)
        check_seconds("timeout", timeout)
        check_seconds("poll", poll)
        deadline = time.monotonic() + timeout
        with within(timeout + DEADLINE_MARGIN):
            while True:
                got = self._receive(type, consume=True, limit=1)
                if got:
                    return got[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                time.sleep(min(poll, left))

    def pending(self) -> list[Signal]:
        """Signals waiting for this agent, not consumed."""
        return self._receive(None, consume=False, limit=None)

    def clear(self) -> int:
        """Drop every signal waiting for this agent; how many."""
        return len(self._receive(None, consume=True, limit=None, quiet=True))

    def _receive(self, type: str | None, consume: bool, limit: int | None, quiet: bool = False) -> list[Signal]:
        suffix = f"{_q(check_name('type', type))}:" if type is not None else ""
        candidates: list[tuple[str, Signal]] = []
        for key, text in self.store.scan(f"{_TO}{_q(self.agent_id)}:{suffix}").items():
            candidates.append((key, _signal(text)))
        for key, text in self.store.scan(f"{_ALL}{suffix}").items():
            sig = _signal(text)
            if sig.sender != self.agent_id:
                candidates.append((key, sig))
        candidates.sort(key=lambda c: (c[1].sent_at, c[1].id))
        broadcasts = [s for _, s in candidates if s.broadcast]
        seen: set[str] = set()
        if broadcasts and not consume:
            flags = self.store.get_many([f"{_SEEN}{_q(self.agent_id)}:{s.id}" for s in broadcasts])
            seen = {s.id for s, flag in zip(broadcasts, flags) if flag is not None}
        got: list[Signal] = []
        now = time.time()
        for key, sig in candidates:
            if limit is not None and len(got) >= limit:
                break
            if sig.broadcast:
                marker = f"{_SEEN}{_q(self.agent_id)}:{sig.id}"
                if consume:
                    if not self.store.set(marker, "1", max(sig.expires_at - now, 1.0), only_if_absent=True):
                        continue
                elif sig.id in seen:
                    continue
            elif consume and self.store.take(key) is None:
                continue  # another process serving this agent id took it first
            got.append(sig)
        if consume and not quiet:
            t = self.telemetry
            for sig in got:
                t.add(t.signals, 1, {semconv.AGENTKIT_SIGNAL_TYPE: sig.type, semconv.AGENTKIT_SIGNAL_OUTCOME: "received"})
                t.span_event(semconv.EVENT_SIGNAL_RECEIVED, {
                    semconv.AGENTKIT_SIGNAL_TYPE: sig.type, semconv.AGENTKIT_SIGNAL_ID: sig.id,
                    semconv.AGENTKIT_SIGNAL_SENDER: sig.sender, semconv.AGENTKIT_SIGNAL_TARGET: self.agent_id,
                    semconv.AGENTKIT_SIGNAL_OUTCOME: "received"})
        return got


def _signal(text: str) -> Signal:
    r = decode(text)
    return Signal(id=r["id"], type=r["type"], sender=r["sender"], target=r["target"], payload=r.get("payload"),
                  sent_at=r["sent_at"], expires_at=r["expires_at"], trace_id=r.get("trace_id"),
                  span_id=r.get("span_id"))
