"""LiteLLM against the stub: completion and acompletion (streamed or not) and embedding / aembedding with the
``openai`` provider, which sends its requests with the real openai client; one span per request under the
caller's workflow, and LiteLLM's return value the same with and without instrumentation.

LiteLLM's ``anthropic`` provider does not use the anthropic client: it posts to /v1/messages with its own httpx
client (the stub sees LiteLLM's user agent). The client instrumentors therefore see nothing there, and the
tests assert exactly that: no model-call span, no SDK error, and LiteLLM's answer unchanged.
"""

from __future__ import annotations

from typing import Any

import litellm
import pytest

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from tests.frameworks.conftest import acollect, assert_usage, attrs

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
CLAUDE = "claude-sonnet-4-6"
USER = [{"role": "user", "content": "What is the capital of France?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]
STREAM_ID = "chatcmpl-BdhS7uQ2k9Xc3VnR1mT8yL0pW5aZe"
FRESH = litellm.in_memory_llm_clients_cache.flush_cache  # LiteLLM keeps its openai clients between calls


def openai_args(stub) -> dict[str, Any]:
    return {"model": f"openai/{MODEL}", "messages": USER, "api_base": stub.url("/v1"), "api_key": "sk-test-key",
            "max_retries": 0}


def dump(obj: Any, *drop: str) -> dict[str, Any]:
    """LiteLLM's response as data, less ``created`` (LiteLLM stamps stream chunks with its own clock) and
    the keys in ``drop``."""
    out = obj.model_dump()
    for key in ("created", *drop):
        out.pop(key, None)
    return out


def usage_was_asked(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def test_completion(twice, stub):
    stub.openai_chat("openai/chat_cached_reasoning.json")
    stub.openai_chat("openai/chat_cached_reasoning.json")
    runs = twice(lambda: litellm.completion(**{**openai_args(stub), "model": "openai/o4-mini"}), FRESH)
    assert dump(runs.traced) == dump(runs.plain)
    assert runs.traced.choices[0].message.content == "42"
    span = runs.call()
    assert_usage(span, provider="openai", request_model="o4-mini", response_model="o4-mini-2025-04-16",
                 response_id="chatcmpl-BdhRk3m7a6Pq1wYx2Zc0Lv8Nn4TsU", input_tokens=2006, output_tokens=300,
                 cache_read=1920, finish_reasons=("stop",))
    assert attrs(span)[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 256


async def test_acompletion_tool_calls(twice, stub):
    stub.openai_chat("openai/chat_tool_calls.json")
    stub.openai_chat("openai/chat_tool_calls.json")

    async def call():
        return await litellm.acompletion(**openai_args(stub), tools=TOOLS)

    runs = await twice(call, FRESH)
    assert dump(runs.traced) == dump(runs.plain)
    assert [c.function.name for c in runs.traced.choices[0].message.tool_calls] == ["get_weather", "get_time"]
    span = runs.call()
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="chatcmpl-BdhP0WQ8pIh0a8zkUq9n3sJrYk1Vd", input_tokens=81, output_tokens=52,
                 cache_read=0, finish_reasons=("tool_calls",))
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALLS] == ("get_weather", "get_time")


def test_completion_stream(twice, stub):
    """A stream the caller asked no usage of: the span has the usage only if the request asked for it, and then
    LiteLLM must not see the extra usage chunk (its chunks are the same as without instrumentation)."""
    stub.openai_chat_stream()
    stub.openai_chat_stream()
    runs = twice(lambda: list(litellm.completion(**openai_args(stub), stream=True)), FRESH)
    assert [dump(c) for c in runs.traced] == [dump(c) for c in runs.plain]
    assert "".join(c.choices[0].delta.content or "" for c in runs.traced) == "The capital of France is Paris."
    assert not usage_was_asked(runs.plain_requests[0])
    asked = usage_was_asked(runs.traced_requests[0])
    span = runs.call()
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL, response_id=STREAM_ID,
                 input_tokens=24 if asked else None, output_tokens=8 if asked else None,
                 cache_read=0 if asked else None, finish_reasons=("stop",))
    assert attrs(span)[sc.GEN_AI_REQUEST_STREAM] is True


async def test_acompletion_stream_with_usage(twice, stub):
    stub.openai_chat_stream()
    stub.openai_chat_stream()

    async def call():
        stream = await litellm.acompletion(**openai_args(stub), stream=True, stream_options={"include_usage": True})
        return await acollect(stream)

    runs = await twice(call, FRESH)
    assert [dump(c) for c in runs.traced] == [dump(c) for c in runs.plain]
    assert usage_was_asked(runs.plain_requests[0]) and usage_was_asked(runs.traced_requests[0])
    span = runs.call()
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL, response_id=STREAM_ID,
                 input_tokens=24, output_tokens=8, cache_read=0, finish_reasons=("stop",))


