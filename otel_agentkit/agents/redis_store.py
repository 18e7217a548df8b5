"""Redis state store: agent state shared by processes on several hosts.

Keys with TTL are Redis keys with PX expiry; streams are Redis streams capped with exact MAXLEN. Everything
lives under a namespace prefix so the database can be shared. Needs the ``redis`` package (redis-py >= 5;
``pip install redis``), imported only here. Every operation has a deadline (:mod:`.store`: the caller's, or
``socket_timeout`` in all): the connections' connect and socket timeouts are set from what is left of it
before each connect, send and read, so the one retry (for a pooled connection that a restart broke) never
doubles the wait, and a server that stopped answering costs the caller its budget, not twice the socket
timeout. A blocking read is cut into slices of at most one second so a restarted server is noticed quickly.
Listing keys by prefix (active agents, pending signals and approvals) uses SCAN over the namespace: fine for
the hundreds of keys a fleet of agents keeps, not meant for a database shared with millions of other keys
(use its own db number).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .store import Entry, StoreError, StreamInfo, no_time_left, operation, time_left

T = TypeVar("T")
_FIELD = "d"  # each stream entry holds one field: the JSON text
_SLICE_MS = 1000
_ROUND_TRIP = 0.15  # seconds of a blocking read's deadline kept for the reply (a block ends up to 1/hz late)
_DEADLINE_PASSED = "the operation's deadline passed"  # what a connection says when it is given no time


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # an optional dependency: say which one
        raise ImportError("a redis:// agent store needs the redis package: pip install 'otel-agentkit[redis]'") \
            from exc
    return redis


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = f"{parts.username}:***@" if parts.username else ":***@"
        parts = parts._replace(netloc=user + host)
    return urlunsplit(parts)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _seconds(pttl: int) -> float | None:
    return pttl / 1000.0 if pttl is not None and pttl >= 0 else None


class RedisStore:
    """Keys with TTL and capped streams in Redis (see :class:`.store.StateStore`)."""

    kind = "redis"

    def __init__(self, url: str, namespace: str = "agentkit:", connect_timeout: float = 2.0,
                 socket_timeout: float = 5.0) -> None:
        """``socket_timeout``: the most one operation may take (connect, send, reply and retry together)
        when its caller set no earlier deadline; ``connect_timeout``: the most one connect may take."""
        redis = _redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = _safe_url(url)
        self._ns = namespace
        self._timeout = socket_timeout
        self._errors = (redis.exceptions.RedisError, OSError)
        self._timeout_error = redis.exceptions.TimeoutError
        try:
            # One immediate retry: a pooled connection broken by a server restart is replaced transparently;
            # a server that is really down fails fast instead of stalling the agent in backoff.
            self._r = redis.Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
                connection_class=_deadline_connection(_connection_base(redis, url), connect_timeout))
        except ValueError as exc:
            raise ValueError(f"store={self.url!r}: {exc}") from None

    def _k(self, key: str) -> str:
        return self._ns + key

    def _run(self, op: str, work: Callable[[], T], wait: float = 0.0) -> T:
        """``work`` as one operation with a deadline (``wait``: seconds it may block on purpose, on top)."""
        with operation(self._timeout + wait) as budget:
            if budget <= 0:
                raise StoreError(self.url, op, no_time_left(budget))
            try:
                return work()
            except self._errors as exc:
                if isinstance(exc, self._timeout_error):
                    why = "" if str(exc) == _DEADLINE_PASSED else f" ({type(exc).__name__}: {exc})"
                    raise StoreError(self.url, op, f"no answer within {budget:.2f}s{why}") from exc
                raise StoreError(self.url, op, exc) from exc

    # --- keys ---------------------------------------------------------------------------------------------
    def set(self, key: str, value: str, ttl: float | None = None, *, only_if_absent: bool = False) -> bool:
        px = max(1, int(ttl * 1000)) if ttl is not None else None
        return bool(self._run("set", lambda: self._r.set(self._k(key), value, px=px, nx=only_if_absent)))

    def get(self, key: str) -> str | None:
        return self._run("get", lambda: self._r.get(self._k(key)))

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        return self._run("get", lambda: self._r.mget([self._k(k) for k in keys]))

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(self._run("delete", lambda: self._r.delete(*(self._k(k) for k in keys))))

    def take(self, key: str) -> str | None:
        def work() -> str | None:
            pipe = self._r.pipeline(transaction=True)  # GET + DEL in MULTI: one taker wins (any Redis version)
            pipe.get(self._k(key))
            pipe.delete(self._k(key))
            return pipe.execute()[0]
        return self._run("take", work)

    def scan(self, prefix: str) -> dict[str, str]:
        def work() -> dict[str, str]:
            names = list(self._r.scan_iter(match=_glob_escape(self._k(prefix)) + "*", count=1000))
            if not names:
                return {}
            values = self._r.mget(names)
            cut = len(self._ns)
            # skip streams and other types (mget gives None for them) and keys that expired meanwhile
            return {n[cut:]: v for n, v in zip(names, values) if v is not None}
        return self._run("scan", work)

    def get_ttl(self, key: str) -> tuple[str | None, float | None]:
        def work() -> tuple[str | None, float | None]:
            pipe = self._r.pipeline(transaction=True)
            pipe.get(self._k(key))
            pipe.pttl(self._k(key))
            value, pttl = pipe.execute()
            return (None, None) if value is None else (value, _seconds(pttl))
        return self._run("get", work)

    def scan_ttl(self, prefix: str) -> dict[str, tuple[str, float | None]]:
        def work() -> dict[str, tuple[str, float | None]]:
            names = list(self._r.scan_iter(match=_glob_escape(self._k(prefix)) + "*", count=1000))
            if not names:
                return {}
            pipe = self._r.pipeline(transaction=False)
            pipe.mget(names)
            for name in names:
                pipe.pttl(name)
            values, *ttls = pipe.execute()
            cut = len(self._ns)
            return {n[cut:]: (v, _seconds(t)) for n, v, t in zip(names, values, ttls) if v is not None}
        return self._run("scan", work)

    # --- streams ------------------------------------------------------------------------------------------
    def append(self, stream: str, data: str, max_len: int | None = None, min_ms: int | None = None) -> str:
        def work() -> str:
            name = self._k(stream)
            if min_ms is None:
                return self._r.xadd(name, {_FIELD: data}, maxlen=max_len, approximate=False)
            pipe = self._r.pipeline(transaction=False)
            pipe.xadd(name, {_FIELD: data}, maxlen=max_len, approximate=False)
            pipe.xtrim(name, minid=str(min_ms), approximate=False)
            return pipe.execute()[0]
        return self._run("append", work)

    def read(self, positions: Mapping[str, str], count: int, block_ms: int = 0) -> list[Entry]:
        def work() -> list[Entry]:
            after = {self._k(s): (self._last_id(self._k(s)) if p == "$" else p) for s, p in positions.items()}
            deadline = time.monotonic() + block_ms / 1000.0
            while True:
                # block no longer than asked, nor past the operation's deadline less a round trip
                left_ms = int(min(deadline - time.monotonic(), (time_left() or 0.0) - _ROUND_TRIP) * 1000)
                block = min(left_ms, _SLICE_MS) if left_ms >= 1 else None
                reply = self._r.xread(after, count=count, block=block)
                entries = self._entries(reply)
                if entries or block is None:
                    return entries
        return self._run("read", work, wait=block_ms / 1000.0)

    def _entries(self, reply: Any) -> list[Entry]:
        if isinstance(reply, dict):  # RESP3 shape: {stream: [[entries]]}
            reply = [(n, v[0] if v and isinstance(v[0], list) else v) for n, v in reply.items()]
        cut = len(self._ns)
        return [Entry(name[cut:], entry_id, fields.get(_FIELD, "null"))
                for name, items in reply or [] for entry_id, fields in items]

    def _last_id(self, name: str) -> str:
        newest = self._r.xrevrange(name, count=1)
        return newest[0][0] if newest else "0-0"

    def last_id(self, stream: str) -> str:
        return self._run("last_id", lambda: self._last_id(self._k(stream)))

    def tail(self, stream: str, count: int) -> list[Entry]:
        def work() -> list[Entry]:
            rows = self._r.xrevrange(self._k(stream), count=count)
            return [Entry(stream, i, f.get(_FIELD, "null")) for i, f in reversed(rows)]
        return self._run("tail", work)

    def range(self, stream: str, min_ms: int | None = None) -> list[Entry]:
        def work() -> list[Entry]:
            rows = self._r.xrange(self._k(stream), min=str(min_ms) if min_ms else "-")
            return [Entry(stream, i, f.get(_FIELD, "null")) for i, f in rows]
        return self._run("range", work)

    def info(self, stream: str) -> StreamInfo | None:
        def work() -> StreamInfo | None:
            name = self._k(stream)
            pipe = self._r.pipeline(transaction=True)
            pipe.exists(name)
            pipe.xlen(name)
            pipe.xrange(name, count=1)
            pipe.xrevrange(name, count=1)
            exists, length, first, last = pipe.execute()
            if not exists:
                return None
            return StreamInfo(int(length), first[0][0] if first else None, last[0][0] if last else None)
        return self._run("info", work)

    def trim(self, stream: str, max_len: int | None = None, min_ms: int | None = None) -> int:
        def work() -> int:
            removed = 0
            if min_ms is not None:
                removed += int(self._r.xtrim(self._k(stream), minid=str(min_ms), approximate=False))
            if max_len is not None:
                removed += int(self._r.xtrim(self._k(stream), maxlen=max_len, approximate=False))
            return removed
        return self._run("trim", work)

    def delete_stream(self, stream: str) -> bool:
        return bool(self._run("delete_stream", lambda: self._r.delete(self._k(stream))))

    def streams(self, prefix: str) -> list[str]:
        def work() -> list[str]:
            names = self._r.scan_iter(match=_glob_escape(self._k(prefix)) + "*", count=1000, _type="STREAM")
            return sorted(n[len(self._ns):] for n in names)
        return self._run("streams", work)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def ping(self) -> None:
        self._run("ping", self._r.ping)

    def close(self) -> None:
        try:
            self._r.close()
        except self._errors:
            pass

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"


def _connection_base(redis: Any, url: str) -> type:
    """The redis-py connection class the URL's scheme calls for (TCP, TLS or a Unix socket)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "rediss":
        return redis.SSLConnection
    if scheme == "unix":
        return redis.UnixDomainSocketConnection
    return redis.Connection


def _deadline_connection(base: type, connect_cap: float | None) -> type:
    """A connection class that sizes its connect and socket timeouts from the current operation's deadline
    (:func:`.store.time_left`) before each connect, send and read: so the pool's connections need no
    per-call arguments, and a retry after a timeout finds no time left and fails at once."""
    timeout_error = _redis().exceptions.TimeoutError

    class DeadlineConnection(base):  # type: ignore[misc, valid-type]
        def _fit(self) -> None:
            left = time_left()
            if left is None:  # used outside an operation: the configured timeouts stand
                return
            if left <= 0:
                raise timeout_error(_DEADLINE_PASSED)
            self.socket_timeout = left
            self.socket_connect_timeout = left if connect_cap is None else min(left, connect_cap)
            sock = getattr(self, "_sock", None)
            if sock is not None:
                sock.settimeout(left)

        def _connect(self) -> Any:
            self._fit()
            return super()._connect()

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            self._fit()
            super().send_packed_command(command, check_health)

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            self._fit()
            return super().read_response(*args, **kwargs)

    DeadlineConnection.__name__ = DeadlineConnection.__qualname__ = f"Deadline{base.__name__}"
    return DeadlineConnection
