"""OTLP/JSON encoding of SDK spans, metrics and log records: one export request as one compact JSON line.

The output follows the OTLP/JSON mapping the Collector's file exporter writes and its ``otlpjsonfile``
receiver reads: lowerCamelCase keys, trace and span ids as hex, 64-bit integers as strings, enums as
numbers, default values left out. It builds plain dicts straight from the SDK objects and serialises them
with orjson when installed (json otherwise): bench/jsonl_export.py measures this against the official
``opentelemetry-exporter-otlp-json-common`` encoder, which builds an intermediate dataclass tree per span
and hashes each span's Resource to group it (a JSON dump of all resource attributes per span).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable

try:  # optional: 3-5x faster serialisation; the format is the same either way
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

# OTLP SpanFlags: bit 8 says whether the parent is known to be remote, bit 9 says it is.
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200


def _dbl(value: float) -> float | str:
    """A double as OTLP/JSON spells it: non-finite values are the strings NaN, Infinity, -Infinity."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def any_value(value: Any) -> dict[str, Any]:
    """An attribute or log-body value as an OTLP AnyValue."""
    t = type(value)
    if t is str:
        return {"stringValue": value}
    if t is bool:
        return {"boolValue": value}
    if t is int:
        return {"intValue": str(value)}
    if t is float:
        return {"doubleValue": _dbl(value)}
    if t is tuple or t is list:  # the SDK stores sequence attributes as tuples
        values = [any_value(v) for v in value]
        return {"arrayValue": {"values": values} if values else {}}
    if value is None:
        return {}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str):
        return {"stringValue": str(value)}
    if isinstance(value, bool):
        return {"boolValue": bool(value)}
    if isinstance(value, int):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": _dbl(float(value))}
    if isinstance(value, Mapping):
        items = [{"key": str(k), "value": any_value(v)} for k, v in value.items()]
        return {"kvlistValue": {"values": items} if items else {}}
    if isinstance(value, Sequence):
        values = [any_value(v) for v in value]
        return {"arrayValue": {"values": values} if values else {}}
    return {"stringValue": str(value)}  # never fail an export over one odd value


def _plain(attrs: Any) -> Any:
    """The dict inside the SDK's BoundedAttributes: iterating the wrapper (and the read-only proxy a
    ReadableSpan hands out) takes a lock and copies the keys per call, a third of the encoding time; a
    finished span's attributes no longer change. Falls back to the public mapping if the SDK changes."""
    inner = getattr(attrs, "_dict", None)
    return inner if type(inner) is dict else attrs


def attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """KeyValue list; the common scalar types inline, as this loop is most of the encoding time."""
    if not attrs:
        return []
    out = []
    append = out.append
    for k, v in _plain(attrs).items():
        t = type(v)
        if t is str:
            append({"key": k, "value": {"stringValue": v}})
        elif t is int:
            append({"key": k, "value": {"intValue": str(v)}})
        elif t is bool:
            append({"key": k, "value": {"boolValue": v}})
        else:
            append({"key": k, "value": any_value(v)})
    return out


class _Cache:
    """Encoded resources and scopes by object identity: the SDK shares one object across all its spans.

    Holding the object itself next to its encoding keeps its id from being reused while cached.
    """

    def __init__(self, encode: Callable[[Any], dict[str, Any]], limit: int = 64) -> None:
        self._encode = encode
        self._limit = limit
        self._items: dict[int, tuple[Any, dict[str, Any]]] = {}

    def get(self, obj: Any) -> dict[str, Any]:
        hit = self._items.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        encoded = self._encode(obj)
        if len(self._items) >= self._limit:
            self._items.clear()
        self._items[id(obj)] = (obj, encoded)
        return encoded


def _encode_resource(resource: Any) -> dict[str, Any]:
    attrs = attributes(getattr(resource, "attributes", None))
    return {"attributes": attrs} if attrs else {}


def _encode_scope(scope: Any) -> dict[str, Any]:
    if scope is None:
        return {}
    out: dict[str, Any] = {}
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    attrs = attributes(getattr(scope, "attributes", None))
    if attrs:
        out["attributes"] = attrs
    return out


