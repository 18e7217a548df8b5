"""Event streams: what happened, in order, readable by any process (one capped stream per event type).

Each published event is also an OTel log record (event name ``agentkit.agent.event``) tied to the
publisher's current span, and carries that span's ids so a consumer can link its own work to it. (No extra
counter: the log records are the count, and publishing stays within 1.5x a raw XADD; see bench/agentops.py.)
Publishing and consuming sit in agents' hot paths: a store failure there is logged once and counted, never
raised; ``publish`` gives the store :data:`.store.HOT_PATH_BUDGET` and ``consume`` its ``block_ms`` plus
:data:`.store.DEADLINE_MARGIN`, so neither holds an agent longer when the store stops answering. The
administrative calls (recent, info, trim, delete) raise :class:`StoreError`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import semconv
from . import telemetry as tel
from .store import (
    DEADLINE_MARGIN,
    HOT_PATH_BUDGET,
    MAX_VALUE_BYTES,
    Entry,
    StateStore,
    StoreError,
    StreamInfo,
    check_name,
    decode,
    encode,
    open_store,
    within,
)

DEFAULT_MAX_LEN = 10_000
_PREFIX = "events:"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: Any
    source: str | None
    timestamp: float
    trace_id: str | None = None
    span_id: str | None = None

    @classmethod
    def from_entry(cls, entry: Entry) -> Event:
        body = decode(entry.data) or {}
        return cls(id=entry.id, type=entry.stream[len(_PREFIX):], data=body.get("data"), source=body.get("source"),
                   timestamp=body.get("ts", entry.timestamp_ms / 1000.0), trace_id=body.get("trace_id"),
                   span_id=body.get("span_id"))


class EventStream:
    """Publish and consume typed events; each stream keeps at most ``max_len`` newest events."""

    def __init__(self, store: StateStore | str | None = None, source: str | None = None,
                 max_len: int = DEFAULT_MAX_LEN, telemetry: tel.Telemetry | None = None,
                 max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.store = open_store(store)
        self.source = check_name("source", source) if source is not None else None
        self.max_len = _check_len("max_len", max_len)
        self.telemetry = telemetry or tel.default()
        self.max_value_bytes = max_value_bytes
        self._cursors: dict[str, str] = {}
        self._checked: set[str] = set()  # names already validated (publish is a hot path)

    def publish(self, type: str, data: Any = None, source: str | None = None) -> str | None:
        """Append an event; its id, or None when the store failed or did not answer within
        HOT_PATH_BUDGET (logged once and counted)."""
        if type not in self._checked:
            self._checked.add(check_name("type", type))
        if source is None:
            source = self.source
        elif source not in self._checked:
            self._checked.add(check_name("source", source))
        trace_id, span_id = tel.current_ids()
        data_text = encode("data", data, self.max_value_bytes)  # encoded once: stored and logged as is
        meta = encode("event", {"source": source, "ts": time.time(), "trace_id": trace_id, "span_id": span_id})
        text = '{"data":' + data_text + "," + meta[1:]
        t = self.telemetry
        try:
            with within(HOT_PATH_BUDGET):
                event_id = self.store.append(_PREFIX + type, text, max_len=self.max_len)
        except StoreError as exc:
            t.contained("events.publish", exc, self.store.kind)
            return None
        attrs = {semconv.AGENTKIT_EVENT_TYPE: type, semconv.AGENTKIT_EVENT_ID: event_id}
        if source is not None:
            attrs[semconv.AGENTKIT_EVENT_SOURCE] = source
        t.log_event(semconv.EVENT_AGENT_EVENT, attrs, body=data if _scalar(data) else data_text)
        return event_id

    def consume(self, types: str | Sequence[str], block_ms: int = 1000, count: int = 100,
                start_id: str | None = None, raise_errors: bool = False) -> list[Event]:
        """Events after ``start_id`` (``"0"``: from the start, ``"$"``: only new ones), waiting up to
        ``block_ms`` for the first to arrive. Without ``start_id`` each type continues where this object's
        last consume left off (new events only, the first time). Oldest first; [] on timeout or, unless
        ``raise_errors``, on a store failure (logged once and counted). Returns within ``block_ms`` plus
        DEADLINE_MARGIN, the store answering or not.
        """
        names = [types] if isinstance(types, str) else list(types)
        if not names:
            raise ValueError("types=[]: name at least one event type")
        for name in names:
            check_name("type", name)
        if isinstance(block_ms, bool) or not isinstance(block_ms, int) or block_ms < 0:
            raise ValueError(f"block_ms={block_ms!r}: expected a whole number of milliseconds >= 0")
        count = _check_len("count", count)
        end = time.monotonic() + block_ms / 1000.0
        try:
            with within(block_ms / 1000.0 + DEADLINE_MARGIN):
                positions = {}
                for name in names:
                    pos = start_id if start_id is not None else self._cursors.get(name, "$")
                    # "$" is pinned to the stream's end now, so events that arrive while we wait are not missed
                    positions[_PREFIX + name] = self.store.last_id(_PREFIX + name) if pos == "$" else pos
                entries = self.store.read(positions, count=count, block_ms=block_ms)
        except StoreError as exc:
            if raise_errors:
                raise
            self.telemetry.contained("events.consume", exc, self.store.kind)
            # a down store must not turn a consumer loop into a spin: wait out the block (a second at most)
            time.sleep(min(max(0.0, end - time.monotonic()), 1.0))
            return []
        for name, pos in positions.items():
            self._cursors[name[len(_PREFIX):]] = pos
        events = []
        for entry in entries:
            self._cursors[entry.stream[len(_PREFIX):]] = entry.id
            events.append(Event.from_entry(entry))
        return sorted(events, key=lambda e: (e.timestamp, e.id)) if len(names) > 1 else events

    def recent(self, type: str, count: int = 10) -> list[Event]:
        """The newest ``count`` events of ``type``, oldest first."""
        return [Event.from_entry(e) for e in self.store.tail(_PREFIX + check_name("type", type), _check_len("count", count))]

    def info(self, type: str) -> StreamInfo | None:
        """Length and first/last ids of the stream, None if it does not exist."""
        return self.store.info(_PREFIX + check_name("type", type))

    def trim(self, type: str, max_len: int) -> int:
        """Keep only the newest ``max_len`` events; how many were dropped."""
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 0:
            raise ValueError(f"max_len={max_len!r}: expected a whole number >= 0")
        return self.store.trim(_PREFIX + check_name("type", type), max_len=max_len)

    def delete(self, type: str) -> bool:
        self._cursors.pop(type, None)
        return self.store.delete_stream(_PREFIX + check_name("type", type))

    def types(self) -> list[str]:
        """Event types that have a stream."""
        return [s[len(_PREFIX):] for s in self.store.streams(_PREFIX)]


def _check_len(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field}={value!r}: expected a whole number above 0")
    return value


def _scalar(data: Any) -> bool:
    """A log body can hold a scalar as is; structured data goes in as its JSON text."""
    return data is None or isinstance(data, (str, int, float, bool))