@pytest.mark.parametrize("encoding_format", [None, "float"], ids=["default", "float"])
def test_embedding(twice, stub, encoding_format):
    """Without an encoding format LiteLLM posts through ``client.post``; with one, through
    ``client.embeddings.with_raw_response.create``: a span either way."""
    stub.openai_embeddings()
    stub.openai_embeddings()
    extra = {"encoding_format": encoding_format} if encoding_format else {}
    runs = twice(lambda: litellm.embedding(model="openai/text-embedding-3-small", input=["hello", "world"],
                                           api_base=stub.url("/v1"), api_key="sk-test-key", **extra), FRESH)
    assert dump(runs.traced) == dump(runs.plain)
    assert len(runs.traced.data) == 2 and runs.traced.usage.prompt_tokens == 9
    assert runs.traced_requests[0].get("encoding_format") == encoding_format
    span = runs.call()
    assert span.name == "embeddings text-embedding-3-small"
    assert_usage(span, provider="openai", request_model="text-embedding-3-small",
                 response_model="text-embedding-3-small", input_tokens=9, output_tokens=None, finish_reasons=None)
    assert attrs(span)[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8


async def test_aembedding(twice, stub):
    stub.openai_embeddings()
    stub.openai_embeddings()

    async def call():
        return await litellm.aembedding(model="openai/text-embedding-3-small", input="hello",
                                        api_base=stub.url("/v1"), api_key="sk-test-key")

    runs = await twice(call, FRESH)
    assert dump(runs.traced) == dump(runs.plain)
    assert_usage(runs.call(), provider="openai", request_model="text-embedding-3-small",
                 response_model="text-embedding-3-small", input_tokens=9, output_tokens=None, finish_reasons=None)


def anthropic_args(stub) -> dict[str, Any]:
    return {"model": f"anthropic/{CLAUDE}", "messages": USER, "api_base": stub.url(), "api_key": "sk-ant-test",
            "max_tokens": 256}


def assert_not_through_the_client(runs, stub) -> None:
    """The requests came from LiteLLM's own HTTP client, so no model-call span, and nothing went wrong."""
    agents = {request.headers.get("User-Agent", "") for request, _ in stub.server.log}
    assert agents and all(agent.startswith("litellm/") for agent in agents), agents
    assert len(runs.traced_requests) == len(runs.plain_requests) >= 1
    assert runs.calls == []
    assert [s.name for s in runs.sdk.spans()] == [runs.workflow.name]
    assert agentkit.sdk_error_counts() == {}


def test_anthropic_provider_completion(twice, stub):
    stub.anthropic_messages("anthropic/message_tool_use.json")
    stub.anthropic_messages("anthropic/message_tool_use.json")
    runs = twice(lambda: litellm.completion(**anthropic_args(stub)), FRESH)
    assert dump(runs.traced, "id") == dump(runs.plain, "id")  # LiteLLM makes up the id: a new uuid per call
    assert runs.traced.usage.prompt_tokens_details.cached_tokens == 1800
    assert_not_through_the_client(runs, stub)


async def test_anthropic_provider_acompletion_stream(twice, stub):
    stub.anthropic_messages("anthropic/message_stream.sse")
    stub.anthropic_messages("anthropic/message_stream.sse")

    async def call():
        return await acollect(await litellm.acompletion(**anthropic_args(stub), stream=True))

    runs = await twice(call, FRESH)
    assert [dump(c, "id") for c in runs.traced] == [dump(c, "id") for c in runs.plain]
    assert "".join(c.choices[0].delta.content or "" for c in runs.traced) == "Hello! How can I help?"
    assert_not_through_the_client(runs, stub)
