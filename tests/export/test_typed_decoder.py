"""The typed (msgspec) decoder of trace lines gives exactly what the careful dict path gives, or refuses the
line so that the careful path decides; the usual encodings (ours, the Collector's) never need the fallback."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_agentkit.export import reader
from otel_agentkit.export.jsonl import JsonlSpanExporter
from otel_agentkit.export.otlp_decode import columns_of, spans_of
from otel_agentkit.export.otlp_typed import spans_of_line

from .test_reader import COLLECTOR_TRACES, PROTO_STYLE_TRACES, T0, TRACE


def _careful(line: bytes, since=None, until=None):
    return list(reader._dict_decoder("traces", spans_of)(line, since, until))


def _same(a, b) -> bool:
    return repr(a) == repr(b)  # repr: NaN equals NaN, and bytes/int/float stay told apart


def test_the_collectors_format_and_ours_take_the_typed_path(tmp_path):
    line = json.dumps(COLLECTOR_TRACES).encode()
    typed = spans_of_line(line, None, None)  # raises if it had to refuse
    assert len(typed) == 2 and _same(typed, _careful(line))

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(tmp_path)))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent", attributes={"n": 3, "f": 0.5, "b": True, "l": ["x", "y"]}):
        with tracer.start_as_current_span("child") as child:
            child.add_event("e", {"k": "v"})
    provider.shutdown()
    [written] = tmp_path.glob("traces-*.jsonl")
    for line in written.read_bytes().splitlines():
        typed = spans_of_line(line, None, None)
        assert typed and _same(typed, _careful(line))


def test_other_encodings_fall_back_to_the_careful_path():
    line = json.dumps(PROTO_STYLE_TRACES).encode()  # base64 ids, enum names, plain int64 numbers
    spans = list(reader.span_line_decoder()(line, None, None))
    assert _same(spans, _careful(line)) and spans[0].trace_id == TRACE


# --- any span, in any of the encodings the careful path takes ----------------------------------------------

_hex_or_b64 = st.binary(min_size=16, max_size=16).flatmap(lambda raw: st.sampled_from([
    raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(), raw.hex()[:-1], ""]))
_span_id = st.binary(min_size=8, max_size=8).flatmap(lambda raw: st.sampled_from([
    raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(), "zz" * 8]))
_int64 = st.integers(0, 2**63 - 1).flatmap(lambda n: st.sampled_from([n, str(n), float(n % 2**52), " 7", "x"]))
_scalar = st.one_of(
    st.fixed_dictionaries({"stringValue": st.text(max_size=6) | st.none() | st.integers()}),
    st.fixed_dictionaries({"intValue": st.integers(-2**70, 2**70) | st.integers().map(str) | st.none()
                           | st.just(2.0) | st.booleans() | st.just("1e3")}),
    st.fixed_dictionaries({"doubleValue": st.floats() | st.sampled_from(["NaN", "Infinity", "-Infinity", "1.5", "x"])
                           | st.integers() | st.booleans()}),
    st.fixed_dictionaries({"boolValue": st.booleans() | st.none() | st.integers(0, 1)}),
    st.fixed_dictionaries({"bytesValue": st.binary(max_size=4).map(lambda b: base64.b64encode(b).decode())
                           | st.just("***")}),
    st.just({}), st.just({"other": 1}), st.just({"stringValue": "a", "intValue": "1"}),
)
_any_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({}, optional={"values": st.lists(inner, max_size=3)
                                                                            | st.none()}) | st.none()}),
    st.fixed_dictionaries({"kvlistValue": st.fixed_dictionaries({"values": st.lists(
        st.fixed_dictionaries({"key": st.text(max_size=3)}, optional={"value": inner | st.none()}), max_size=3)})}),
), max_leaves=6)
_attrs = st.lists(st.fixed_dictionaries({"key": st.text(max_size=5) | st.sampled_from(["a", "b", 1])},
                                        optional={"value": _any_value | st.none()}), max_size=4)
_span = st.fixed_dictionaries(
    {"traceId": _hex_or_b64, "spanId": _span_id},
    optional={"parentSpanId": _span_id | st.sampled_from(["", None]), "name": st.text(max_size=5) | st.none(),
              "kind": st.integers(-1, 7) | st.sampled_from(["SPAN_KIND_CLIENT", "SERVER", "bogus", None]),
              "startTimeUnixNano": _int64, "endTimeUnixNano": _int64, "attributes": _attrs | st.none(),
              "events": st.lists(st.fixed_dictionaries({}, optional={
                  "name": st.text(max_size=3), "timeUnixNano": _int64, "attributes": _attrs}), max_size=2),
              "status": st.fixed_dictionaries({}, optional={
                  "code": st.integers(0, 3) | st.sampled_from(["STATUS_CODE_ERROR", "OK", None]),
                  "message": st.text(max_size=4) | st.none()}) | st.none(),
              "flags": st.integers(0, 512), "droppedAttributesCount": st.integers(0, 3)})
_request = st.fixed_dictionaries({"resourceSpans": st.lists(st.fixed_dictionaries({}, optional={
    "resource": st.fixed_dictionaries({}, optional={"attributes": _attrs}) | st.none(),
    "scopeSpans": st.lists(st.fixed_dictionaries({}, optional={
        "scope": st.fixed_dictionaries({}, optional={"name": st.text(max_size=4) | st.none()}) | st.none(),
        "spans": st.lists(_span, max_size=3)}), max_size=2),
}), max_size=2)}) | st.fixed_dictionaries({"resourceMetrics": st.just([])})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_request, st.sampled_from([None, T0]), st.sampled_from([None, T0 + 10**9]))
def test_typed_and_careful_paths_agree_on_any_request(request, since, until):
    line = json.dumps(request).encode()
    try:
        expected = ("ok", _careful(line, since, until))
    except Exception as exc:  # the line is corrupt: the reader counts it
        expected = ("corrupt", type(exc))
    try:
        typed = ("ok", spans_of_line(line, since, until))
    except Exception:
        typed = None  # refused: the careful path decides, as the reader's own decoder does below
    if typed is not None:
        assert expected[0] == "ok" and _same(typed[1], expected[1])
    try:
        combined = ("ok", list(reader.span_line_decoder()(line, since, until)))
    except Exception as exc:
        combined = ("corrupt", type(exc))
    assert combined[0] == expected[0] and (combined[0] == "corrupt" or _same(combined[1], expected[1]))


_KEYS = ("a", "b", "", "absent")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_request, st.sampled_from([None, T0]))
def test_columns_agree_with_the_spans_they_come_from(request, since):
    """SpanColumns from the typed path equal those made from the careful path's SpanRecords, and a line is
    corrupt for one exactly when it is for the other (values of keys nobody asked for included)."""
    line = json.dumps(request).encode()
    try:
        expected = ("ok", [columns_of(s, _KEYS) for s in _careful(line, since)])
    except Exception as exc:
        expected = ("corrupt", type(exc))
    try:
        typed = spans_of_line(line, since, None, {k: i for i, k in enumerate(_KEYS)})
    except Exception:
        typed = None
    if typed is not None:
        assert expected[0] == "ok" and _same(typed, expected[1])
    try:
        combined = ("ok", list(reader.span_line_decoder(_KEYS)(line, since, None)))
    except Exception as exc:
        combined = ("corrupt", type(exc))
    assert combined[0] == expected[0] and (combined[0] == "corrupt" or _same(combined[1], expected[1]))


def test_columns_refuse_a_repeated_key():
    with pytest.raises(ValueError, match="repeated"):
        reader.iter_span_columns(".", ["a", "a"])
