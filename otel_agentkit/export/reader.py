"""Stream telemetry back from OTLP/JSON-lines files: ours, or an OpenTelemetry Collector file exporter's.

Files are read line by line (gzip'd ``.gz`` files too), so memory stays bounded by the longest line, not
the file. A line that is not a valid export request (bad JSON, wrong shape, a torn last line, binary
garbage) is skipped and counted in :class:`ReadStats`; content never makes the reader raise. So is a span
whose start or end is not a time OTLP can carry (outside 1 .. 2^64-1 ns): formatting it would fail.

Windows (``since``/``until``) select spans by their start time. Only ``since`` may skip a file whole, by
the date in its name (see ``_date_rules_out``). With ``unique=True`` a span held by several files or
sources (a copy of a file, a Collector's output read beside ours, a span written twice) is yielded once.
Times follow the SDK's one rule (``otel_agentkit.timeunits``). Standard library only, so the CLI can read
without loading the SDK.
"""

from __future__ import annotations

import datetime as dt
import glob
import gzip
import os
from dataclasses import dataclass, field
from json import loads as _json_loads
from pathlib import Path
from typing import IO, Any, Callable, Generic, Iterator, Sequence, TypeVar, Union

from ..timeunits import to_ns as _time_to_ns
from .files import SIGNALS, FileName, file_name, parse_file_name
from .otlp_decode import (TIME_LIMIT_NS, MetricPoint, SpanColumns, SpanRecord, _Shape, columns_of, decode_attributes,
                          decode_value, points_of, spans_of)

try:  # optional: a faster parser
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None

_typed_spans: Any = ...  # the typed decoder of trace lines (otlp_typed): loaded on first read; None: tests

__all__ = ["SIGNALS", "TIME_LIMIT_NS", "TOP_KEYS", "FileName", "MetricPoint", "ReadStats", "SpanColumns", "SpanRecord",
           "Stream", "columns_of", "decode_attributes", "decode_value", "file_name", "iter_metric_points",
           "iter_requests", "iter_span_columns", "iter_spans", "list_files", "open_telemetry_file", "parse_file_name",
           "span_key", "span_line_decoder"]


def _loads(line: bytes) -> Any:
    if _orjson_loads is not None:
        try:
            return _orjson_loads(line)
        except ValueError:  # orjson refuses escaped lone surrogates, which json (and our writer) allow
            pass
    return _json_loads(line)


TOP_KEYS = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}
"""The one top-level key of an export request, per signal."""

_READABLE_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson")
_NS_PER_DAY = 86_400 * 10**9
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
SINCE_SLACK_NS = _NS_PER_DAY
"""How far past the end of its date a file may still hold span starts (see ``_date_rules_out``)."""

PathArg = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]
TimeArg = Union[dt.datetime, dt.date, int, float, None]
T = TypeVar("T")


# --- records -----------------------------------------------------------------------------------------------

@dataclass
class ReadStats:
    """What a read saw: pass one in to accumulate over several reads, or take ``stream.stats``."""

    files: int = 0
    lines: int = 0
    records: int = 0
    corrupt: int = 0
    duplicates: int = 0  # spans already read from another file or line (``unique=True``): skipped
    bad_spans: int = 0  # spans with a start or end OTLP cannot carry (outside 1 .. 2^64-1 ns): skipped
    skipped_files: int = 0  # ruled out by the date in their name
    unreadable_files: int = 0  # could not be opened or read to the end (reported in errors)
    errors: list[str] = field(default_factory=list)


class Stream(Generic[T]):
    """An iterator over records that carries its :class:`ReadStats`; closes its file when closed."""

    def __init__(self, gen: Iterator[T], stats: ReadStats) -> None:
        self._gen = gen
        self.stats = stats

    def __iter__(self) -> Iterator[T]:
        return self._gen  # a ``for`` loop then steps the generator itself, without a Python-level __next__

    def __next__(self) -> T:
        return next(self._gen)

    def close(self) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- files and lines ---------------------------------------------------------------------------------------

