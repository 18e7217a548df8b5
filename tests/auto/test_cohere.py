"""The cohere v2 client (the real library) against the local stub serving Cohere's v2 JSON bodies and SSE
streams (message-start, content-delta, ..., message-end with usage): ClientV2 / AsyncClientV2 chat, chat_stream
and embed, errors, stream lifetimes, billed units over token counts, a user's llm block, exact uninstrumentation
and an unsupported version. Nothing of the client is mocked."""

from __future__ import annotations

import gc
import json
import logging
import types
from typing import Iterator

import cohere
import pytest
import wrapt
from cohere.v2.client import AsyncV2Client, V2Client
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.auto.cohere import FINISH_REASONS, CohereInstrumentor, finish_reason, usage_tokens
from tests.auto.conftest import USER

MODEL = "command-a-03-2025"
SPAN = f"chat {MODEL}"
CHAT = "/v2/chat"
EMBED = "/v2/embed"
NO_RETRY = {"max_retries": 0}  # per call: the error tests' stub answers once (the constructor takes it only in 7.3+)
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture
def cohere_on() -> Iterator[CohereInstrumentor]:
    inst = CohereInstrumentor()
    inst.instrument()
    assert inst._patches, "cohere was not instrumented"
    try:
        yield inst
    finally:
        inst.uninstrument()


# Made after the instrumentor (the fixture order): ClientV2 binds chat and chat_stream when it is constructed.
@pytest.fixture
def co(stub, cohere_on) -> cohere.ClientV2:
    return cohere.ClientV2(api_key="test-cohere-key", base_url=stub.url())


@pytest.fixture
def aco(stub, cohere_on) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key="test-cohere-key", base_url=stub.url())


def _qualified(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


# --- chat ---------------------------------------------------------------------------------------------------------
def test_chat(sdk, stub, co):
    stub.json(CHAT, "cohere/chat.json")
    reply = co.chat(model=MODEL, messages=USER, temperature=0.3, p=0.75, k=40, max_tokens=64,
                    stop_sequences=["END"], seed=11)
    assert reply.message.content[0].text == "The capital of France is Paris."
    span = sdk.span(SPAN)
    a = span.attributes
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_PROVIDER_NAME] == "cohere" and a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == stub.server.port
    assert (a[sc.GEN_AI_REQUEST_TEMPERATURE], a[sc.GEN_AI_REQUEST_TOP_P], a[sc.GEN_AI_REQUEST_TOP_K]) == (0.3, 0.75, 40)
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64 and a[sc.GEN_AI_REQUEST_SEED] == 11
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert sc.GEN_AI_REQUEST_STREAM not in a
    assert a[sc.GEN_AI_RESPONSE_ID] == "5a1f3c9e-7b2d-4e8a-9c6f-0d4b2e8a1f37"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)  # COMPLETE
    # billed units (8 / 7), not the token counts (214 / 9) that include what Cohere adds itself
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 8 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert isinstance(a[sc.GEN_AI_USAGE_INPUT_TOKENS], int)  # Cohere sends 8.0
    assert sc.GEN_AI_OUTPUT_MESSAGES not in a and sc.GEN_AI_INPUT_MESSAGES not in a  # content is opt-in
    assert stub.bodies[0]["k"] == 40 and stub.bodies[0]["p"] == 0.75  # the request is unchanged


def test_chat_tool_call_with_content(make_sdk, stub, cohere_on):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    co = cohere.ClientV2(api_key="test-cohere-key", base_url=stub.url())
    stub.json(CHAT, "cohere/chat_tool_call.json")
    co.chat(model=MODEL, messages=USER, tools=TOOLS, response_format={"type": "json_object"})
    a = sdk.span(SPAN).attributes
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("get_weather_x8k2m4n6p1qz",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (31, 24)
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "json"
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out == [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "reasoning", "content": "I will look up the weather in Paris."},
        {"type": "tool_call", "id": "get_weather_x8k2m4n6p1qz", "name": "get_weather",
         "arguments": {"city": "Paris"}}]}]
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == USER[0]["content"]
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["function"]["name"] == "get_weather"


def test_finish_reasons_and_usage_rules():
    assert {k: finish_reason(k) for k in FINISH_REASONS} == {
        "COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_call",
        "ERROR": "error"}
    assert finish_reason("TIMEOUT") == "timeout" and finish_reason("stop") == "stop"
    both = {"billed_units": {"input_tokens": 3.0, "output_tokens": 5.0}, "tokens": {"input_tokens": 200.0,
                                                                                    "output_tokens": 6.0}}
    assert usage_tokens(both) == (3, 5)
    assert usage_tokens({"tokens": {"input_tokens": 200.0, "output_tokens": 6.0}}) == (200, 6)  # no billed units
    assert usage_tokens(None) == (None, None)


