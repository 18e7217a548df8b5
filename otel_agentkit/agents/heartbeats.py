"""Heartbeats: who is alive, what each agent is doing, and who went quiet.

Each beat is one write: the agent's whole record under one key whose store TTL is reset to the retention
period (a day by default). The time since the last beat is then read off the store's own clock as
``retention - remaining TTL``, so liveness and staleness need no clock agreement between hosts. Each record
carries its agent's own TTL (the ``ttl`` of the Heartbeats that started it, 30 s by default): an unfinished
agent is alive while its last beat is younger than that TTL and stale (dead) from the moment it lapses, so
every reader agrees with ``status()`` whatever its own ``ttl``; an agent that died is listed as stale until
its record expires. Because a beat rewrites the whole record, a store that lost its data (a Redis restart)
is repopulated by the next beat. Store failures in this hot path are logged once and counted, never raised.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import semconv
from . import telemetry as tel
from .store import (
    HOT_PATH_BUDGET,
    MAX_VALUE_BYTES,
    StateStore,
    StoreError,
    check_name,
    check_seconds,
    check_unit,
    decode,
    encode,
    open_store,
    within,
)

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
DEFAULT_TTL = 30.0
DEFAULT_RETENTION = 24 * 3600.0
_KEY = "hb:"


@dataclass(frozen=True)
class AgentStatus:
    """One agent's last reported state, as any process sees it."""

    agent_id: str
    status: str
    progress: float | None
    current_task: str | None
    metadata: dict[str, Any]
    started_at: float
    last_beat: float
    beats: int
    host: str
    pid: int
    age: float  # seconds since the last beat, by the store's clock
    ttl: float  # the agent counts as alive while age < ttl
    trace_id: str | None = None
    span_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def alive(self) -> bool:
        return not self.finished and self.age < self.ttl

    @property
    def stale(self) -> bool:
        """Dead: not finished, and its own TTL lapsed since the last beat (exactly when ``alive`` turns False)."""
        return not self.finished and self.age >= self.ttl

    @property
    def state(self) -> str:
        """``alive``, ``dead`` (stale) or ``finished``: one word for listings."""
        return "finished" if self.finished else "alive" if self.alive else "dead"

    def since_last_beat(self) -> float:
        return self.age

    @classmethod
    def from_store(cls, text: str, remaining: float | None, default_ttl: float = DEFAULT_TTL) -> AgentStatus:
        """``default_ttl`` stands in only for a record that carries no TTL of its own."""
        r = decode(text)
        retention = r.get("retention", DEFAULT_RETENTION)
        age = retention - remaining if remaining is not None else time.time() - r["last_beat"]
        return cls(agent_id=r["agent_id"], status=r["status"], progress=r.get("progress"),
                   current_task=r.get("current_task"), metadata=r.get("metadata") or {},
                   started_at=r["started_at"], last_beat=r["last_beat"], beats=r.get("beats", 0),
                   host=r.get("host", ""), pid=r.get("pid", 0), age=max(0.0, age), ttl=r.get("ttl", default_ttl),
                   trace_id=r.get("trace_id"), span_id=r.get("span_id"))


