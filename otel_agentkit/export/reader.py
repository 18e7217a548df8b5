"""Stream telemetry back from OTLP/JSON-lines files: ours, or an OpenTelemetry Collector file exporter's.

Files are read line by line (gzip'd ``.gz`` files too), so memory stays bounded by the longest line, not
the file. A line that is not a valid export request (bad JSON, wrong shape, a torn last line, binary
garbage) is skipped and counted in :class:`ReadStats`; content never makes the reader raise. Files named
the way the JSONL writer names them (``traces-YYYY-MM-DD[.N].jsonl``) are skipped whole when ``since`` /
``until`` rule out their date. Standard library only, so the CLI can read without loading the SDK.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import glob
import gzip
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Generic, Iterator, Sequence, TypeVar, Union

from json import loads as _json_loads

try:  # optional: a faster parser
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None


def _loads(line: bytes) -> Any:
    if _orjson_loads is not None:
        try:
            return _orjson_loads(line)
        except ValueError:  # orjson refuses escaped lone surrogates, which json (and our writer) allow
            pass
    return _json_loads(line)

SIGNALS = ("traces", "metrics", "logs")
TOP_KEYS = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}
"""The one top-level key of an export request, per signal."""

_FILE_RE = re.compile(r"^(traces|metrics|logs)-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl(\.gz)?$")
_READABLE_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson")
_NS_PER_DAY = 86_400 * 10**9
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
UNTIL_SLACK_NS = _NS_PER_DAY
"""A file dated D holds what was written on D, which started at most this long before D (longer is missed
when ``until`` rules the file out)."""

PathArg = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]
TimeArg = Union[dt.datetime, dt.date, int, float, None]
T = TypeVar("T")


# --- file layout (shared with the writer in jsonl.py) --------------------------------------------------------

@dataclass(frozen=True)
class FileName:
    """A file name the JSONL writer makes: ``{signal}-{date}[.{index}].jsonl[.gz]``."""

    signal: str
    date: dt.date
    index: int  # 0 for the file being written; 1, 2, ... for rotated ones, oldest first
    compressed: bool = False

    @property
    def order(self) -> tuple[dt.date, float]:
        """Sort key: by date, then rotated parts in order, then the live file (the newest)."""
        return self.date, (self.index or math.inf)


def file_name(signal: str, date: dt.date, index: int = 0) -> str:
    return f"{signal}-{date.isoformat()}{f'.{index}' if index else ''}.jsonl"


def parse_file_name(name: str) -> FileName | None:
    """The parts of one of our file names, or None for any other name."""
    m = _FILE_RE.match(name)
    if not m:
        return None
    try:
        date = dt.date.fromisoformat(m.group(2))
    except ValueError:
        return None
    return FileName(m.group(1), date, int(m.group(3) or 0), bool(m.group(4)))


# --- records -----------------------------------------------------------------------------------------------

@dataclass
class ReadStats:
    """What a read saw: pass one in to accumulate over several reads, or take ``stream.stats``."""

    files: int = 0
    lines: int = 0
    records: int = 0
    corrupt: int = 0
    skipped_files: int = 0  # ruled out by the date in their name
    unreadable_files: int = 0  # could not be opened or read to the end (reported in errors)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span as read back; attribute values decoded (int for intValue, list for arrayValue)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    events: tuple[tuple[str, int, dict[str, Any]], ...] = ()

    @property
    def duration_s(self) -> float:
        return max(self.end_ns - self.start_ns, 0) / 1e9


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point of a metric; ``value`` for sums and gauges, ``sum``/``count``/buckets for histograms."""

    name: str
    unit: str
    kind: str  # sum | gauge | histogram | exponential_histogram | summary
    attributes: dict[str, Any]
    time_ns: int
    start_ns: int
    value: int | float | None
    sum: float | None
    count: int | None
    bucket_counts: tuple[int, ...]
    explicit_bounds: tuple[float, ...]
    min: float | None
    max: float | None
    temporality: str | None  # DELTA | CUMULATIVE
    is_monotonic: bool
    resource: dict[str, Any]
    scope: str


class Stream(Generic[T]):
    """An iterator over records that carries its :class:`ReadStats`; closes its file when closed."""

    def __init__(self, gen: Iterator[T], stats: ReadStats) -> None:
        self._gen = gen
        self.stats = stats

    def __iter__(self) -> Stream[T]:
        return self

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


# --- value decoding ----------------------------------------------------------------------------------------

class _Shape(ValueError):
    """A line that parses as JSON but is not an export request."""


_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUSES = ("UNSET", "OK", "ERROR")
_TEMPORALITIES = (None, "DELTA", "CUMULATIVE")
_HEX = frozenset("0123456789abcdefABCDEF")


