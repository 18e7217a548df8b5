"""SQLite state store: the embedded default, shared by several processes on one machine.

WAL mode lets readers run while one process writes; a busy timeout makes concurrent writers queue instead of
failing. TTLs are wall-clock expiry times checked on every read (expired rows are purged now and then), and
a blocking stream read polls with a short backoff: cheap enough for a handful of local agents, and no daemon.

Every operation has a deadline (:mod:`.store`: the caller's, or ``timeout`` in all), which bounds both of its
waits: for this process's other threads (one connection, one lock) and for another process's write lock
(SQLite's busy wait, in slices, retried until the deadline by the clock). A locked, read-only or full database
is a one-line :class:`.StoreError` by then.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from ..config import private_file
from ..sqlitefiles import SchemaTooNew, check_version, migrate
from .store import Entry, StoreError, StreamInfo, no_time_left, operation, time_left

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS stream_entry (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, ms INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stream_entry_by_stream ON stream_entry(stream, seq);
CREATE TABLE IF NOT EXISTS stream (
    name TEXT PRIMARY KEY, length INTEGER NOT NULL, last_id TEXT NOT NULL
) WITHOUT ROWID;
"""
# PRAGMA user_version migrations (sqlitefiles.migrate): a schema change is a new entry, never an edit.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _SCHEMA),)
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_TOP = "\U0010ffff"  # the highest code point: prefix <= key < prefix + _TOP selects keys by prefix
_PURGE_EVERY = 500  # writes between purges of expired keys
_BUSY_SLICE_MS = 50  # SQLite's busy wait, at most: it counts its sleeps, not the clock, so the clock is read
# between slices (on a loaded machine its sleeps run long, and a 5 s busy timeout could take 6)
_LAST_LOOK = 0.05  # seconds of a blocking read's deadline kept for its last look at the table
_MIN_WAIT = 0.001  # seconds: the least an operation gets from the store's own timeout


