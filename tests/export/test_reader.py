"""Reader: spans and metric points streamed back from our files and from a Collector file exporter's output;
corrupt input is skipped and counted, never raised; files are skipped by the date in their name."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_agentkit.export import reader
from otel_agentkit.export.reader import (
    ReadStats,
    iter_metric_points,
    iter_requests,
    iter_spans,
    list_files,
    parse_file_name,
)


@pytest.fixture(autouse=True, params=["typed", "careful"])
def decoder(request, monkeypatch):
    """Every test here runs with the msgspec decoder of trace lines and without it (as where msgspec is not
    installed): the two must read the same."""
    if request.param == "careful":
        monkeypatch.setattr(reader, "_typed_spans", None)
    return request.param


TRACE = "5b8efff798038103d269b633813fc60c"
ROOT = "eee19b7ec3c1b174"
CHILD = "0a1b2c3d4e5f6071"


def _ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()) * 10**9


T0 = _ns(2024, 1, 5, 12)

# Lines in the shape the OpenTelemetry Collector's file exporter writes (pdata's JSON marshaler): empty
# parentSpanId on roots, "status":{} when unset, enums as numbers, int64 as strings. Written by hand here
# because no Collector binary runs in this suite (rotel, the real collector used elsewhere, has no OTLP/JSON
# file exporter).
COLLECTOR_TRACES = {"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gateway-app"}},
                                {"key": "host.cpus", "value": {"intValue": "8"}}]},
    "scopeSpans": [{
        "scope": {"name": "otel_agentkit", "version": "0.1.0"},
        "spans": [
            {"traceId": TRACE, "spanId": ROOT, "parentSpanId": "", "name": "invoke_agent planner", "kind": 1,
             "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 2_500_000_000),
             "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}],
             "status": {}},
            {"traceId": TRACE, "spanId": CHILD, "parentSpanId": ROOT, "name": "chat gpt-4o", "kind": 3,
             "startTimeUnixNano": str(T0 + 1000), "endTimeUnixNano": str(T0 + 812_400_000),
             "attributes": [
                 {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1200"}},
                 {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
                 {"key": "gen_ai.request.stream", "value": {"boolValue": False}},
                 {"key": "gen_ai.response.finish_reasons",
                  "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}}},
                 {"key": "test.kv", "value": {"kvlistValue": {"values": [
                     {"key": "a", "value": {"intValue": 1}}, {"key": "b", "value": {}}]}}},
                 {"key": "test.bytes", "value": {"bytesValue": base64.b64encode(b"\x01\x02").decode()}},
                 {"key": "test.empty", "value": {"arrayValue": {}}},
             ],
             "events": [{"timeUnixNano": str(T0 + 5000), "name": "exception",
                         "attributes": [{"key": "exception.type", "value": {"stringValue": "RateLimitError"}}]}],
             "status": {"code": 2, "message": "rate limited"}},
        ]}],
    "schemaUrl": "https://opentelemetry.io/schemas/1.6.1"}]}

# The same kind of request as protobuf's canonical JSON spells it (Tempo's API, json_format users):
# base64 ids, enum names, plain numbers for int64.
PROTO_STYLE_TRACES = {"resourceSpans": [{"scopeSpans": [{"spans": [{
    "traceId": base64.b64encode(bytes.fromhex(TRACE)).decode(), "spanId": base64.b64encode(b"\x00" * 7 + b"\x09").decode(),
    "parentSpanId": base64.b64encode(bytes.fromhex(ROOT)).decode(), "name": "retrieval docs",
    "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": T0 + 10, "endTimeUnixNano": T0 + 20,
    "status": {"code": "STATUS_CODE_OK"}}]}]}]}

COLLECTOR_METRICS = {"resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gateway-app"}}]},
    "scopeMetrics": [{"scope": {"name": "otel_agentkit"}, "metrics": [
        {"name": "agentkit.cost", "unit": "USD", "sum": {
            "dataPoints": [{"attributes": [{"key": "model", "value": {"stringValue": "gpt-4o"}}],
                            "startTimeUnixNano": str(T0 - 60 * 10**9), "timeUnixNano": str(T0),
                            "asDouble": 0.75}],
            "aggregationTemporality": 2, "isMonotonic": True}},
        {"name": "gen_ai.client.inference.duration", "unit": "s", "histogram": {
            "dataPoints": [{"startTimeUnixNano": str(T0 - 60 * 10**9), "timeUnixNano": str(T0), "count": "3",
                            "sum": 2.35, "bucketCounts": ["0", "2", "1"], "explicitBounds": [0.01, 1.0],
                            "min": 0.05, "max": 2.0}],
            "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA"}},
        {"name": "queue.depth", "gauge": {"dataPoints": [{"timeUnixNano": str(T0), "asInt": "7"}]}},
    ]}]}]}

COLLECTOR_LOGS = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": str(T0),
                                                                   "body": {"stringValue": "hello"}}]}]}]}


def _line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def test_reads_a_collector_file_with_all_signals_mixed(tmp_path):
    f = _write(tmp_path / "otel-out.json", _line(COLLECTOR_TRACES), _line(COLLECTOR_METRICS),
               _line(COLLECTOR_LOGS), _line(PROTO_STYLE_TRACES))
    stream = iter_spans(f)
    spans = {s.name: s for s in stream}
    assert stream.stats == ReadStats(files=1, lines=4, records=3, corrupt=0)
    root, chat, retrieval = spans["invoke_agent planner"], spans["chat gpt-4o"], spans["retrieval docs"]
    assert root.parent_span_id is None and root.kind == "INTERNAL" and root.status == "UNSET"
    assert root.duration_s == 2.5 and root.resource == {"service.name": "gateway-app", "host.cpus": 8}
    assert chat.parent_span_id == ROOT and chat.trace_id == TRACE and chat.kind == "CLIENT"
    assert (chat.status, chat.status_message) == ("ERROR", "rate limited")
    assert chat.attributes == {
        "gen_ai.usage.input_tokens": 1200, "gen_ai.request.temperature": 0.2, "gen_ai.request.stream": False,
        "gen_ai.response.finish_reasons": ["stop"], "test.kv": {"a": 1, "b": None}, "test.bytes": b"\x01\x02",
        "test.empty": [],
    }
    assert chat.events == (("exception", T0 + 5000, {"exception.type": "RateLimitError"}),)
    assert chat.scope == "otel_agentkit" and chat.start_ns == T0 + 1000
    assert retrieval.trace_id == TRACE and retrieval.span_id == "0000000000000009"
    assert retrieval.parent_span_id == ROOT and retrieval.kind == "SERVER" and retrieval.status == "OK"
    assert retrieval.resource == {} and retrieval.scope == ""


def test_metric_points_from_a_collector_file(tmp_path):
    f = _write(tmp_path / "metrics.json", _line(COLLECTOR_TRACES), _line(COLLECTOR_METRICS))
    points = {p.name: p for p in iter_metric_points(f)}
    cost, hist, gauge = points["agentkit.cost"], points["gen_ai.client.inference.duration"], points["queue.depth"]
    assert (cost.kind, cost.value, cost.temporality, cost.is_monotonic) == ("sum", 0.75, "CUMULATIVE", True)
    assert cost.attributes == {"model": "gpt-4o"} and cost.time_ns == T0 and cost.unit == "USD"
    assert (hist.count, hist.sum, hist.bucket_counts, hist.explicit_bounds) == (3, 2.35, (0, 2, 1), (0.01, 1.0))
    assert (hist.min, hist.max, hist.temporality, hist.value) == (0.05, 2.0, "DELTA", None)
    assert (gauge.kind, gauge.value, gauge.temporality) == ("gauge", 7, None)
    assert hist.resource == {"service.name": "gateway-app"} and hist.scope == "otel_agentkit"


def test_corrupt_lines_are_skipped_and_counted(tmp_path):
    good = _line(COLLECTOR_TRACES)
    bad_id = json.loads(good)
    bad_id["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "not-an-id"
    bad_attrs = json.loads(good)
    bad_attrs["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = {"a": 1}
    f = _write(
        tmp_path / "mixed.jsonl",
        b"this is not json\n",
        good,
        b"[1, 2, 3]\n",
        b'{"unrelated": true}\n',
        b'{"resourceSpans": "nope"}\n',
        _line(bad_id),  # one bad span spoils its whole line: nothing half-read is yielded
        b"\x00\xff\xfe\x89PNG binary \x00 garbage\n",
        b"\n",
        _line(bad_attrs),
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8eff',  # torn last line
    )
    stats = ReadStats()
    spans = list(iter_spans(f, stats=stats))
    assert [s.name for s in spans] == ["invoke_agent planner", "chat gpt-4o"]
    assert stats.corrupt == 8 and stats.lines == 10 and stats.records == 2


def test_since_until_filter_spans_and_skip_files_by_the_date_in_their_name(tmp_path):
    def traces_at(start_ns: int, name: str) -> bytes:
        obj = json.loads(json.dumps(PROTO_STYLE_TRACES))
        span = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        span.update(name=name, startTimeUnixNano=str(start_ns), endTimeUnixNano=str(start_ns + 1))
        return _line(obj)

    _write(tmp_path / "traces-2024-01-01.jsonl", traces_at(_ns(2024, 1, 1, 10), "jan1"))
    _write(tmp_path / "traces-2024-01-05.jsonl", traces_at(_ns(2024, 1, 4, 23), "started-jan4"),
           traces_at(_ns(2024, 1, 5, 10), "jan5"), traces_at(_ns(2024, 1, 5, 20), "jan5-late"))
    _write(tmp_path / "traces-2024-01-05.1.jsonl", traces_at(_ns(2024, 1, 5, 1), "jan5-early"))
    _write(tmp_path / "traces-2024-01-10.jsonl", traces_at(_ns(2024, 1, 10, 10), "jan10"))
    _write(tmp_path / "metrics-2024-01-05.jsonl", _line(COLLECTOR_METRICS))  # another signal: not opened
    stream = iter_spans(tmp_path, since=dt.datetime(2024, 1, 4, 12), until=_ns(2024, 1, 5, 15) // 10**9)
    assert [s.name for s in stream] == ["jan5-early", "started-jan4", "jan5"]
    # Only ``since`` rules a file out by its date (jan 1); ``until`` never does (jan 10 is read).
    assert stream.stats.files == 3 and stream.stats.skipped_files == 1
    everything = iter_spans(tmp_path)
    assert [s.name for s in everything] == ["jan1", "jan5-early", "started-jan4", "jan5", "jan5-late", "jan10"]
    assert [s.name for s in iter_spans(tmp_path, since=dt.date(2024, 1, 10))] == ["jan10"]
    assert [s.name for s in iter_spans(tmp_path, until=_ns(2024, 1, 1, 11) / 1e9)] == ["jan1"]
    with pytest.raises(TypeError, match="since"):
        iter_spans(tmp_path, since="yesterday")


def test_gzip_glob_and_lists_of_paths(tmp_path):
    with gzip.open(tmp_path / "traces-2024-01-05.1.jsonl.gz", "wb") as g:
        g.write(_line(COLLECTOR_TRACES))
    _write(tmp_path / "traces-2024-01-05.jsonl", _line(PROTO_STYLE_TRACES))
    (tmp_path / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    stats = ReadStats()
    assert len(list(iter_spans(tmp_path, stats=stats))) == 3
    assert stats.unreadable_files == 1 and stats.errors and stats.corrupt == 1
    assert len(list(iter_spans(str(tmp_path / "traces-*.jsonl*")))) == 3
    assert len(list(iter_spans([tmp_path / "traces-2024-01-05.jsonl", tmp_path / "traces-2024-01-05.jsonl"]))) == 1
    assert list(iter_spans(str(tmp_path / "nothing-*.jsonl"))) == []
    with pytest.raises(FileNotFoundError, match="no telemetry"):
        iter_spans(tmp_path / "missing")
    (only,) = iter_requests(tmp_path / "traces-2024-01-05.jsonl")
    assert only == PROTO_STYLE_TRACES


def test_stats_accumulate_over_reads_and_streaming_is_lazy(tmp_path):
    f = _write(tmp_path / "big.jsonl", *([_line(COLLECTOR_TRACES)] * 500))
    stats = ReadStats()
    stream = iter_spans(f, stats=stats)
    next(stream)
    assert stats.lines == 1  # read line by line, not loaded whole
    stream.close()
    with iter_spans(f, stats=stats) as again:
        assert sum(1 for _ in again) == 1000
    assert stats.files == 2 and stats.records == 1001


def test_an_overlong_line_is_skipped_without_being_held(tmp_path):
    f = _write(tmp_path / "long.jsonl", _line(PROTO_STYLE_TRACES), b'{"x":"' + b"y" * 5000 + b'"}\n',
               _line(PROTO_STYLE_TRACES))
    stream = iter_spans(f, max_line_bytes=1024)
    assert len(list(stream)) == 2 and stream.stats.corrupt == 1 and stream.stats.lines == 3


def test_file_names():
    assert parse_file_name("traces-2024-01-05.jsonl").index == 0
    name = parse_file_name("metrics-2024-02-29.12.jsonl.gz")
    assert (name.signal, name.date, name.index, name.compressed) == ("metrics", dt.date(2024, 2, 29), 12, True)
    for other in ("traces-2024-02-30.jsonl", "spans-2024-01-01.jsonl", "traces-2024-01-01.json", "traces.jsonl"):
        assert parse_file_name(other) is None


def test_list_files_orders_rotated_parts_before_the_live_file(tmp_path):
    for name in ("traces-2024-01-06.jsonl", "traces-2024-01-05.jsonl", "traces-2024-01-05.10.jsonl",
                 "traces-2024-01-05.2.jsonl", "zz-collector.json", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in list_files(tmp_path, "traces")] == [
        "traces-2024-01-05.2.jsonl", "traces-2024-01-05.10.jsonl", "traces-2024-01-05.jsonl",
        "traces-2024-01-06.jsonl", "zz-collector.json"]


# --- the reader never raises on content --------------------------------------------------------------------

_KEYS = ["resourceSpans", "scopeSpans", "spans", "resource", "scope", "attributes", "key", "value", "name",
         "traceId", "spanId", "parentSpanId", "kind", "status", "code", "message", "events", "timeUnixNano",
         "startTimeUnixNano", "endTimeUnixNano", "stringValue", "intValue", "doubleValue", "boolValue",
         "arrayValue", "kvlistValue", "bytesValue", "values", "resourceMetrics", "scopeMetrics", "metrics",
         "sum", "gauge", "histogram", "dataPoints", "asInt", "asDouble", "count", "bucketCounts",
         "explicitBounds", "min", "max", "aggregationTemporality", "isMonotonic", "x"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.sampled_from([TRACE, ROOT, "", "NaN", "Infinity", "SPAN_KIND_CLIENT", "AAAA", "12"]) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
    max_leaves=40,
)
_settings = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _read_all(content: bytes) -> ReadStats:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "fuzz.jsonl"
        f.write_bytes(content)
        stats = ReadStats()
        list(iter_spans(f, stats=stats))
        list(iter_metric_points(f, stats=stats))
        list(iter_requests(f, "logs", stats=stats))
        assert stats.unreadable_files == 0  # bad content costs a line, never the rest of the file
        gz = Path(d) / "fuzz.jsonl.gz"
        gz.write_bytes(content)  # arbitrary bytes as a "gzip" file
        list(iter_spans(gz, stats=stats))
        return stats


@_settings
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(content):
    stats = _read_all(content)
    assert stats.corrupt <= stats.lines + stats.unreadable_files


@_settings
@given(st.lists(st.fixed_dictionaries({}, optional={"resourceSpans": _json, "resourceMetrics": _json}) | _json,
                max_size=4))
def test_arbitrary_json_shapes_never_raise(docs):
    _read_all(b"".join(json.dumps(d).encode() + b"\n" for d in docs))


@_settings
@given(st.integers(0, 10**6), st.binary(min_size=1, max_size=4))
def test_damaged_valid_lines_never_raise(position, junk):
    line = _line(COLLECTOR_TRACES) + _line(COLLECTOR_METRICS)
    at = position % len(line)
    _read_all(line[:at] + junk + line[at + len(junk):])
