"""Trace lines decoded by msgspec straight from bytes into typed structs, then into :class:`SpanRecord`.

Reading spans back is dominated by JSON decoding: a generic parser builds a dict for every span, attribute
and value, and Python then picks them apart. Declaring the OTLP/JSON shape lets msgspec skip what is not
needed and hand over plain fields. Only the usual encodings are accepted here (hex ids, numeric or named
enums, int64 as strings or numbers); a line this decoder refuses, for any reason, goes to the careful path
in ``otlp_decode``, so the two always give the same records. Requires ``msgspec`` (imported by the reader
only when it is installed).
"""

from __future__ import annotations

import base64
import re
from typing import Any, List, Mapping, Optional, Union

import msgspec
from msgspec import UNSET, UnsetType

from .otlp_decode import _KINDS, _STATUSES, TIME_LIMIT_NS, SpanColumns, SpanRecord, _enum, _id, _Shape, time_bounds

# Every struct is gc=False: they hold no cycles, and the collector need not track millions of them. Absent
# lists default to an empty tuple, which is shared, where an empty list default would be built per span.


class _ArrayValue(msgspec.Struct, gc=False):
    values: List[_AnyValue] = ()  # type: ignore[assignment]


class _KvList(msgspec.Struct, gc=False):
    values: List[_KeyValue] = ()  # type: ignore[assignment]


class _AnyValue(msgspec.Struct, gc=False):
    """One of these is set; an explicit null is refused (the careful path decides what it means)."""

    stringValue: Union[str, UnsetType] = UNSET
    intValue: Union[int, str, UnsetType] = UNSET
    boolValue: Union[bool, UnsetType] = UNSET
    doubleValue: Union[float, str, UnsetType] = UNSET
    arrayValue: Union[_ArrayValue, UnsetType] = UNSET
    kvlistValue: Union[_KvList, UnsetType] = UNSET
    bytesValue: Union[str, UnsetType] = UNSET


class _KeyValue(msgspec.Struct, gc=False):
    key: str
    value: Optional[_AnyValue] = None


class _Status(msgspec.Struct, gc=False):
    code: Union[int, str, None] = 0
    message: str = ""


class _Event(msgspec.Struct, gc=False):
    name: str = ""
    timeUnixNano: Union[int, str] = 0
    attributes: List[_KeyValue] = ()  # type: ignore[assignment]


class _Span(msgspec.Struct, gc=False):
    traceId: str
    spanId: str
    parentSpanId: Optional[str] = None
    name: str = ""
    kind: Union[int, str, None] = None
    startTimeUnixNano: Union[int, str] = 0
    endTimeUnixNano: Union[int, str] = 0
    attributes: List[_KeyValue] = ()  # type: ignore[assignment]
    events: List[_Event] = ()  # type: ignore[assignment]
    status: Optional[_Status] = None


class _Scope(msgspec.Struct, gc=False):
    name: Optional[str] = None


class _ScopeSpans(msgspec.Struct, gc=False):
    scope: Optional[_Scope] = None
    spans: List[_Span] = ()  # type: ignore[assignment]


class _Resource(msgspec.Struct, gc=False):
    attributes: List[_KeyValue] = ()  # type: ignore[assignment]


class _ResourceSpans(msgspec.Struct, gc=False):
    resource: Optional[_Resource] = None
    scopeSpans: List[_ScopeSpans] = ()  # type: ignore[assignment]


class _TraceRequest(msgspec.Struct, gc=False):
    resourceSpans: Union[List[_ResourceSpans], UnsetType] = UNSET
    # Another signal's request (a Collector writing everything to one file): recognised, never decoded.
    resourceMetrics: Union[msgspec.Raw, UnsetType] = UNSET
    resourceLogs: Union[msgspec.Raw, UnsetType] = UNSET


_decode = msgspec.json.Decoder(_TraceRequest).decode
# Ids as our writer and the Collector write them (lower-case hex) are taken as they are; others go to _id.
_TRACE_ID = re.compile("[0-9a-f]{32}").fullmatch
_SPAN_ID = re.compile("[0-9a-f]{16}").fullmatch


def _value(v: _AnyValue | None) -> Any:
    """The Python value of an AnyValue, in the careful path's order of precedence."""
    if v is None:
        return None
    x: Any = v.stringValue
    if x is not UNSET:
        return x
    x = v.intValue
    if x is not UNSET:
        return x if type(x) is int else int(x)
    x = v.boolValue
    if x is not UNSET:
        return x
    x = v.doubleValue
    if x is not UNSET:
        return float(x)
    x = v.arrayValue
    if x is not UNSET:
        return [_value(item) for item in x.values]
    x = v.kvlistValue
    if x is not UNSET:
        return _attributes(x.values)
    x = v.bytesValue
    if x is not UNSET:
        return base64.b64decode(x)
    return None


