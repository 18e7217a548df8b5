"""The Agents SDK bridge (otel_agentkit.auto.openai_agents): a triage agent hands off to a specialist that calls a
function tool, run with Runner.run and Runner.run_streamed against the local stub (Responses model). The SDK's
agent and tool steps must become invoke_agent / execute_tool spans through the recorder, the handoff an event,
and each model request exactly one inference span (the openai instrumentor's), under the agent that made it.

The SDK's tracing is on here (the bridge hears nothing otherwise). Its default processor, which exports to
OpenAI's servers, is swapped for ``Recording`` (a real TracingProcessor that keeps what it is given) for the
length of each test: no network here. The bridge must be added next to it and leave it receiving everything.
"""

from __future__ import annotations

from typing import Any, Iterator

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.tracing import TracingProcessor, get_trace_provider, set_trace_processors
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentkit as agentkit
from opentelemetry import context as otel_context

from otel_agentkit import auto, diagnostics, semconv as sc
from otel_agentkit.auto.openai_agents import (AGENTKIT_HANDOFF_FROM, AGENTKIT_HANDOFF_TO, EVENT_HANDOFF,
                                              OpenAIAgentsInstrumentor)
from tests.auto.conftest import OPENAI_HEADERS, Stub, fixture_bytes, sse_events
from tests.frameworks._agents_support import ANSWER, QUESTION, RESPONSES, get_weather

WORKFLOW = "bridge-test"
MODEL = RESPONSES.request_model
HANDOFF_RESPONSE_ID = "resp_handoff00000000000000000000000001"