_resources = _Cache(_encode_resource)
_scopes = _Cache(_encode_scope)


def _group(items: Iterable[Any], resource_of: Callable[[Any], Any], scope_of: Callable[[Any], Any],
           encode: Callable[[Any], dict[str, Any]]) -> list[tuple[Any, list[tuple[Any, list[Any]]]]]:
    """Items grouped by resource, then scope, keeping first-seen order."""
    by_resource: dict[int, tuple[Any, dict[int, tuple[Any, list[Any]]]]] = {}
    for item in items:
        resource = resource_of(item)
        scope = scope_of(item)
        entry = by_resource.get(id(resource))
        if entry is None:
            entry = by_resource[id(resource)] = (resource, {})
        scopes = entry[1]
        bucket = scopes.get(id(scope))
        if bucket is None:
            bucket = scopes[id(scope)] = (scope, [])
        bucket[1].append(encode(item))
    return [(res, list(scopes.values())) for res, scopes in by_resource.values()]


def _envelope(groups: list[tuple[Any, list[tuple[Any, list[Any]]]]], outer: str, inner: str,
              leaf: str) -> dict[str, Any]:
    resources = []
    for resource, scopes in groups:
        scope_list = []
        for scope, encoded in scopes:
            entry: dict[str, Any] = {"scope": _scopes.get(scope), leaf: encoded}
            schema = getattr(scope, "schema_url", None)
            if schema:
                entry["schemaUrl"] = schema
            scope_list.append(entry)
        block: dict[str, Any] = {"resource": _resources.get(resource), inner: scope_list}
        schema = getattr(resource, "schema_url", None)
        if schema:
            block["schemaUrl"] = schema
        resources.append(block)
    return {outer: resources}


# --- traces ------------------------------------------------------------------------------------------------

def _span_flags(context: Any) -> int:
    return _FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE if context is not None and context.is_remote else _FLAG_HAS_IS_REMOTE


def _encode_span(span: Any) -> dict[str, Any]:
    ctx = span.context
    parent = span.parent
    out: dict[str, Any] = {"traceId": format(ctx.trace_id, "032x"), "spanId": format(ctx.span_id, "016x")}
    state = ctx.trace_state
    if state:
        out["traceState"] = state.to_header()
    if parent is not None:
        out["parentSpanId"] = format(parent.span_id, "016x")
    out["flags"] = _span_flags(parent)
    out["name"] = span.name
    out["kind"] = span.kind.value + 1  # API INTERNAL=0..CONSUMER=4; OTLP UNSPECIFIED=0, INTERNAL=1..
    out["startTimeUnixNano"] = str(span.start_time or 0)
    out["endTimeUnixNano"] = str(span.end_time or 0)
    attrs = _plain(getattr(span, "_attributes", None))
    if attrs is None:
        attrs = span.attributes
    if attrs:
        out["attributes"] = attributes(attrs)
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        events = []
        for event in span.events:
            ev: dict[str, Any] = {"timeUnixNano": str(event.timestamp), "name": event.name}
            if event.attributes:
                ev["attributes"] = attributes(event.attributes)
            dropped = getattr(event, "dropped_attributes", 0)
            if dropped:
                ev["droppedAttributesCount"] = dropped
            events.append(ev)
        out["events"] = events
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        links = []
        for link in span.links:
            lc = link.context
            lk: dict[str, Any] = {"traceId": format(lc.trace_id, "032x"), "spanId": format(lc.span_id, "016x")}
            if lc.trace_state:
                lk["traceState"] = lc.trace_state.to_header()
            if link.attributes:
                lk["attributes"] = attributes(link.attributes)
            dropped = getattr(link, "dropped_attributes", 0)
            if dropped:
                lk["droppedAttributesCount"] = dropped
            lk["flags"] = _span_flags(lc)
            links.append(lk)
        out["links"] = links
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    status: dict[str, Any] = {}
    st = span.status
    if st is not None:
        if st.description:
            status["message"] = st.description
        if st.status_code.value:
            status["code"] = st.status_code.value  # UNSET=0, OK=1, ERROR=2 in both
    out["status"] = status
    return out