class SQLiteStore:
    """Keys with TTL and capped streams in one SQLite file (see :class:`.store.StateStore`)."""

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], timeout: float = 5.0, read_only: bool = False) -> None:
        """``timeout``: the most one operation may wait (for a lock) when its caller set no earlier deadline."""
        self.path = Path(path).absolute()
        self.url = f"sqlite://{self.path}" + ("?mode=ro" if read_only else "")
        self._timeout = timeout
        self._read_only = read_only
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._writes = 0
        self._busy_ms = 0  # the connection's busy timeout now
        with operation(max(timeout, _MIN_WAIT)):
            self._connection()  # fail now, with the path in the message, rather than at first use

    # --- connection ---------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """The open connection (opened within the current operation's deadline if there is none yet)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        wait = max(time_left() or self._timeout, 0.001)
        try:
            if self._read_only:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=wait,
                                       isolation_level=None, check_same_thread=False)
                try:
                    check_version(conn, f"the agent store {self.path}", MIGRATIONS)
                except sqlite3.OperationalError:  # unreadable now (a read-only filesystem and WAL): the
                    pass  # first call says so, as a read-only store always has
            else:
                private_file(self.path)
                conn = sqlite3.connect(str(self.path), timeout=wait, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                migrate(conn, f"the agent store {self.path}", MIGRATIONS)
        except (sqlite3.Error, OSError, SchemaTooNew) as exc:
            raise StoreError(self.url, "open", exc) from exc
        self._conn, self._pid, self._busy_ms = conn, os.getpid(), 0  # a forked child opens its own connection
        return conn

    def _fit_busy_timeout(self, conn: sqlite3.Connection, left: float) -> None:
        """Let SQLite wait for another process's lock one slice at most, and never past the deadline."""
        want = max(1, min(int(left * 1000), _BUSY_SLICE_MS))  # 0 would mean "do not wait at all"
        if want != self._busy_ms:
            conn.execute(f"PRAGMA busy_timeout={want}")
            self._busy_ms = want

    def _run(self, op: str, work: Callable[[sqlite3.Connection], T], write: bool = False,
             single: bool = False) -> T:
        """Run ``work`` as one operation: under the lock, within the deadline."""
        with operation(max(self._timeout, _MIN_WAIT)) as budget:  # timeout=0: no lock wait, still a try
            if budget <= 0:
                raise StoreError(self.url, op, no_time_left(budget))
            if not self._lock.acquire(timeout=budget):
                raise StoreError(self.url, op, f"busy: another thread of this process held the store for "
                                               f"{budget:.2f}s")
            try:
                return self._locked(op, work, write, single, budget)
            finally:
                self._lock.release()

    def _locked(self, op: str, work: Callable[[sqlite3.Connection], T], write: bool, single: bool,
                budget: float) -> T:
        """``work``, tried again while another process holds the lock and the deadline allows (a busy
        statement or BEGIN did nothing, and a failed transaction was rolled back: a retry is safe)."""
        conn = self._connection()
        while True:
            left = time_left() or 0.0
            try:
                self._fit_busy_timeout(conn, left)
                result = self._attempt(conn, work, write, single)
                break
            except sqlite3.Error as exc:
                busy = _busy(exc)
                if busy and (time_left() or 0.0) > 0.001:
                    continue
                detail = f"{type(exc).__name__}: {exc}" + (f" (gave up within {budget:.2f}s)" if busy else "")
                raise StoreError(self.url, op, detail) from exc
        if write:
            self._writes += 1
            if self._writes % _PURGE_EVERY == 0:
                self._purge(conn)
        return result

    def _purge(self, conn: sqlite3.Connection) -> None:
        """Drop expired keys (housekeeping after a write that succeeded: a failure waits for the next turn)."""
        try:
            conn.execute("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (time.time(),))
        except sqlite3.Error as exc:
            from .. import diagnostics
            diagnostics.report("agents.sqlite.purge", exc)

    def _attempt(self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], write: bool,
                 single: bool) -> T:
        """One try: a write of several statements in one IMMEDIATE transaction (a ``single``-statement write
        is atomic by itself and skips BEGIN/COMMIT: the hot path)."""
        if not write or single:
            result = work(conn)
        else:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return result

    # --- keys ---------------------------------------------------------------------------------------------
    def set(self, key: str, value: str, ttl: float | None = None, *, only_if_absent: bool = False) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            now = time.time()
            expires = now + ttl if ttl is not None else None
            if only_if_absent:
                cur = conn.execute(
                    "INSERT INTO kv(key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "value = excluded.value, expires_at = excluded.expires_at "
                    "WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?", (key, value, expires, now))
                return cur.rowcount > 0
            conn.execute("INSERT OR REPLACE INTO kv(key, value, expires_at) VALUES (?, ?, ?)", (key, value, expires))
            return True
        return self._run("set", work, write=True, single=True)

    def get(self, key: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(f"SELECT value FROM kv WHERE key = ? AND {_LIVE}", (key, time.time())).fetchone()
            return row[0] if row else None
        return self._run("get", work)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []

        def work(conn: sqlite3.Connection) -> list[str | None]:
            marks = ",".join("?" * len(keys))
            rows = dict(conn.execute(f"SELECT key, value FROM kv WHERE key IN ({marks}) AND {_LIVE}",
                                     (*keys, time.time())).fetchall())
            return [rows.get(k) for k in keys]
        return self._run("get", work)

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0

        def work(conn: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(keys))
            live = conn.execute(f"SELECT count(*) FROM kv WHERE key IN ({marks}) AND {_LIVE}",
                                (*keys, time.time())).fetchone()[0]
            conn.execute(f"DELETE FROM kv WHERE key IN ({marks})", keys)
            return live
        return self._run("delete", work, write=True)

    def take(self, key: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(f"SELECT value FROM kv WHERE key = ? AND {_LIVE}", (key, time.time())).fetchone()
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            return row[0] if row else None
        return self._run("take", work, write=True)

    def scan(self, prefix: str) -> dict[str, str]:
        def work(conn: sqlite3.Connection) -> dict[str, str]:
            return dict(conn.execute(f"SELECT key, value FROM kv WHERE key >= ? AND key < ? AND {_LIVE}",
                                     (prefix, prefix + _TOP, time.time())).fetchall())
        return self._run("scan", work)

    def get_ttl(self, key: str) -> tuple[str | None, float | None]:
        def work(conn: sqlite3.Connection) -> tuple[str | None, float | None]:
            now = time.time()
            row = conn.execute(f"SELECT value, expires_at FROM kv WHERE key = ? AND {_LIVE}", (key, now)).fetchone()
            if row is None:
                return None, None
            return row[0], (row[1] - now if row[1] is not None else None)
        return self._run("get", work)

    def scan_ttl(self, prefix: str) -> dict[str, tuple[str, float | None]]:
        def work(conn: sqlite3.Connection) -> dict[str, tuple[str, float | None]]:
            now = time.time()
            rows = conn.execute(f"SELECT key, value, expires_at FROM kv WHERE key >= ? AND key < ? AND {_LIVE}",
                                (prefix, prefix + _TOP, now)).fetchall()
            return {k: (v, e - now if e is not None else None) for k, v, e in rows}
        return self._run("scan", work)

    # --- streams ------------------------------------------------------------------------------------------
    def append(self, stream: str, data: str, max_len: int | None = None, min_ms: int | None = None) -> str:
        def work(conn: sqlite3.Connection) -> str:
            ms = int(time.time() * 1000)
            seq = conn.execute("INSERT INTO stream_entry(stream, ms, data) VALUES (?, ?, ?)",
                               (stream, ms, data)).lastrowid
            entry_id = f"{ms}-{seq}"
            conn.execute("INSERT INTO stream(name, length, last_id) VALUES (?, 1, ?) ON CONFLICT(name) DO UPDATE "
                         "SET length = length + 1, last_id = excluded.last_id", (stream, entry_id))
            self._trim(conn, stream, max_len, min_ms)
            return entry_id
        return self._run("append", work, write=True)

    def _trim(self, conn: sqlite3.Connection, stream: str, max_len: int | None, min_ms: int | None) -> int:
        removed = 0
        if min_ms is not None:
            removed += conn.execute("DELETE FROM stream_entry WHERE stream = ? AND ms < ?", (stream, min_ms)).rowcount
        if max_len is not None:
            length = conn.execute("SELECT length FROM stream WHERE name = ?", (stream,)).fetchone()
            excess = (length[0] if length else 0) - removed - max_len
            if excess > 0:
                removed += conn.execute(
                    "DELETE FROM stream_entry WHERE seq IN (SELECT seq FROM stream_entry WHERE stream = ? "
                    "ORDER BY seq LIMIT ?)", (stream, excess)).rowcount
        if removed:
            conn.execute("UPDATE stream SET length = length - ? WHERE name = ?", (removed, stream))
        return removed

    def read(self, positions: Mapping[str, str], count: int, block_ms: int = 0) -> list[Entry]:
        with operation(self._timeout + block_ms / 1000.0):  # each look below is an operation within this one
            after = {name: self._seq_after(name, pos) for name, pos in positions.items()}
            # poll no longer than asked, nor past the deadline less the time for a last look
            now = time.monotonic()
            deadline = now + min(block_ms / 1000.0, (time_left() or 0.0) - _LAST_LOOK)
            pause = 0.002
            while True:
                def work(conn: sqlite3.Connection) -> list[Entry]:
                    found: list[Entry] = []
                    for name, seq in after.items():
                        rows = conn.execute("SELECT ms, seq, data FROM stream_entry WHERE stream = ? AND seq > ? "
                                            "ORDER BY seq LIMIT ?", (name, seq, count)).fetchall()
                        found.extend(Entry(name, f"{ms}-{s}", data) for ms, s, data in rows)
                    return found
                entries = self._run("read", work)
                left = deadline - time.monotonic()
                if entries or left <= 0:
                    return entries
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)

    def _seq_after(self, stream: str, position: str) -> int:
        if position == "$":
            return _seq(self.last_id(stream))
        if position in ("0", "0-0", "-"):
            return 0
        if "-" in position:
            return _seq(position)
        try:
            ms = int(position)
        except ValueError:
            raise ValueError(f"start_id={position!r}: expected an entry id like 1700000000000-1, '0' or '$'") from None

        def work(conn: sqlite3.Connection) -> int:  # a bare number is a time in ms, as in Redis
            row = conn.execute("SELECT max(seq) FROM stream_entry WHERE stream = ? AND ms <= ?", (stream, ms)).fetchone()
            return row[0] or 0
        return self._run("read", work)

    def last_id(self, stream: str) -> str:
        def work(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT last_id FROM stream WHERE name = ?", (stream,)).fetchone()
            return row[0] if row else "0-0"
        return self._run("last_id", work)

    def tail(self, stream: str, count: int) -> list[Entry]:
        def work(conn: sqlite3.Connection) -> list[Entry]:
            rows = conn.execute("SELECT ms, seq, data FROM stream_entry WHERE stream = ? ORDER BY seq DESC LIMIT ?",
                                (stream, count)).fetchall()
            return [Entry(stream, f"{ms}-{s}", d) for ms, s, d in reversed(rows)]
        return self._run("tail", work)

    def range(self, stream: str, min_ms: int | None = None) -> list[Entry]:
        def work(conn: sqlite3.Connection) -> list[Entry]:
            rows = conn.execute("SELECT ms, seq, data FROM stream_entry WHERE stream = ? AND ms >= ? ORDER BY seq",
                                (stream, min_ms or 0)).fetchall()
            return [Entry(stream, f"{ms}-{s}", d) for ms, s, d in rows]
        return self._run("range", work)

    def info(self, stream: str) -> StreamInfo | None:
        def work(conn: sqlite3.Connection) -> StreamInfo | None:
            row = conn.execute("SELECT length, last_id FROM stream WHERE name = ?", (stream,)).fetchone()
            if row is None:
                return None
            first = conn.execute("SELECT ms, seq FROM stream_entry WHERE stream = ? ORDER BY seq LIMIT 1",
                                 (stream,)).fetchone()
            return StreamInfo(row[0], f"{first[0]}-{first[1]}" if first else None, row[1] if row[0] else None)
        return self._run("info", work)

    def trim(self, stream: str, max_len: int | None = None, min_ms: int | None = None) -> int:
        return self._run("trim", lambda conn: self._trim(conn, stream, max_len, min_ms), write=True)

    def delete_stream(self, stream: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM stream_entry WHERE stream = ?", (stream,))
            return conn.execute("DELETE FROM stream WHERE name = ?", (stream,)).rowcount > 0
        return self._run("delete_stream", work, write=True)

    def streams(self, prefix: str) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute("SELECT name FROM stream WHERE name >= ? AND name < ? ORDER BY name",
                                (prefix, prefix + _TOP)).fetchall()
            return [r[0] for r in rows]
        return self._run("streams", work)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def ping(self) -> None:
        self._run("ping", lambda conn: conn.execute("SELECT 1").fetchone())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"


def _busy(exc: sqlite3.Error) -> bool:
    """Another connection held the lock for longer than the busy timeout (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return (code & 0xFF) in (5, 6) if code is not None else "locked" in str(exc)


def _seq(entry_id: str) -> int:
    try:
        return int(entry_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"start_id={entry_id!r}: expected an entry id like 1700000000000-1, '0' or '$'") from None
