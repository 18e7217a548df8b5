"""LangChain's ChatAnthropic (langchain-anthropic) on the real anthropic client against the stub: invoke, ainvoke,
stream and astream, each without and with ``betas`` (which sends the request through
``client.beta.messages.with_raw_response``; without, through ``client.messages.with_raw_response``: ChatAnthropic
always reads the raw response, streams included). One chat span per request under the caller's workflow, with
the usage and prompt-cache tokens of the response; what LangChain returns is the same with and without
instrumentation."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, AIMessageChunk

from otel_agentkit import semconv as sc
from tests.frameworks.conftest import acollect, assert_usage, attrs

MODEL = "claude-sonnet-4-6"
RESPONSE_MODEL = "claude-sonnet-4-5-20250929"
QUESTION = "What is the weather in Paris?"
BETA = "token-efficient-tools-2025-02-19"

betas_on_off = pytest.mark.parametrize("betas", [None, [BETA]], ids=["messages", "beta"])


def get_weather(city: str, unit: str) -> str:
    """Weather in a city."""
    return "sunny"


def chat(stub, betas: list[str] | None) -> ChatAnthropic:
    return ChatAnthropic(model=MODEL, base_url=stub.url(), api_key="sk-ant-test", max_retries=0, max_tokens=256,
                         betas=betas)


def message(msg: AIMessage | AIMessageChunk) -> dict[str, Any]:
    """What LangChain returned, less the run id it makes up per call."""
    return msg.model_dump(exclude={"id"})


def assert_route(stub, betas: list[str] | None) -> None:
    """Every request went the way ``betas`` selects (beta.messages sends the anthropic-beta header)."""
    requests = [request for request, _ in stub.server.log]
    assert requests
    for request in requests:
        assert request.path == "/v1/messages"
        assert request.headers.get("anthropic-beta") == (",".join(betas) if betas else None)


@betas_on_off
def test_invoke_tool_use_with_cache_read(twice, stub, betas):
    stub.anthropic_messages("anthropic/message_tool_use.json")
    stub.anthropic_messages("anthropic/message_tool_use.json")
    runs = twice(lambda: chat(stub, betas).bind_tools([get_weather]).invoke(QUESTION))
    assert message(runs.traced) == message(runs.plain)
    assert [(c["name"], c["args"]) for c in runs.traced.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})]
    assert runs.traced.usage_metadata["input_token_details"]["cache_read"] == 1800
    assert_route(stub, betas)
    span = runs.call()
    assert_usage(span, provider="anthropic", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="msg_01Aq9w938a90dw8q", input_tokens=472 + 1800, output_tokens=89,
                 cache_read=1800, cache_write=0, finish_reasons=("tool_use",))
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALLS] == ("get_weather",)
    assert attrs(span)[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256


@betas_on_off
async def test_ainvoke(twice, stub, betas):
    stub.anthropic_messages()
    stub.anthropic_messages()

    async def call():
        return await chat(stub, betas).ainvoke(QUESTION)

    runs = await twice(call)
    assert message(runs.traced) == message(runs.plain)
    assert runs.traced.content == "Hello! How can I help you today?"
    assert_route(stub, betas)
    assert_usage(runs.call(), provider="anthropic", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="msg_01XFDUDYJgAACzvnptvVoYEL", input_tokens=12, output_tokens=12,
                 cache_read=0, cache_write=0, finish_reasons=("end_turn",))


@betas_on_off
def test_stream_with_cache_write(twice, stub, betas):
    stub.anthropic_messages("anthropic/message_stream.sse")
    stub.anthropic_messages("anthropic/message_stream.sse")
    runs = twice(lambda: list(chat(stub, betas).stream(QUESTION)))
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    assert "".join(c.text for c in runs.traced) == "Hello! How can I help?"
    assert all(body.get("stream") is True for body in runs.traced_requests)
    assert_route(stub, betas)
    span = runs.call()
    assert_usage(span, provider="anthropic", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="msg_01HCDu5LRGeP2o7s2xGmxyx8", input_tokens=25 + 2048, output_tokens=15,
                 cache_read=0, cache_write=2048, finish_reasons=("end_turn",))
    assert attrs(span)[sc.GEN_AI_REQUEST_STREAM] is True


@betas_on_off
async def test_astream_tool_use(twice, stub, betas):
    stub.anthropic_messages("anthropic/message_stream_tool_use.sse")
    stub.anthropic_messages("anthropic/message_stream_tool_use.sse")

    async def call():
        return await acollect(chat(stub, betas).bind_tools([get_weather]).astream(QUESTION))

    runs = await twice(call)
    assert [message(c) for c in runs.traced] == [message(c) for c in runs.plain]
    whole = runs.traced[0]
    for chunk in runs.traced[1:]:
        whole += chunk
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})]
    assert_route(stub, betas)
    span = runs.call()
    assert_usage(span, provider="anthropic", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id="msg_014p7gG3wDgGV9EUtLvnow3U", input_tokens=472 + 1800, output_tokens=89,
                 cache_read=1800, cache_write=0, finish_reasons=("tool_use",))
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALLS] == ("get_weather",)
