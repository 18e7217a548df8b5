"""The mistralai client (the real library, 3.x) against the local stub serving Mistral's JSON bodies and SSE
streams (``data: {...}`` chunks ending with ``data: [DONE]``): chat.complete / stream / embeddings.create and
their async forms, errors, stream lifetimes, a user's llm block, the client's own spans, exact uninstrumentation
and an unsupported version. Nothing of the client is mocked."""

from __future__ import annotations

import gc
import json
import logging
from typing import Iterator

import pytest
import wrapt
from mistralai.client import Mistral
from mistralai.client.chat import Chat
from mistralai.client.embeddings import Embeddings
from mistralai.client.errors import SDKError
from mistralai.client.utils.eventstreaming import EventStream, EventStreamAsync
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.auto.mistral import FINISH_REASONS, MistralInstrumentor, finish_reason
from tests.auto.conftest import USER

MODEL = "mistral-small-latest"
SPAN = f"chat {MODEL}"
CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
NATIVE_SCOPE = "mistralai_sdk_tracer"  # the client's own tracer
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture
def mistral_on() -> Iterator[MistralInstrumentor]:
    inst = MistralInstrumentor()
    inst.instrument()
    assert inst._patches, "mistralai was not instrumented"
    try:
        yield inst
    finally:
        inst.uninstrument()


@pytest.fixture
def client(stub) -> Mistral:
    return Mistral(api_key="test-mistral-key", server_url=stub.url())


def _qualified(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


# --- chat.complete ------------------------------------------------------------------------------------------------
def test_complete(sdk, stub, mistral_on, client):
    stub.json(CHAT, "mistral/chat_completion.json")
    reply = client.chat.complete(model=MODEL, messages=USER, temperature=0.3, top_p=0.9, max_tokens=64,
                                 stop="END", random_seed=7)
    assert reply.choices[0].message.content == "The capital of France is Paris."
    span = sdk.span(SPAN)
    a = span.attributes
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_PROVIDER_NAME] == "mistral_ai" and a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == stub.server.port
    assert (a[sc.GEN_AI_REQUEST_TEMPERATURE], a[sc.GEN_AI_REQUEST_TOP_P]) == (0.3, 0.9)
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64 and a[sc.GEN_AI_REQUEST_SEED] == 7
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert sc.GEN_AI_REQUEST_STREAM not in a
    assert a[sc.GEN_AI_RESPONSE_ID] == "9a3c7e51d0b84f2ca6e1f08b4d2c7a13"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[sc.AGENTKIT_COST_USD] > 0  # mistral-small-latest is priced as mistral-small
    assert sc.GEN_AI_INPUT_MESSAGES not in a and sc.GEN_AI_OUTPUT_MESSAGES not in a  # content is opt-in
    assert stub.bodies[0]["random_seed"] == 7 and stub.bodies[0]["stop"] == "END"  # the request is unchanged


def test_complete_tool_calls_cache_and_content(make_sdk, stub, mistral_on, client):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.json(CHAT, "mistral/chat_tool_calls.json")
    client.chat.complete(model="mistral-large-latest", messages=USER, tools=TOOLS,
                         response_format={"type": "json_object"})
    a = sdk.span("chat mistral-large-latest").attributes
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)  # Mistral's "tool_calls", mapped
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("Dq8vN3kLx",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1290 and a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "json"
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]
    assert out["finish_reason"] == "tool_call"
    assert out["parts"][-1] == {"type": "tool_call", "id": "Dq8vN3kLx", "name": "get_weather",
                                "arguments": {"city": "Paris"}}
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == USER[0]["content"]
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["function"]["name"] == "get_weather"


def test_parse_goes_through_complete(sdk, stub, mistral_on, client):
    import pydantic
    from werkzeug import Response

    from tests.auto.conftest import fixture_bytes

    class City(pydantic.BaseModel):
        city: str

    body = json.loads(fixture_bytes("mistral/chat_completion.json"))
    body["choices"][0]["message"]["content"] = '{"city": "Paris"}'
    stub.handler(CHAT, lambda request: Response(json.dumps(body), content_type="application/json"))
    parsed = client.chat.parse(City, model=MODEL, messages=USER)
    assert parsed.choices[0].message.parsed == City(city="Paris")
    (span,) = sdk.spans()
    assert span.name == SPAN and span.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10


def test_finish_reason_mapping():
    assert {k: finish_reason(k) for k in FINISH_REASONS} == {
        "stop": "stop", "length": "length", "model_length": "length", "tool_calls": "tool_call", "error": "error"}
    assert finish_reason("tool_call") == "tool_call"  # idempotent on the spec's values
    assert finish_reason("SOMETHING_NEW") == "something_new"  # no counterpart: kept, lower-cased


