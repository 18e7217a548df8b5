"""LangChain / LangGraph steps as agentkit spans (otel_agentkit.auto.langchain): a real LangGraph graph whose model
node calls ChatOpenAI (the real openai client, against the local stub) and whose ToolNode runs the two tools the
model asked for, invoked with ``invoke`` and ``ainvoke``. The graph must be one workflow span (an agent span when
the graph is a named agent), each tool an execute_tool span with its call id, each model request exactly one
inference span (the openai instrumentor's), all under the graph's span; and uninstrument must take the handler out
of LangChain's configuration exactly. LangGraph is pinned by scripts/provision/langgraph.sh.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from langchain_core.callbacks import CallbackManager
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool as lc_tool
from langchain_core.tracers import context as lc_context
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentkit as agentkit
from otel_agentkit import auto, diagnostics, semconv as sc
from otel_agentkit.auto.langchain import LangChainInstrumentor

MODEL = "gpt-4o-mini"
GRAPH = "weather-graph"
QUESTION = "What is the weather and the time in Paris?"
ANSWER = "The capital of France is Paris."  # the stub's plain chat answer
TOOL_CALL_IDS = ("call_Q5hXv1t0m2bT0Nn8eF3K9c2W", "call_7WkZr2dC1pLqV9yHs4NfA0bE")  # openai/chat_tool_calls.json


@lc_tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return "sunny"


@lc_tool
def get_time(tz: str) -> str:
    """Local time in a time zone."""
    return "12:00"


@lc_tool("get_time")
def broken_time(tz: str) -> str:
    """Local time in a time zone (fails)."""
    raise ValueError("clock service down")


def build_graph(stub: Any, tools: list[Any], name: str = GRAPH) -> Any:
    """model -> (tool calls?) tools -> model -> end, the usual LangGraph tool loop."""
    model = ChatOpenAI(model=MODEL, base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)
    bound = model.bind_tools(tools)

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    async def acall_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await bound.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", RunnableLambda(call_model, afunc=acall_model))
    graph.add_node("tools", ToolNode(tools, handle_tool_errors=True))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    return graph.compile(name=name)


def serve_exchange(stub: Any) -> None:
    """Two requests: the model asks for get_weather and get_time, then answers."""
    stub.openai_chat("openai/chat_tool_calls.json")
    stub.openai_chat()


@pytest.fixture
def traced(make_sdk) -> Iterator[Any]:
    sdk = make_sdk()
    assert auto.instrument("openai")
    inst = LangChainInstrumentor()
    inst.instrument()
    assert inst.is_instrumented_by_opentelemetry and inst.handler is not None
    try:
        yield sdk
    finally:
        if inst.is_instrumented_by_opentelemetry:
            inst.uninstrument()
        auto.uninstrument("openai")


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id),
                  key=lambda s: (s.start_time, s.name))


def assert_tree(sdk: Any, stub: Any, *, root_name: str, operation: str,
                caller: ReadableSpan | None = None) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The graph's span (under ``caller`` or a root) -> chat, two execute_tool spans, chat; one chat span per
    request, nothing else. Returns the graph span and its children."""
    spans = sdk.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    root = sdk.span(f"invoke_agent {root_name}")
    if caller is None:
        assert root.parent is None
    else:
        assert root.parent.span_id == caller.context.span_id
    assert root.kind is SpanKind.INTERNAL
    assert root.attributes[sc.GEN_AI_OPERATION_NAME] == operation
    assert root.attributes[sc.GEN_AI_AGENT_NAME] == root_name
    below = children(spans, root)
    chats = [s for s in below if s.kind is SpanKind.CLIENT]
    tools = sorted((s for s in below if s.name.startswith("execute_tool")), key=lambda s: s.name)
    assert [s.name for s in chats] == [f"chat {MODEL}"] * 2
    assert len(below) == 4, [s.name for s in below]
    assert below[0] is chats[0] and below[-1] is chats[1]  # the tools ran between the two model calls
    assert [s.name for s in tools] == ["execute_tool get_time", "execute_tool get_weather"]
    assert [s.attributes[sc.GEN_AI_TOOL_NAME] for s in tools] == ["get_time", "get_weather"]
    assert {s.attributes[sc.GEN_AI_TOOL_CALL_ID] for s in tools} == set(TOOL_CALL_IDS)
    for span in tools:
        assert span.kind is SpanKind.INTERNAL
        assert span.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_EXECUTE_TOOL
        assert not children(spans, span)
    # exactly one inference span per request the stub got, and no span for the graph's nodes
    calls = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert len(stub.bodies) == 2 and len(calls) == 2
    assert len(spans) == 5 + (caller is not None)
    return root, below


def assert_clean(before: Any) -> None:
    """Every run ended and detached: nothing open, the caller's context as it was, no SDK fault."""
    assert LangChainInstrumentor().handler.open_runs() == 0
    assert otel_context.get_current() is before
    assert diagnostics.error_counts() == {}


