"""Every decorator form and the context-manager forms, asserting on the spans the real SDK exported."""

from __future__ import annotations

import asyncio
import gc
import inspect

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc


def test_sync_llm_span_name_kind_and_attributes(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o", temperature=0.2, max_tokens=100, server_address="api.openai.com",
                  server_port=443)
    def ask(q):
        agentkit.current_call().record(input_tokens=10, output_tokens=5, response_model="gpt-4o-2024-08-06",
                                       response_id="chatcmpl-1", finish_reasons=["stop"])
        return q.upper()

    assert ask("hi") == "HI"
    span = sdk.span("chat gpt-4o")
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert a[sc.SERVER_ADDRESS] == "api.openai.com" and a[sc.SERVER_PORT] == 443
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert a[sc.AGENTKIT_COST_USD] > 0
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.system" not in a and "gen_ai.usage.prompt_tokens" not in a


@pytest.mark.parametrize("factory, name, kind, op", [
    (lambda: agentkit.tool(name="search", call_id="call_1", type="function"), "execute_tool search",
     SpanKind.INTERNAL, "execute_tool"),
    (lambda: agentkit.agent(name="planner"), "invoke_agent planner", SpanKind.INTERNAL, "invoke_agent"),
    # v0.1.0: a workflow is an invoke_agent span whose operation name stays invoke_workflow
    (lambda: agentkit.workflow(name="triage"), "invoke_agent triage", SpanKind.INTERNAL, "invoke_workflow"),
    (lambda: agentkit.embedding(provider="openai", model="text-embedding-3-small"),
     "embeddings text-embedding-3-small", SpanKind.CLIENT, "embeddings"),
    # v0.1.0 (retrieval.md): span name {gen_ai.operation.name}, INTERNAL
    (lambda: agentkit.retrieval(data_source="kb", top_k=5), "retrieval", SpanKind.INTERNAL, "retrieval"),
])
def test_every_span_kind(sdk, factory, name, kind, op):
    @factory()
    def work():
        return 1

    assert work() == 1
    span = sdk.span(name)
    assert span.kind is kind
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == op


@pytest.mark.parametrize("semconv, span_name, name_attr, absent", [
    ("v0.1.0", "invoke_agent triage", sc.GEN_AI_AGENT_NAME, sc.GEN_AI_WORKFLOW_NAME),
    ("pre-release", "invoke_workflow triage", sc.GEN_AI_WORKFLOW_NAME, sc.GEN_AI_AGENT_NAME),
])
def test_workflow_span_names(make_sdk, semconv, span_name, name_attr, absent):
    sdk = make_sdk(semconv=semconv)
    with agentkit.workflow(name="triage"):
        pass
    span = sdk.span(span_name)
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW
    assert span.attributes[name_attr] == "triage"
    assert absent not in span.attributes


@pytest.mark.parametrize("semconv, span_name, kind", [
    ("v0.1.0", "retrieval", SpanKind.INTERNAL),
    ("pre-release", "retrieval kb", SpanKind.CLIENT),
    ("both", "retrieval", SpanKind.INTERNAL),
])
def test_retrieval_span_names(make_sdk, semconv, span_name, kind):
    sdk = make_sdk(semconv=semconv)

    @agentkit.retrieval
    def kb() -> list[str]:
        return ["doc"]

    assert kb() == ["doc"]
    span = sdk.span(span_name)
    assert span.kind is kind
    assert span.attributes[sc.GEN_AI_DATA_SOURCE_ID] == "kb"  # the function's name


