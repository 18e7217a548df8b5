"""What the analytics read and write: corrupt and torn lines, empty and missing directories, a Collector
file exporter's output, spans from other instrumentations, exports and reset."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from otel_agentkit import analytics
from otel_agentkit.export.reader import parse_file_name

from .telemetry import CALLS


def copy_dataset(dataset, to: Path) -> Path:
    target = to / "telemetry"
    shutil.copytree(dataset["dir"], target)
    return target


def test_corrupt_and_torn_lines_are_skipped_and_counted(tmp_path, dataset, pricing):
    directory = copy_dataset(dataset, tmp_path)
    files = sorted(directory.iterdir())
    first = files[0].read_bytes()
    # garbage before the good lines, binary junk, JSON of the wrong shape, and a torn last line
    files[0].write_bytes(b"{not json\n\x00\xff\xfe\n" + first + b'{"resourceSpans": 7}\n')
    with open(files[-1], "ab") as f:
        f.write(first[: len(first) // 2])  # a crash mid-write: half a line, no newline
    s = analytics.usage_stats(directory, analytics.window(), pricing=pricing)
    assert s.total.calls == len(CALLS)
    assert s.read.corrupt_lines == 4
    assert "4 corrupt lines skipped" in s.read.describe()


def test_an_empty_directory_gives_zero_figures(tmp_path, pricing):
    (tmp_path / "telemetry").mkdir()
    s = analytics.usage_stats(tmp_path / "telemetry", analytics.window(), by="model", pricing=pricing)
    assert (s.total.calls, s.total.cost_usd, s.groups, s.read.files) == (0, 0.0, [], 0)
    assert s.total.error_rate is None and s.total.latency_p50_s is None and s.total.cache_hit_rate is None
    assert analytics.recent_calls(tmp_path / "telemetry", analytics.window(), pricing=pricing).calls == []


def test_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(analytics.NoTelemetry, match="no telemetry directory at .*/nowhere/telemetry"):
        analytics.default_source(tmp_path / "nowhere")
    with pytest.raises(analytics.NoTelemetry, match="no telemetry file or directory at"):
        analytics.usage_stats(tmp_path / "missing.jsonl", analytics.window())


def collector_style(line: bytes) -> bytes:
    """One of our lines as the Collector's file exporter (pdata's JSON marshaler) writes it: roots carry an
    empty parentSpanId, every span an empty traceState, droppedAttributesCount and flags; the resource
    and scope blocks are complete."""
    request = json.loads(line)
    for rs in request["resourceSpans"]:
        rs.setdefault("schemaUrl", "")
        for ss in rs["scopeSpans"]:
            ss["scope"].setdefault("attributes", [])
            for span in ss["spans"]:
                span.setdefault("parentSpanId", "")
                span.setdefault("traceState", "")
                span.setdefault("droppedAttributesCount", 0)
                span["status"] = span.get("status") or {}
    return json.dumps(request, separators=(",", ":")).encode() + b"\n"


METRICS_LINE = json.dumps({"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"scope": {"name": "x"}, "metrics": [
    {"name": "gen_ai.client.token.usage", "unit": "{token}", "histogram": {"dataPoints": [
        {"timeUnixNano": "1", "count": "1", "sum": 5}], "aggregationTemporality": 2}}]}]}]}).encode() + b"\n"
LOGS_LINE = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"hi"}}]}]}]}\n'


def test_a_collector_file_exporter_output(tmp_path, dataset, pricing):
    """All signals in one file with a name of the Collector's choosing, read with --path."""
    out = tmp_path / "collector" / "otel-export.json"
    out.parent.mkdir()
    lines = [line for p in sorted(dataset["dir"].iterdir()) for line in p.read_bytes().splitlines(keepends=True)]
    out.write_bytes(METRICS_LINE + b"".join(collector_style(line) + LOGS_LINE for line in lines))
    ours = analytics.usage_stats(dataset["dir"], analytics.window(), by="tier", pricing=pricing)
    theirs = analytics.usage_stats(out, analytics.window(), by="tier", pricing=pricing)
    assert theirs.total == ours.total and theirs.groups == ours.groups
    assert theirs.read.corrupt_lines == 0
    glob_read = analytics.usage_stats(str(tmp_path / "collector" / "*.json"), analytics.window(), pricing=pricing)
    assert glob_read.total == ours.total


