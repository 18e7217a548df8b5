"""The state-store interface shared by heartbeats, events, signals, feedback and approvals.

Two primitives are enough for all five: keys with a time to live, and append-only capped streams. SQLite
(:mod:`.sqlite_store`, several processes on one machine) and Redis (:mod:`.redis_store`, several hosts)
implement them with the same semantics, so every operation above this file is written once.

Deadlines: a store that stops answering (a frozen host, a network split, a file locked by another process)
must not hold an agent longer than the call promised. A high-level call sets a deadline with :func:`within`
(a context variable, so it follows the call into the backend, into ``asyncio.to_thread`` and through nested
calls: the earliest deadline wins), and each store operation sizes its waits from what is left of it: Redis
connect and socket timeouts (retry included), the SQLite busy timeout and the wait for the store's thread
lock. An operation with no deadline from its caller gets the store's own ``timeout`` in all. So:

- a call given a timeout T (``Signals.wait_for``, ``Approvals.request``/``request_async``/``wait``,
  ``EventStream.consume``'s ``block_ms``) returns within T + :data:`DEADLINE_MARGIN`, with a one-line
  :class:`StoreError` when the store did not answer in time;
- hot-path calls (``Heartbeat.beat``, ``EventStream.publish``, ``Signals.signal``/``broadcast``) give the
  store :data:`HOT_PATH_BUDGET` and return within it: beats and publishes then count, log once and go on;
  signal sends raise.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..config import ENV_AGENT_STORE  # store URL for agents/CLI; default sqlite at <home>/agents.db
DEFAULT_DB_NAME = "agents.db"
MAX_VALUE_BYTES = 64 * 1024  # a payload, metadata or context bigger than this is refused
MAX_NAME_LENGTH = 256
DEADLINE_MARGIN = 0.5  # seconds: a call given a timeout T returns within T + this, answered or not
HOT_PATH_BUDGET = 0.5  # seconds: a beat, publish or signal send returns within this, answered or not
_SLACK = 0.25  # of every budget, kept for the work around the store (encoding, telemetry, a thread hop, GC)


class StoreError(OSError):
    """The state store cannot serve a request (unreachable, locked, read-only); the message names it."""

    def __init__(self, store: str, operation: str, cause: BaseException | str) -> None:
        self.store = store
        self.operation = operation
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        detail = " ".join(detail.splitlines())  # one line, whatever the driver said
        super().__init__(f"agent state store {store}: {operation} failed: {detail}")

    def __reduce__(self):  # keep it picklable across processes despite the custom __init__
        return (StoreError, (self.store, self.operation, str(self).split(" failed: ", 1)[-1]))


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id (``<ms>-<seq>``, ordered within a stream) and its JSON text."""

    stream: str
    id: str
    data: str

    @property
    def timestamp_ms(self) -> int:
        return int(self.id.split("-", 1)[0])


@dataclass(frozen=True)
class StreamInfo:
    length: int
    first_id: str | None
    last_id: str | None


@runtime_checkable
class StateStore(Protocol):
    """Keys with TTL plus append-only capped streams. All methods raise :class:`StoreError` on failure."""

    kind: str  # "sqlite" | "redis"
    url: str  # where it is, for messages (never a password)

    # --- keys with a time to live (seconds; None keeps the key until deleted) ---
    def set(self, key: str, value: str, ttl: float | None = None, *, only_if_absent: bool = False) -> bool:
        """Store ``value``; with ``only_if_absent`` only when no live key exists. True when written."""

    def get(self, key: str) -> str | None: ...

    def get_many(self, keys: Sequence[str]) -> list[str | None]: ...

    def delete(self, *keys: str) -> int:
        """Delete keys; the number that existed."""

    def take(self, key: str) -> str | None:
        """Get and delete atomically: of several concurrent takers exactly one gets the value."""

    def scan(self, prefix: str) -> dict[str, str]:
        """All live keys starting with ``prefix``, with their values."""

    def get_ttl(self, key: str) -> tuple[str | None, float | None]:
        """The value and its remaining time to live in seconds (None: no TTL), by the store's own clock."""

    def scan_ttl(self, prefix: str) -> dict[str, tuple[str, float | None]]:
        """``scan`` with each key's remaining time to live."""

    # --- append-only streams, capped in length, ids ordered ---
    def append(self, stream: str, data: str, max_len: int | None = None, min_ms: int | None = None) -> str:
        """Append an entry, trim to ``max_len`` newest (and drop ids older than ``min_ms``); its id."""

    def read(self, positions: Mapping[str, str], count: int, block_ms: int = 0) -> list[Entry]:
        """Entries after each stream's id (oldest first, up to ``count`` per stream), blocking up to
        ``block_ms`` when there are none yet. ``"$"`` means the stream's current end, ``"0"`` its start."""

    def last_id(self, stream: str) -> str:
        """The id of the newest entry, ``"0-0"`` for an empty or missing stream."""

    def tail(self, stream: str, count: int) -> list[Entry]:
        """The newest ``count`` entries, oldest first."""

    def range(self, stream: str, min_ms: int | None = None) -> list[Entry]:
        """All entries (from ``min_ms`` on), oldest first."""

    def info(self, stream: str) -> StreamInfo | None: ...

    def trim(self, stream: str, max_len: int | None = None, min_ms: int | None = None) -> int:
        """Drop the oldest entries beyond ``max_len`` (and those older than ``min_ms``); how many."""

    def delete_stream(self, stream: str) -> bool: ...

    def streams(self, prefix: str) -> list[str]:
        """Names of the streams starting with ``prefix``."""

    def ping(self) -> None: ...

    def close(self) -> None: ...