def encode_spans(spans: Sequence[Any]) -> dict[str, Any]:
    """An ExportTraceServiceRequest (as a dict) for SDK ReadableSpans."""
    groups = _group(spans, lambda s: s.resource, lambda s: s.instrumentation_scope, _encode_span)
    return _envelope(groups, "resourceSpans", "scopeSpans", "spans")


# --- metrics -----------------------------------------------------------------------------------------------

def _exemplars(exemplars: Sequence[Any] | None) -> list[dict[str, Any]]:
    out = []
    for ex in exemplars or ():
        item: dict[str, Any] = {"timeUnixNano": str(ex.time_unix_nano)}
        if ex.filtered_attributes:
            item["filteredAttributes"] = attributes(ex.filtered_attributes)
        if isinstance(ex.value, int) and not isinstance(ex.value, bool):
            item["asInt"] = str(ex.value)
        else:
            item["asDouble"] = _dbl(float(ex.value))
        if ex.span_id is not None and ex.trace_id is not None:
            item["spanId"] = format(ex.span_id, "016x")
            item["traceId"] = format(ex.trace_id, "032x")
        out.append(item)
    return out


def _point_common(pt: Any, out: dict[str, Any]) -> None:
    if pt.attributes:
        out["attributes"] = attributes(pt.attributes)
    start = getattr(pt, "start_time_unix_nano", None)
    if start:
        out["startTimeUnixNano"] = str(start)
    out["timeUnixNano"] = str(pt.time_unix_nano)
    ex = _exemplars(getattr(pt, "exemplars", None))
    if ex:
        out["exemplars"] = ex


