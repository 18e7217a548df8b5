"""A bounded on-disk spool for OTLP batches that could not be delivered, and their replay.

When an OTLP export fails (connection refused, timeout, 5xx, 429: the official exporters give up after their
own retries), the batch is encoded to its OTLP protobuf request (``Export*ServiceRequest`` bytes, the same
for grpc and http/protobuf) and written to ``<home>/spool/<signal>/`` as one file per batch. The spool is
replayed oldest first, in the background once the endpoint answers again and on demand with :func:`replay`
(``agentkit replay``).

Guarantees and choices:

- At-least-once. A file is written once and deleted only after its batch was accepted. Duplicates are
  possible but rare: a crash between send and delete repeats that one batch; an answer that comes after
  the client's deadline (the collector took the batch) makes the batch spooled and sent again; a live call
  the fan-out gave up on is spooled even if that call succeeds later. A cross-process lock keeps two
  replayers from sending the same file.
- Files: ``<time_ns>-<pid>-<seq>.spool`` (names sort oldest first across processes), written to a temp
  name, fsync'd and renamed, so a reader never sees half a file; mode 0600 in a 0700 directory. Each file
  carries a header with a magic, the item count, the length and a CRC-32 of the payload.
- Bounded by ``max_bytes`` per signal directory. When full, the *newest* batch is dropped (the spool stays
  an in-order prefix of the outage and nothing another process may be replaying is deleted); the drop is
  counted in ``diagnostics.count_drop`` (the ``agentkit.sdk.dropped`` self-metric) and logged once per
  full episode.
- A spool directory that cannot be written, or a corrupt file: one log line, a counted drop, the
  application keeps running; a corrupt file is moved aside to ``corrupt/`` for inspection, and a batch the
  endpoint refuses for good (HTTP 400, grpc INVALID_ARGUMENT...) to ``rejected/``, counted, so that it
  does not block the batches behind it.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
import os
import struct
import threading
import time
import weakref
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .. import diagnostics
from ..config import private_dir

logger = logging.getLogger("otel_agentkit")

SIGNALS = ("traces", "metrics", "logs")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
SUFFIX = ".spool"
_MAGIC = b"AKSP"
_HEADER = struct.Struct(">4sBIII")  # magic, version, item count, payload length, crc32
_VERSION = 1
_STALE_TMP_S = 600.0  # a temp file this old belongs to a writer that died mid-write
_RESCAN_S = 5.0


class SendResult(enum.Enum):
    """What the endpoint did with one spooled batch."""

    ACCEPTED = "accepted"  # delete the file
    RETRY = "retry"  # endpoint down, timeout, 5xx, 429: keep the file, stop this round (keeps order)
    REJECTED = "rejected"  # a permanent refusal (400...): sending again cannot help; move aside, count


@dataclass
class ReplayResult:
    """Outcome of one replay round over one or more signals."""

    sent_batches: int = 0
    sent_items: int = 0
    remaining_batches: int = 0
    corrupt: int = 0
    rejected: int = 0
    skipped_locked: int = 0  # signals another process was replaying at the time
    errors: list[str] = field(default_factory=list)

    def add(self, other: ReplayResult) -> None:
        self.sent_batches += other.sent_batches
        self.sent_items += other.sent_items
        self.remaining_batches += other.remaining_batches
        self.corrupt += other.corrupt
        self.rejected += other.rejected
        self.skipped_locked += other.skipped_locked
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class SpoolEntry:
    path: Path
    items: int
    payload: bytes


class Spool:
    """One signal's spool directory: put, list oldest first, read (checked), remove."""

    def __init__(self, directory: Path | str, signal: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if signal not in SIGNALS:
            raise ValueError(f"invalid signal={signal!r}: expected one of {', '.join(SIGNALS)}")
        if max_bytes <= 0:
            raise ValueError(f"invalid max_bytes={max_bytes!r}: expected a number of bytes above 0")
        self.dir = Path(directory)
        self.signal = signal
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._size: int | None = None  # cached bytes on disk; rescanned now and then (other processes)
        self._scanned_at = 0.0
        self._full_logged = False
        self._maybe_pending: bool | None = None  # cheap hint for the hot path; None = not looked yet
        self.listeners: list[Callable[[], None]] = []  # called after each successful put
        _instances.add(self)

    # --- writing -------------------------------------------------------------------------------------------
    def put(self, payload: bytes, items: int) -> bool:
        """Write one batch; False when it was dropped (spool full or not writable), which is counted."""
        size = _HEADER.size + len(payload)
        tmp: Path | None = None
        try:
            self._ensure_dir()
            with self._lock:
                current = self._current_size()
                if current + size > self.max_bytes:
                    current = self._scan_size()  # confirm against the disk before dropping
                    self._scanned_at = time.monotonic()
                if current + size > self.max_bytes:
                    self._size = current
                    self._drop_full(items)
                    return False
                name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):08d}{SUFFIX}"
                self._size = current + size
            header = _HEADER.pack(_MAGIC, _VERSION, items, len(payload), zlib.crc32(payload))
            tmp = self.dir / f".tmp-{name}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                _write_all(fd, header)
                _write_all(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.dir / name)
            tmp = None
            _fsync_dir(self.dir)
        except OSError as exc:
            with self._lock:
                self._size = None
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            diagnostics.report(f"spool.write {self.dir}", exc)
            diagnostics.count_drop(f"spool.{self.signal}.unwritable", items)
            return False
        with self._lock:
            self._full_logged = False
            self._maybe_pending = True
        for listener in list(self.listeners):
            try:
                listener()
            except Exception as exc:  # a listener is ours; still never let it break the export path
                diagnostics.report("spool.listener", exc)
        return True

    def _ensure_dir(self) -> None:
        if not self.dir.is_dir():
            private_dir(self.dir)
            with contextlib.suppress(OSError):
                os.chmod(self.dir, 0o700)

    def _drop_full(self, items: int) -> None:
        diagnostics.count_drop(f"spool.{self.signal}.full", items)
        if not self._full_logged:
            self._full_logged = True
            logger.warning("otel_agentkit: spool %s is full (%d bytes, limit %d): dropping new %s batches until "
                           "replay frees space (counted in agentkit.sdk.dropped)",
                           self.dir, self._size or 0, self.max_bytes, self.signal)

    def _current_size(self) -> int:
        now = time.monotonic()
        if self._size is None or now - self._scanned_at > _RESCAN_S:
            self._size = self._scan_size()
            self._scanned_at = now
        return self._size

    def _scan_size(self) -> int:
        total = 0
        for path in self._files():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    # --- reading -------------------------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        try:
            entries = list(os.scandir(self.dir))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:  # e.g. no permission: nothing can be replayed from here, say so once
            diagnostics.report(f"spool.list {self.dir}", exc)
            return []
        return sorted((Path(e.path) for e in entries if e.name.endswith(SUFFIX) and not e.name.startswith(".")),
                      key=lambda p: p.name)

    def pending(self) -> list[Path]:
        """Spooled batches, oldest first; removes temp files left by a writer that died mid-write."""
        self._sweep_stale_tmp()
        return self._files()

    def has_pending(self) -> bool:
        """Whether any batch is spooled (looks at the directory)."""
        found = bool(self._files())
        self._maybe_pending = found
        return found

    def maybe_pending(self) -> bool:
        """A cached :meth:`has_pending` for the export hot path: set by writes, cleared when replay empties
        the spool; files another process spools are noticed by the replayer's periodic look."""
        if self._maybe_pending is None:
            return self.has_pending()
        return self._maybe_pending

    def _sweep_stale_tmp(self) -> None:
        try:
            entries = list(os.scandir(self.dir))
        except OSError:
            return
        cutoff = time.time() - _STALE_TMP_S
        for e in entries:
            if e.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if e.stat().st_mtime < cutoff:
                        os.unlink(e.path)

    def read(self, path: Path) -> SpoolEntry | None:
        """The checked contents of one file, or None if it is gone or corrupt (then moved aside, counted)."""
        entry = self.load(path)
        return entry if isinstance(entry, SpoolEntry) else None

    def load(self, path: Path) -> SpoolEntry | str:
        """Like :meth:`read`, but says why there is no entry: 'gone', 'unreadable' or 'corrupt'."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return "gone"  # another replayer took it
        except OSError as exc:
            diagnostics.report(f"spool.read {self.dir}", exc)
            return "unreadable"
        why = _check(data)
        if why:
            self._set_aside(path, "corrupt", why)
            diagnostics.count_drop(f"spool.{self.signal}.corrupt", 1)
            return "corrupt"
        _, _, items, length, _ = _HEADER.unpack_from(data)
        return SpoolEntry(path, items, data[_HEADER.size:_HEADER.size + length])

    def remove(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        with self._lock:
            if self._size is not None:
                self._size = max(0, self._size - size)

    def _set_aside(self, path: Path, folder: str, why: str) -> None:
        target_dir = self.dir / folder
        try:
            private_dir(target_dir)
            os.replace(path, target_dir / path.name)
            where = str(target_dir / path.name)
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
            where = "deleted (could not move it aside)"
        with self._lock:
            self._size = None
        logger.warning("otel_agentkit: spool file %s is %s (%s): %s; its batch is counted as dropped",
                       path.name, folder, why, where)

    # --- replay --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def replay_lock(self) -> Iterator[bool]:
        """An exclusive, non-blocking lock across processes: True if this process may replay now."""
        try:
            import fcntl
        except ImportError:  # not POSIX: one process at a time is then the user's business
            yield True
            return
        try:
            self._ensure_dir()
            fd = os.open(self.dir / ".replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            diagnostics.report(f"spool.lock {self.dir}", exc)
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def drain(self, send: Callable[[bytes], SendResult], max_batches: int | None = None,
              stop: threading.Event | None = None) -> ReplayResult:
        """Send spooled batches oldest first until the spool is empty, a send must be retried,
        ``max_batches`` were sent, or ``stop`` is set. Files are deleted only after the endpoint accepted them."""
        result = ReplayResult()
        with self.replay_lock() as mine:
            if not mine:
                result.skipped_locked += 1
                result.remaining_batches = len(self._files())
                return result
            files = self.pending()
            for i, path in enumerate(files):
                if (max_batches is not None and result.sent_batches >= max_batches) or (stop and stop.is_set()):
                    result.remaining_batches = len(files) - i
                    break
                entry = self.load(path)
                if not isinstance(entry, SpoolEntry):
                    result.corrupt += entry == "corrupt"
                    continue
                try:
                    outcome = send(entry.payload)
                except Exception as exc:
                    diagnostics.report(f"spool.replay.{self.signal}", exc)
                    outcome = SendResult.RETRY
                    result.errors.append(f"{self.signal}: {type(exc).__name__}: {exc}")
                if outcome is SendResult.ACCEPTED:
                    self.remove(path)
                    result.sent_batches += 1
                    result.sent_items += entry.items
                elif outcome is SendResult.REJECTED:
                    self._set_aside(path, "rejected", "refused by the endpoint")
                    diagnostics.count_drop(f"spool.{self.signal}.rejected", entry.items)
                    result.rejected += 1
                else:
                    result.remaining_batches = len(files) - i
                    if not result.errors:
                        result.errors.append(f"{self.signal}: endpoint did not accept the batch; kept for later")
                    break
            if not result.remaining_batches:
                self._maybe_pending = bool(self._files())
        return result


_instances: weakref.WeakSet[Spool] = weakref.WeakSet()


def _after_fork() -> None:  # a lock held by another thread at fork time would never be released
    for spool in list(_instances):
        spool._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _check(data: bytes) -> str:
    """Why ``data`` is not a valid spool file ('' when it is)."""
    if len(data) < _HEADER.size:
        return "shorter than its header"
    magic, version, _items, length, crc = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        return "not a spool file"
    if version != _VERSION:
        return f"unknown version {version}"
    if len(data) != _HEADER.size + length:
        return f"length {len(data) - _HEADER.size} instead of {length}"
    if zlib.crc32(data[_HEADER.size:]) != crc:
        return "checksum mismatch"
    return ""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Replayer:
    """Background replay of one spool: runs when a batch is spooled, when a live export succeeds again
    (``nudge``), and on a back-off timer while the endpoint stays down."""

    def __init__(self, spool: Spool, send: Callable[[bytes], SendResult], min_backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0, idle_poll_s: float = 30.0) -> None:
        self.spool = spool
        self._send = send
        self._min = min_backoff_s
        self._max = max_backoff_s
        self._idle = idle_poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.rounds = 0
        self.last: ReplayResult | None = None

    def start(self) -> None:
        with self._start_lock:
            alive = self._thread is not None and self._thread.is_alive()  # not alive in a forked child
            if not alive and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=f"agentkit-replay-{self.spool.signal}",
                                                daemon=True)
                self._thread.start()

    def nudge(self) -> None:
        """The endpoint answered: try the backlog now instead of waiting for the timer."""
        self.start()
        self._wake.set()

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        backoff = self._min
        while not self._stop.is_set():
            wait = self._idle
            try:
                if self.spool.has_pending():
                    result = self.spool.drain(self._send, stop=self._stop)
                    self.rounds += 1
                    self.last = result
                    if result.remaining_batches:
                        wait, backoff = backoff, min(self._max, backoff * 2)
                    else:
                        backoff = self._min
            except Exception as exc:
                diagnostics.report(f"spool.replayer.{self.spool.signal}", exc)
                wait, backoff = backoff, min(self._max, backoff * 2)
            self._wake.wait(wait)
            self._wake.clear()


def spool_dir(home: Path | str, signal: str) -> Path:
    return Path(home) / "spool" / signal


def replay(home: Path | str | None = None, signals: Sequence[str] = SIGNALS, *,
           max_batches: int | None = None,
           send: Callable[[str], Callable[[bytes], SendResult]] | None = None) -> ReplayResult:
    """Send what is spooled under ``home`` now, oldest first, to the OTLP endpoints configured by the
    standard OTEL_EXPORTER_OTLP_* variables (what ``agentkit replay`` runs). Stops a signal at its first
    batch the endpoint does not accept; what was not sent stays spooled. At-least-once: see module doc.

    ``send`` maps a signal to a sender (default: :func:`otel_agentkit.export.otlp.raw_sender`).
    """
    from ..config import ConfigError, default_home

    base = Path(home) if home is not None else default_home()
    for signal in signals:
        if signal not in SIGNALS:
            raise ConfigError("signals", signal, f"expected one of {', '.join(SIGNALS)}")
    total = ReplayResult()
    for signal in signals:
        spool = Spool(spool_dir(base, signal), signal)
        if not spool.has_pending():
            continue
        if send is None:
            from .otlp_send import raw_sender

            sender: Callable[[bytes], SendResult] = raw_sender(signal)
        else:
            sender = send(signal)
        try:
            total.add(spool.drain(sender, max_batches=max_batches))
        finally:
            close = getattr(sender, "close", None)
            if close is not None:
                close()
    return total