# --- deadlines ------------------------------------------------------------------------------------------

_deadline: ContextVar[float | None] = ContextVar("otel_agentkit_store_deadline", default=None)


class within:
    """``with within(seconds):`` store calls made inside give up in time for the caller to return within
    ``seconds`` from now (``seconds`` less a small slack for the caller's own work); inside another
    ``within`` the earlier deadline holds."""

    __slots__ = ("_end", "_token")

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + max(0.0, seconds - _SLACK)

    def __enter__(self) -> within:
        outer = _deadline.get()
        self._token = _deadline.set(self._end if outer is None or outer > self._end else outer)
        return self

    def __exit__(self, *exc: object) -> None:
        _deadline.reset(self._token)


class operation:
    """For backends: ``with operation(default) as budget:`` one store operation, ending at the caller's
    deadline or ``default`` seconds from now, whichever is sooner. ``budget``: the seconds it has (0 or
    less: the caller's deadline already passed). :func:`time_left` then reads what remains of it."""

    __slots__ = ("_default", "_token")

    def __init__(self, default: float) -> None:
        self._default = default

    def __enter__(self) -> float:
        now = time.monotonic()
        end = now + self._default
        outer = _deadline.get()
        if outer is not None and outer < end:
            end = outer
        self._token = _deadline.set(end)
        return end - now

    def __exit__(self, *exc: object) -> None:
        _deadline.reset(self._token)


def time_left() -> float | None:
    """Seconds until the current deadline (negative once it passed); None outside any."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


def no_time_left(budget: float) -> str:
    """The reason given when an operation starts after its caller's deadline (no I/O is attempted)."""
    return f"no time left: the caller's deadline passed {-budget:.2f}s ago"


# --- values: JSON only, size-limited, refused with a message naming the field -----------------------------

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)  # built once: hot path


def encode(field: str, value: Any, limit: int = MAX_VALUE_BYTES) -> str:
    """``value`` as compact JSON; a ValueError naming ``field`` when it is not JSON or is too big."""
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field}={_short(value)} is not JSON-serializable: {exc}") from None
    size = len(text) if len(text) * 4 <= limit else len(text.encode("utf-8"))  # chars <= bytes <= 4 * chars
    if size > limit:
        raise ValueError(f"{field} is too large: {size} bytes of JSON, the limit is {limit}")
    return text


def decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def check_name(field: str, value: object) -> str:
    """A non-empty printable name (agent id, event type, stage...) of at most MAX_NAME_LENGTH characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}={value!r}: expected a non-empty string")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{field}={_short(value)}: longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{field}={value!r}: control characters are not allowed")
    return value


def check_unit(field: str, value: object) -> float:
    """A number within 0..1 (refused, never clamped: a bad score or progress is a caller bug)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"{field}={value!r}: must be a number within 0..1")
    return float(value)


def check_seconds(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ValueError(f"{field}={value!r}: must be a number of seconds above 0")
    return float(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- opening a store from a URL ---------------------------------------------------------------------------

def open_store(url: str | os.PathLike[str] | StateStore | None = None, home: str | os.PathLike[str] | None = None,
               **options: Any) -> StateStore:
    """A store from ``sqlite:///abs/path.db`` (``sqlite:////abs/path.db`` too), a plain file path, or
    ``redis://host:port/db`` (``rediss://`` too). SQLite URL options: ``?timeout=SECONDS`` (lock wait),
    ``?mode=ro`` (read-only).

    None means $AGENTKIT_AGENT_STORE, else SQLite at ``<home>/agents.db`` (home: the agentkit data dir).
    Redis needs the ``redis`` package (pip install redis), imported only when a redis URL is used.
    """
    if url is not None and not isinstance(url, (str, os.PathLike)):
        return url  # already a store
    if url is None or str(url) == "":
        url = os.environ.get(ENV_AGENT_STORE) or None
    if url is None:
        if home is None:
            from ..config import default_home
            home = default_home()
        return _sqlite(Path(home) / DEFAULT_DB_NAME, options)
    text = os.fspath(url)
    lower = text.lower()
    if lower.startswith(("redis://", "rediss://", "unix://")):
        from .redis_store import RedisStore
        return RedisStore(text, **options)
    if lower.startswith("sqlite:"):
        from urllib.parse import parse_qs
        rest = text[len("sqlite:"):]
        rest = rest.removeprefix("//")  # sqlite:///abs/file.db -> /abs/file.db
        path, _, query_text = rest.partition("?")
        if path.startswith("//"):  # sqlite:////abs/file.db, SQLAlchemy's spelling of the same absolute path
            path = "/" + path.lstrip("/")
        if not path or path.endswith("/"):
            raise ValueError(f"store={text!r}: expected sqlite:///path/to/file.db")
        query = {k: v[-1] for k, v in parse_qs(query_text).items()}
        if "timeout" in query:
            options.setdefault("timeout", _float_option(text, "timeout", query["timeout"]))
        if query.get("mode") == "ro":
            options.setdefault("read_only", True)
        return _sqlite(Path(path), options)
    if "://" in text:
        raise ValueError(f"store={text!r}: unknown scheme; use sqlite:///path, a file path, or redis://host:port/db")
    return _sqlite(Path(text), options)


def _float_option(url: str, name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"store={url!r}: {name}={value!r} is not a number") from None


def _sqlite(path: Path, options: dict[str, Any]) -> StateStore:
    from .sqlite_store import SQLiteStore
    return SQLiteStore(path.expanduser(), **options)