def test_tool_attributes(sdk):
    with agentkit.tool(name="search", call_id="call_9", description="web search"):
        pass
    a = sdk.span("execute_tool search").attributes
    assert a[sc.GEN_AI_TOOL_NAME] == "search"
    assert a[sc.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert a[sc.GEN_AI_TOOL_TYPE] == "function"
    assert a[sc.GEN_AI_TOOL_DESCRIPTION] == "web search"


def test_names_default_to_function_name_and_bare_decorators(sdk):
    @agentkit.tool
    def lookup():
        return 1

    @agentkit.agent()
    def researcher():
        return lookup()

    @agentkit.workflow("named-flow")
    def flow():
        return researcher()

    flow()
    names = {s.name for s in sdk.spans()}
    assert names == {"execute_tool lookup", "invoke_agent researcher", "invoke_agent named-flow"}
    ops = {s.name: s.attributes[sc.GEN_AI_OPERATION_NAME] for s in sdk.spans()}
    assert ops["invoke_agent named-flow"] == sc.OP_INVOKE_WORKFLOW
    assert ops["invoke_agent researcher"] == sc.OP_INVOKE_AGENT


def test_signature_name_and_doc_are_kept():
    def original(question: str, *, temperature: float = 0.5) -> str:
        """Ask a question."""
        return question

    ask = agentkit.llm(provider="openai", model="m")(original)
    assert ask.__name__ == "original"
    assert ask.__doc__ == "Ask a question."
    assert inspect.signature(ask) == inspect.signature(original)
    assert list(inspect.signature(ask).parameters) == ["question", "temperature"]

    @agentkit.tool
    async def fetch() -> int:
        return 1

    assert inspect.iscoroutinefunction(fetch)

    @agentkit.tool
    def gen():
        yield 1

    assert inspect.isgeneratorfunction(gen)


async def test_coroutine(sdk):
    @agentkit.llm(provider="anthropic", model="claude-sonnet-4-5")
    async def ask():
        await asyncio.sleep(0)
        agentkit.current_call().record(input_tokens=3, output_tokens=4)
        return "ok"

    assert await ask() == "ok"
    span = sdk.span("chat claude-sonnet-4-5")
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


def test_generator_span_ends_when_exhausted_not_before(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o")
    def stream():
        yield "a"
        yield "b"

    g = stream()
    assert sdk.spans() == []  # nothing runs before the first next()
    assert next(g) == "a"
    assert sdk.spans() == []  # still open between chunks
    assert list(g) == ["b"]
    span = sdk.span("chat gpt-4o")
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 2
    assert span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0


def test_generator_closed_early_and_garbage_collected(sdk):
    @agentkit.llm(provider="openai", model="m1")
    def stream():
        for i in range(10):
            yield i

    g = stream()
    next(g)
    g.close()
    assert len(sdk.spans()) == 1
    assert sdk.spans()[0].status.status_code is StatusCode.UNSET

    g2 = stream()
    next(g2)
    del g2
    gc.collect()
    assert len(sdk.spans()) == 2


def test_generator_return_value_send_and_throw(sdk):
    @agentkit.tool
    def echo():
        received = yield "ready"
        try:
            yield f"got {received}"
        except KeyError:
            yield "handled"
        return "done"

    g = echo()
    assert next(g) == "ready"
    assert g.send("x") == "got x"
    assert g.throw(KeyError("k")) == "handled"
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    assert sdk.span("execute_tool echo").status.status_code is StatusCode.UNSET


def test_generator_error_is_recorded_and_propagates(sdk):
    boom = RuntimeError("boom")

    @agentkit.llm(provider="openai", model="m")
    def stream():
        yield 1
        raise boom

    with pytest.raises(RuntimeError) as info:
        list(stream())
    assert info.value is boom
    span = sdk.span("chat m")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "RuntimeError"


async def test_async_generator_exhausted_and_closed(sdk):
    @agentkit.llm(provider="openai", model="m")
    async def stream(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    assert [i async for i in stream(3)] == [0, 1, 2]
    assert len(sdk.spans()) == 1
    agen = stream(5)
    assert await agen.__anext__() == 0
    assert len(sdk.spans()) == 1
    await agen.aclose()
    assert len(sdk.spans()) == 2
    assert all(s.attributes[sc.AGENTKIT_STREAM_CHUNKS] >= 1 for s in sdk.spans())


async def test_async_generator_break_out_of_loop(sdk):
    @agentkit.tool
    async def numbers():
        for i in range(100):
            yield i

    async for i in numbers():
        if i == 2:
            break
    # asyncio finalises the abandoned generator through aclose() on the loop.
    for _ in range(5):
        await asyncio.sleep(0)
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)
    assert [s.name for s in sdk.spans()] == ["execute_tool numbers"]


def test_methods_classmethods_and_staticmethods(sdk):
    class Bot:
        def __init__(self):
            self.n = 2

        @agentkit.tool
        def method(self, x):
            return x * self.n

        @agentkit.tool
        @classmethod
        def cls_method(cls, x):
            return (cls.__name__, x)

        @classmethod
        @agentkit.tool
        def cls_method2(cls, x):
            return (cls.__name__, x)

        @agentkit.tool
        @staticmethod
        def static(x):
            return x + 1

    bot = Bot()
    assert bot.method(3) == 6
    assert Bot.cls_method(1) == ("Bot", 1)
    assert bot.cls_method2(1) == ("Bot", 1)
    assert Bot.static(1) == 2
    names = sorted(s.name for s in sdk.spans())
    assert names == ["execute_tool cls_method", "execute_tool cls_method2", "execute_tool method",
                     "execute_tool static"]


def test_context_manager_forms(sdk):
    with agentkit.workflow(name="flow") as wf:
        with agentkit.llm(provider="openai", model="gpt-4o-mini") as call:
            call.record(input_tokens=1, output_tokens=1)
            assert agentkit.current_call() is call
        assert agentkit.current_call() is wf
    outside = agentkit.current_call()  # outside any span: a handle whose every method ignores its input
    for method, arg in (("record", None), ("set_attributes", {"a": 1}), ("put", {"a": 1}),
                        ("observe_response", {}), ("observe_chunk", {})):
        assert (getattr(outside, method)(**{}) if arg is None else getattr(outside, method)(arg)) is None
    spans = {s.name: s for s in sdk.spans()}
    assert spans["chat gpt-4o-mini"].parent.span_id == spans["invoke_agent flow"].context.span_id
    assert spans["invoke_agent flow"].attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW


async def test_async_with(sdk):
    async with agentkit.agent(name="a1") as handle:
        async with agentkit.tool(name="t1"):
            await asyncio.sleep(0)
        handle.record(custom="x")
    spans = {s.name: s for s in sdk.spans()}
    assert spans["execute_tool t1"].parent.span_id == spans["invoke_agent a1"].context.span_id
    assert spans["invoke_agent a1"].attributes["agentkit.custom"] == "x"


def test_reused_operation_object_as_context_manager_nests(sdk):
    op = agentkit.tool(name="t")
    with op:
        with op:
            pass
    outer, inner = sorted(sdk.spans(), key=lambda s: s.start_time)
    assert inner.parent.span_id == outer.context.span_id


def test_decorator_rejects_non_callables():
    with pytest.raises(TypeError):
        agentkit.tool(42)
    agentkit.llm(provider="openai", model="m", temprature=1)  # ignored, logged at debug (test_request_params)


class _Picklable:
    @agentkit.tool
    def method(self, x):
        return x + 1

    @agentkit.tool
    @classmethod
    def cls_method(cls, x):
        return x + 2


@agentkit.tool
def _picklable_function(x):
    return x * 2


def test_decorated_functions_pickle_by_reference():
    """So they can be multiprocessing targets and Pool tasks, as plain functions can."""
    import pickle

    assert pickle.loads(pickle.dumps(_picklable_function)) is _picklable_function
    assert pickle.loads(pickle.dumps(_Picklable.method))(_Picklable(), 1) == 2
    assert pickle.loads(pickle.dumps(_Picklable().method))(1) == 2
    assert pickle.loads(pickle.dumps(_Picklable.cls_method))(1) == 3