def _attributes(items: list[_KeyValue]) -> dict[str, Any]:
    """_value, inlined for the scalar kinds: this loop runs for every attribute of every span read."""
    out: dict[str, Any] = {}
    for kv in items:
        v = kv.value
        if v is None:
            out[kv.key] = None
            continue
        x: Any = v.stringValue
        if x is UNSET:
            x = v.intValue
            if x is UNSET:
                x = v.boolValue
                if x is UNSET:
                    x = v.doubleValue
                    if x is UNSET:
                        x = _value(v)  # arrays, key-value lists, bytes, or nothing
                    elif type(x) is not float:
                        x = float(x)
            elif type(x) is not int:
                x = int(x)
        out[kv.key] = x
    return out


def _columns(items: list[_KeyValue], slots: Mapping[str, int], n: int) -> list[Any]:
    """The values of the keys in ``slots`` (key -> index), the others skipped; the same conversions as
    _attributes, inlined again for the same reason."""
    values: list[Any] = [None] * n
    slot = slots.get
    for kv in items:
        i = slot(kv.key)
        v = kv.value
        if i is None:  # not wanted, but a value that would make the line corrupt must still do so
            if v is not None and v.stringValue is UNSET:
                _value(v)
            continue
        if v is None:
            continue
        x: Any = v.stringValue
        if x is UNSET:
            x = v.intValue
            if x is UNSET:
                x = v.boolValue
                if x is UNSET:
                    x = v.doubleValue
                    if x is UNSET:
                        x = _value(v)
                    elif type(x) is not float:
                        x = float(x)
            elif type(x) is not int:
                x = int(x)
        values[i] = x
    return values


def _ns(value: int | str) -> int:
    return value if type(value) is int else int(value)


def spans_of_line(line: bytes, since: int | None, until: int | None,
                  slots: Mapping[str, int] | None = None, bad: list[int] | None = None) -> list[Any]:
    """The spans of one trace request line that started in [since, until): SpanRecords, or SpanColumns of
    the keys in ``slots`` (key -> index). Spans with an impossible time are skipped and counted into
    ``bad[0]`` (only once the whole line decoded). Raises on anything unusual (the caller then takes the
    careful path)."""
    request = _decode(line)
    lo, hi = time_bounds(since, until)
    nbad = 0
    groups = request.resourceSpans
    if groups is UNSET:
        if request.resourceMetrics is not UNSET or request.resourceLogs is not UNSET:
            return []
        raise _Shape("no resourceSpans")
    out: list[Any] = []
    append = out.append
    n = len(slots) if slots is not None else 0
    for rs in groups:
        res = rs.resource
        resource = _attributes(res.attributes) if res is not None else {}
        for ss in rs.scopeSpans:
            scope = (ss.scope.name if ss.scope is not None else None) or ""
            for sp in ss.spans:
                start = sp.startTimeUnixNano
                if type(start) is not int:
                    start = int(start)
                end = sp.endTimeUnixNano
                if type(end) is not int:
                    end = int(end)
                if start < lo or start >= hi or end < 0 or end >= TIME_LIMIT_NS:
                    if not (0 < start < TIME_LIMIT_NS and 0 <= end < TIME_LIMIT_NS):
                        nbad += 1
                    continue
                status = sp.status
                if status is None:
                    code, message = _STATUSES[0], ""
                else:
                    code, message = status.code, status.message
                    code = _STATUSES[code] if type(code) is int and 0 <= code < 3 else _enum(
                        code, _STATUSES, "STATUS_CODE_")
                trace_id, span_id = sp.traceId, sp.spanId
                trace_id = trace_id if _TRACE_ID(trace_id) else _id(trace_id, 16)
                span_id = span_id if _SPAN_ID(span_id) else _id(span_id, 8)
                kind, parent = sp.kind, sp.parentSpanId
                if slots is not None:
                    # What a SpanRecord would hold and SpanColumns does not is still checked, so that a
                    # line is corrupt (or not) whichever of the two is read from it.
                    if parent and not _SPAN_ID(parent):
                        _id(parent, 8)
                    for ev in sp.events:
                        _ns(ev.timeUnixNano)
                        _attributes(ev.attributes)
                    append(tuple.__new__(SpanColumns, (trace_id, span_id, start, end, code, message,
                                                       _columns(sp.attributes, slots, n), resource)))
                    continue
                append(SpanRecord(
                    trace_id,
                    span_id,
                    _id(parent, 8) if parent else None,
                    sp.name,
                    _KINDS[kind] if type(kind) is int and 0 <= kind < 6 else _enum(kind, _KINDS, "SPAN_KIND_"),
                    start,
                    end,
                    code,
                    message,
                    _attributes(sp.attributes),
                    resource,
                    scope,
                    tuple((ev.name, _ns(ev.timeUnixNano), _attributes(ev.attributes)) for ev in sp.events)
                    if sp.events else (),
                ))
    if nbad and bad is not None:
        bad[0] += nbad
    return out
