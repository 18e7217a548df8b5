"""Local telemetry files: OTLP/JSON lines, one export request per line, as the Collector's file exporter writes.

Layout, in one directory (``$AGENTKIT_HOME/telemetry`` by default)::

    traces-2026-05-01.jsonl      the file being written today (UTC date)
    traces-2026-05-01.1.jsonl    earlier parts of the same day, rotated out by size (1 is the oldest)
    metrics-2026-05-01.jsonl     logs-2026-05-01.jsonl

Why it is safe with several processes and crashes:

* each line goes out in one ``os.write`` on an ``O_APPEND`` descriptor while holding an ``flock`` on the
  file, so lines from different processes never interleave (the kernel appends a single write whole; the
  lock also covers the rare short write that needs a second call, and makes rotation and the tail check
  below atomic among writers; it costs about a microsecond per batch);
* rotation renames the full file under that lock; other writers notice the name now points at another
  inode and reopen;
* a crash mid-write can leave a torn last line: readers skip it, and the next writer, seeing the file does
  not end in a newline, starts its line on a fresh one so its own data is intact.

Retention goes by the date in the file name, not the mtime (copying or touching files does not keep them).
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Sequence

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import diagnostics
from ..config import ConfigError, default_home, private_dir
from . import otlp_json
from .files import SIGNALS, file_name, parse_file_name

# The SDK's public home for log exporters despite the underscore (names of SDK >= 1.39; we require 1.45)
from opentelemetry.sdk._logs.export import LogRecordExporter as _LogExporterBase
from opentelemetry.sdk._logs.export import LogRecordExportResult as _LogResult

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_RETENTION_DAYS = 30
_DAY = 86_400


def default_directory() -> Path:
    """Where the exporters write when not told: ``<home>/telemetry``, the place the CLI reads."""
    return default_home() / "telemetry"


def _check_positive(setting: str, value: object, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(setting, value, "expected a whole number above 0" + (" or None" if allow_none else ""))


def prune(directory: str | os.PathLike[str], retention_days: int, today: dt.date | None = None) -> list[Path]:
    """Remove our files whose name's date is more than ``retention_days`` before ``today`` (UTC).

    Only names the writer makes are touched; anything else in the directory is left alone.
    """
    _check_positive("retention_days", retention_days)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    cutoff = today - dt.timedelta(days=retention_days)
    removed = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = parse_file_name(entry.name)
        if name is not None and name.date < cutoff:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except FileNotFoundError:  # another process pruned it first
                pass
    return removed


_writers: weakref.WeakSet[JsonlWriter] = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked child: a new thread lock (one held by another thread at fork time would never be
    released), and its own file descriptor on next write, because flock belongs to the open file
    description, which parent and child would otherwise share, and so not exclude each other."""
    for w in list(_writers):
        w._lock = threading.Lock()
        w._close_fd()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class JsonlWriter:
    """Appends whole lines to ``{signal}-{UTC date}.jsonl`` in ``directory``, rotating and pruning."""

    def __init__(self, directory: str | os.PathLike[str], signal: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 retention_days: int | None = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        if signal not in SIGNALS:
            raise ConfigError("signal", signal, f"expected one of {', '.join(SIGNALS)}")
        _check_positive("max_bytes", max_bytes)
        _check_positive("retention_days", retention_days, allow_none=True)
        self.directory = Path(directory).expanduser()
        self.signal = signal
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._path: Path | None = None
        self._end: int | None = None  # file size right after our last write: the tail is then ours
        self._day_ends = 0.0  # clock value at which the current date's file stops being current
        self._date: dt.date | None = None
        _writers.add(self)

    @property
    def path(self) -> Path:
        """The file being written now."""
        return self.directory / file_name(self.signal, self._today()[0])

    def _today(self) -> tuple[dt.date, float]:
        now = self._clock()
        date = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
        return date, (now // _DAY + 1) * _DAY

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = self._ino = self._path = self._end = None

    def _open(self) -> int:
        now = self._clock()
        if self._fd is not None and now < self._day_ends:
            return self._fd
        date, day_ends = self._today()
        if date != self._date:
            self._close_fd()
            private_dir(self.directory)
            if self.retention_days is not None:
                try:
                    prune(self.directory, self.retention_days, date)
                except OSError as exc:  # an old file we may not delete must not stop today's writes
                    diagnostics.report(f"export.jsonl.{self.signal}.retention", exc)
            self._date, self._day_ends = date, day_ends
        if self._fd is None:
            self._reopen()
        return self._fd  # type: ignore[return-value]

    def _reopen(self) -> None:
        self._close_fd()
        assert self._date is not None
        path = self.directory / file_name(self.signal, self._date)
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # the directory was removed under us
            private_dir(self.directory)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        st = os.fstat(fd)
        self._fd, self._ino, self._path = fd, (st.st_dev, st.st_ino), path

    def _rotate(self) -> None:
        """Rename the full file to the next free ``.N`` of its date (caller holds the file lock)."""
        assert self._path is not None and self._date is not None
        prefix = f"{self.signal}-{self._date.isoformat()}."
        highest = 0
        for entry in os.scandir(self.directory):
            if entry.name.startswith(prefix):
                name = parse_file_name(entry.name)
                if name is not None and name.signal == self.signal and name.date == self._date:
                    highest = max(highest, name.index)
        os.rename(self._path, self.directory / file_name(self.signal, self._date, highest + 1))

    def append(self, line: bytes) -> None:
        """Append one line (it must end with a newline and contain no other) to today's file."""
        with self._lock:
            for _ in range(8):  # each retry follows a rotation or removal by another writer
                if self._write_locked(line):
                    return
            raise OSError(errno.EAGAIN, f"{self.signal} file kept changing under the writer")

    def _write_locked(self, line: bytes) -> bool:
        """One attempt: False when the file was rotated or removed first (the caller retries)."""
        fd = self._open()
        assert self._path is not None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            try:
                st = os.stat(self._path)
            except FileNotFoundError:
                st = None
            stale = st is None or (st.st_dev, st.st_ino) != self._ino  # rotated or removed by someone else
            if not stale and st.st_size > 0 and st.st_size + len(line) > self.max_bytes:
                self._rotate()
                stale = True
            if stale:
                self._end = None
            else:
                size = st.st_size
                data = line
                if size > 0 and size != self._end:  # someone else wrote last: a crash may have torn the tail
                    if os.pread(fd, 1, size - 1) != b"\n":
                        data = b"\n" + line
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                self._end = size + len(data)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if stale:
            self._reopen()
        return not stale

    def fsync(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError:
                    pass
            self._close_fd()


class _JsonlExport:
    """The shared part of the three exporters: encode, append one line, contain and count failures (a
    fan-out in front does not count them again: the exporters say ``counts_own_drops``)."""

    def __init__(self, directory: str | os.PathLike[str] | None, signal: str, max_bytes: int,
                 retention_days: int | None, clock: Callable[[], float]) -> None:
        self.writer = JsonlWriter(default_directory() if directory is None else directory, signal,
                                  max_bytes=max_bytes, retention_days=retention_days, clock=clock)
        self._shutdown = False

    def write(self, encode: Callable[[Any], dict[str, Any]], batch: Any, count: int) -> bool:
        if self._shutdown:
            if count:
                diagnostics.count_drop(f"jsonl.{self.writer.signal}.shutdown", count)
            return False
        if not count:
            return True
        try:
            self.writer.append(otlp_json.dumps(encode(batch)) + b"\n")
            return True
        except Exception as exc:  # a full disk or a read-only directory must not reach the app
            diagnostics.report(f"export.jsonl.{self.writer.signal}", exc)
            diagnostics.count_drop(f"jsonl.{self.writer.signal}", count)
            return False

    def shutdown(self) -> None:
        if not self._shutdown:
            self._shutdown = True
            self.writer.close()


class JsonlSpanExporter(SpanExporter):
    """Spans to ``traces-YYYY-MM-DD.jsonl`` (OTLP/JSON lines). Entry point name: ``agentkit_jsonl``."""

    counts_own_drops = True

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 retention_days: int | None = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        self._out = _JsonlExport(directory, "traces", max_bytes, retention_days, clock)

    @property
    def directory(self) -> Path:
        return self._out.writer.directory

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._out.write(otlp_json.encode_spans, spans, len(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # each export is written through to the OS before it returns

    def shutdown(self) -> None:
        self._out.shutdown()


def _point_count(data: MetricsData) -> int:
    return sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics)


class JsonlMetricExporter(MetricExporter):
    """Metrics to ``metrics-YYYY-MM-DD.jsonl``; temporality and aggregation as any MetricExporter takes."""

    counts_own_drops = True

    def __init__(self, directory: str | os.PathLike[str] | None = None, *,
                 preferred_temporality: dict[type, Any] | None = None,
                 preferred_aggregation: dict[type, Any] | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                 retention_days: int | None = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(preferred_temporality=preferred_temporality, preferred_aggregation=preferred_aggregation)
        self._out = _JsonlExport(directory, "metrics", max_bytes, retention_days, clock)

    @property
    def directory(self) -> Path:
        return self._out.writer.directory

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        try:
            count = _point_count(metrics_data)
        except Exception as exc:
            diagnostics.report("export.jsonl.metrics", exc)
            diagnostics.count_drop("jsonl.metrics", 1)
            return MetricExportResult.FAILURE
        ok = self._out.write(otlp_json.encode_metrics, metrics_data, count)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._out.shutdown()


class JsonlLogExporter(_LogExporterBase):
    """Log records (GenAI events among them) to ``logs-YYYY-MM-DD.jsonl``."""

    counts_own_drops = True

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 retention_days: int | None = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        self._out = _JsonlExport(directory, "logs", max_bytes, retention_days, clock)

    @property
    def directory(self) -> Path:
        return self._out.writer.directory

    def export(self, batch: Sequence[Any]) -> Any:
        ok = self._out.write(otlp_json.encode_logs, batch, len(batch))
        return _LogResult.SUCCESS if ok else _LogResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        self._out.shutdown()