def foreign_span(span_id: str, attrs: list[tuple[str, dict]], start: int, status: dict | None = None) -> dict:
    return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat", "kind": 3,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1_500_000_000),
            "attributes": [{"key": k, "value": v} for k, v in attrs], "status": status or {}}


def test_spans_from_other_instrumentations(tmp_path, pricing):
    """Older attribute names are read as fallbacks; a call with tokens but no cost is priced from the table;
    non-llm spans are not calls."""
    start = 1_790_000_000 * 10**9
    spans = [
        foreign_span("00000000000000a1", [("gen_ai.operation.name", {"stringValue": "chat"}),
                                          ("gen_ai.system", {"stringValue": "acme"}),
                                          ("gen_ai.request.model", {"stringValue": "small-model"}),
                                          ("gen_ai.usage.prompt_tokens", {"intValue": "1000"}),
                                          ("gen_ai.usage.completion_tokens", {"intValue": 500})], start),
        foreign_span("00000000000000a2", [("gen_ai.operation.name", {"stringValue": "text_completion"}),
                                          ("gen_ai.request.model", {"stringValue": "mystery-model"}),
                                          ("gen_ai.usage.input_tokens", {"stringValue": "12"}),
                                          ("agentkit.retries", {"stringValue": "2"}),
                                          ("agentkit.parse.success", {"stringValue": "false"})],
                     start + 10, {"code": 2, "message": "boom"}),
        foreign_span("00000000000000a3", [("gen_ai.operation.name", {"stringValue": "execute_tool"})], start + 20),
    ]
    f = tmp_path / "other.jsonl"
    f.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
    a, b = sorted(analytics.UsageReader(f, pricing=pricing), key=lambda r: r.start_ns)
    assert (a.provider, a.input_tokens, a.output_tokens, a.cost_source) == ("acme", 1000, 500, "table")
    assert a.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert (b.input_tokens, b.cost_usd, b.cost_source, b.ok, b.error_type) == (12, None, None, False, "boom")
    assert (b.retries, b.parse_success) == (2, False)
    s = analytics.usage_stats(f, analytics.window(), pricing=pricing)
    assert (s.total.calls, s.total.unpriced_calls, s.read.spans) == (2, 1, 3)


def test_values_of_the_wrong_kind_never_stop_a_read(tmp_path, pricing):
    """Another writer's odd values (an array where a name belongs, a map for a model, bytes for a count)
    make no call or an odd one, never an error: the read goes on."""
    start = 1_790_000_000 * 10**9
    spans = [
        foreign_span("00000000000000b1", [("gen_ai.operation.name", {"arrayValue": {"values": [
            {"stringValue": "chat"}]}})], start),
        foreign_span("00000000000000b2", [("gen_ai.operation.name", {"kvlistValue": {"values": []}})], start + 1),
        foreign_span("00000000000000b3", [("gen_ai.operation.name", {"stringValue": "chat"}),
                                          ("gen_ai.request.model", {"kvlistValue": {"values": [
                                              {"key": "a", "value": {"intValue": "1"}}]}}),
                                          ("gen_ai.provider.name", {"arrayValue": {}}),
                                          ("gen_ai.usage.input_tokens", {"bytesValue": "AAE="}),
                                          ("gen_ai.usage.output_tokens", {"doubleValue": "NaN"}),
                                          ("agentkit.cost.usd", {"arrayValue": {"values": [{"intValue": 1}]}}),
                                          ("agentkit.tier", {"intValue": "3"})], start + 2),
    ]
    f = tmp_path / "odd.jsonl"
    f.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
    (call,) = analytics.UsageReader(f, pricing=pricing)
    assert (call.input_tokens, call.output_tokens, call.cost_usd, call.tier) == (0, 0, None, "3")
    assert call.model == "{'a': 1}" and call.provider == "[]"
    s = analytics.usage_stats(f, analytics.window(), by="model", pricing=pricing)
    assert (s.total.calls, s.read.spans, s.read.corrupt_lines) == (1, 3, 0)