def _number_point(pt: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _point_common(pt, out)
    value = pt.value
    if isinstance(value, int) and not isinstance(value, bool):
        out["asInt"] = str(value)
    else:
        out["asDouble"] = _dbl(float(value))
    return out


def _min_max(pt: Any, out: dict[str, Any]) -> None:
    for key in ("min", "max"):
        v = getattr(pt, key, None)
        if v is not None and math.isfinite(v):  # the SDK leaves +-inf when nothing was recorded
            out[key] = v


def _histogram_point(pt: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _point_common(pt, out)
    out["count"] = str(pt.count)
    out["sum"] = _dbl(float(pt.sum))
    out["bucketCounts"] = [str(c) for c in pt.bucket_counts]
    out["explicitBounds"] = [_dbl(float(b)) for b in pt.explicit_bounds]
    _min_max(pt, out)
    return out


def _exp_histogram_point(pt: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _point_common(pt, out)
    out["count"] = str(pt.count)
    out["sum"] = _dbl(float(pt.sum))
    if pt.scale:
        out["scale"] = pt.scale
    if pt.zero_count:
        out["zeroCount"] = str(pt.zero_count)
    for side in ("positive", "negative"):
        buckets = getattr(pt, side)
        if buckets.bucket_counts:
            b: dict[str, Any] = {"bucketCounts": [str(c) for c in buckets.bucket_counts]}
            if buckets.offset:
                b["offset"] = buckets.offset
            out[side] = b
    if pt.flags:
        out["flags"] = pt.flags
    _min_max(pt, out)
    return out


def _encode_metric(metric: Any) -> dict[str, Any]:
    from opentelemetry.sdk.metrics.export import ExponentialHistogram, Gauge, Histogram, Sum

    out: dict[str, Any] = {"name": metric.name}
    if metric.description:
        out["description"] = metric.description
    if metric.unit:
        out["unit"] = metric.unit
    data = metric.data
    if isinstance(data, Sum):
        out["sum"] = {"dataPoints": [_number_point(p) for p in data.data_points],
                      "aggregationTemporality": int(data.aggregation_temporality.value),
                      **({"isMonotonic": True} if data.is_monotonic else {})}
    elif isinstance(data, Gauge):
        out["gauge"] = {"dataPoints": [_number_point(p) for p in data.data_points]}
    elif isinstance(data, Histogram):
        out["histogram"] = {"dataPoints": [_histogram_point(p) for p in data.data_points],
                            "aggregationTemporality": int(data.aggregation_temporality.value)}
    elif isinstance(data, ExponentialHistogram):
        out["exponentialHistogram"] = {"dataPoints": [_exp_histogram_point(p) for p in data.data_points],
                                       "aggregationTemporality": int(data.aggregation_temporality.value)}
    return out


def encode_metrics(data: Any) -> dict[str, Any]:
    """An ExportMetricsServiceRequest (as a dict) for the SDK's MetricsData."""
    resources = []
    for rm in data.resource_metrics:
        scopes = []
        for sm in rm.scope_metrics:
            entry: dict[str, Any] = {"scope": _scopes.get(sm.scope),
                                     "metrics": [_encode_metric(m) for m in sm.metrics]}
            schema = sm.schema_url or getattr(sm.scope, "schema_url", None)
            if schema:
                entry["schemaUrl"] = schema
            scopes.append(entry)
        block: dict[str, Any] = {"resource": _resources.get(rm.resource), "scopeMetrics": scopes}
        schema = rm.schema_url or getattr(rm.resource, "schema_url", None)
        if schema:
            block["schemaUrl"] = schema
        resources.append(block)
    return {"resourceMetrics": resources}


# --- logs --------------------------------------------------------------------------------------------------

def _log_parts(item: Any) -> tuple[Any, Any, Any]:
    """(record, resource, scope) from a ReadableLogRecord (SDK >= 1.39) or an older LogData."""
    record = getattr(item, "log_record", item)
    resource = getattr(item, "resource", None) or getattr(record, "resource", None)
    scope = getattr(item, "instrumentation_scope", None)
    return record, resource, scope


def _encode_log(item: Any) -> dict[str, Any]:
    record, _, _ = _log_parts(item)
    out: dict[str, Any] = {}
    if record.timestamp:
        out["timeUnixNano"] = str(record.timestamp)
    if record.observed_timestamp:
        out["observedTimeUnixNano"] = str(record.observed_timestamp)
    severity = getattr(record.severity_number, "value", None)
    if severity:
        out["severityNumber"] = severity
    if record.severity_text:
        out["severityText"] = record.severity_text
    if record.body is not None:
        out["body"] = any_value(record.body)
    if record.attributes:
        out["attributes"] = attributes(record.attributes)
    dropped = getattr(item, "dropped_attributes", 0)
    if dropped:
        out["droppedAttributesCount"] = dropped
    flags = int(record.trace_flags or 0)
    if flags:
        out["flags"] = flags
    if record.trace_id:
        out["traceId"] = format(record.trace_id, "032x")
    if record.span_id:
        out["spanId"] = format(record.span_id, "016x")
    event_name = getattr(record, "event_name", None)
    if event_name:
        out["eventName"] = event_name
    return out


def encode_logs(batch: Sequence[Any]) -> dict[str, Any]:
    """An ExportLogsServiceRequest (as a dict) for SDK log records."""
    groups = _group(batch, lambda i: _log_parts(i)[1], lambda i: _log_parts(i)[2], _encode_log)
    return _envelope(groups, "resourceLogs", "scopeLogs", "logRecords")


# --- serialisation -----------------------------------------------------------------------------------------

def _dumps_json(obj: Any) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates in a user string: escape them rather than fail
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")


def _dumps_orjson(obj: Any) -> bytes:
    try:
        return _orjson.dumps(obj)
    except TypeError:  # orjson refuses lone surrogates (and ints past 64 bits): json copes
        return _dumps_json(obj)


dumps_json = _dumps_json
"""Compact UTF-8 JSON with the standard library (the fallback, and the baseline in the benchmark)."""

dumps: Callable[[Any], bytes] = _dumps_orjson if _orjson is not None else _dumps_json
"""Compact UTF-8 JSON bytes (no trailing newline), with orjson when installed."""

ENCODER_NAME = "orjson" if _orjson is not None else "json"
