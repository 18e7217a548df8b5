"""LangChain's ChatOpenAI (langchain-openai) on the real openai client against the stub: invoke, ainvoke, stream,
astream and bind_tools, each with and without ``include_response_headers`` (which switches LangChain to
``with_raw_response``, streams included). One chat span per request, under the caller's workflow, with the
usage of the response; what LangChain returns is the same with and without instrumentation."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_openai import ChatOpenAI

from otel_agentkit import semconv as sc
from tests.auto.conftest import OPENAI_HEADERS
from tests.frameworks.conftest import acollect, assert_usage, attrs, headers_without_date

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
QUESTION = "What is the capital of France?"
STREAM_ID = "chatcmpl-BdhS7uQ2k9Xc3VnR1mT8yL0pW5aZe"
TOOL_CALL_IDS = ("call_Q5hXv1t0m2bT0Nn8eF3K9c2W", "call_7WkZr2dC1pLqV9yHs4NfA0bE")

headers_on_off = pytest.mark.parametrize("include_response_headers", [False, True], ids=["plain", "raw"])


def get_weather(city: str) -> str:
    """Weather in a city."""
    return "sunny"


def get_time(tz: str) -> str:
    """Local time in a time zone."""
    return "12:00"


def chat(stub, include_response_headers: bool, **kwargs: Any) -> ChatOpenAI:
    kwargs.setdefault("model", MODEL)
    return ChatOpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0,
                      include_response_headers=include_response_headers, **kwargs)


def message(msg: AIMessage | AIMessageChunk) -> dict[str, Any]:
    """What LangChain returned, less the run id it makes up per call and the headers that differ per request."""
    out = msg.model_dump(exclude={"id"})
    meta = dict(out["response_metadata"])
    if "headers" in meta:
        meta["headers"] = headers_without_date(meta["headers"])
        assert meta["headers"]["x-request-id"] == OPENAI_HEADERS["x-request-id"]
    out["response_metadata"] = meta
    return out


def usage_was_asked(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def assert_streamed_span(runs, *, caller_asked_usage: bool) -> None:
    """The stream's span: its id, model and finish reason always; its tokens when the request the stub got asked
    for the usage chunk (by the caller, or by the instrumentor, which must then keep that chunk from the caller)."""
    span = runs.call()
    asked = usage_was_asked(runs.traced_requests[0])
    assert usage_was_asked(runs.plain_requests[0]) is caller_asked_usage
    if caller_asked_usage:
        assert asked
    tokens = (24, 8) if asked else (None, None)
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id=STREAM_ID, input_tokens=tokens[0], output_tokens=tokens[1],
                 cache_read=0 if asked else None, finish_reasons=("stop",))
    assert attrs(span)[sc.GEN_AI_REQUEST_STREAM] is True


@headers_on_off
def test_invoke(twice, stub, include_response_headers):
    stub.openai_chat("openai/chat_cached_reasoning.json")
    stub.openai_chat("openai/chat_cached_reasoning.json")
    runs = twice(lambda: chat(stub, include_response_headers, model="o4-mini").invoke(QUESTION))
    assert message(runs.traced) == message(runs.plain)
    assert runs.traced.usage_metadata["input_token_details"]["cache_read"] == 1920
    assert_usage(runs.call(), provider="openai", request_model="o4-mini", response_model="o4-mini-2025-04-16",
                 response_id="chatcmpl-BdhRk3m7a6Pq1wYx2Zc0Lv8Nn4TsU", input_tokens=2006, output_tokens=300,
                 cache_read=1920, finish_reasons=("stop",))
    assert attrs(runs.call())[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 256


@headers_on_off
async def test_ainvoke(twice, stub, include_response_headers):
    stub.openai_chat()
    stub.openai_chat()

    async def call():
        return await chat(stub, include_response_headers).ainvoke(QUESTION)

    runs = await twice(call)
    assert message(runs.traced) == message(runs.plain)
    assert runs.traced.content == "The capital of France is Paris."
    assert_usage(runs.call(), provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="chatcmpl-BdhN3tE5sNJ6V1dQeQxg3lm6kU0bQ", input_tokens=24, output_tokens=8,
                 cache_read=0, finish_reasons=("stop",))


@headers_on_off
def test_stream(twice, stub, include_response_headers):
    stub.openai_chat_stream()
    stub.openai_chat_stream()
    runs = twice(lambda: list(chat(stub, include_response_headers).stream(QUESTION)))
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    assert "".join(c.content for c in runs.traced) == "The capital of France is Paris."
    assert all(c.usage_metadata is None for c in runs.traced)  # the caller asked for no usage: it sees none
    assert_streamed_span(runs, caller_asked_usage=False)


@headers_on_off
def test_stream_with_usage(twice, stub, include_response_headers):
    stub.openai_chat_stream()
    stub.openai_chat_stream()
    runs = twice(lambda: list(chat(stub, include_response_headers, stream_usage=True).stream(QUESTION)))
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    assert [c.usage_metadata["input_tokens"] for c in runs.traced if c.usage_metadata] == [24]
    assert_streamed_span(runs, caller_asked_usage=True)


@headers_on_off
async def test_astream(twice, stub, include_response_headers):
    stub.openai_chat_stream()
    stub.openai_chat_stream()

    async def call():
        return await acollect(chat(stub, include_response_headers).astream(QUESTION))

    runs = await twice(call)
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    assert all(c.usage_metadata is None for c in runs.traced)
    assert_streamed_span(runs, caller_asked_usage=False)


@headers_on_off
async def test_astream_with_usage(twice, stub, include_response_headers):
    stub.openai_chat_stream()
    stub.openai_chat_stream()

    async def call():
        return await acollect(chat(stub, include_response_headers, stream_usage=True).astream(QUESTION))

    runs = await twice(call)
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    assert [c.usage_metadata["output_tokens"] for c in runs.traced if c.usage_metadata] == [8]
    assert_streamed_span(runs, caller_asked_usage=True)


@headers_on_off
def test_bind_tools_invoke(twice, stub, include_response_headers):
    stub.openai_chat("openai/chat_tool_calls.json")
    stub.openai_chat("openai/chat_tool_calls.json")
    runs = twice(lambda: chat(stub, include_response_headers).bind_tools([get_weather, get_time]).invoke(QUESTION))
    assert message(runs.traced) == message(runs.plain)
    assert [(c["name"], c["args"], c["id"]) for c in runs.traced.tool_calls] == [
        ("get_weather", {"city": "Paris"}, TOOL_CALL_IDS[0]), ("get_time", {"tz": "Europe/Paris"}, TOOL_CALL_IDS[1])]
    assert [t["function"]["name"] for t in runs.traced_requests[0]["tools"]] == ["get_weather", "get_time"]
    span = runs.call()
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="chatcmpl-BdhP0WQ8pIh0a8zkUq9n3sJrYk1Vd", input_tokens=81, output_tokens=52,
                 cache_read=0, finish_reasons=("tool_calls",))
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALLS] == ("get_weather", "get_time")
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS] == TOOL_CALL_IDS


@headers_on_off
def test_bind_tools_stream(twice, stub, include_response_headers):
    """A streamed tool call, with the usage chunk the caller asked for (64 of the 81 input tokens cached)."""
    stub.openai_chat_stream("openai/chat_stream_tools.sse")
    stub.openai_chat_stream("openai/chat_stream_tools.sse")
    runs = twice(lambda: list(chat(stub, include_response_headers, stream_usage=True)
                              .bind_tools([get_weather, get_time]).stream(QUESTION)))
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    whole = runs.traced[0]
    for chunk in runs.traced[1:]:
        whole += chunk
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [("get_weather", {"city": "Paris"}),
                                                                  ("get_time", {"tz": "Europe/Paris"})]
    span = runs.call()
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="chatcmpl-BdhT2fN6cV8qJ1xW4zK9rP0sL3mYd", input_tokens=81, output_tokens=52,
                 cache_read=64, finish_reasons=("tool_calls",))
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALLS] == ("get_weather", "get_time")
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS] == TOOL_CALL_IDS