# --- chat_stream --------------------------------------------------------------------------------------------------
def test_chat_stream(sdk, stub, co):
    stub.sse(CHAT, "cohere/chat_stream.sse")
    stream = co.chat_stream(model=MODEL, messages=USER, max_tokens=64)
    assert isinstance(stream, types.GeneratorType)
    text = "".join(e.delta.message.content.text for e in stream if e.type == "content-delta")
    assert text == "The capital of France is Paris."
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 7 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[sc.GEN_AI_RESPONSE_ID] == "8e4b2a6c-3f1d-4a9e-b7c5-2d0f8e6a4c13"
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (8, 7)  # billed, message-end
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert stub.bodies[0]["stream"] is True


def test_chat_stream_tool_call_with_content(make_sdk, stub, cohere_on):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    co = cohere.ClientV2(api_key="test-cohere-key", base_url=stub.url())
    stub.sse(CHAT, "cohere/chat_stream_tool_call.sse")
    assert len(list(co.chat_stream(model=MODEL, messages=USER, tools=TOOLS))) == 8
    a = sdk.span(SPAN).attributes
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("get_weather_x8k2m4n6p1qz",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (31, 24)
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]
    assert out["parts"] == [
        {"type": "reasoning", "content": "I will look up the weather in Paris."},
        {"type": "tool_call", "id": "get_weather_x8k2m4n6p1qz", "name": "get_weather", "arguments": {"city": "Paris"}}]


def test_chat_stream_break_close_and_gc_end_the_span_once(sdk, stub, co):
    for _ in range(3):
        stub.sse(CHAT, "cohere/chat_stream.sse")
    stream = co.chat_stream(model=MODEL, messages=USER)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in sdk.spans()] == [3]  # ended at the break
    stream.close()
    started = co.chat_stream(model=MODEL, messages=USER)
    next(started)
    started.close()
    dropped = co.chat_stream(model=MODEL, messages=USER)
    next(dropped)
    del dropped
    gc.collect()
    spans = sdk.spans()
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in spans] == [3, 1, 1], "each ended exactly once"
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert all(sc.GEN_AI_RESPONSE_FINISH_REASONS not in s.attributes for s in spans)  # message-end never came


# --- embed --------------------------------------------------------------------------------------------------------
def test_embed(sdk, stub, co):
    stub.json(EMBED, "cohere/embed.json")
    out = co.embed(model="embed-v4.0", texts=["hello", "goodbye"], input_type="search_document",
                   embedding_types=["float"])
    assert len(out.embeddings.float_) == 2
    span = sdk.span("embeddings embed-v4.0")
    a = span.attributes
    assert span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_OPERATION_NAME] == "embeddings" and a[sc.GEN_AI_PROVIDER_NAME] == "cohere"
    assert tuple(a[sc.GEN_AI_REQUEST_ENCODING_FORMATS]) == ("float",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2 and a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 6
    assert sc.GEN_AI_RESPONSE_ID not in a
    assert [p.sum for p in sdk.points(sc.METRIC_EMBEDDINGS_INPUT_TOKENS)] == [2]


# --- async --------------------------------------------------------------------------------------------------------
async def test_async_chat_stream_and_embed(sdk, stub, aco):
    stub.json(CHAT, "cohere/chat.json")
    stub.sse(CHAT, "cohere/chat_stream.sse")
    stub.json(EMBED, "cohere/embed.json")
    reply = await aco.chat(model=MODEL, messages=USER, temperature=0.2)
    assert reply.finish_reason == "COMPLETE"
    stream = aco.chat_stream(model=MODEL, messages=USER)
    assert isinstance(stream, types.AsyncGeneratorType)
    assert len([e async for e in stream]) == 7
    await aco.embed(model="embed-v4.0", texts=["hello"], input_type="search_query", embedding_types=["float"])
    plain, streamed, embedded = sdk.spans()
    assert plain.name == SPAN and plain.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert plain.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert streamed.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 7
    assert streamed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 8
    assert embedded.name == "embeddings embed-v4.0" and embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2


async def test_async_chat_stream_break_ends_the_span(sdk, stub, aco):
    stub.sse(CHAT, "cohere/chat_stream.sse")
    stream = aco.chat_stream(model=MODEL, messages=USER)
    async for _ in stream:
        break
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in sdk.spans()] == [1]
    await stream.aclose()
    assert len(sdk.spans()) == 1


# --- failures -----------------------------------------------------------------------------------------------------
def _assert_failed(span, exc: BaseException, status: int) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(exc)
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == status
    assert [e.name for e in span.events] == ["exception"]


