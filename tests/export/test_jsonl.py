"""JSONL writer: OTLP/JSON lines identical in meaning to the official protobuf encoding, rotation, retention,
owner-only files, several processes on one directory, torn lines, and failures that stay contained."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as pb_encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics as pb_encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as pb_encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from otel_agentkit import diagnostics
from otel_agentkit import semconv as sc
from otel_agentkit.config import ConfigError
from otel_agentkit.export.jsonl import JsonlLogExporter, JsonlMetricExporter, JsonlSpanExporter, JsonlWriter, prune
from otel_agentkit.export.reader import ReadStats, iter_metric_points, iter_spans, list_files

from ..support.procs import wait_until
from . import parse_otlp_line, provider


def _lines(directory: Path, prefix: str = "traces-") -> list[bytes]:
    out = []
    for p in list_files(directory):
        if p.name.startswith(prefix):
            out.extend(p.read_bytes().splitlines())
    return out


def _genai_spans(tp, n_tools: int = 2) -> None:
    tracer = tp.get_tracer(sc.SCOPE_NAME, "0.1.0", schema_url=sc.SCHEMA_URL)
    with tracer.start_as_current_span(f"{sc.OP_INVOKE_AGENT} planner") as agent:
        agent.set_attribute(sc.GEN_AI_OPERATION_NAME, sc.OP_INVOKE_AGENT)
        agent.set_attribute(sc.GEN_AI_AGENT_NAME, "planner")
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
            chat.set_attributes({
                sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_REQUEST_TEMPERATURE: 0.25,
                sc.GEN_AI_REQUEST_STREAM: False, sc.GEN_AI_USAGE_INPUT_TOKENS: 1200,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 340, sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop", "length"],
                sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",), sc.AGENTKIT_COST_USD: 0.00421,
                "test.ints": [1, 2, 3], "test.floats": [0.5, 1.5], "test.bools": [True, False],
                "test.unicode": "héllo — 你好", "test.big": 2**62, "test.negative": -7,
            })
            chat.add_event("gen_ai.choice", {"index": 0, "finish_reason": "stop"})
        for i in range(n_tools):
            with tracer.start_as_current_span(f"execute_tool t{i}", links=[Link(agent.get_span_context(),
                                                                              {"why": "caused"})]) as tool:
                tool.set_attribute(sc.GEN_AI_TOOL_NAME, f"t{i}")
                if i == 1:
                    tool.set_status(Status(StatusCode.ERROR, "tool broke"))
                    tool.set_attribute(sc.ERROR_TYPE, "TimeoutError")
        agent.set_status(Status(StatusCode.OK))


def test_spans_round_trip_every_field(tmp_path):
    exporter = JsonlSpanExporter(tmp_path)
    tp, memory = provider(exporter)
    _genai_spans(tp)
    tp.shutdown()
    made = {s.context.span_id: s for s in memory.get_finished_spans()}
    stream = iter_spans(tmp_path)
    read = list(stream)
    assert len(read) == len(made) == 4
    assert stream.stats.corrupt == 0 and stream.stats.records == 4 and stream.stats.files == 1
    for rec in read:
        span = made[int(rec.span_id, 16)]
        assert rec.trace_id == format(span.context.trace_id, "032x")
        assert rec.parent_span_id == (format(span.parent.span_id, "016x") if span.parent else None)
        assert rec.name == span.name
        assert rec.kind == span.kind.name
        assert (rec.start_ns, rec.end_ns) == (span.start_time, span.end_time)
        assert rec.duration_s == pytest.approx((span.end_time - span.start_time) / 1e9)
        assert rec.status == span.status.status_code.name
        assert rec.status_message == (span.status.description or "")
        expected = {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()}
        assert rec.attributes == expected
        assert rec.resource == dict(span.resource.attributes)
        assert rec.scope == sc.SCOPE_NAME
        assert rec.events == tuple((e.name, e.timestamp, dict(e.attributes)) for e in span.events)
    chat = next(r for r in read if r.kind == "CLIENT")
    assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1200 and type(chat.attributes["test.big"]) is int
    assert chat.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop", "length"]
    with pytest.raises(AttributeError):
        chat.name = "x"  # frozen


def test_span_lines_are_the_collectors_format(tmp_path):
    """Each line parses as the Collector's ExportTraceServiceRequest and equals the official protobuf
    encoding of the same spans (so the meaning is identical, not just the shape)."""
    exporter = JsonlSpanExporter(tmp_path)
    tp, memory = provider()
    _genai_spans(tp, n_tools=3)
    spans = memory.get_finished_spans()
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    (line,) = _lines(tmp_path)
    assert line == line.strip() and b"\n" not in line
    raw = json.loads(line)
    span = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16  # hex, not base64
    assert isinstance(span["startTimeUnixNano"], str) and isinstance(span["kind"], int)  # int64 as strings
    # v0.1.0 gives no schema URL (semconv.SCHEMA_URL is None): the scope then carries none
    assert raw["resourceSpans"][0]["scopeSpans"][0].get("schemaUrl") == sc.SCHEMA_URL
    assert parse_otlp_line(line, ExportTraceServiceRequest()) == pb_encode_spans(spans)


def test_spans_from_two_resources_in_one_batch(tmp_path):
    exporter = JsonlSpanExporter(tmp_path)
    tp1, mem1 = provider(service="one")
    tp2, mem2 = provider(service="two")
    for tp in (tp1, tp2, tp1):
        with tp.get_tracer("s").start_as_current_span("x"):
            pass
    spans = mem1.get_finished_spans() + mem2.get_finished_spans()
    exporter.export(spans)
    (line,) = _lines(tmp_path)
    assert len(json.loads(line)["resourceSpans"]) == 2
    assert parse_otlp_line(line, ExportTraceServiceRequest()) == pb_encode_spans(spans)
    assert sorted(r.resource["service.name"] for r in iter_spans(tmp_path)) == ["one", "one", "two"]


def test_odd_values_still_make_valid_lines(tmp_path):
    exporter = JsonlSpanExporter(tmp_path)
    tp, _ = provider(exporter)
    with tp.get_tracer("s").start_as_current_span("odd\nname") as span:
        span.set_attribute("nan", math.nan)
        span.set_attribute("inf", -math.inf)
        span.set_attribute("surrogate", "bad \udc80 text")
        span.set_attribute("empty", [])
    (line,) = _lines(tmp_path)
    json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    (rec,) = iter_spans(tmp_path)
    assert math.isnan(rec.attributes["nan"]) and rec.attributes["inf"] == -math.inf
    assert rec.attributes["empty"] == [] and rec.name == "odd\nname"
    assert rec.attributes["surrogate"].startswith("bad ")


def _meter_provider(reader, views=()):
    return MeterProvider(metric_readers=[reader], views=list(views),
                         resource=Resource.create({"service.name": "metrics-svc"}))


def _record_genai_metrics(mp) -> None:
    meter = mp.get_meter(sc.SCOPE_NAME, "0.1.0")
    duration = meter.create_histogram(sc.METRIC_INFERENCE_DURATION, unit=sc.UNIT_SECONDS,
                                      explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS))
    tokens = meter.create_histogram(sc.METRIC_INPUT_TOKENS, unit=sc.UNIT_TOKENS)
    cost = meter.create_counter(sc.METRIC_COST, unit=sc.UNIT_USD)
    calls = meter.create_up_down_counter("test.inflight")
    attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}
    for seconds in (0.05, 0.3, 2.0):
        duration.record(seconds, attrs)
    tokens.record(1200, attrs)
    tokens.record(16, attrs)
    cost.add(0.25, {sc.COST_ATTR_MODEL: "gpt-4o"})
    cost.add(0.5, {sc.COST_ATTR_MODEL: "gpt-4o"})
    calls.add(3)
    calls.add(-1)


def test_metrics_through_a_periodic_reader_round_trip(tmp_path):
    exporter = JsonlMetricExporter(tmp_path)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    mp = _meter_provider(reader)
    _record_genai_metrics(mp)
    mp.force_flush()
    mp.shutdown()
    points = {p.name: p for p in iter_metric_points(tmp_path)}
    hist = points[sc.METRIC_INFERENCE_DURATION]
    assert hist.kind == "histogram" and hist.count == 3 and hist.sum == pytest.approx(2.35)
    assert hist.explicit_bounds == sc.DURATION_BUCKETS and sum(hist.bucket_counts) == 3
    assert (hist.min, hist.max) == (0.05, 2.0) and hist.unit == "s" and hist.temporality == "CUMULATIVE"
    assert hist.attributes == {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}
    cost = points[sc.METRIC_COST]
    assert cost.kind == "sum" and cost.value == pytest.approx(0.75) and cost.is_monotonic
    assert points["test.inflight"].value == 2 and not points["test.inflight"].is_monotonic
    assert hist.resource["service.name"] == "metrics-svc" and hist.scope == sc.SCOPE_NAME
    assert all(p.time_ns > 0 and p.start_ns > 0 for p in points.values())


def test_metric_lines_are_the_collectors_format(tmp_path):
    reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    mp = _meter_provider(reader, [View(instrument_type=Histogram, instrument_name=sc.METRIC_INPUT_TOKENS,
                                       aggregation=ExponentialBucketHistogramAggregation())])
    _record_genai_metrics(mp)
    meter = mp.get_meter("gauges")
    meter.create_gauge("test.gauge").set(4.5, {"k": "v"})
    data = reader.get_metrics_data()
    exporter = JsonlMetricExporter(tmp_path, preferred_temporality={Counter: AggregationTemporality.DELTA})
    assert exporter.export(data) == MetricExportResult.SUCCESS
    (line,) = _lines(tmp_path, "metrics-")
    assert parse_otlp_line(line, ExportMetricsServiceRequest()) == pb_encode_metrics(data)
    kinds = {p.name: p.kind for p in iter_metric_points(tmp_path)}
    assert kinds[sc.METRIC_INPUT_TOKENS] == "exponential_histogram" and kinds["test.gauge"] == "gauge"
    assert {p.temporality for p in iter_metric_points(tmp_path) if p.name == sc.METRIC_COST} == {"DELTA"}
    mp.shutdown()


def test_log_lines_are_the_collectors_format(tmp_path):
    exporter = JsonlLogExporter(tmp_path)
    memory = InMemoryLogRecordExporter()
    lp = LoggerProvider(resource=Resource.create({"service.name": "logs-svc"}))
    lp.add_log_record_processor(SimpleLogRecordProcessor(memory))
    tp, _ = provider()
    logger = lp.get_logger(sc.SCOPE_NAME)
    with tp.get_tracer("s").start_as_current_span("parent"):
        logger.emit(event_name=sc.EVENT_EVALUATION_RESULT, body={"score": 0.9, "labels": ["good"]},
                    attributes={sc.GEN_AI_EVALUATION_NAME: "relevance"}, severity_text="INFO")
    logger.emit(body="plain text")
    batch = memory.get_finished_logs()
    assert exporter.export(batch).name == "SUCCESS"
    (line,) = _lines(tmp_path, "logs-")
    assert parse_otlp_line(line, ExportLogsServiceRequest()) == pb_encode_logs(batch)
    record = json.loads(line)["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["eventName"] == sc.EVENT_EVALUATION_RESULT and len(record["traceId"]) == 32
    lp.shutdown()


def test_rotation_by_size_keeps_every_line_in_order(tmp_path):
    exporter = JsonlSpanExporter(tmp_path, max_bytes=3000)
    tp, memory = provider(exporter)
    tracer = tp.get_tracer("s")
    for i in range(40):
        with tracer.start_as_current_span(f"span-{i}") as span:
            span.set_attribute("payload", "x" * (50 + 10 * i))
    with tracer.start_as_current_span("huge") as span:  # a line larger than max_bytes gets a file alone
        span.set_attribute("payload", "y" * 5000)
    files = list_files(tmp_path)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert len(files) > 5 and files[-1].name == f"traces-{today}.jsonl"
    assert [f.name for f in files[:3]] == [f"traces-{today}.{i}.jsonl" for i in (1, 2, 3)]
    for f in files[:-2]:
        assert f.stat().st_size <= 3000
    assert files[-1].read_bytes().count(b"\n") == 1  # the huge one, alone
    names = [r.name for r in iter_spans(tmp_path)]
    assert names == [s.name for s in memory.get_finished_spans()]


class _Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def test_file_date_is_the_utc_date_and_rolls_over_at_midnight(tmp_path):
    clock = _Clock(dt.datetime(2024, 5, 1, 23, 59, 59, tzinfo=dt.timezone.utc))
    exporter = JsonlSpanExporter(tmp_path, clock=clock, retention_days=None)
    tp, _ = provider(exporter)
    with tp.get_tracer("s").start_as_current_span("before"):
        pass
    clock.now += 2
    with tp.get_tracer("s").start_as_current_span("after"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traces-2024-05-01.jsonl", "traces-2024-05-02.jsonl"]
    assert [r.name for r in iter_spans(tmp_path)] == ["before", "after"]


def test_retention_goes_by_the_date_in_the_name_not_mtime(tmp_path):
    old = ["traces-2024-01-01.jsonl", "traces-2024-01-01.2.jsonl", "metrics-2024-01-30.jsonl",
           "logs-2023-12-31.jsonl.gz"]
    kept = ["traces-2024-01-31.jsonl", "metrics-2024-02-20.1.jsonl", "notes-2020-01-01.jsonl", "readme.txt"]
    for name in old + kept:
        (tmp_path / name).write_text("{}\n")  # fresh mtimes on the old ones
    ancient = time.time() - 400 * 86400
    os.utime(tmp_path / "traces-2024-01-31.jsonl", (ancient, ancient))  # an old mtime does not condemn it
    clock = _Clock(dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc))
    exporter = JsonlSpanExporter(tmp_path, clock=clock, retention_days=30)
    tp, _ = provider(exporter)
    with tp.get_tracer("s").start_as_current_span("now"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["traces-2024-03-01.jsonl"])
    removed = prune(tmp_path, 10, today=dt.date(2024, 3, 2))
    assert sorted(p.name for p in removed) == ["metrics-2024-02-20.1.jsonl", "traces-2024-01-31.jsonl"]


def test_directory_and_files_are_owner_only(tmp_path):
    previous = os.umask(0o022)
    try:
        target = tmp_path / "home" / "telemetry"
        exporter = JsonlSpanExporter(target)
        tp, _ = provider(exporter)
        with tp.get_tracer("s").start_as_current_span("x"):
            pass
    finally:
        os.umask(previous)
    assert (target.stat().st_mode & 0o777) == 0o700
    assert ((tmp_path / "home").stat().st_mode & 0o777) == 0o700
    (f,) = target.iterdir()
    assert (f.stat().st_mode & 0o777) == 0o600


def test_default_directory_is_agentkit_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTKIT_HOME", str(tmp_path / "akhome"))
    exporter = JsonlSpanExporter()  # as the OTel entry point instantiates it: no arguments
    assert exporter.directory == tmp_path / "akhome" / "telemetry"
    assert JsonlMetricExporter().directory == exporter.directory == JsonlLogExporter().directory


def test_a_torn_last_line_is_skipped_and_the_next_write_starts_a_new_line(tmp_path):
    exporter = JsonlSpanExporter(tmp_path)
    tp, _ = provider(exporter)
    tracer = tp.get_tracer("s")
    with tracer.start_as_current_span("one"):
        pass
    (path,) = list_files(tmp_path)
    with open(path, "ab") as f:  # what a writer killed mid-write leaves behind
        f.write(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd')
    with tracer.start_as_current_span("two"):  # same exporter: it notices someone else wrote last
        pass
    with open(path, "ab") as f:
        f.write(b'{"resourceSpans":[{"sco')
    with tracer.start_as_current_span("three"):
        pass
    fresh = JsonlSpanExporter(tmp_path)  # a new process after a crash
    with open(path, "ab") as f:
        f.write(b"\x00\xff garbage")
    tp2, _ = provider(fresh)
    with tp2.get_tracer("s").start_as_current_span("four"):
        pass
    stats = ReadStats()
    assert [r.name for r in iter_spans(tmp_path, stats=stats)] == ["one", "two", "three", "four"]
    assert stats.corrupt == 3 and stats.lines == 7


def test_unwritable_directory_fails_the_export_not_the_app(tmp_path):
    diagnostics.reset()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    exporter = JsonlSpanExporter(blocker / "telemetry")
    tp, memory = provider(exporter)
    with tp.get_tracer("s").start_as_current_span("lost"):
        pass
    assert len(memory.get_finished_spans()) == 1  # the app went on
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    assert diagnostics.error_counts()[("export.jsonl.traces", "NotADirectoryError")] == 2
    assert diagnostics.drop_counts()["jsonl.traces"] == 2
    diagnostics.reset()


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError, match="max_bytes=0"):
        JsonlSpanExporter("/tmp/x", max_bytes=0)
    with pytest.raises(ConfigError, match="retention_days=-1"):
        JsonlMetricExporter("/tmp/x", retention_days=-1)
    with pytest.raises(ConfigError, match="signal='spans'"):
        JsonlWriter("/tmp/x", "spans")


def test_after_shutdown_exports_fail_quietly(tmp_path):
    exporter = JsonlSpanExporter(tmp_path)
    tp, memory = provider()
    with tp.get_tracer("s").start_as_current_span("x"):
        pass
    exporter.shutdown()
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    assert not list(tmp_path.iterdir()) or _lines(tmp_path) == []


_WRITER = textwrap.dedent("""
    import os, sys, time
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from otel_agentkit.export.jsonl import JsonlSpanExporter
    directory, tag, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(directory, max_bytes=400_000)))
    tracer = tp.get_tracer(tag)
    open(go + "-ready-" + tag, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    for i in range(count):
        with tracer.start_as_current_span(f"{tag}-{i}") as span:
            # mostly small lines, every 10th far above a pipe buffer and the kernel's page size
            span.set_attribute("payload", (tag * 70_000) if i % 10 == 0 else tag * (i % 300))
    tp.shutdown()
""")


def test_two_processes_writing_one_directory_never_interleave(tmp_path):
    go = tmp_path / "go"
    out = tmp_path / "telemetry"
    count = 150
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(out), tag, str(count), str(go)])
             for tag in ("a", "b")]
    wait_until(lambda: all((tmp_path / f"go-ready-{t}").exists() for t in "ab") or any(
        p.poll() is not None for p in procs), 60, "both writers ready")
    go.touch()  # both start together
    for p in procs:
        assert p.wait(timeout=120) == 0
    lines = _lines(out)
    for line in lines:
        json.loads(line)  # every line parses
    stats = ReadStats()
    names = [r.name for r in iter_spans(out, stats=stats)]
    assert stats.corrupt == 0 and len(names) == 2 * count == len(set(names))
    for tag in ("a", "b"):  # each writer's own lines stay in its order across rotations
        assert [n for n in names if n.startswith(tag + "-")] == [f"{tag}-{i}" for i in range(count)]
    assert len(list_files(out)) > 2  # rotation happened while both wrote
    assert any(b'"a-' in f.read_bytes() and b'"b-' in f.read_bytes() for f in list_files(out))  # truly shared


def _write_spans(exporter: JsonlSpanExporter, tag: str, count: int) -> None:
    tp, _ = provider(exporter)
    for i in range(count):
        with tp.get_tracer(tag).start_as_current_span(f"{tag}-{i}") as span:
            span.set_attribute("payload", tag * (i * 997 % 90_000))


def test_a_forked_child_keeps_writing_through_the_inherited_exporter(tmp_path):
    import multiprocessing

    exporter = JsonlSpanExporter(tmp_path, max_bytes=500_000)
    _write_spans(exporter, "p", 1)  # the parent has the file open before forking
    child = multiprocessing.get_context("fork").Process(target=_write_spans, args=(exporter, "c", 60))
    child.start()
    _write_spans(exporter, "q", 60)
    child.join(60)
    assert child.exitcode == 0
    stats = ReadStats()
    names = [r.name for r in iter_spans(tmp_path, stats=stats)]
    assert stats.corrupt == 0 and len(names) == 121 == len(set(names))


_CRASHER = textwrap.dedent("""
    import sys
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from otel_agentkit.export.jsonl import JsonlSpanExporter
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(sys.argv[1])))
    i = 0
    while True:  # until killed: big lines, so the kill often lands inside a write
        with tp.get_tracer("crash").start_as_current_span(f"big-{i}") as span:
            span.set_attribute("payload", "z" * 3_000_000)
        i += 1
""")


def test_a_writer_killed_mid_stream_leaves_nothing_that_breaks_readers(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _CRASHER, str(tmp_path)])
    try:
        wait_until(lambda: sum(f.stat().st_size for f in tmp_path.iterdir()) > 20_000_000, 60, "a busy writer")
    finally:
        proc.kill()  # SIGKILL: no shutdown, no flush, as a crash
        proc.wait(10)
    exporter = JsonlSpanExporter(tmp_path)
    tp, _ = provider(exporter)
    with tp.get_tracer("s").start_as_current_span("after-crash"):
        pass
    stats = ReadStats()
    names = [r.name for r in iter_spans(tmp_path, stats=stats)]
    assert stats.corrupt <= 1 and names[-1] == "after-crash" and len(names) >= 6
    assert names[:-1] == [f"big-{i}" for i in range(len(names) - 1)]
