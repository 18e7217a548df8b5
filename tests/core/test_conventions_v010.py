"""Conformance with semantic-conventions-genai v0.1.0, read back from the real files.

One workload drives every entry point (the decorators llm / embedding / retrieval / tool / agent / workflow,
their context-manager forms, record_llm_call, and the openai and anthropic instrumentors against the stub
server of tests/auto, whose fixtures are reused by import) through ``agentkit.init(exporters=["jsonl"])``;
the spans, log events and metric points are then read back from the JSON-lines files with
``otel_agentkit.export.reader`` and checked against RULES (v0.1.0, the default) and PRE_RELEASE_RULES
(``semconv="pre-release"``): one row per rule, with what it applies to, the check and the spec file it
comes from. A rule that selects nothing fails: the workload must exercise every row.

Spec files are those of the v0.1.0 tag of open-telemetry/semantic-conventions-genai (docs/gen-ai/...,
model/...) unless a row says otherwise; ``verified`` says how the row was checked against the tag's text:
"tag" (the v0.1.0 page itself), "changelog" (the v0.1.0 section of CHANGELOG.md), "main" (the main
branch's page, which a v0.1.0 page links to but whose tagged text could not be read here), or "sheet" (only
the project's names sheet ../shared/GENAI_CONVENTIONS.md and otel_agentkit/semconv.py: not confirmed
against the tag's text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import anthropic
import openai
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from pytest_httpserver import HTTPServer

import otel_agentkit as agentkit
from otel_agentkit import diagnostics, semconv as sc
from otel_agentkit.export.otlp_decode import decode_attributes
from otel_agentkit.export.reader import MetricPoint, SpanRecord, iter_metric_points, iter_requests, iter_spans
from tests.auto.conftest import USER, Stub, http_server  # noqa: F401 (the session fixture, by import)

CHANGELOG = "CHANGELOG.md (## v0.1.0)"
AGENT_SPANS = "docs/gen-ai/gen-ai-agent-spans.md"
INFERENCE = "docs/gen-ai/client-inference.md"
EMBEDDINGS = "docs/gen-ai/client-embeddings.md"
RETRIEVAL = "docs/gen-ai/retrieval.md (main; the tag's gen-ai-metrics.md links its #metrics)"
METRICS = "docs/gen-ai/gen-ai-metrics.md"
TOKEN_METRICS = "docs/gen-ai/gen-ai-token-metrics.md"
EVENTS = "docs/gen-ai/gen-ai-events.md"
REGISTRY = "model/gen-ai/registry.yaml"

WF_DECO, WF_CM = "conformance-deco", "conformance-cm"
AGENT_DECO, AGENT_CM = "planner", "writer"
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
INFERENCE_OPS = {"chat", "text_completion", "generate_content"}
USAGE_COUNTERS = ("gen_ai.client.inference.usage.input_tokens", "gen_ai.client.inference.usage.output_tokens",
                  "gen_ai.client.inference.usage.cache_read.input_tokens",
                  "gen_ai.client.inference.usage.cache_write.input_tokens",
                  "gen_ai.client.inference.usage.reasoning.output_tokens")
MODALITIES = {"text", "image", "audio", "video", "document", "unknown"}
MESSAGES = [{"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}]
ANSWER = [{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}], "finish_reason": "stop"}]


# --- the workload --------------------------------------------------------------------------------------

def workload(stub: Stub) -> None:
    """Every entry point once or more, below two workflows (decorator and context-manager forms)."""
    oa = openai.OpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)
    an = anthropic.Anthropic(base_url=stub.url(), api_key="sk-ant-test", max_retries=0)
    stub.openai_chat()
    stub.openai_embeddings()
    stub.anthropic_messages()

    @agentkit.llm(provider="openai", model="gpt-4o", top_k=5, choice_count=1, temperature=0.2, max_tokens=100,
                  stop_sequences=["END"], seed=7)
    def ask() -> None:
        agentkit.current_call().record(input_tokens=10, output_tokens=5, response_model="gpt-4o-2024-08-06",
                                       response_id="chatcmpl-1", finish_reasons=["stop"], input_messages=MESSAGES,
                                       output_messages=ANSWER, prompt_name="answer-v1")

    @agentkit.llm(provider="openai", model="gpt-4o-mini", choice_count=2)
    def ask_twice_without_usage() -> None:  # no usage reported: counters add 0 with modality "unknown"
        pass

    @agentkit.tool(name="lookup", call_id="call-1", description="Looks things up")
    def lookup() -> str:
        return "found"

    @agentkit.agent(name=AGENT_DECO, description="Plans", id="agent-7", conversation_id="conv-1")
    def plan() -> None:
        ask()
        lookup()
        ask_twice_without_usage()
        oa.chat.completions.create(model="gpt-4o-mini", messages=USER)  # the openai instrumentor

    @agentkit.embedding(provider="openai", model="text-embedding-3-small", encoding_formats=["float"])
    def embed() -> None:
        agentkit.current_call().record(input_tokens=8, embedding_dimensions=3)

    @agentkit.retrieval(data_source="kb", top_k=3)
    def retrieve() -> list[str]:
        return ["doc"]

    @agentkit.workflow(name=WF_DECO)
    def run() -> None:
        plan()
        embed()
        retrieve()
        oa.embeddings.create(model="text-embedding-3-small", input="hello")  # the openai instrumentor

    run()

    with agentkit.workflow(name=WF_CM):
        with agentkit.agent(name=AGENT_CM):
            with agentkit.llm(provider="anthropic", model="claude-sonnet-4-5", top_k=40) as call:
                call.record(input_tokens=1600, output_tokens=20, cache_read_tokens=1500, cache_write_tokens=50,
                            finish_reasons=["end_turn"], input_messages=MESSAGES)
            with agentkit.tool(name="search"):
                pass
            an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)  # anthropic instrumentor
        with agentkit.embedding(provider="openai", model="text-embedding-3-large") as call:
            call.record(input_tokens=4)
        with agentkit.retrieval(data_source="wiki", top_k=2):
            pass
        agentkit.record_llm_call(provider="openai", model="o4-mini", start_time=1.7e9, end_time=1.7e9 + 2,
                                 input_tokens=30, output_tokens=60, reasoning_tokens=40, finish_reasons=["stop"])


@dataclass
class Read:
    """What the files hold after the workload."""

    spans: list[SpanRecord]
    points: list[MetricPoint]  # the last point of each (metric, attribute set)
    logs: list[dict[str, Any]]  # log records: {"event_name", "attributes", "span_id", "body"}

    def by_op(self, *ops: str) -> list[SpanRecord]:
        return [s for s in self.spans if s.attributes.get(sc.GEN_AI_OPERATION_NAME) in ops]

    def metric(self, name: str) -> list[MetricPoint]:
        return [p for p in self.points if p.name == name]


def _read(home: Any) -> Read:
    folder = home / "telemetry"
    spans = list(iter_spans(folder))
    last: dict[Any, MetricPoint] = {}
    for p in iter_metric_points(folder):
        key = (p.name, tuple(sorted((k, repr(v)) for k, v in p.attributes.items())))
        if key not in last or p.time_ns >= last[key].time_ns:
            last[key] = p
    logs = []
    for request in iter_requests(folder, "logs"):  # the reader has no log-record decoder: the raw requests
        for rl in request.get("resourceLogs", ()):
            for sl in rl.get("scopeLogs", ()):
                for record in sl.get("logRecords", ()):
                    logs.append({"event_name": record.get("eventName", ""),
                                 "attributes": decode_attributes(record.get("attributes")),
                                 "span_id": record.get("spanId", ""), "body": record.get("body")})
    return Read(spans, list(last.values()), logs)


def _run(tmp_path: Any, stub: Stub, **init: Any) -> Read:
    home = tmp_path
    diagnostics.reset()
    assert agentkit.init(exporters=["jsonl"], home=home, capture_content="SPAN_AND_EVENT", auto_instrument=True,
                         metric_export_interval_ms=3_600_000, tracer_provider=TracerProvider(),
                         meter_provider=MeterProvider(), logger_provider=LoggerProvider(), **init)
    try:
        workload(stub)
        agentkit.flush()
        return _read(home)
    finally:
        agentkit.shutdown()


def _stub(server: HTTPServer) -> Iterator[Stub]:
    """The stub fixture of tests/auto, for a module-scoped run (routes checked answered afterwards)."""
    server.clear()
    stub = Stub(server)
    yield stub
    errors, unanswered = list(server.handler_errors), list(server.assertions)
    server.clear()
    assert not errors and not unanswered, (errors, unanswered)


@pytest.fixture(scope="module")
def v010(http_server: HTTPServer, tmp_path_factory) -> Iterator[Read]:  # noqa: F811
    for stub in _stub(http_server):
        yield _run(tmp_path_factory.mktemp("v010"), stub)


@pytest.fixture(scope="module")
def pre_release(http_server: HTTPServer, tmp_path_factory) -> Iterator[Read]:  # noqa: F811
    for stub in _stub(http_server):
        yield _run(tmp_path_factory.mktemp("pre"), stub, semconv="pre-release")


# --- the rules -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: str
    applies_to: str  # what the rule selects, in words
    select: Callable[[Read], list[Any]]  # the records it applies to (none selected: the rule fails)
    check: Callable[[Any, Read], Any]  # per record: True, or a falsy value / message when violated
    spec: str
    verified: str = "tag"


def _is_int(v: Any) -> bool:
    return type(v) is int


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)


def _workflows(r: Read) -> list[SpanRecord]:
    return r.by_op("invoke_workflow")


def _agents(r: Read) -> list[SpanRecord]:
    return r.by_op("invoke_agent")


def _inference(r: Read) -> list[SpanRecord]:
    return r.by_op(*INFERENCE_OPS)


def _below(r: Read, names: tuple[str, ...], attr: str) -> list[SpanRecord]:
    """Spans that have an ancestor among the invoke_* spans whose gen_ai.agent.name is in ``names``."""
    by_id = {s.span_id: s for s in r.spans}
    out = []
    for s in r.spans:
        p = by_id.get(s.parent_span_id or "")
        while p is not None:
            if p.attributes.get(attr) in names and p.attributes.get(sc.GEN_AI_OPERATION_NAME) in (
                    "invoke_workflow", "invoke_agent"):
                out.append(s)
                break
            p = by_id.get(p.parent_span_id or "")
    return out


def _ancestor_name(r: Read, span: SpanRecord, op: str, attr: str) -> Any:
    by_id = {s.span_id: s for s in r.spans}
    p = by_id.get(span.parent_span_id or "")
    while p is not None:
        if p.attributes.get(sc.GEN_AI_OPERATION_NAME) == op:
            return p.attributes.get(attr)
        p = by_id.get(p.parent_span_id or "")
    return None


def _histogram(name: str, unit: str, buckets: tuple[float, ...] | None) -> Callable[[MetricPoint, Read], Any]:
    def check(p: MetricPoint, r: Read) -> Any:
        if p.kind != "histogram" or p.unit != unit:
            return f"{p.kind} in {p.unit!r}"
        if buckets is not None and tuple(p.explicit_bounds) != tuple(float(b) for b in buckets):
            return f"bounds {p.explicit_bounds}"
        return True
    return check


def _details(r: Read) -> list[dict[str, Any]]:
    return [e for e in r.logs if e["event_name"] == sc.EVENT_INFERENCE_DETAILS]


_FORBIDDEN = ("gen_ai.workflow.name", "gen_ai.agent.id", "gen_ai.invocation.is_nested", "gen_ai.system",
              "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
              "gen_ai.usage.cache_creation.input_tokens", "agentkit.prompt.name", "gen_ai.token.type")

RULES: tuple[Rule, ...] = (
    # spans: workflows and agents
    Rule("workflow-span", "spans with gen_ai.operation.name=invoke_workflow",
         _workflows, lambda s, r: s.kind == "INTERNAL" and s.name == f"invoke_agent {s.attributes.get('gen_ai.agent.name')}"
         and s.attributes.get("gen_ai.agent.name") in (WF_DECO, WF_CM), AGENT_SPANS + "; " + CHANGELOG, "changelog"),
    Rule("workflow-both-forms", "workflow spans (decorator and context manager)",
         lambda r: [sorted(s.attributes.get("gen_ai.agent.name") for s in _workflows(r))],
         lambda names, r: names == [WF_CM, WF_DECO], AGENT_SPANS, "changelog"),
    Rule("agent-span", "spans with gen_ai.operation.name=invoke_agent",
         _agents, lambda s, r: s.kind == "INTERNAL" and s.name == f"invoke_agent {s.attributes['gen_ai.agent.name']}"
         and s.attributes["gen_ai.agent.name"] in (AGENT_DECO, AGENT_CM), AGENT_SPANS, "sheet"),
    Rule("agent-span-attributes", "the decorated agent span",
         lambda r: [s for s in _agents(r) if s.attributes["gen_ai.agent.name"] == AGENT_DECO],
         lambda s, r: s.attributes.get("gen_ai.agent.description") == "Plans"
         and s.attributes.get("gen_ai.conversation.id") == "conv-1", AGENT_SPANS, "sheet"),
    Rule("no-removed-names", "every span, log record and metric point",
         lambda r: list(r.spans) + list(r.logs) + list(r.points),
         lambda x, r: not (set(x["attributes"] if isinstance(x, dict) else x.attributes) & set(_FORBIDDEN)),
         CHANGELOG + " (workflow.name, agent.id); " + REGISTRY + " (renamed names)", "changelog"),
    Rule("children-carry-agentkit-workflow", "spans below a workflow",
         lambda r: _below(r, (WF_DECO, WF_CM), "gen_ai.agent.name"),
         lambda s, r: s.attributes.get(sc.AGENTKIT_WORKFLOW_NAME) == _ancestor_name(
             r, s, "invoke_workflow", "gen_ai.agent.name"),
         "project rule (agentkit.*; v0.1.0 has no workflow attribute for child spans)", "project"),
    Rule("children-carry-agentkit-agent", "spans below an agent",
         lambda r: [s for s in _below(r, (AGENT_DECO, AGENT_CM), "gen_ai.agent.name")],
         lambda s, r: s.attributes.get(sc.AGENTKIT_AGENT_NAME) == _ancestor_name(r, s, "invoke_agent", "gen_ai.agent.name"),
         "project rule (agentkit.*)", "project"),
    # spans: inference
    Rule("inference-span", "inference spans (decorator, context manager, record_llm_call, instrumentors)",
         _inference, lambda s, r: s.kind == "CLIENT"
         and s.name == f"{s.attributes['gen_ai.operation.name']} {s.attributes['gen_ai.request.model']}"
         and isinstance(s.attributes.get("gen_ai.provider.name"), str), INFERENCE, "sheet"),
    Rule("inference-entry-points", "inference spans by model",
         lambda r: [sorted(s.attributes["gen_ai.request.model"] for s in _inference(r))],
         lambda models, r: models == sorted(["gpt-4o", "gpt-4o-mini", "gpt-4o-mini", "claude-sonnet-4-5",
                                             "claude-sonnet-4-6", "o4-mini"]), INFERENCE, "sheet"),
    Rule("top-k-int", "inference spans with gen_ai.request.top_k",
         lambda r: [s for s in _inference(r) if "gen_ai.request.top_k" in s.attributes],
         lambda s, r: _is_int(s.attributes["gen_ai.request.top_k"]), CHANGELOG + "; " + REGISTRY, "changelog"),
    Rule("top-k-present", "the spans asked for top_k",
         lambda r: [len([s for s in _inference(r) if "gen_ai.request.top_k" in s.attributes])],
         lambda n, r: n == 2, INFERENCE, "changelog"),
    Rule("choice-count-only-when-not-1", "inference spans with gen_ai.request.choice.count",
         lambda r: [s for s in _inference(r) if "gen_ai.request.choice.count" in s.attributes],
         lambda s, r: s.attributes["gen_ai.request.choice.count"] != 1, INFERENCE, "sheet"),
    Rule("choice-count-kept-when-not-1", "inference spans asked for choice_count=2",
         lambda r: [len([s for s in _inference(r) if s.attributes.get("gen_ai.request.choice.count") == 2])],
         lambda n, r: n == 1, INFERENCE, "sheet"),
    Rule("finish-reasons-string-array", "spans with gen_ai.response.finish_reasons",
         lambda r: [s for s in r.spans if "gen_ai.response.finish_reasons" in s.attributes],
         lambda s, r: _str_list(s.attributes["gen_ai.response.finish_reasons"]), REGISTRY, "sheet"),
    Rule("request-attribute-types", "the decorated gpt-4o span",
         lambda r: [s for s in _inference(r) if s.attributes["gen_ai.request.model"] == "gpt-4o"],
         lambda s, r: type(s.attributes.get("gen_ai.request.temperature")) is float
         and _is_int(s.attributes.get("gen_ai.request.max_tokens")) and _is_int(s.attributes.get("gen_ai.request.seed"))
         and s.attributes.get("gen_ai.request.stop_sequences") == ["END"], REGISTRY, "sheet"),
    Rule("usage-attribute-types", "spans with gen_ai.usage.*",
         lambda r: [s for s in r.spans if any(k.startswith("gen_ai.usage.") for k in s.attributes)],
         lambda s, r: all(_is_int(v) for k, v in s.attributes.items() if k.startswith("gen_ai.usage.")), REGISTRY,
         "sheet"),
    Rule("prompt-name", "the span recorded with prompt_name",
         lambda r: [s for s in _inference(r) if s.attributes["gen_ai.request.model"] == "gpt-4o"],
         lambda s, r: s.attributes.get("gen_ai.prompt.name") == "answer-v1", INFERENCE, "sheet"),
    # spans: embeddings, retrieval, tools
    Rule("embeddings-span", "spans with gen_ai.operation.name=embeddings",
         lambda r: r.by_op("embeddings"), lambda s, r: s.kind == "CLIENT"
         and s.name == f"embeddings {s.attributes['gen_ai.request.model']}"
         and isinstance(s.attributes.get("gen_ai.provider.name"), str), EMBEDDINGS, "sheet"),
    Rule("embeddings-encoding-formats", "the decorated embeddings span",
         lambda r: [s for s in r.by_op("embeddings") if s.attributes.get("gen_ai.request.encoding_formats")],
         lambda s, r: s.attributes["gen_ai.request.encoding_formats"] == ["float"]
         and _is_int(s.attributes.get("gen_ai.embeddings.dimension.count")), EMBEDDINGS, "sheet"),
    Rule("retrieval-top-k", "spans with gen_ai.operation.name=retrieval",
         lambda r: r.by_op("retrieval"), lambda s, r: _is_int(s.attributes.get("gen_ai.retrieval.top_k"))
         and "gen_ai.request.top_k" not in s.attributes
         and s.attributes.get("gen_ai.data_source.id") in ("kb", "wiki"), CHANGELOG + "; " + RETRIEVAL, "changelog"),
    Rule("retrieval-span", "spans with gen_ai.operation.name=retrieval",
         lambda r: r.by_op("retrieval"), lambda s, r: s.kind == "INTERNAL" and s.name == "retrieval",
         RETRIEVAL, "main"),
    Rule("retrieval-duration", "gen_ai.retrieval.duration points",
         lambda r: r.metric("gen_ai.retrieval.duration"),
         lambda p, r: _histogram("", "s", DURATION_BUCKETS)(p, r) is True
         and p.attributes.get("gen_ai.operation.name") == "retrieval"
         and p.attributes.get("gen_ai.data_source.id") in ("kb", "wiki"),
         RETRIEVAL + " (buckets: the spec's duration buckets, not stated there)", "main"),
    Rule("retrieval-duration-both-forms", "data sources of gen_ai.retrieval.duration points",
         lambda r: [sorted(p.attributes.get("gen_ai.data_source.id") for p in r.metric("gen_ai.retrieval.duration"))],
         lambda ids, r: ids == ["kb", "wiki"], RETRIEVAL, "main"),
    Rule("retrieval-not-in-operation-duration", "gen_ai.client.operation.duration points",
         lambda r: [p for p in r.points if p.name.startswith("gen_ai.")],
         lambda p, r: not (p.name == "gen_ai.client.operation.duration"
                           and p.attributes.get("gen_ai.operation.name") == "retrieval"), RETRIEVAL, "main"),
    Rule("tool-span", "spans with gen_ai.operation.name=execute_tool",
         lambda r: r.by_op("execute_tool"), lambda s, r: s.kind == "INTERNAL"
         and s.name == f"execute_tool {s.attributes['gen_ai.tool.name']}"
         and s.attributes.get("gen_ai.tool.type") == "function", AGENT_SPANS, "sheet"),
    # events
    Rule("details-event-structured", "gen_ai.client.inference.operation.details events",
         _details, lambda e, r: all(isinstance(e["attributes"][k], list) for k in (
             "gen_ai.input.messages", "gen_ai.output.messages") if k in e["attributes"])
         and isinstance(e["attributes"].get("gen_ai.input.messages"), list)
         and all(isinstance(m, dict) and isinstance(m.get("parts"), list) for m in e["attributes"]["gen_ai.input.messages"]),
         EVENTS + "; " + INFERENCE, "sheet"),
    Rule("details-event-content", "the details event of the decorated gpt-4o call",
         lambda r: [e for e in _details(r) if e["attributes"].get("gen_ai.request.model") == "gpt-4o"],
         lambda e, r: e["attributes"]["gen_ai.input.messages"] == MESSAGES
         and e["attributes"]["gen_ai.output.messages"][0]["parts"] == ANSWER[0]["parts"], EVENTS, "sheet"),
    Rule("span-content-json-strings", "spans with gen_ai.input.messages",
         lambda r: [s for s in r.spans if "gen_ai.input.messages" in s.attributes],
         lambda s, r: isinstance(s.attributes["gen_ai.input.messages"], str), INFERENCE, "sheet"),
    # metrics
    Rule("no-token-usage-metric", "metric points", lambda r: list(r.points),
         lambda p, r: p.name not in ("gen_ai.client.token.usage", "gen_ai.invocation.duration"),
         METRICS + " (not among the v0.1.0 page's metrics); " + TOKEN_METRICS, "sheet"),
    Rule("usage-counters", "gen_ai.client.inference.usage.* points",
         lambda r: [p for p in r.points if p.name in USAGE_COUNTERS],
         lambda p, r: p.kind == "sum" and p.is_monotonic and p.unit == "{token}"
         and p.attributes.get("gen_ai.token.modality") in MODALITIES
         and isinstance(p.attributes.get("gen_ai.provider.name"), str)
         and p.attributes.get("gen_ai.operation.name") in INFERENCE_OPS, TOKEN_METRICS, "sheet"),
    Rule("usage-counters-all-five", "the usage counters emitted",
         lambda r: [sorted({p.name for p in r.points if p.name in USAGE_COUNTERS})],
         lambda names, r: names == sorted(USAGE_COUNTERS), TOKEN_METRICS, "sheet"),
    Rule("usage-unknown-modality", "usage points of the call that reported no usage",
         lambda r: [p for p in r.points if p.name in USAGE_COUNTERS and p.attributes.get("gen_ai.token.modality")
                    == "unknown"],
         lambda p, r: p.value == 0 and p.attributes.get("gen_ai.request.model") == "gpt-4o-mini", TOKEN_METRICS,
         "sheet"),
    Rule("usage-totals", "gen_ai.client.inference.usage.input_tokens, text modality",
         lambda r: [sum(p.value for p in r.metric(USAGE_COUNTERS[0])
                        if p.attributes.get("gen_ai.token.modality") == "text")],
         lambda total, r: total == sum(s.attributes.get("gen_ai.usage.input_tokens", 0) for s in _inference(r)),
         TOKEN_METRICS, "sheet"),
    Rule("inference-duration", "gen_ai.client.inference.duration points",
         lambda r: r.metric("gen_ai.client.inference.duration"),
         lambda p, r: _histogram("", "s", DURATION_BUCKETS)(p, r) is True
         and p.attributes.get("gen_ai.operation.name") in INFERENCE_OPS
         and isinstance(p.attributes.get("gen_ai.provider.name"), str), INFERENCE, "sheet"),
    Rule("inference-token-histograms", "gen_ai.client.inference.operation.{input,output}_tokens points",
         lambda r: r.metric("gen_ai.client.inference.operation.input_tokens")
         + r.metric("gen_ai.client.inference.operation.output_tokens"),
         lambda p, r: _histogram("", "{token}", TOKEN_BUCKETS)(p, r) is True
         and p.attributes.get("gen_ai.operation.name") in INFERENCE_OPS
         and isinstance(p.attributes.get("gen_ai.provider.name"), str), TOKEN_METRICS, "sheet"),
    Rule("embeddings-metrics", "gen_ai.client.embeddings.* points",
         lambda r: r.metric("gen_ai.client.embeddings.duration") + r.metric("gen_ai.client.embeddings.operation.input_tokens"),
         lambda p, r: _histogram("", "s" if p.name.endswith("duration") else "{token}",
                                 DURATION_BUCKETS if p.name.endswith("duration") else TOKEN_BUCKETS)(p, r) is True
         and p.attributes.get("gen_ai.operation.name") == "embeddings"
         and isinstance(p.attributes.get("gen_ai.provider.name"), str), EMBEDDINGS, "sheet"),
    Rule("embeddings-not-in-inference-metrics", "inference metric points",
         lambda r: [p for p in r.points if p.name.startswith("gen_ai.client.inference.")],
         lambda p, r: p.attributes.get("gen_ai.operation.name") != "embeddings", EMBEDDINGS, "sheet"),
    Rule("invoke-agent-duration", "gen_ai.invoke_agent.duration points",
         lambda r: r.metric("gen_ai.invoke_agent.duration"),
         lambda p, r: _histogram("", "s", tuple(sc.INVOCATION_BUCKETS))(p, r) is True
         and p.attributes.get("gen_ai.operation.name") in ("invoke_agent", "invoke_workflow")
         and p.attributes.get("gen_ai.agent.name") in (WF_DECO, WF_CM, AGENT_DECO, AGENT_CM),
         METRICS + " (name: tag; buckets 0.1..409.6: not confirmed against the tag)", "tag"),
    Rule("invoke-agent-duration-workflows", "workflow points of gen_ai.invoke_agent.duration",
         lambda r: [sorted(p.attributes.get("gen_ai.agent.name") for p in r.metric("gen_ai.invoke_agent.duration")
                           if p.attributes.get("gen_ai.operation.name") == "invoke_workflow")],
         lambda names, r: names == [WF_CM, WF_DECO], CHANGELOG, "changelog"),
    Rule("invoke-agent-calls", "gen_ai.invoke_agent.inference_calls / .tool_calls points",
         lambda r: r.metric("gen_ai.invoke_agent.inference_calls") + r.metric("gen_ai.invoke_agent.tool_calls"),
         lambda p, r: _histogram("", "{inference_call}" if p.name.endswith("inference_calls") else "{tool_call}",
                                 (1, 2, 4, 8, 16, 32, 64, 128))(p, r) is True
         and p.attributes.get("gen_ai.agent.name") in (WF_DECO, WF_CM, AGENT_DECO, AGENT_CM),
         METRICS + " (names: tag; units and buckets 1..128: as independent implementations of v0.1.0 use them,"
         " the tag's own text not readable here)", "tag"),
    Rule("invoke-agent-call-counts", "the decorated agent's run",
         lambda r: [(p.name, p.sum) for p in r.points if p.name.startswith("gen_ai.invoke_agent.")
                    and p.name != "gen_ai.invoke_agent.duration" and p.attributes.get("gen_ai.agent.name") == AGENT_DECO],
         lambda x, r: x in (("gen_ai.invoke_agent.inference_calls", 3), ("gen_ai.invoke_agent.tool_calls", 1)),
         METRICS, "sheet"),
    Rule("tool-duration", "gen_ai.execute_tool.duration points",
         lambda r: r.metric("gen_ai.execute_tool.duration"),
         lambda p, r: _histogram("", "s", DURATION_BUCKETS)(p, r) is True
         and p.attributes.get("gen_ai.operation.name") == "execute_tool"
         and p.attributes.get("gen_ai.tool.name") in ("lookup", "search"), METRICS, "sheet"),
)

PRE_RELEASE_RULES: tuple[Rule, ...] = (
    Rule("pre-workflow-span", "spans with gen_ai.operation.name=invoke_workflow",
         _workflows, lambda s, r: s.kind == "INTERNAL" and s.name == f"invoke_workflow {s.attributes['gen_ai.workflow.name']}"
         and "gen_ai.agent.name" not in s.attributes, "pre-release set (semantic-conventions v1.41.0 " + AGENT_SPANS + ")",
         "project"),
    Rule("pre-workflow-inherited", "spans below a workflow",
         lambda r: _below(r, (WF_DECO, WF_CM), "gen_ai.workflow.name"),
         lambda s, r: s.attributes.get("gen_ai.workflow.name") == _ancestor_name(
             r, s, "invoke_workflow", "gen_ai.workflow.name"), "pre-release set", "project"),
    Rule("pre-agent-inherited", "spans below an agent",
         lambda r: _below(r, (AGENT_DECO, AGENT_CM), "gen_ai.agent.name"),
         lambda s, r: s.attributes.get("gen_ai.agent.name") == _ancestor_name(r, s, "invoke_agent", "gen_ai.agent.name"),
         "pre-release set", "project"),
    Rule("pre-prompt-name", "the span recorded with prompt_name",
         lambda r: [s for s in _inference(r) if s.attributes["gen_ai.request.model"] == "gpt-4o"],
         lambda s, r: s.attributes.get("agentkit.prompt.name") == "answer-v1", "pre-release set", "project"),
    Rule("pre-invocation-duration", "gen_ai.invocation.duration points",
         lambda r: r.metric("gen_ai.invocation.duration"),
         lambda p, r: _histogram("", "s", tuple(sc.INVOCATION_BUCKETS))(p, r) is True
         and isinstance(p.attributes.get("gen_ai.invocation.is_nested"), bool), "pre-release set", "project"),
    Rule("pre-token-usage", "gen_ai.client.token.usage points",
         lambda r: r.metric("gen_ai.client.token.usage"),
         lambda p, r: _histogram("", "{token}", TOKEN_BUCKETS)(p, r) is True
         and p.attributes.get("gen_ai.token.type") in ("input", "output"), "pre-release set (v1.41.0 gen-ai-metrics.md)",
         "project"),
    Rule("pre-operation-duration", "gen_ai.client.operation.duration points of inference",
         lambda r: [p for p in r.metric("gen_ai.client.operation.duration")
                    if p.attributes.get("gen_ai.operation.name") in INFERENCE_OPS],
         lambda p, r: _histogram("", "s", DURATION_BUCKETS)(p, r) is True, "pre-release set", "project"),
    Rule("pre-retrieval", "spans with gen_ai.operation.name=retrieval",
         lambda r: r.by_op("retrieval"), lambda s, r: s.kind == "CLIENT"
         and s.name == f"retrieval {s.attributes['gen_ai.data_source.id']}", "pre-release set", "project"),
    Rule("pre-retrieval-duration", "gen_ai.client.operation.duration points of retrieval",
         lambda r: [len([p for p in r.metric("gen_ai.client.operation.duration")
                         if p.attributes.get("gen_ai.operation.name") == "retrieval"])],
         lambda n, r: n == 1, "pre-release set (one attribute set: no data source on the metric)", "project"),
    Rule("pre-no-v010-only-names", "metric points", lambda r: list(r.points),
         lambda p, r: not p.name.startswith(("gen_ai.client.inference.usage.", "gen_ai.invoke_agent.",
                                             "gen_ai.client.embeddings.", "gen_ai.retrieval.")),
         "pre-release set", "project"),
)


def _violations(rule: Rule, read: Read) -> list[str]:
    selected = rule.select(read)
    assert selected, f"rule {rule.id}: nothing to apply it to ({rule.applies_to}); the workload must cover it"
    bad = []
    for record in selected:
        try:
            verdict = rule.check(record, read)
        except (KeyError, TypeError) as exc:
            verdict = f"{type(exc).__name__}: {exc}"
        if verdict is not True:
            name = getattr(record, "name", None) or (record.get("event_name") if isinstance(record, dict) else record)
            attrs = getattr(record, "attributes", None) or (record.get("attributes") if isinstance(record, dict) else "")
            bad.append(f"{name}: {verdict if isinstance(verdict, str) else ''} {attrs}")
    return bad


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_v010_rule(rule: Rule, v010: Read):
    bad = _violations(rule, v010)
    assert not bad, f"{rule.id} ({rule.spec}) violated by:\n" + "\n".join(bad)


@pytest.mark.parametrize("rule", PRE_RELEASE_RULES, ids=[r.id for r in PRE_RELEASE_RULES])
def test_pre_release_rule(rule: Rule, pre_release: Read):
    bad = _violations(rule, pre_release)
    assert not bad, f"{rule.id} ({rule.spec}) violated by:\n" + "\n".join(bad)


def test_every_rule_cites_its_source():
    for rule in RULES + PRE_RELEASE_RULES:
        assert rule.spec and rule.applies_to and rule.verified in ("tag", "changelog", "main", "sheet", "project"), rule.id


# The v0.1.0 rules that the pre-release output must break: the table is not vacuous (each of these rows
# tells the two sets apart), and the switch really changes what is written.
PRE_RELEASE_BREAKS = ("workflow-span", "workflow-both-forms", "no-removed-names", "children-carry-agentkit-workflow",
                      "children-carry-agentkit-agent", "choice-count-only-when-not-1", "prompt-name",
                      "no-token-usage-metric", "usage-counters", "usage-counters-all-five", "embeddings-metrics",
                      "embeddings-not-in-inference-metrics", "invoke-agent-duration", "invoke-agent-calls",
                      "retrieval-span", "retrieval-duration", "retrieval-not-in-operation-duration")


def test_v010_rules_reject_the_pre_release_output(pre_release: Read):
    broken = set()
    for rule in RULES:
        try:
            if _violations(rule, pre_release):
                broken.add(rule.id)
        except (AssertionError, TypeError, KeyError):  # nothing to apply it to, or records without the names
            broken.add(rule.id)
    assert broken >= set(PRE_RELEASE_BREAKS), sorted(set(PRE_RELEASE_BREAKS) - broken)