# --- chat.stream --------------------------------------------------------------------------------------------------
def test_stream(sdk, stub, mistral_on, client):
    stub.sse(CHAT, "mistral/chat_stream.sse")
    stream = client.chat.stream(model=MODEL, messages=USER, max_tokens=64)
    assert isinstance(stream, EventStream)
    assert sdk.spans() == []  # open while the stream is
    text = "".join(event.data.choices[0].delta.content for event in stream)
    assert text == "The capital of France is Paris."
    span = sdk.span(SPAN)
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 5 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8  # from the last chunk
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_RESPONSE_ID] == "c41d8e0f27a94b5e8f3a6b1c9d2e7f40" and a[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert a[sc.AGENTKIT_COST_USD] > 0
    assert stub.bodies[0]["stream"] is True
    assert sdk.points(sc.METRIC_TIME_TO_FIRST_CHUNK)[0].count == 1


def test_stream_tool_calls_with_content(make_sdk, stub, mistral_on, client):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.sse(CHAT, "mistral/chat_stream_tool_calls.sse")
    with client.chat.stream(model="mistral-large-latest", messages=USER, tools=TOOLS) as stream:
        events = list(stream)
    assert events[-1].data.choices[0].delta.tool_calls[0].function.name == "get_weather"
    a = sdk.span("chat mistral-large-latest").attributes
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("Dq8vN3kLx",)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 22
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out == [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "text", "content": ""},
        {"type": "tool_call", "id": "Dq8vN3kLx", "name": "get_weather", "arguments": {"city": "Paris"}}]}]


def test_stream_break_close_and_gc_end_the_span_once(sdk, stub, mistral_on, client):
    for _ in range(3):
        stub.sse(CHAT, "mistral/chat_stream.sse")
    stream = client.chat.stream(model=MODEL, messages=USER)
    for i, _ in enumerate(stream):
        if i == 1:
            break
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in sdk.spans()] == [2]  # ended at the break
    stream.close()
    closed = client.chat.stream(model=MODEL, messages=USER)
    closed.close()
    dropped = client.chat.stream(model=MODEL, messages=USER)
    next(dropped)
    del dropped
    gc.collect()
    spans = sdk.spans()
    assert len(spans) == 3, "each stream ended exactly once"
    assert sc.AGENTKIT_STREAM_CHUNKS not in spans[1].attributes
    assert spans[2].attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


# --- embeddings ---------------------------------------------------------------------------------------------------
def test_embeddings(sdk, stub, mistral_on, client):
    stub.json(EMBED, "mistral/embeddings.json")
    out = client.embeddings.create(model="mistral-embed", inputs=["hello", "goodbye"], output_dtype="float")
    assert len(out.data) == 2
    span = sdk.span("embeddings mistral-embed")
    a = span.attributes
    assert span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_OPERATION_NAME] == "embeddings" and a[sc.GEN_AI_PROVIDER_NAME] == "mistral_ai"
    assert tuple(a[sc.GEN_AI_REQUEST_ENCODING_FORMATS]) == ("float",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 15 and a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "mistral-embed" and a[sc.AGENTKIT_COST_USD] > 0
    assert [p.sum for p in sdk.points(sc.METRIC_EMBEDDINGS_INPUT_TOKENS)] == [15]


# --- async --------------------------------------------------------------------------------------------------------
async def test_async_complete_stream_and_embeddings(sdk, stub, mistral_on, client):
    stub.json(CHAT, "mistral/chat_completion.json")
    stub.sse(CHAT, "mistral/chat_stream.sse")
    stub.json(EMBED, "mistral/embeddings.json")
    reply = await client.chat.complete_async(model=MODEL, messages=USER, temperature=0.2)
    assert reply.usage.prompt_tokens == 10
    stream = await client.chat.stream_async(model=MODEL, messages=USER)
    assert isinstance(stream, EventStreamAsync)
    assert len([event async for event in stream]) == 5
    await client.embeddings.create_async(model="mistral-embed", inputs="hello")
    plain, streamed, embedded = sdk.spans()
    assert plain.name == SPAN and plain.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert plain.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert streamed.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 5
    assert streamed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert embedded.name == "embeddings mistral-embed" and embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 15


async def test_async_stream_break_ends_the_span(sdk, stub, mistral_on, client):
    stub.sse(CHAT, "mistral/chat_stream.sse")
    stream = await client.chat.stream_async(model=MODEL, messages=USER)
    async for _ in stream:
        break
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in sdk.spans()] == [1]
    await stream.close()
    assert len(sdk.spans()) == 1


# --- failures -----------------------------------------------------------------------------------------------------
def _assert_failed(span, exc: BaseException, status: int) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(exc) == "mistralai.client.errors.sdkerror.SDKError"
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == status
    assert [e.name for e in span.events] == ["exception"]


def test_http_errors(sdk, stub, mistral_on, client):
    stub.json(CHAT, "mistral/error_429.json", status=429)
    stub.json(CHAT, "mistral/error_500.json", status=500)
    stub.json(EMBED, "mistral/error_429.json", status=429)
    with pytest.raises(SDKError) as limited:
        client.chat.complete(model=MODEL, messages=USER)
    assert limited.value.status_code == 429 and "rate_limited" in limited.value.body
    with pytest.raises(SDKError) as failed:
        client.chat.stream(model=MODEL, messages=USER)
    with pytest.raises(SDKError) as refused:
        client.embeddings.create(model="mistral-embed", inputs="hello")
    chat, streamed, embedded = sdk.spans()
    _assert_failed(chat, limited.value, 429)
    _assert_failed(streamed, failed.value, 500)
    _assert_failed(embedded, refused.value, 429)
    inputs = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert sorted((p.sum, p.attributes[sc.ERROR_TYPE]) for p in inputs) == [(0, _qualified(limited.value))]