def test_graph_invoke_tree(traced, stub):
    """Sync: the first task runs in the caller's thread, the ToolNode's two tool calls in LangChain's executor
    threads (copied contexts): the tool spans must still be children of the graph's span."""
    serve_exchange(stub)
    before = otel_context.get_current()
    result = build_graph(stub, [get_weather, get_time]).invoke({"messages": [("user", QUESTION)]})
    assert result["messages"][-1].content == ANSWER
    assert [m.content for m in result["messages"] if m.type == "tool"] == ["sunny", "12:00"]
    assert_clean(before)
    root, below = assert_tree(traced, stub, root_name=GRAPH, operation=sc.OP_INVOKE_WORKFLOW)
    for span in below:  # the workflow's name is inherited by the spans below it
        assert span.attributes[sc.AGENTKIT_WORKFLOW_NAME] == GRAPH
    # the second request carried the tool results back
    assert [m["tool_call_id"] for m in stub.bodies[1]["messages"] if m["role"] == "tool"] == list(TOOL_CALL_IDS)


async def test_graph_ainvoke_tree(traced, stub):
    """Async: nodes run in asyncio tasks; the handler runs inline in each, so the chat span's parent is the
    graph's span, not the caller's."""
    serve_exchange(stub)
    before = otel_context.get_current()
    result = await build_graph(stub, [get_weather, get_time]).ainvoke({"messages": [("user", QUESTION)]})
    assert result["messages"][-1].content == ANSWER
    assert_clean(before)
    assert_tree(traced, stub, root_name=GRAPH, operation=sc.OP_INVOKE_WORKFLOW)


async def test_graph_under_a_caller_span(traced, stub):
    serve_exchange(stub)
    async with agentkit.workflow(name="caller"):
        await build_graph(stub, [get_weather, get_time]).ainvoke({"messages": [("user", QUESTION)]})
    caller = traced.span("invoke_agent caller")
    assert_tree(traced, stub, root_name=GRAPH, operation=sc.OP_INVOKE_WORKFLOW, caller=caller)


def test_named_agent_graph_is_an_agent_span(traced, stub):
    """A graph run that brings ``lc_agent_name`` (as LangChain's create_agent names its agents) is an agent:
    one invoke_agent span, whose run counts the calls below it."""
    serve_exchange(stub)
    graph = build_graph(stub, [get_weather, get_time]).with_config(metadata={"lc_agent_name": "forecaster"})
    graph.invoke({"messages": [("user", QUESTION)]})
    root, below = assert_tree(traced, stub, root_name="forecaster", operation=sc.OP_INVOKE_AGENT)
    for span in below:
        assert span.attributes[sc.AGENTKIT_AGENT_NAME] == "forecaster"
    inference = {p.attributes[sc.GEN_AI_AGENT_NAME]: p.sum for p in traced.points(sc.METRIC_INVOKE_AGENT_INFERENCE_CALLS)}
    tools = {p.attributes[sc.GEN_AI_AGENT_NAME]: p.sum for p in traced.points(sc.METRIC_INVOKE_AGENT_TOOL_CALLS)}
    assert inference == {"forecaster": 2} and tools == {"forecaster": 2}


def test_failing_tool_is_an_error_span(traced, stub):
    """ToolNode catches the tool's error and tells the model; the execute_tool span is an error with the
    exception's type, the graph's span and the other tool's are not."""
    serve_exchange(stub)
    result = build_graph(stub, [get_weather, broken_time]).invoke({"messages": [("user", QUESTION)]})
    assert result["messages"][-1].content == ANSWER
    assert "clock service down" in [m for m in result["messages"] if m.type == "tool"][1].content
    failing = traced.span("execute_tool get_time")
    assert failing.status.status_code is StatusCode.ERROR
    assert failing.attributes[sc.ERROR_TYPE] == "ValueError"
    assert traced.span("execute_tool get_weather").status.status_code is StatusCode.UNSET
    assert traced.span(f"invoke_agent {GRAPH}").status.status_code is StatusCode.UNSET


def test_uninstrument_removes_exactly_the_handler(make_sdk, stub):
    make_sdk()
    before = list(lc_context._configure_hooks)
    inst = LangChainInstrumentor()
    inst.instrument()
    handler = inst.handler
    assert lc_context._configure_hooks[:-1] == before and len(lc_context._configure_hooks) == len(before) + 1
    assert handler in CallbackManager.configure().handlers
    inst.uninstrument()
    assert lc_context._configure_hooks == before
    assert handler not in CallbackManager.configure().handlers
    assert not handler.enabled and inst.handler is None and not inst.is_instrumented_by_opentelemetry
    inst.instrument()  # and again: one fresh handler
    assert len(lc_context._configure_hooks) == len(before) + 1
    assert [h for h in CallbackManager.configure().handlers if type(h).__name__ == "AgentkitStepsHandler"] == [
        inst.handler]
    inst.uninstrument()
    assert lc_context._configure_hooks == before


def test_after_uninstrument_nothing_is_traced_but_the_chats(traced, stub):
    LangChainInstrumentor().uninstrument()
    serve_exchange(stub)
    build_graph(stub, [get_weather, get_time]).invoke({"messages": [("user", QUESTION)]})
    assert [s.name for s in traced.spans()] == [f"chat {MODEL}"] * 2