class Recording(TracingProcessor):
    """Stands in for the SDK's exporting processor: keeps the kinds of the spans it was given."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def on_trace_start(self, trace: Any) -> None: ...
    def on_trace_end(self, trace: Any) -> None: ...
    def on_span_start(self, span: Any) -> None: ...

    def on_span_end(self, span: Any) -> None:
        self.ended.append(type(span.span_data).__name__)

    def shutdown(self) -> None: ...
    def force_flush(self) -> None: ...


def _processors() -> tuple[Any, ...]:
    return get_trace_provider()._multi_processor._processors  # type: ignore[attr-defined]


@pytest.fixture
def sdk_exporter() -> Iterator[Recording]:
    """SDK tracing on, its processors replaced by one Recording; put back as they were afterwards."""
    saved = _processors()
    recording = Recording()
    set_trace_processors([recording])
    set_tracing_disabled(False)
    try:
        yield recording
    finally:
        set_trace_processors(list(saved))
        set_tracing_disabled(True)


@pytest.fixture
def traced(make_sdk, sdk_exporter) -> Iterator[Any]:
    sdk = make_sdk()
    assert auto.instrument("openai")
    inst = OpenAIAgentsInstrumentor()
    inst.instrument()
    assert inst.is_instrumented_by_opentelemetry and inst._patches
    try:
        yield sdk
    finally:
        if inst.is_instrumented_by_opentelemetry:
            inst.uninstrument()
        auto.uninstrument("openai")


def _replace(raw: bytes) -> bytes:
    """The tool-call turn turned into a handoff turn: the model calls transfer_to_specialist instead."""
    return (raw.replace(b"get_weather", b"transfer_to_specialist")
            .replace(b"call_N4sVb7Qe2LmK9pXw3RtY6uHj", b"call_handoff0000000000000001")
            .replace(RESPONSES.turns[0].response_id.encode(), HANDOFF_RESPONSE_ID.encode()))


def _serve(stub: Stub, json_fixture: str, sse_fixture: str, edit: Any = lambda raw: raw) -> None:
    def handler(request: Any) -> Any:
        from werkzeug import Response

        body = stub._record(request)
        if not body.get("stream"):
            return Response(edit(fixture_bytes(json_fixture)), headers=OPENAI_HEADERS,
                            content_type="application/json")
        return Response(iter(sse_events(edit(fixture_bytes(sse_fixture)))), headers=OPENAI_HEADERS,
                        content_type="text/event-stream; charset=utf-8")

    stub.handler(RESPONSES.path, handler)


def _serve_exchange(stub: Stub) -> None:
    """Three requests: triage hands off; the specialist asks for get_weather, then answers."""
    tool_call, answer = RESPONSES.turns
    _serve(stub, tool_call.json_fixture, tool_call.sse_fixture, _replace)
    _serve(stub, tool_call.json_fixture, tool_call.sse_fixture)
    _serve(stub, answer.json_fixture, answer.sse_fixture)


def _triage(stub: Stub) -> Agent:
    client = openai.AsyncOpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)
    model = OpenAIResponsesModel(model=MODEL, openai_client=client)
    specialist = Agent(name="specialist", instructions="You answer weather questions.",
                       tools=[function_tool(get_weather)], model=model)
    return Agent(name="triage", instructions="Hand weather questions to the specialist.", handoffs=[specialist],
                 model=model)


async def _run(stub: Stub) -> None:
    _serve_exchange(stub)
    async with agentkit.workflow(name=WORKFLOW):
        result = await Runner.run(_triage(stub), QUESTION)
    assert result.final_output == ANSWER
    assert result.last_agent.name == "specialist"


async def _run_streamed(stub: Stub) -> None:
    _serve_exchange(stub)
    async with agentkit.workflow(name=WORKFLOW):
        result = Runner.run_streamed(_triage(stub), QUESTION)
        events = [e async for e in result.stream_events()]
    assert result.is_complete and result.final_output == ANSWER
    assert [e.new_agent.name for e in events if e.type == "agent_updated_stream_event"] == ["triage", "specialist"]


def _by_parent(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id),
                  key=lambda s: s.start_time)


def _assert_tree(sdk: Any, stub: Stub) -> None:
    spans = sdk.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    workflow = sdk.span(f"invoke_agent {WORKFLOW}")
    triage, specialist = _by_parent(spans, workflow)
    assert (triage.name, specialist.name) == ("invoke_agent triage", "invoke_agent specialist")
    for span, name in ((triage, "triage"), (specialist, "specialist")):
        assert span.kind is SpanKind.INTERNAL
        assert span.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_AGENT
        assert span.attributes[sc.GEN_AI_AGENT_NAME] == name
        assert span.status.status_code is not StatusCode.ERROR
    assert triage.end_time <= specialist.start_time  # the SDK ends one agent's step before the next's

    # triage: one chat span (the handoff request), and the handoff as an event on its span
    (triage_chat,) = _by_parent(spans, triage)
    assert triage_chat.name == f"chat {MODEL}" and triage_chat.kind is SpanKind.CLIENT
    assert triage_chat.attributes[sc.GEN_AI_RESPONSE_ID] == HANDOFF_RESPONSE_ID
    assert triage_chat.attributes[sc.AGENTKIT_AGENT_NAME] == "triage"
    (handoff,) = [e for e in triage.events if e.name == EVENT_HANDOFF]
    assert dict(handoff.attributes) == {AGENTKIT_HANDOFF_FROM: "triage", AGENTKIT_HANDOFF_TO: "specialist"}
    assert not [s for s in spans if "handoff" in s.name]

    # specialist: chat (tool call) -> execute_tool get_weather -> chat (answer)
    chat1, tool, chat2 = _by_parent(spans, specialist)
    assert [chat1.name, tool.name, chat2.name] == [f"chat {MODEL}", "execute_tool get_weather", f"chat {MODEL}"]
    assert chat1.attributes[sc.GEN_AI_RESPONSE_ID] == RESPONSES.turns[0].response_id
    assert chat2.attributes[sc.GEN_AI_RESPONSE_ID] == RESPONSES.turns[1].response_id
    assert tool.kind is SpanKind.INTERNAL
    assert tool.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_EXECUTE_TOOL
    assert tool.attributes[sc.GEN_AI_TOOL_NAME] == "get_weather"
    assert tool.attributes[sc.AGENTKIT_AGENT_NAME] == "specialist"
    assert not _by_parent(spans, tool)

    # exactly one inference span per model request: none from the SDK's generation / response steps
    calls = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert len(stub.bodies) == 3 and len(calls) == 3
    assert len(spans) == 1 + 2 + 3 + 1  # workflow, two agents, three chats, one tool


def _assert_clean(inst: OpenAIAgentsInstrumentor, before: Any) -> None:
    """Every bridged step ended and detached: nothing open, the caller's context as it was, no SDK fault."""
    assert inst._bridge.open_spans() == 0
    assert otel_context.get_current() is before
    assert diagnostics.error_counts() == {}


def _assert_metrics(sdk: Any) -> None:
    """The recorder's run metrics, per agent, as for a decorated agent."""
    durations = {p.attributes[sc.GEN_AI_AGENT_NAME]: p.count for p in sdk.points(sc.METRIC_INVOKE_AGENT_DURATION)}
    assert durations == {WORKFLOW: 1, "triage": 1, "specialist": 1}
    inference = {p.attributes[sc.GEN_AI_AGENT_NAME]: p.sum for p in sdk.points(sc.METRIC_INVOKE_AGENT_INFERENCE_CALLS)}
    tools = {p.attributes[sc.GEN_AI_AGENT_NAME]: p.sum for p in sdk.points(sc.METRIC_INVOKE_AGENT_TOOL_CALLS)}
    assert inference == {"triage": 1, "specialist": 2, WORKFLOW: 3}
    assert tools == {"triage": 0, "specialist": 1, WORKFLOW: 1}