def _to_ns(value: TimeArg, what: str) -> int | None:
    """A window bound by the SDK's one rule for times (a datetime, naive meaning UTC, or epoch seconds; see
    ``otel_agentkit.timeunits``), or a date (its UTC midnight, like the dates in file names)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        if aware < _EPOCH:
            return 0  # a window reaching back past 1970 holds every span there can be
    elif isinstance(value, dt.date):
        return (value - dt.date(1970, 1, 1)).days * _NS_PER_DAY
    return _time_to_ns(value, what)


def _date_rules_out(name: FileName, since: int | None) -> bool:
    """Whether a file of ours is sure to hold no span that started at or after ``since``.

    ``until`` never rules out a file: a file dated D holds what was exported on D, and that can have
    started at any earlier time (a backfilled ``record_llm_call``, a long agent run, a batch exported just
    after midnight). ``since`` can: the writer names a file by the UTC date of its export clock, a span is
    exported only after it started, so every span in a file dated D started before D ended. A day of slack
    covers start times the app handed in from another clock (``record_llm_call`` with a time a little
    ahead of this machine's); it costs reading at most one more day of files.
    """
    if since is None:
        return False
    day_end = (name.date - dt.date(1970, 1, 1)).days * _NS_PER_DAY + _NS_PER_DAY
    return day_end + SINCE_SLACK_NS <= since


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def list_files(path: PathArg, signal: str | None = None, since: TimeArg = None, until: TimeArg = None,
               stats: ReadStats | None = None) -> list[Path]:
    """The files a read of ``path`` (a file, a directory, a glob, or a list of those) would open, in order.

    In a directory, files with a JSON-lines suffix are taken; our own files of another signal, and our own
    files that ``since`` rules out by their date, are left out (and counted as skipped). ``until`` is
    checked but rules out no file (see ``_date_rules_out``).
    """
    since_ns = _to_ns(since, "since")
    _to_ns(until, "until")
    items = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    found: list[Path] = []
    for item in items:
        text = os.fspath(item)
        p = Path(text).expanduser()
        if p.is_dir():
            found.extend(sorted(c for c in p.iterdir() if c.is_file() and c.name.endswith(_READABLE_SUFFIXES)))
        elif p.exists() or not _has_glob(text):
            if not p.exists():
                raise FileNotFoundError(f"no telemetry file or directory at {text}")
            found.append(p)
        else:
            found.extend(sorted(Path(m) for m in glob.glob(os.path.expanduser(text)) if os.path.isfile(m)))
    ours: list[tuple[FileName, Path]] = []
    foreign: list[Path] = []
    seen: set[Path] = set()
    for p in found:
        if p in seen:
            continue
        seen.add(p)
        name = parse_file_name(p.name)
        if name is None:
            foreign.append(p)
        elif signal is not None and name.signal != signal:
            continue
        elif _date_rules_out(name, since_ns):
            if stats is not None:
                stats.skipped_files += 1
        else:
            ours.append((name, p))
    ours.sort(key=lambda pair: pair[0].order)
    return [p for _, p in ours] + foreign


READ_BUFFER_BYTES = 4 << 20
"""An export request line is often a megabyte or more (512 spans): with the default 8 KiB buffer, readline
gathers it from hundreds of chunks; with a buffer larger than the line it copies it once (7x faster)."""


def open_telemetry_file(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb", buffering=READ_BUFFER_BYTES)


def _lines(f: IO[bytes], stats: ReadStats, limit: int) -> Iterator[bytes]:
    """Whole lines; a line longer than ``limit`` is skipped (and counted corrupt) without being held."""
    readline = f.readline
    while True:
        line = readline(limit)
        if not line:
            return
        stats.lines += 1
        if line[-1:] != b"\n" and len(line) >= limit:
            stats.corrupt += 1
            while True:
                rest = readline(limit)
                if not rest or rest[-1:] == b"\n":
                    break
            continue
        yield line


Tally = Union[list, None]
"""A one-cell list a span decoder adds the spans it skipped for an impossible time to (once the whole line
decoded: a line that then fails is not counted twice)."""
Decode = Callable[[bytes, Union[int, None], Union[int, None], Tally], Sequence[T]]
"""One line to its records that started in [since, until); raises when the line is not a request."""
Extract = Callable[[dict[str, Any], Union[int, None], Union[int, None], Tally], list[T]]


def _dict_decoder(signal: str, extract: Extract[T]) -> Decode[T]:
    """Parse the line into dicts, check it is a request of ``signal``, and extract its records."""
    top = TOP_KEYS[signal]
    others = tuple(v for k, v in TOP_KEYS.items() if k != signal)

    def decode(line: bytes, since: int | None, until: int | None, bad: Tally = None) -> Sequence[T]:
        request = _loads(line)
        if type(request) is not dict:
            raise _Shape("not an object")
        if top not in request:
            if any(k in request for k in others):
                return ()  # another signal's request (a Collector writing all to one file)
            raise _Shape(f"no {top}")
        return extract(request, since, until, bad)

    return decode


def span_line_decoder(keys: Sequence[str] | None = None) -> Decode[Any]:
    """SpanRecords (or SpanColumns of ``keys``) from trace lines: the typed decoder (msgspec), with the
    careful one for the lines it refuses."""
    global _typed_spans
    slots = None if keys is None else {key: i for i, key in enumerate(keys)}
    if keys is not None and len(slots) != len(keys):  # type: ignore[arg-type]
        raise ValueError(f"invalid keys={list(keys)!r}: a key is repeated")
    careful = _dict_decoder("traces", spans_of)
    if keys is not None:
        spans = careful

        def careful(line: bytes, since: int | None, until: int | None, bad: Tally = None) -> Sequence[SpanColumns]:
            return [columns_of(span, keys) for span in spans(line, since, until, bad)]

    if _typed_spans is ...:  # imported here, not with the module: the JSONL writer imports it and never reads
        from .otlp_typed import spans_of_line as _typed_spans
    typed = _typed_spans
    if typed is None:  # the tests' switch: read with the careful decoder alone
        return careful

    def decode(line: bytes, since: int | None, until: int | None, bad: Tally = None) -> Sequence[Any]:
        try:
            return typed(line, since, until, slots, bad)
        except Exception:  # an encoding or a fault the typed decoder does not take: the careful path decides
            return careful(line, since, until, bad)

    return decode


_KEY_MASK = (1 << 60) - 1


def span_key(trace_id: str, span_id: str) -> int:
    """The int a span is known by when reading with ``unique=True``: 60 bits of the hash of both ids.

    An int, not the id strings: about 70 bytes per distinct span in the set (32 for the int, the rest the
    set's table; 7 MB per 100,000 spans in bench/analytics.py) against about 180 for the strings. Both ids
    go in, because span ids are only unique within a trace for some writers (test data, converters that
    count from 1). Two different spans share a key with odds of about n^2 / 2^61 (1 in 20,000 for ten
    million spans read at once), the one way ``unique`` can drop a span that was not a copy.
    """
    return hash((trace_id, span_id)) & _KEY_MASK


def _records(path: PathArg, signal: str, decode: Decode[T], since: TimeArg, until: TimeArg,
             stats: ReadStats | None, max_line_bytes: int, unique: bool = False) -> Stream[T]:
    stats = stats if stats is not None else ReadStats()
    since_ns, until_ns = _to_ns(since, "since"), _to_ns(until, "until")
    files = list_files(path, signal, since, until, stats)  # errors on a missing path surface here, eagerly
    bad = [0]  # spans of the current line skipped for an impossible time, moved into stats per line
    seen: set[int] | None = set() if unique else None

    def gen() -> Iterator[T]:
        for p in files:
            try:
                f = open_telemetry_file(p)
            except OSError as exc:
                stats.unreadable_files += 1
                stats.errors.append(f"{p}: {exc}")
                continue
            stats.files += 1
            try:
                for line in _lines(f, stats, max_line_bytes):
                    if line.isspace():  # not strip(): that copies the whole line
                        continue
                    try:
                        records = decode(line, since_ns, until_ns, bad)
                    except Exception:  # bad JSON, wrong shape, bad bytes, too deep: skip and count
                        stats.corrupt += 1
                        continue
                    if bad[0]:
                        stats.bad_spans += bad[0]
                        bad[0] = 0
                    n = 0
                    try:
                        if seen is None:
                            for record in records:
                                n += 1
                                yield record
                        else:
                            add = seen.add
                            for record in records:
                                key = hash((record[0], record[1])) & _KEY_MASK  # span_key, inlined
                                if key in seen:
                                    stats.duplicates += 1
                                    continue
                                add(key)
                                n += 1
                                yield record
                    finally:  # counted here rather than per record: this loop runs once per span read
                        stats.records += n
            except Exception as exc:  # unreadable mid-way, a broken gzip stream (OSError, EOFError, zlib.error)
                stats.unreadable_files += 1
                stats.corrupt += 1
                stats.errors.append(f"{p}: {exc}")
            finally:
                f.close()

    return Stream(gen(), stats)


def iter_spans(path: PathArg, since: TimeArg = None, until: TimeArg = None, stats: ReadStats | None = None,
               *, unique: bool = False, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[SpanRecord]:
    """Spans that started in [since, until) from a file, a directory, a glob or a list of those.

    ``since``/``until``: a datetime (naive means UTC), epoch seconds, or a date (its UTC midnight).
    With ``unique`` a span (trace id, span id) seen before in this read is skipped and counted in
    ``stats.duplicates``: what anything that totals spans wants; without it every copy on disk is yielded
    (what a check of the writing side wants). A missing file or directory raises FileNotFoundError at
    once; bad content is skipped and counted.
    """
    return _records(path, "traces", span_line_decoder(), since, until, stats, max_line_bytes, unique)


def iter_span_columns(path: PathArg, keys: Sequence[str], since: TimeArg = None, until: TimeArg = None,
                      stats: ReadStats | None = None, *, unique: bool = False,
                      max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[SpanColumns]:
    """As :func:`iter_spans`, but each span as :class:`SpanColumns`: the values of ``keys`` in that order,
    with ids, times and status. Faster when the same few attributes of every span are all a reader needs."""
    keys = tuple(keys)
    return _records(path, "traces", span_line_decoder(keys), since, until, stats, max_line_bytes, unique)


def iter_metric_points(path: PathArg, since: TimeArg = None, until: TimeArg = None,
                       stats: ReadStats | None = None, *,
                       max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[MetricPoint]:
    """Metric data points with a time in [since, until), as :func:`iter_spans` reads spans."""
    return _records(path, "metrics", _dict_decoder("metrics", points_of), since, until, stats, max_line_bytes)


def iter_requests(path: PathArg, signal: str = "traces", stats: ReadStats | None = None, *,
                  since: TimeArg = None, until: TimeArg = None,
                  max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[dict[str, Any]]:
    """Raw export requests (one decoded line each) of ``signal``; ``since`` only skips files (``until`` none)."""
    if signal not in TOP_KEYS:
        raise ValueError(f"invalid signal={signal!r}: expected one of {', '.join(SIGNALS)}")
    top = TOP_KEYS[signal]

    def whole(request: dict[str, Any], _since: int | None, _until: int | None, _bad: Tally = None
              ) -> list[dict[str, Any]]:
        if type(request[top]) is not list:
            raise _Shape(f"{top} is not a list")
        return [request]

    return _records(path, signal, _dict_decoder(signal, whole), since, until, stats, max_line_bytes)