async def test_async_http_errors(sdk, stub, mistral_on, client):
    stub.json(CHAT, "mistral/error_500.json", status=500)
    stub.json(CHAT, "mistral/error_429.json", status=429)
    with pytest.raises(SDKError) as failed:
        await client.chat.complete_async(model=MODEL, messages=USER)
    with pytest.raises(SDKError) as limited:
        await client.chat.stream_async(model=MODEL, messages=USER)
    first, second = sdk.spans()
    _assert_failed(first, failed.value, 500)
    _assert_failed(second, limited.value, 429)


# --- no second span -----------------------------------------------------------------------------------------------
def test_feeds_a_users_llm_block(sdk, stub, mistral_on, client):
    stub.sse(CHAT, "mistral/chat_stream.sse")
    with agentkit.llm() as call:  # no provider or model given: the call fills them in
        assert len(list(client.chat.stream(model=MODEL, messages=USER, random_seed=3))) == 5
        assert call.span.is_recording()
    (span,) = sdk.spans()
    a = span.attributes
    assert span.name == SPAN
    assert a[sc.GEN_AI_PROVIDER_NAME] == "mistral_ai" and a[sc.GEN_AI_REQUEST_SEED] == 3
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10 and a[sc.AGENTKIT_STREAM_CHUNKS] == 5
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


def test_users_values_win(sdk, stub, mistral_on, client):
    stub.json(CHAT, "mistral/chat_completion.json")

    @agentkit.llm(provider="mistral_ai", model=MODEL, max_tokens=999)
    def ask():
        return client.chat.complete(model=MODEL, messages=USER, max_tokens=64)

    ask()
    (span,) = sdk.spans()
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 999
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8


def _native_provider(sdk) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(sdk.spans_exporter))
    return provider


def _scopes(spans) -> list[str]:
    return [s.instrumentation_scope.name for s in spans]


def test_the_clients_own_span_is_a_suppressed_duplicate(sdk, stub, client):
    """The client's opt-in tracing (here to a provider of its own) makes a GenAI span of the same name: under
    ours it is a nested duplicate and is left out, unless asked for."""
    from mistralai.extra.observability.telemetry import configure_telemetry

    configure_telemetry(client, provider=_native_provider(sdk), redaction=False)
    stub.json(CHAT, "mistral/chat_completion.json")
    client.chat.complete(model=MODEL, messages=USER)  # not instrumented: the client's own span
    assert _scopes(sdk.spans()) == [NATIVE_SCOPE]
    inst = MistralInstrumentor()
    inst.instrument()
    try:
        stub.json(CHAT, "mistral/chat_completion.json")
        client.chat.complete(model=MODEL, messages=USER)
    finally:
        inst.uninstrument()
    assert _scopes(sdk.spans()[1:]) == [sc.SCOPE_NAME]
    inst.instrument(suppress_native_spans=False)
    try:
        stub.json(CHAT, "mistral/chat_completion.json")
        client.chat.complete(model=MODEL, messages=USER)
    finally:
        inst.uninstrument()
    kept, ours = sdk.spans()[2:]
    assert _scopes([kept, ours]) == [NATIVE_SCOPE, sc.SCOPE_NAME] and ours.name == SPAN
    assert kept.parent.span_id == ours.context.span_id  # kept on request: nested under ours


# --- instrument / uninstrument ------------------------------------------------------------------------------------
_METHODS = [(Chat, "complete"), (Chat, "complete_async"), (Chat, "stream"), (Chat, "stream_async"),
            (Embeddings, "create"), (Embeddings, "create_async")]


def test_uninstrument_restores_the_exact_originals(sdk, stub, client):
    from mistralai.client._hooks.tracing import TracingHook

    methods = _METHODS + [(TracingHook, "before_request")]
    before = {(owner, name): owner.__dict__[name] for owner, name in methods}
    inst = MistralInstrumentor()
    inst.instrument()
    assert all(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in methods)
    inst.uninstrument()
    assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in methods)
    stub.json(CHAT, "mistral/chat_completion.json")
    client.chat.complete(model=MODEL, messages=USER)
    assert sdk.spans() == []


class _FutureOnly(MistralInstrumentor):
    """The same instrumentor, supporting only versions that do not exist (nothing is mocked)."""

    _instance = None
    requirement = "mistralai >= 99"


def test_unsupported_version_warns_once_and_patches_nothing(sdk, caplog):
    from importlib.metadata import version

    before = {(owner, name): owner.__dict__[name] for owner, name in _METHODS}
    inst = _FutureOnly()
    with caplog.at_level(logging.WARNING, logger="otel_agentkit.auto"):
        inst.instrument()
    try:
        assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in _METHODS)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert f"mistralai {version('mistralai')} is not supported" in warnings[0].getMessage()
        assert "mistralai >= 99" in warnings[0].getMessage()
    finally:
        inst.uninstrument()