class Heartbeats:
    """Start agents' heartbeats and query everyone's (the queries raise :class:`StoreError` when the store
    is unreachable; the beats themselves never do)."""

    def __init__(self, store: StateStore | str | None = None, ttl: float = DEFAULT_TTL,
                 retention: float = DEFAULT_RETENTION, telemetry: tel.Telemetry | None = None,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.store = open_store(store)
        self.ttl = check_seconds("ttl", ttl)
        self.retention = max(check_seconds("retention", retention), self.ttl)
        self.telemetry = telemetry or tel.default()
        self.max_value_bytes = max_value_bytes

    def start(self, agent_id: str, metadata: Mapping[str, Any] | None = None, status: str = "running") -> Heartbeat:
        """Register ``agent_id`` as alive; returns the handle it beats and stops with."""
        check_name("agent_id", agent_id)
        check_name("status", status)
        if status in TERMINAL_STATUSES:
            raise ValueError(f"status={status!r}: an agent cannot start in a final status")
        meta = dict(metadata or {})
        encode("metadata", meta, self.max_value_bytes)  # refuse now, with the field named
        handle = Heartbeat(self, agent_id, meta, status)
        self.telemetry.add(self.telemetry.active_agents, 1, {})
        self.telemetry.span_event(semconv.EVENT_AGENT_START, {semconv.GEN_AI_AGENT_ID: agent_id,
                                                              semconv.AGENTKIT_AGENT_STATUS: status})
        with within(HOT_PATH_BUDGET):  # a frozen store must not stall the agent's start either
            handle._write("heartbeat.start")
        return handle

    # --- queries ------------------------------------------------------------------------------------------
    def agents(self) -> list[AgentStatus]:
        """Every agent with a record (kept ``retention`` after its last beat), alive, stale or finished, by id."""
        found = [AgentStatus.from_store(text, left, self.ttl) for text, left in self.store.scan_ttl(_KEY).values()]
        return sorted(found, key=lambda a: a.agent_id)

    def active_agents(self) -> list[AgentStatus]:
        """Agents that beat within their TTL and have not finished."""
        return [a for a in self.agents() if a.alive]

    def is_alive(self, agent_id: str) -> bool:
        status = self.status(agent_id)
        return status is not None and status.alive

    def status(self, agent_id: str) -> AgentStatus | None:
        """The agent's last record, None if never seen (or gone for longer than the retention)."""
        text, left = self.store.get_ttl(_KEY + check_name("agent_id", agent_id))
        return AgentStatus.from_store(text, left, self.ttl) if text is not None else None

    def stale_agents(self, threshold_s: float | None = None) -> list[AgentStatus]:
        """Agents that did not complete, fail or cancel and went quiet: by default each one whose own TTL
        lapsed since its last beat (the complement of ``active_agents()`` among unfinished agents, as
        ``status().alive`` says); with ``threshold_s``, those whose last beat is older than that instead."""
        if threshold_s is None:
            return [a for a in self.agents() if a.stale]
        limit = check_seconds("threshold_s", threshold_s)
        return [a for a in self.agents() if not a.finished and a.age > limit]


class Heartbeat:
    """One agent's heartbeat: ``beat()`` as it works, ``stop()`` when done (or use it as a context manager)."""

    def __init__(self, owner: Heartbeats, agent_id: str, metadata: dict[str, Any], status: str) -> None:
        self._owner = owner
        self.agent_id = agent_id
        self._lock = threading.Lock()
        now = time.time()
        trace_id, span_id = tel.current_ids()
        self._record: dict[str, Any] = {
            "agent_id": agent_id, "status": status, "progress": None, "current_task": None,
            "metadata": metadata, "started_at": now, "last_beat": now, "beats": 0,
            "host": socket.gethostname(), "pid": os.getpid(), "trace_id": trace_id, "span_id": span_id,
            "ttl": owner.ttl, "retention": owner.retention,
        }
        self._key = _KEY + agent_id
        self._stopped = False
        self._bg_stop: threading.Event | None = None
        self._bg_thread: threading.Thread | None = None

    @property
    def record(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._record)

    def beat(self, status: str | None = None, progress: float | None = None,
             current_task: str | None = None) -> bool:
        """Report liveness (and optionally a new status, progress within 0..1, current task).

        True when the store took it; False when the store failed or did not answer within
        ``store.HOT_PATH_BUDGET`` (0.5 s: a frozen store never stalls the agent longer), logged once and
        counted, never raised. Bad values raise ValueError: progress outside 0..1 is a caller bug, not
        something to clamp.
        """
        if status is not None:
            check_name("status", status)
            if status in TERMINAL_STATUSES:
                raise ValueError(f"status={status!r}: use stop({status!r}) to finish an agent")
        if progress is not None:
            progress = check_unit("progress", progress)
        if current_task is not None:
            if not isinstance(current_task, str):
                raise ValueError(f"current_task={current_task!r}: expected a string")
            encode("current_task", current_task, self._owner.max_value_bytes)
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"agent {self.agent_id!r} was stopped; start() it again to beat")
            record = self._record
            if status is not None:
                record["status"] = status
            if current_task is not None:
                record["current_task"] = current_task
            changed = progress is not None and progress != record["progress"]
            if changed:
                record["progress"] = progress
        t = self._owner.telemetry
        if changed and progress is not None:  # a gauge keeps the last value: an unchanged one adds nothing
            t.set(t.progress, progress, {semconv.GEN_AI_AGENT_ID: self.agent_id})
        span = t.recording_span()
        if span is not None:
            attrs = {semconv.GEN_AI_AGENT_ID: self.agent_id, semconv.AGENTKIT_AGENT_STATUS: record["status"]}
            if progress is not None:
                attrs[semconv.AGENTKIT_AGENT_PROGRESS] = progress
            if current_task is not None:
                attrs[semconv.AGENTKIT_AGENT_TASK] = current_task
            t.span_event(semconv.EVENT_AGENT_HEARTBEAT, attrs, span)
        return self._write_within_budget()

    def _write_within_budget(self) -> bool:
        """The beat's write with the store given HOT_PATH_BUDGET (its failure contained by ``_write``)."""
        with within(HOT_PATH_BUDGET):
            return self._write("heartbeat.beat")

    def stop(self, final_status: str = "completed") -> None:
        """Mark the agent finished: completed, failed or cancelled (kept on record for the retention)."""
        if final_status not in TERMINAL_STATUSES:
            raise ValueError(f"final_status={final_status!r}: expected one of {', '.join(sorted(TERMINAL_STATUSES))}")
        self.stop_background()
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._record["status"] = final_status
            self._record["last_beat"] = time.time()
            text = encode("heartbeat", self._record, 2 * self._owner.max_value_bytes)
        t = self._owner.telemetry
        t.add(t.active_agents, -1, {})
        t.span_event(semconv.EVENT_AGENT_STOP, {semconv.GEN_AI_AGENT_ID: self.agent_id,
                                                semconv.AGENTKIT_AGENT_STATUS: final_status})
        store = self._owner.store
        try:
            with within(HOT_PATH_BUDGET):
                store.set(self._key, text, self._owner.retention)
        except StoreError as exc:
            t.contained("heartbeat.stop", exc, store.kind)

    def _write(self, where: str) -> bool:
        with self._lock:
            if self._stopped:
                return False
            self._record["last_beat"] = time.time()
            self._record["beats"] += 1
            text = encode("heartbeat", self._record, 2 * self._owner.max_value_bytes)
        owner = self._owner
        try:
            owner.store.set(self._key, text, owner.retention)
        except StoreError as exc:
            owner.telemetry.contained(where, exc, owner.store.kind)
            return False
        return True

    # --- background beats for long steps ------------------------------------------------------------------
    def start_background(self, interval: float | None = None) -> None:
        """Beat every ``interval`` seconds (default a third of the TTL) from a daemon thread until stopped."""
        every = check_seconds("interval", interval) if interval is not None else self._owner.ttl / 3
        self.stop_background()
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every):
                try:
                    with within(HOT_PATH_BUDGET):
                        self._write("heartbeat.background")
                except Exception as exc:  # never let the helper thread die noisily
                    from .. import diagnostics
                    diagnostics.report("agents.heartbeat.background", exc)

        thread = threading.Thread(target=run, name=f"agentkit-heartbeat-{self.agent_id}", daemon=True)
        self._bg_stop, self._bg_thread = stop, thread
        thread.start()

    def stop_background(self) -> None:
        stop, thread = self._bg_stop, self._bg_thread
        self._bg_stop = self._bg_thread = None
        if stop is not None and thread is not None:
            stop.set()
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    @contextmanager
    def beating(self, interval: float | None = None) -> Iterator[Heartbeat]:
        """Keep beating in the background for the duration of a long step."""
        self.start_background(interval)
        try:
            yield self
        finally:
            self.stop_background()

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.stop("completed" if exc_type is None else "cancelled" if exc_type is KeyboardInterrupt else "failed")