def test_http_errors(sdk, stub, co):
    stub.json(CHAT, "cohere/error_429.json", status=429)
    stub.json(CHAT, "cohere/error_500.json", status=500)
    stub.json(EMBED, "cohere/error_429.json", status=429)
    with pytest.raises(cohere.TooManyRequestsError) as limited:
        co.chat(model=MODEL, messages=USER, request_options=NO_RETRY)
    assert "per minute request limit" in limited.value.body["message"]
    stream = co.chat_stream(model=MODEL, messages=USER, request_options=NO_RETRY)
    with pytest.raises(cohere.InternalServerError) as failed:
        next(stream)  # the request is sent when the stream is first read
    with pytest.raises(cohere.TooManyRequestsError) as refused:
        co.embed(model="embed-v4.0", texts=["hello"], input_type="search_query", request_options=NO_RETRY)
    chat, streamed, embedded = sdk.spans()
    _assert_failed(chat, limited.value, 429)
    _assert_failed(streamed, failed.value, 500)
    _assert_failed(embedded, refused.value, 429)
    assert sc.AGENTKIT_STREAM_CHUNKS not in streamed.attributes
    inputs = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert sorted((p.sum, p.attributes[sc.ERROR_TYPE]) for p in inputs) == sorted(
        [(0, _qualified(limited.value)), (0, _qualified(failed.value))])


async def test_async_http_errors(sdk, stub, aco):
    stub.json(CHAT, "cohere/error_500.json", status=500)
    stub.json(CHAT, "cohere/error_429.json", status=429)
    with pytest.raises(cohere.InternalServerError) as failed:
        await aco.chat(model=MODEL, messages=USER, request_options=NO_RETRY)
    with pytest.raises(cohere.TooManyRequestsError) as limited:
        async for _ in aco.chat_stream(model=MODEL, messages=USER, request_options=NO_RETRY):
            pass
    first, second = sdk.spans()
    _assert_failed(first, failed.value, 500)
    _assert_failed(second, limited.value, 429)


# --- no second span -----------------------------------------------------------------------------------------------
def test_feeds_a_users_llm_block(sdk, stub, co):
    stub.sse(CHAT, "cohere/chat_stream.sse")
    with agentkit.llm() as call:  # no provider or model given: the call fills them in
        assert len(list(co.chat_stream(model=MODEL, messages=USER, seed=3))) == 7
        assert call.span.is_recording()
    (span,) = sdk.spans()
    a = span.attributes
    assert span.name == SPAN
    assert a[sc.GEN_AI_PROVIDER_NAME] == "cohere" and a[sc.GEN_AI_REQUEST_SEED] == 3
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 8 and a[sc.AGENTKIT_STREAM_CHUNKS] == 7
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


def test_users_values_win(sdk, stub, co):
    stub.json(CHAT, "cohere/chat.json")

    @agentkit.llm(provider="cohere", model=MODEL, max_tokens=999)
    def ask():
        return co.chat(model=MODEL, messages=USER, max_tokens=64)

    ask()
    (span,) = sdk.spans()
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 999
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7


def test_v2_of_a_v1_client_is_traced(sdk, stub, cohere_on):
    stub.json(CHAT, "cohere/chat.json")
    v1 = cohere.Client(api_key="test-cohere-key", base_url=stub.url())
    v1.v2.chat(model=MODEL, messages=USER)
    assert sdk.span(SPAN).attributes[sc.SERVER_PORT] == stub.server.port


# --- instrument / uninstrument ------------------------------------------------------------------------------------
_METHODS = [(cls, name) for cls in (V2Client, AsyncV2Client) for name in ("chat", "chat_stream", "embed")]


def test_uninstrument_restores_the_exact_originals(sdk, stub):
    before = {(owner, name): owner.__dict__[name] for owner, name in _METHODS}
    inst = CohereInstrumentor()
    inst.instrument()
    try:
        assert all(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in _METHODS)
        made_while_on = cohere.ClientV2(api_key="k", base_url=stub.url())
    finally:
        inst.uninstrument()
    assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in _METHODS)
    stub.json(CHAT, "cohere/chat.json")
    stub.json(CHAT, "cohere/chat.json")
    cohere.ClientV2(api_key="k", base_url=stub.url()).chat(model=MODEL, messages=USER)
    made_while_on.chat(model=MODEL, messages=USER)  # it kept our wrapper bound: switched off, calls straight through
    assert sdk.spans() == []


class _FutureOnly(CohereInstrumentor):
    """The same instrumentor, supporting only versions that do not exist (nothing is mocked)."""

    _instance = None
    requirement = "cohere >= 99"


def test_unsupported_version_warns_once_and_patches_nothing(sdk, caplog):
    before = {(owner, name): owner.__dict__[name] for owner, name in _METHODS}
    inst = _FutureOnly()
    with caplog.at_level(logging.WARNING, logger="otel_agentkit.auto"):
        inst.instrument()
    try:
        assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in _METHODS)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert f"cohere {cohere.__version__} is not supported" in warnings[0].getMessage()
        assert "cohere >= 99" in warnings[0].getMessage()
    finally:
        inst.uninstrument()