async def test_runner_run_handoff_tree(traced, stub, sdk_exporter):
    before = otel_context.get_current()
    await _run(stub)
    _assert_clean(OpenAIAgentsInstrumentor(), before)
    _assert_tree(traced, stub)
    _assert_metrics(traced)
    # the SDK's own processor got every step, model steps included (the bridge is beside it, not instead)
    assert sdk_exporter.ended.count("AgentSpanData") == 2
    assert sdk_exporter.ended.count("FunctionSpanData") == 1
    assert sdk_exporter.ended.count("HandoffSpanData") == 1
    assert sdk_exporter.ended.count("ResponseSpanData") == 3


async def test_runner_run_streamed_handoff_tree(traced, stub, sdk_exporter):
    """run_streamed runs the loop in a task of its own: the agent's context is attached and detached there,
    and the chat spans must still be children of the agent span of that task."""
    before = otel_context.get_current()
    await _run_streamed(stub)
    _assert_clean(OpenAIAgentsInstrumentor(), before)
    _assert_tree(traced, stub)
    _assert_metrics(traced)
    assert sdk_exporter.ended.count("AgentSpanData") == 2


async def test_run_without_a_user_span_is_one_workflow(traced, stub):
    """No span around the run: the SDK's trace becomes the workflow span that keeps the run one trace (else
    each agent of a handoff would be a root of its own), named by the SDK's workflow name."""
    before = otel_context.get_current()
    _serve_exchange(stub)
    result = await Runner.run(_triage(stub), QUESTION, run_config=RunConfig(workflow_name="weather desk"))
    assert result.final_output == ANSWER
    _assert_clean(OpenAIAgentsInstrumentor(), before)
    spans = traced.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    root = traced.span("invoke_agent weather desk")
    assert root.parent is None
    assert root.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW
    triage, specialist = _by_parent(spans, root)
    assert (triage.name, specialist.name) == ("invoke_agent triage", "invoke_agent specialist")
    assert len(_by_parent(spans, triage)) == 1 and len(_by_parent(spans, specialist)) == 3
    assert len([s for s in spans if s.kind is SpanKind.CLIENT]) == 3
    assert len(spans) == 7


def test_uninstrument_removes_exactly_the_bridge(make_sdk, sdk_exporter):
    make_sdk()
    other = Recording()
    inst = OpenAIAgentsInstrumentor()
    inst.instrument()
    from agents.tracing import add_trace_processor

    add_trace_processor(other)  # registered after ours: must stay, in its place
    bridge = inst._bridge
    assert _processors() == (sdk_exporter, bridge, other)
    inst.uninstrument()
    assert _processors() == (sdk_exporter, other)
    assert not bridge.enabled and inst._bridge is None and not inst.is_instrumented_by_opentelemetry
    inst.instrument()  # and again: a fresh bridge, once
    assert _processors() == (sdk_exporter, other, inst._bridge)
    inst.uninstrument()
    assert _processors() == (sdk_exporter, other)


async def test_after_uninstrument_nothing_is_bridged(traced, stub):
    OpenAIAgentsInstrumentor().uninstrument()
    _serve_exchange(stub)
    result = await Runner.run(_triage(stub), QUESTION)
    assert result.final_output == ANSWER
    spans = traced.spans()
    assert [s.name for s in spans] == [f"chat {MODEL}"] * 3


async def test_failing_tool_is_an_error_span(traced, stub):
    """A tool that raises: the SDK tells the model (the run goes on) and marks its step failed; the
    execute_tool span is an error, the agent and the run are not."""
    def get_weather(city: str) -> str:
        raise RuntimeError("weather service down")

    _serve_exchange(stub)
    triage = _triage(stub)
    triage.handoffs[0].tools = [function_tool(get_weather)]
    result = await Runner.run(triage, QUESTION)
    assert result.final_output == ANSWER
    tool = traced.span("execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[sc.ERROR_TYPE] == sc.ERROR_TYPE_OTHER
    assert traced.span("invoke_agent specialist").status.status_code is not StatusCode.ERROR
    assert stub.bodies[2]["input"][-1]["output"].startswith("An error occurred while running the tool")
