"""Arize Phoenix as the tracing backend: spans made by the decorators and exported by
``agentkit.init(exporters=["otlp"])`` are read back from Phoenix's REST API with their GenAI attributes and
their parent/child structure, sent straight to Phoenix (http/protobuf and grpc) and through a gateway
(SDK -> rotel -> Phoenix)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit import diagnostics, semconv as sc
from otel_agentkit.export.spool import Spool, spool_dir
from tests.backends import workload as w
from tests.backends.conftest import PHOENIX_PROJECT_ATTR, Phoenix, rotel_forwarding_to


@contextlib.contextmanager
def sdk_exporting_to(endpoint: str, protocol: str, project: str, home: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """agentkit.init(exporters=["otlp"]) pointed at ``endpoint`` by the standard variables. The providers are
    the test's own, so that their resource names this test's Phoenix project whatever ran earlier in the
    process; init adds its batch processor and OTLP exporter to them."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "10")
    resource = Resource.create({"service.name": "backends-e2e", PHOENIX_PROJECT_ATTR: project})
    assert agentkit.init(exporters=["otlp"], metric_exporters="none", home=home,
                         tracer_provider=TracerProvider(resource=resource),
                         meter_provider=MeterProvider(resource=resource),
                         logger_provider=LoggerProvider(resource=resource))
    try:
        yield
    finally:
        agentkit.shutdown()


def assert_ticket_in_phoenix(spans: dict[str, dict[str, Any]], ticket: w.Ticket) -> None:
    """The five spans of one ticket, as Phoenix stores them: one trace, the decorators' nesting, the GenAI
    attributes with their types, the failed tool as an error, and no message content."""
    assert sorted(spans) == sorted(w.SPAN_NAMES)
    wf, agent, chat = spans[w.SPAN_WORKFLOW], spans[w.SPAN_AGENT], spans[w.SPAN_CHAT]
    tool_ok, tool_failed = spans[w.SPAN_TOOL_OK], spans[w.SPAN_TOOL_FAILS]
    assert {s["context"]["trace_id"] for s in spans.values()} == {ticket.trace_id}
    span_id = {name: s["context"]["span_id"] for name, s in spans.items()}
    assert wf["parent_id"] is None
    assert agent["parent_id"] == span_id[w.SPAN_WORKFLOW]
    for child in (chat, tool_ok, tool_failed):
        assert child["parent_id"] == span_id[w.SPAN_AGENT], child["name"]

    # v0.1.0: a workflow is an invoke_agent span (operation invoke_workflow) named by gen_ai.agent.name
    assert wf["name"] == sc.span_name(sc.OP_INVOKE_AGENT, w.WORKFLOW)
    assert wf["attributes"][sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW
    assert wf["attributes"][sc.GEN_AI_AGENT_NAME] == w.WORKFLOW
    assert sc.GEN_AI_WORKFLOW_NAME not in wf["attributes"]
    assert agent["attributes"][sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_AGENT
    assert agent["attributes"][sc.GEN_AI_AGENT_NAME] == w.AGENT
    attrs = chat["attributes"]
    assert {k: attrs.get(k) for k in (
        sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL,
        sc.GEN_AI_RESPONSE_ID, sc.GEN_AI_REQUEST_TEMPERATURE, sc.GEN_AI_REQUEST_MAX_TOKENS,
        sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.GEN_AI_RESPONSE_FINISH_REASONS,
        sc.AGENTKIT_AGENT_NAME, sc.AGENTKIT_WORKFLOW_NAME, sc.GEN_AI_WORKFLOW_NAME)} == {
        sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: w.PROVIDER,
        sc.GEN_AI_REQUEST_MODEL: w.MODEL, sc.GEN_AI_RESPONSE_MODEL: w.RESPONSE_MODEL,
        sc.GEN_AI_RESPONSE_ID: "chatcmpl-e2e", sc.GEN_AI_REQUEST_TEMPERATURE: w.TEMPERATURE,
        sc.GEN_AI_REQUEST_MAX_TOKENS: w.MAX_TOKENS, sc.GEN_AI_USAGE_INPUT_TOKENS: w.INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: w.OUTPUT_TOKENS, sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        sc.AGENTKIT_AGENT_NAME: w.AGENT, sc.AGENTKIT_WORKFLOW_NAME: w.WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: None}
    assert isinstance(attrs[sc.AGENTKIT_COST_USD], float) and attrs[sc.AGENTKIT_COST_USD] > 0
    assert {k: tool_ok["attributes"].get(k) for k in (sc.GEN_AI_TOOL_NAME, sc.GEN_AI_TOOL_CALL_ID, sc.GEN_AI_TOOL_TYPE)} \
        == {sc.GEN_AI_TOOL_NAME: w.TOOL_OK, sc.GEN_AI_TOOL_CALL_ID: w.TOOL_OK_CALL_ID, sc.GEN_AI_TOOL_TYPE: "function"}
    assert (wf["status_code"], chat["status_code"], tool_ok["status_code"]) == ("UNSET", "UNSET", "UNSET")
    assert tool_failed["status_code"] == "ERROR"
    assert tool_failed["attributes"][sc.ERROR_TYPE] == f"{w.RefundRefused.__module__}.{w.RefundRefused.__qualname__}"
    assert any(e["name"] == "exception" for e in tool_failed["events"])
    # Phoenix reads the GenAI operation names into its own span kinds: it understood the spans.
    assert (chat["span_kind"], tool_ok["span_kind"], agent["span_kind"]) == ("LLM", "TOOL", "AGENT")
    for span in spans.values():  # content is opt-in and was not asked for
        assert not set(sc.CONTENT_ATTRIBUTES) & set(span["attributes"]), span["name"]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_decorator_spans_read_back_from_phoenix(protocol: str, phoenix: Phoenix, project: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = phoenix.grpc_endpoint if protocol == "grpc" else phoenix.http_endpoint
    with sdk_exporting_to(endpoint, protocol, project, tmp_path, monkeypatch):
        ticket = w.run_ticket()
        assert agentkit.flush()

    assert_ticket_in_phoenix(phoenix.wait_for_spans(project, len(w.SPAN_NAMES)), ticket)
    assert Spool(spool_dir(tmp_path, "traces"), "traces").pending() == []  # nothing failed on the way
    assert diagnostics.error_counts() == {} and diagnostics.drop_counts() == {}


def test_spans_through_a_rotel_gateway_reach_phoenix(phoenix: Phoenix, project: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """SDK --http/protobuf--> rotel --grpc--> Phoenix: the gateway passes spans on whole."""
    with rotel_forwarding_to(phoenix.grpc_endpoint, tmp_path) as (_grpc, http):
        with sdk_exporting_to(http, "http/protobuf", project, tmp_path / "home", monkeypatch):
            tickets = [w.run_ticket(), w.run_ticket("where is my order?")]
            assert agentkit.flush()
        expected = len(tickets) * len(w.SPAN_NAMES)
        phoenix.wait_for_spans(project, expected)

    spans = phoenix.spans(project)
    assert len(spans) == expected  # each span once
    for ticket in tickets:
        assert_ticket_in_phoenix({s["name"]: s for s in spans if s["context"]["trace_id"] == ticket.trace_id},
                                 ticket)
    assert Spool(spool_dir(tmp_path / "home", "traces"), "traces").pending() == []
    assert diagnostics.error_counts() == {} and diagnostics.drop_counts() == {}