# --- export ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_every_call(tmp_path, dataset, pricing, fmt):
    out = tmp_path / f"calls.{fmt}"
    result = analytics.export_records(dataset["dir"], analytics.window(tz="Asia/Tokyo"), out, fmt, pricing=pricing)
    assert result.records == len(CALLS) and Path(result.path) == out
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(text.splitlines()))
    elif fmt == "json":
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == len(CALLS)
    assert {r["model"] for r in rows} == {c.model for c in CALLS}
    assert all(r["time"].endswith("+09:00") for r in rows)
    assert sum(float(r["cost_usd"]) for r in rows) == pytest.approx(sum(c.cost() for c in CALLS))
    assert sorted(int(r["input_tokens"]) for r in rows) == sorted(c.input_tokens for c in CALLS)
    assert out.stat().st_mode & 0o077 == 0  # owner-only, like the telemetry


def test_export_of_nothing_is_still_valid(tmp_path):
    (tmp_path / "telemetry").mkdir()
    out = tmp_path / "none.json"
    assert analytics.export_records(tmp_path / "telemetry", analytics.window(), out, "json").records == 0
    assert json.loads(out.read_text()) == []


def test_export_refuses_unsafe_paths(tmp_path, dataset):
    w = analytics.window()
    existing = tmp_path / "calls.csv"
    existing.write_text("keep me")
    with pytest.raises(analytics.OutputError, match="refusing to overwrite .*use --force"):
        analytics.export_records(dataset["dir"], w, existing, "csv")
    assert existing.read_text() == "keep me"
    analytics.export_records(dataset["dir"], w, existing, "csv", force=True)
    assert existing.read_text().startswith("time,")
    for bad, message in [("/etc/agentkit.csv", "system directory"), ("/usr/local/x.csv", "system directory"),
                         ("/calls.csv", "system directory"), (f"{tmp_path}/a\x00b.csv", "NUL byte"),
                         (f"{tmp_path}/no/such/dir/x.csv", "does not exist"), (str(tmp_path), "is a directory")]:
        with pytest.raises(analytics.OutputError, match=message):
            analytics.export_records(dataset["dir"], w, bad, "csv")
    link = tmp_path / "sneaky"
    link.symlink_to("/etc")
    with pytest.raises(analytics.OutputError, match="system directory"):
        analytics.export_records(dataset["dir"], w, link / "x.csv", "csv")
    with pytest.raises(ValueError, match="invalid format='xml'"):
        analytics.export_records(dataset["dir"], w, tmp_path / "x.xml", "xml")
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


# --- reset -------------------------------------------------------------------------------------------------

def test_reset_needs_confirmation_and_deletes_only_telemetry_files(tmp_path, dataset):
    directory = copy_dataset(dataset, tmp_path)
    (directory / "metrics-2026-01-01.jsonl").write_text("")
    (directory / "notes.txt").write_text("mine")
    ours = [p for p in directory.iterdir() if parse_file_name(p.name)]
    with pytest.raises(analytics.ResetRefused, match=f"not deleting {len(ours)} telemetry files .*without --confirm"):
        analytics.reset_telemetry(directory)
    assert len([p for p in directory.iterdir() if parse_file_name(p.name)]) == len(ours)
    result = analytics.reset_telemetry(directory, confirm=True)
    assert (result.files, result.llm_calls, result.spans, result.deleted) == (len(ours), len(CALLS), len(CALLS), True)
    assert [p.name for p in directory.iterdir()] == ["notes.txt"]
    with pytest.raises(FileNotFoundError):
        analytics.reset_telemetry(tmp_path / "nope", confirm=True)