def _enum(value: Any, names: Sequence[Any], prefix: str) -> Any:
    """An OTLP enum given as a number or as its proto name (``SPAN_KIND_CLIENT``)."""
    if type(value) is int:
        return names[value] if 0 <= value < len(names) else names[0]
    if isinstance(value, str):
        name = value[len(prefix):] if value.startswith(prefix) else value
        return name if name in names else names[0]
    if value is None:
        return names[0]
    raise _Shape(f"bad enum {value!r}")


def _id(value: Any, size: int) -> str:
    """A trace or span id as lower-case hex; OTLP/JSON uses hex, plain protobuf JSON uses base64."""
    if not isinstance(value, str):
        raise _Shape("id is not a string")
    if len(value) == 2 * size and _HEX.issuperset(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Shape(f"bad id {value[:40]!r}") from None
    if len(raw) != size:
        raise _Shape(f"bad id {value[:40]!r}")
    return raw.hex()


def _int(value: Any) -> int:
    if value is None:
        return 0
    if type(value) is int:
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Shape(f"bad integer {value!r}")


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # "NaN", "Infinity", "-Infinity", or a number in a string
        return float(value)
    raise _Shape(f"bad double {value!r}")


def decode_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value: str, bool, int, float, bytes, list, dict or None."""
    if type(value) is not dict:
        raise _Shape("AnyValue is not an object")
    if "stringValue" in value:
        s = value["stringValue"]
        if not isinstance(s, str):
            raise _Shape("stringValue is not a string")
        return s
    if "intValue" in value:
        return _int(value["intValue"])
    if "boolValue" in value:
        b = value["boolValue"]
        if not isinstance(b, bool):
            raise _Shape("boolValue is not a boolean")
        return b
    if "doubleValue" in value:
        return _float(value["doubleValue"])
    if "arrayValue" in value:
        inner = value["arrayValue"] or {}
        values = inner.get("values") or [] if type(inner) is dict else None
        if type(values) is not list:
            raise _Shape("arrayValue.values is not a list")
        return [decode_value(v) for v in values]
    if "kvlistValue" in value:
        inner = value["kvlistValue"] or {}
        values = inner.get("values") or [] if type(inner) is dict else None
        if type(values) is not list:
            raise _Shape("kvlistValue.values is not a list")
        return decode_attributes(values)
    if "bytesValue" in value:
        raw = value["bytesValue"]
        if not isinstance(raw, str):
            raise _Shape("bytesValue is not a string")
        return base64.b64decode(raw)
    return None


def decode_attributes(items: Any) -> dict[str, Any]:
    """A list of OTLP KeyValue as a dict.

    Most of the read time is spent here, so well-formed lists take a fast path (each value a one-key
    object); anything unusual falls back to the careful path, which names what is wrong.
    """
    if not items:
        return {}
    out: dict[str, Any] = {}
    try:
        for kv in items:
            key = kv["key"]
            ((kind, raw),) = kv["value"].items()
            if kind == "stringValue" and type(raw) is str:
                out[key] = raw
            elif kind == "intValue" and type(raw) is str:
                out[key] = int(raw)
            elif kind == "doubleValue" and type(raw) is float:
                out[key] = raw
            elif kind == "boolValue" and type(raw) is bool:
                out[key] = raw
            else:
                out[key] = decode_value(kv["value"])
            if type(key) is not str:
                raise TypeError
        return out
    except (TypeError, KeyError, ValueError, AttributeError):
        return _decode_attributes_checked(items)


def _decode_attributes_checked(items: Any) -> dict[str, Any]:
    if type(items) is not list:
        raise _Shape("attributes is not a list")
    out: dict[str, Any] = {}
    for kv in items:
        if type(kv) is not dict:
            raise _Shape("attribute is not an object")
        key = kv.get("key")
        if type(key) is not str:
            raise _Shape("attribute key is not a string")
        value = kv.get("value")
        out[key] = decode_value(value) if value is not None else None
    return out


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise _Shape(f"{key} is not a list")
    return value


def _obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise _Shape(f"{what} is not an object")
    return value


def _scope_name(block: dict[str, Any]) -> str:
    name = _obj(block.get("scope"), "scope").get("name") or ""
    if not isinstance(name, str):
        raise _Shape("scope.name is not a string")
    return name


# --- span and metric extraction ----------------------------------------------------------------------------

def _spans_of(request: dict[str, Any], since: int | None, until: int | None) -> list[SpanRecord]:
    out: list[SpanRecord] = []
    for rs in _list(request, "resourceSpans"):
        rs = _obj(rs, "resourceSpans[]")
        resource = decode_attributes(_obj(rs.get("resource"), "resource").get("attributes"))
        for ss in _list(rs, "scopeSpans"):
            ss = _obj(ss, "scopeSpans[]")
            scope = _scope_name(ss)
            for sp in _list(ss, "spans"):
                if type(sp) is not dict:
                    raise _Shape("span is not an object")
                start = _int(sp.get("startTimeUnixNano"))
                if (since is not None and start < since) or (until is not None and start >= until):
                    continue
                parent = sp.get("parentSpanId")
                status = _obj(sp.get("status"), "status")
                message = status.get("message") or ""
                name = sp.get("name") or ""
                if not isinstance(message, str) or not isinstance(name, str):
                    raise _Shape("name or status.message is not a string")
                events = []
                for ev in _list(sp, "events"):
                    ev = _obj(ev, "event")
                    ev_name = ev.get("name") or ""
                    if not isinstance(ev_name, str):
                        raise _Shape("event name is not a string")
                    events.append((ev_name, _int(ev.get("timeUnixNano")), decode_attributes(ev.get("attributes"))))
                out.append(SpanRecord(
                    trace_id=_id(sp.get("traceId"), 16),
                    span_id=_id(sp.get("spanId"), 8),
                    parent_span_id=_id(parent, 8) if parent else None,
                    name=name,
                    kind=_enum(sp.get("kind"), _KINDS, "SPAN_KIND_"),
                    start_ns=start,
                    end_ns=_int(sp.get("endTimeUnixNano")),
                    status=_enum(status.get("code"), _STATUSES, "STATUS_CODE_"),
                    status_message=message,
                    attributes=decode_attributes(sp.get("attributes")),
                    resource=resource,
                    scope=scope,
                    events=tuple(events),
                ))
    return out


_METRIC_KINDS = (("sum", "sum"), ("gauge", "gauge"), ("histogram", "histogram"),
                 ("exponentialHistogram", "exponential_histogram"), ("summary", "summary"))


def _opt_float(value: Any) -> float | None:
    return None if value is None else _float(value)


def _points_of(request: dict[str, Any], since: int | None, until: int | None) -> list[MetricPoint]:
    out: list[MetricPoint] = []
    for rm in _list(request, "resourceMetrics"):
        rm = _obj(rm, "resourceMetrics[]")
        resource = decode_attributes(_obj(rm.get("resource"), "resource").get("attributes"))
        for sm in _list(rm, "scopeMetrics"):
            sm = _obj(sm, "scopeMetrics[]")
            scope = _scope_name(sm)
            for metric in _list(sm, "metrics"):
                metric = _obj(metric, "metric")
                name, unit = metric.get("name") or "", metric.get("unit") or ""
                if not isinstance(name, str) or not isinstance(unit, str):
                    raise _Shape("metric name or unit is not a string")
                for key, kind in _METRIC_KINDS:
                    if key in metric:
                        break
                else:
                    continue  # a metric type this reader does not know: nothing to report
                data = _obj(metric[key], key)
                temporality = _enum(data.get("aggregationTemporality"), _TEMPORALITIES, "AGGREGATION_TEMPORALITY_")
                monotonic = bool(data.get("isMonotonic", False))
                for pt in _list(data, "dataPoints"):
                    pt = _obj(pt, "dataPoint")
                    time_ns = _int(pt.get("timeUnixNano"))
                    if (since is not None and time_ns < since) or (until is not None and time_ns >= until):
                        continue
                    value: int | float | None = None
                    if "asInt" in pt:
                        value = _int(pt["asInt"])
                    elif "asDouble" in pt:
                        value = _float(pt["asDouble"])
                    count = pt.get("count")
                    out.append(MetricPoint(
                        name=name, unit=unit, kind=kind,
                        attributes=decode_attributes(pt.get("attributes")),
                        time_ns=time_ns, start_ns=_int(pt.get("startTimeUnixNano")),
                        value=value, sum=_opt_float(pt.get("sum")),
                        count=None if count is None else _int(count),
                        bucket_counts=tuple(_int(c) for c in _list(pt, "bucketCounts")),
                        explicit_bounds=tuple(_float(b) for b in _list(pt, "explicitBounds")),
                        min=_opt_float(pt.get("min")), max=_opt_float(pt.get("max")),
                        temporality=temporality, is_monotonic=monotonic,
                        resource=resource, scope=scope,
                    ))
    return out


# --- files and lines ---------------------------------------------------------------------------------------

def _to_ns(value: TimeArg, what: str) -> int | None:
    """datetime (naive means UTC, like the file names), date (its UTC midnight), int ns or float seconds."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        delta = aware - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    if isinstance(value, dt.date):
        return (value - dt.date(1970, 1, 1)).days * _NS_PER_DAY
    if isinstance(value, bool):
        raise TypeError(f"invalid {what}={value!r}: expected a datetime, a date, int nanoseconds or float seconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value * 1e9)
    raise TypeError(f"invalid {what}={value!r}: expected a datetime, a date, int nanoseconds or float seconds")


def _date_rules_out(name: FileName, since: int | None, until: int | None) -> bool:
    day_start = (name.date - dt.date(1970, 1, 1)).days * _NS_PER_DAY
    if since is not None and day_start + _NS_PER_DAY <= since:
        return True  # everything in it was written, so started, before ``since``
    return until is not None and day_start - UNTIL_SLACK_NS >= until


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def list_files(path: PathArg, signal: str | None = None, since: TimeArg = None, until: TimeArg = None,
               stats: ReadStats | None = None) -> list[Path]:
    """The files a read of ``path`` (a file, a directory, a glob, or a list of those) would open, in order.

    In a directory, files with a JSON-lines suffix are taken; our own files of another signal, and our own
    files whose date rules them out, are left out (and counted as skipped).
    """
    since_ns, until_ns = _to_ns(since, "since"), _to_ns(until, "until")
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
        elif _date_rules_out(name, since_ns, until_ns):
            if stats is not None:
                stats.skipped_files += 1
        else:
            ours.append((name, p))
    ours.sort(key=lambda pair: pair[0].order)
    return [p for _, p in ours] + foreign


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


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


def _records(path: PathArg, signal: str, extract: Callable[[dict[str, Any], int | None, int | None], list[T]],
             since: TimeArg, until: TimeArg, stats: ReadStats | None, max_line_bytes: int) -> Stream[T]:
    stats = stats if stats is not None else ReadStats()
    since_ns, until_ns = _to_ns(since, "since"), _to_ns(until, "until")
    files = list_files(path, signal, since, until, stats)  # errors on a missing path surface here, eagerly
    top = TOP_KEYS[signal]
    others = tuple(v for k, v in TOP_KEYS.items() if k != signal)

    def gen() -> Iterator[T]:
        for p in files:
            try:
                f = _open(p)
            except OSError as exc:
                stats.unreadable_files += 1
                stats.errors.append(f"{p}: {exc}")
                continue
            stats.files += 1
            try:
                for line in _lines(f, stats, max_line_bytes):
                    if not line.strip():
                        continue
                    try:
                        request = _loads(line)
                        if type(request) is not dict:
                            raise _Shape("not an object")
                        if top not in request:
                            if any(k in request for k in others):
                                continue  # another signal's request (a Collector writing all to one file)
                            raise _Shape(f"no {top}")
                        records = extract(request, since_ns, until_ns)
                    except Exception:  # bad JSON, wrong shape, bad bytes, too deep: skip and count
                        stats.corrupt += 1
                        continue
                    for record in records:
                        stats.records += 1
                        yield record
            except Exception as exc:  # unreadable mid-way, a broken gzip stream (OSError, EOFError, zlib.error)
                stats.unreadable_files += 1
                stats.corrupt += 1
                stats.errors.append(f"{p}: {exc}")
            finally:
                f.close()

    return Stream(gen(), stats)


def iter_spans(path: PathArg, since: TimeArg = None, until: TimeArg = None, stats: ReadStats | None = None,
               *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[SpanRecord]:
    """Spans that started in [since, until) from a file, a directory, a glob or a list of those.

    A missing file or directory raises FileNotFoundError at once; bad content is skipped and counted.
    """
    return _records(path, "traces", _spans_of, since, until, stats, max_line_bytes)


def iter_metric_points(path: PathArg, since: TimeArg = None, until: TimeArg = None,
                       stats: ReadStats | None = None, *,
                       max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[MetricPoint]:
    """Metric data points with a time in [since, until), as :func:`iter_spans` reads spans."""
    return _records(path, "metrics", _points_of, since, until, stats, max_line_bytes)


def iter_requests(path: PathArg, signal: str = "traces", stats: ReadStats | None = None, *,
                  since: TimeArg = None, until: TimeArg = None,
                  max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Stream[dict[str, Any]]:
    """Raw export requests (one decoded line each) of ``signal``; ``since``/``until`` only skip files."""
    if signal not in TOP_KEYS:
        raise ValueError(f"invalid signal={signal!r}: expected one of {', '.join(SIGNALS)}")
    top = TOP_KEYS[signal]

    def whole(request: dict[str, Any], _since: int | None, _until: int | None) -> list[dict[str, Any]]:
        if type(request[top]) is not list:
            raise _Shape(f"{top} is not a list")
        return [request]

    return _records(path, signal, whole, since, until, stats, max_line_bytes)

