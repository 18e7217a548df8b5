"""OTLP/JSON export requests, once parsed into dicts, as :class:`SpanRecord` and :class:`MetricPoint`.

This is the careful path: it accepts every encoding the OTLP/JSON and protobuf JSON mappings allow (hex or
base64 ids, enums as numbers or names, int64 as numbers or strings) and names what is wrong with a line that
is not an export request (``_Shape``). ``otlp_typed`` decodes the usual trace lines faster and falls back
here for anything else, so both give the same records.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple, Sequence


# --- records -----------------------------------------------------------------------------------------------

class SpanRecord(NamedTuple):
    """One span as read back; attribute values decoded (int for intValue, list for arrayValue).

    Immutable, and a named tuple rather than a frozen dataclass because a frozen dataclass takes eight times
    longer to build (1.1 us against 0.13 us), paid once per span read.
    """

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


class SpanColumns(NamedTuple):
    """A span read for a fixed list of attribute keys: ``values[i]`` is the value of the i-th key (None when
    the span does not have it). For readers that want the same few attributes of every span: it spares
    building, then searching, a dict per span (see ``iter_span_columns``)."""

    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str
    values: list[Any]
    resource: dict[str, Any]


def columns_of(span: SpanRecord, keys: Sequence[str]) -> SpanColumns:
    return SpanColumns(span.trace_id, span.span_id, span.start_ns, span.end_ns, span.status, span.status_message,
                       list(map(span.attributes.get, keys)), span.resource)


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



TIME_LIMIT_NS = 1 << 64
"""OTLP carries times as fixed64 nanoseconds: a span starting outside 1 .. TIME_LIMIT_NS - 1 (zero,
negative, a 23-digit number) or ending outside 0 .. TIME_LIMIT_NS - 1 has no real time. Span decoders skip
such spans and count them: one of them would otherwise stop every report that formats a time."""


def time_bounds(since: int | None, until: int | None) -> tuple[int, int]:
    """[since, until) narrowed to the times a span can have, so one test rules out both."""
    return (1 if since is None or since < 1 else since,
            TIME_LIMIT_NS if until is None or until > TIME_LIMIT_NS else until)


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

def _scopes(request: dict[str, Any], outer: str, inner: str) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(resource attributes, scope name, scope block) of every scope block of a request: the walk that
    traces and metrics share."""
    for block in _list(request, outer):
        block = _obj(block, f"{outer}[]")
        resource = decode_attributes(_obj(block.get("resource"), "resource").get("attributes"))
        for scoped in _list(block, inner):
            scoped = _obj(scoped, f"{inner}[]")
            yield resource, _scope_name(scoped), scoped


def spans_of(request: dict[str, Any], since: int | None, until: int | None,
             bad: list[int] | None = None) -> list[SpanRecord]:
    """The spans that started in [since, until); those with an impossible time are skipped, and counted
    into ``bad[0]`` once the whole request decoded."""
    out: list[SpanRecord] = []
    lo, hi = time_bounds(since, until)
    nbad = 0
    for resource, scope, ss in _scopes(request, "resourceSpans", "scopeSpans"):
        for sp in _list(ss, "spans"):
            if type(sp) is not dict:
                raise _Shape("span is not an object")
            start = _int(sp.get("startTimeUnixNano"))
            end = _int(sp.get("endTimeUnixNano"))
            if not (0 < start < TIME_LIMIT_NS and 0 <= end < TIME_LIMIT_NS):
                nbad += 1
                continue
            if start < lo or start >= hi:
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
                end_ns=end,
                status=_enum(status.get("code"), _STATUSES, "STATUS_CODE_"),
                status_message=message,
                attributes=decode_attributes(sp.get("attributes")),
                resource=resource,
                scope=scope,
                events=tuple(events),
            ))
    if nbad and bad is not None:
        bad[0] += nbad
    return out


_METRIC_KINDS = (("sum", "sum"), ("gauge", "gauge"), ("histogram", "histogram"),
                 ("exponentialHistogram", "exponential_histogram"), ("summary", "summary"))


def _opt_float(value: Any) -> float | None:
    return None if value is None else _float(value)


def points_of(request: dict[str, Any], since: int | None, until: int | None,
              bad: list[int] | None = None) -> list[MetricPoint]:
    out: list[MetricPoint] = []
    for resource, scope, sm in _scopes(request, "resourceMetrics", "scopeMetrics"):
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

