"""The archive the gateway writes (collector-config.yaml's file exporters), read back by the reader and the
`agentkit` CLI.

data/collector-files/ is a directory as the Collector's file exporter leaves it, in its exact JSON
(pdata's marshaler): one export request per line, compact, ids in hex, int64 values and times as strings,
enums as numbers, empty fields left out (no parentSpanId on a root), "status":{} when unset, span flags.
Two services share a request (support-bot with this SDK, research-agent with another instrumentation that
still writes the older gen_ai.system / prompt_tokens names), one resource has two scopes, a rotated file
(traces-<timestamp>.jsonl) lies beside the live one, all three signals are in the directory, and the live
file ends in a line the Collector had not finished writing. Written by hand because no Collector with a file
exporter runs here (see test_collector_config.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from otel_agentkit import semconv as sc
from otel_agentkit.export.reader import ReadStats, iter_metric_points, iter_spans, list_files
from tests.support.procs import require_binary

FILES = Path(__file__).parent / "data" / "collector-files"
SINCE = "2026-03-01"


def test_reader_reads_every_span_with_its_resource_scope_and_parent():
    stats = ReadStats()
    spans = {s.span_id: s for s in iter_spans(FILES, stats=stats)}
    assert [p.name for p in list_files(FILES)] == [
        "logs.jsonl", "metrics.jsonl", "traces-2026-03-10T05-02-14.173.jsonl", "traces.jsonl"]
    assert (stats.files, stats.lines, stats.records, stats.corrupt) == (4, 5, 8, 1)  # the torn last line

    workflow, agent = spans["00f067aa0ba902b7"], spans["53995c3f42cd8ad8"]
    chat, tool, http = spans["1e2f3a4b5c6d7e8f"], spans["9a8b7c6d5e4f3a2b"], spans["b7ad6b7169203331"]
    assert workflow.parent_span_id is None and workflow.name == "invoke_workflow support-ticket"
    assert agent.parent_span_id == workflow.span_id
    assert chat.parent_span_id == tool.parent_span_id == agent.span_id
    assert http.parent_span_id == chat.span_id and http.scope == "opentelemetry.instrumentation.httpx"
    assert {s.trace_id for s in (workflow, agent, chat, tool, http)} == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert chat.scope == "otel_agentkit" and (chat.kind, tool.kind, chat.status) == ("CLIENT", "INTERNAL", "UNSET")
    assert chat.resource[sc.RESOURCE_SERVICE_NAME] == "support-bot"
    assert chat.resource["telemetry.distro.name"] == sc.SCOPE_NAME
    assert {k: chat.attributes[k] for k in (
        sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.SERVER_PORT,
        sc.GEN_AI_REQUEST_TEMPERATURE, sc.GEN_AI_RESPONSE_FINISH_REASONS, sc.AGENTKIT_COST_USD,
        sc.AGENTKIT_PARSE_SUCCESS)} == {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 812, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 512, sc.SERVER_PORT: 443,
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.2, sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        sc.AGENTKIT_COST_USD: 0.0001602, sc.AGENTKIT_PARSE_SUCCESS: True}
    assert chat.duration_s == 0.9

    ok, failed = spans["c1d2e3f4a5b6c7d8"], spans["d1e2f3a4b5c6d7e8"]
    for span in (ok, failed):  # the other service: its own resource, continuing a trace from upstream
        assert span.resource == {"service.name": "research-agent", "service.namespace": "labs",
                                 "telemetry.sdk.language": "nodejs", "telemetry.sdk.name": "opentelemetry",
                                 "telemetry.sdk.version": "2.2.0", "process.pid": 4242}
        assert span.parent_span_id == "f0e1d2c3b4a59687" and span.scope == "@opentelemetry/instrumentation-anthropic"
        assert span.attributes[sc.LEGACY_GEN_AI_SYSTEM] == sc.PROVIDER_ANTHROPIC
    assert (failed.status, failed.status_message, failed.attributes[sc.ERROR_TYPE]) == \
        ("ERROR", "529 Overloaded", "overloaded_error")
    assert failed.events[0][0] == "exception" and failed.events[0][2]["exception.type"] == "OverloadedError"
    assert spans["e1f2a3b4c5d6e7f8"].name == "chat gpt-4o"  # from the live file, before the torn line


def test_reader_reads_metric_points_of_both_services():
    points = list(iter_metric_points(FILES))
    by_name: dict[str, list] = {}
    for p in points:
        by_name.setdefault(p.name, []).append(p)
    assert sorted(by_name) == sorted([sc.METRIC_COST, sc.METRIC_LEGACY_TOKEN_USAGE, sc.METRIC_INFERENCE_DURATION,
                                      sc.METRIC_LEGACY_OPERATION_DURATION, "nodejs.eventloop.utilization"])
    (cost,) = by_name[sc.METRIC_COST]
    assert (cost.kind, cost.value, cost.temporality, cost.is_monotonic, cost.unit) == \
        ("sum", 0.0001602, "CUMULATIVE", True, sc.UNIT_USD)
    tokens = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p for p in by_name[sc.METRIC_LEGACY_TOKEN_USAGE]}
    assert (tokens[sc.TOKEN_TYPE_INPUT].sum, tokens[sc.TOKEN_TYPE_OUTPUT].sum) == (812, 64)
    assert tokens[sc.TOKEN_TYPE_INPUT].bucket_counts == (0, 0, 0, 0, 0, 0, 1, 0)
    (legacy,) = by_name[sc.METRIC_LEGACY_OPERATION_DURATION]
    assert (legacy.count, legacy.sum, legacy.min, legacy.max) == (2, 34.4, 4.4, 30.0)
    assert legacy.resource[sc.RESOURCE_SERVICE_NAME] == "research-agent"
    assert by_name["nodejs.eventloop.utilization"][0].kind == "gauge"


def test_cli_reports_usage_from_the_collector_directory():
    """`agentkit usage stats --path DIR`, as docs/collector.md shows it, over the whole directory."""
    out = subprocess.run([require_binary("agentkit"), "usage", "stats", "--path", str(FILES), "--since", SINCE,
                          "--by", "model", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    total = report["total"]
    assert (total["calls"], total["errors"]) == (4, 1)
    assert (total["input_tokens"], total["output_tokens"], total["cache_read_tokens"]) == (812 + 3000 + 2000,
                                                                                         64 + 420 + 150, 512)
    assert report["read"] == {"files": 4, "lines": 5, "spans": 8, "llm_calls": 4, "corrupt_lines": 1,
                              "duplicate_spans": 0, "bad_spans": 0, "sampled_calls": 0, "sampling_ratios": [],
                              "skipped_files": 0, "unreadable_files": 0, "errors": []}
    groups = {g["key"]: g for g in report["groups"]}
    assert sorted(groups) == ["claude-sonnet-4", "gpt-4o", "gpt-4o-mini"]
    assert (groups["claude-sonnet-4"]["calls"], groups["claude-sonnet-4"]["errors"]) == (2, 1)
    assert groups["gpt-4o"]["cost_usd"] == 0.0065  # the cost the SDK recorded on the span
    assert groups["gpt-4o-mini"]["cost_usd"] == 0.0001602
