"""Model requests made on the openai client itself, not through a resource method: ``client.post(path,
body=..., cast_to=..., options=..., stream=..., stream_cls=...)``, as LiteLLM sends chat completions and
embeddings (with the raw-response header, then ``parse()``; its async stream wrapper reads one chunk per
``async for`` loop). And methods bound before the instrumentor was switched on (instructor keeps ``create``).
The real client against the local stub: one span per request (counted at the stub) with id, model, usage
and finish reasons; the caller sees exactly what it sees with the instrumentor off, and the request goes out
as made (no ``include_usage`` added). A resource method's request, which passes the same client method,
still makes exactly one span.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import openai
import pytest
from openai import AsyncStream, Stream
from openai._base_client import AsyncAPIClient, SyncAPIClient
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentkit as agentkit
from otel_agentkit import auto, diagnostics, semconv as sc
from tests.auto.conftest import USER

MODEL = "gpt-4o-mini"
SERVED_MODEL = "gpt-4o-mini-2024-07-18"
CHAT_ID = "chatcmpl-BdhS7uQ2k9Xc3VnR1mT8yL0pW5aZe"  # the stream fixtures' id
JSON_ID = "chatcmpl-BdhN3tE5sNJ6V1dQeQxg3lm6kU0bQ"  # chat_completion.json's
EMBEDDING_MODEL = "text-embedding-3-small"
WITH_USAGE = {"include_usage": True}
RAW = {"headers": {"X-Stainless-Raw-Response": "true"}}  # what LiteLLM passes as ``options``


def calls(sdk) -> list[Any]:
    return [s for s in sdk.spans() if s.kind is SpanKind.CLIENT and sc.GEN_AI_OPERATION_NAME in s.attributes]


def one_span_per_request(sdk, stub, untraced: int = 0) -> Any:
    """Exactly one model-call span for each request the stub received while instrumented (``untraced``
    requests were made with the instrumentor off); the last one."""
    spans = calls(sdk)
    requests = len(stub.bodies) - untraced
    assert requests >= 1 and len(spans) == requests, f"{requests} request(s), spans {[s.name for s in spans]}"
    return spans[-1]


@contextmanager
def openai_instrumented() -> Iterator[None]:
    assert auto.instrument("openai")
    try:
        yield
    finally:
        auto.uninstrument("openai")


def off_then_on(run: Callable[[], Any]) -> tuple[Any, Any]:
    """What the caller saw with the instrumentor off, then on."""
    off = run()
    with openai_instrumented():
        on = run()
    return off, on


async def off_then_on_async(run: Callable[[], Any]) -> tuple[Any, Any]:
    off = await run()
    with openai_instrumented():
        on = await run()
    return off, on


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": USER, "temperature": 0.2, **extra}


def assert_chat_json_span(span) -> None:
    a = span.attributes
    assert span.name == f"chat {MODEL}"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai" and a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and a[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert a[sc.GEN_AI_RESPONSE_ID] == JSON_ID and a[sc.GEN_AI_RESPONSE_MODEL] == SERVED_MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[sc.AGENTKIT_COST_USD] > 0


def assert_chat_stream_span(span, usage: bool) -> None:
    a = span.attributes
    assert span.name == f"chat {MODEL}" and a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_ID] == CHAT_ID and a[sc.GEN_AI_RESPONSE_MODEL] == SERVED_MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 9
    if usage:
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    else:  # nobody asked for usage, and nothing was added to the request
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a


def assert_embeddings_span(span) -> None:
    a = span.attributes
    assert span.name == f"embeddings {EMBEDDING_MODEL}"
    assert a[sc.GEN_AI_OPERATION_NAME] == sc.OP_EMBEDDINGS and a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == EMBEDDING_MODEL
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9 and a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8


# --- client.post: chat completions -----------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw-header"])
def test_post_chat(sdk, stub, oa, raw):
    def run():
        stub.openai_chat()
        result = oa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion, options=RAW if raw else {})
        assert isinstance(result, openai._legacy_response.LegacyAPIResponse if raw else ChatCompletion)
        return (result.parse() if raw else result).model_dump()

    off, on = off_then_on(run)
    assert on == off and on["id"] == JSON_ID
    assert stub.bodies[0] == stub.bodies[1]
    assert_chat_json_span(one_span_per_request(sdk, stub, untraced=1))
    assert diagnostics.error_counts() == {}


async def test_post_chat_async(sdk, stub, aoa):
    async def run():
        stub.openai_chat()
        raw = await aoa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion, options=RAW)
        return raw.parse().model_dump()

    off, on = await off_then_on_async(run)
    assert on == off
    assert_chat_json_span(one_span_per_request(sdk, stub, untraced=1))


@pytest.mark.parametrize("usage", [False, True], ids=["no-usage-asked", "usage-asked"])
@pytest.mark.parametrize("raw", [False, True], ids=["stream", "raw-header"])
def test_post_chat_stream(sdk, stub, oa, usage, raw):
    def run():
        stub.openai_chat_stream()
        body = chat_body(stream=True, **({"stream_options": WITH_USAGE} if usage else {}))
        result = oa.post("/chat/completions", body=body, cast_to=ChatCompletion, options=RAW if raw else {},
                         stream=True, stream_cls=Stream[ChatCompletionChunk])
        stream = result.parse() if raw else result
        assert isinstance(stream, Stream)
        return [chunk.model_dump() for chunk in stream]

    off, on = off_then_on(run)
    assert on == off and len(on) == (10 if usage else 9)  # the usage chunk only when asked for
    assert stub.bodies[0] == stub.bodies[1]  # nothing injected
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=usage)


async def test_post_chat_stream_async_read_in_many_loops(sdk, stub, aoa):
    """LiteLLM's way: the raw header, ``parse()``, then each chunk from a new ``async for`` loop left at once.
    Leaving a loop is not the end of such a stream: the span ends when it is used up, with its usage."""
    async def run():
        stub.openai_chat_stream()
        raw = await aoa.post("/chat/completions", body=chat_body(stream=True, stream_options=WITH_USAGE),
                             cast_to=ChatCompletion, options=RAW, stream=True,
                             stream_cls=AsyncStream[ChatCompletionChunk])
        stream = raw.parse()
        chunks = []
        while True:
            got = None
            async for chunk in stream:
                got = chunk
                break
            gc.collect()  # the loop's iterator is gone
            if got is None:
                return chunks
            assert calls(sdk) == []  # still open
            chunks.append(got.model_dump())

    off, on = await off_then_on_async(run)
    assert on == off and len(on) == 10
    span = one_span_per_request(sdk, stub, untraced=1)
    assert_chat_stream_span(span, usage=True)
    gc.collect()
    assert calls(sdk) == [span]  # ended once


async def test_post_chat_stream_async_plain(sdk, stub, aoa):
    async def run():
        stub.openai_chat_stream()
        stream = await aoa.post("/chat/completions", body=chat_body(stream=True), cast_to=ChatCompletion,
                                stream=True, stream_cls=AsyncStream[ChatCompletionChunk])
        assert isinstance(stream, AsyncStream)
        return [chunk.model_dump() async for chunk in stream]

    off, on = await off_then_on_async(run)
    assert on == off and len(on) == 9
    assert stub.bodies[0] == stub.bodies[1]
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=False)


def test_post_stream_closed_early_ends_once(sdk, stub, oa):
    stub.openai_chat_stream()
    with openai_instrumented():
        stream = oa.post("/chat/completions", body=chat_body(stream=True), cast_to=ChatCompletion, stream=True,
                         stream_cls=Stream[ChatCompletionChunk])
        next(stream)
        assert calls(sdk) == []
        stream.close()
        span = one_span_per_request(sdk, stub)
        del stream
        gc.collect()
    assert calls(sdk) == [span] and span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1


# --- client.post: embeddings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw-header"])
def test_post_embeddings(sdk, stub, oa, raw):
    def run():
        stub.openai_embeddings()
        result = oa.post("/embeddings", body={"model": EMBEDDING_MODEL, "input": ["hello", "world"]},
                         cast_to=CreateEmbeddingResponse, options=RAW if raw else {})
        return (result.parse() if raw else result).model_dump()

    off, on = off_then_on(run)
    assert on == off and len(on["data"]) == 2
    assert stub.bodies[0] == stub.bodies[1]
    assert_embeddings_span(one_span_per_request(sdk, stub, untraced=1))


async def test_post_embeddings_async(sdk, stub, aoa):
    async def run():
        stub.openai_embeddings()
        raw = await aoa.post("/embeddings", body={"model": EMBEDDING_MODEL, "input": "hello"},
                             cast_to=CreateEmbeddingResponse, options=RAW)
        return raw.parse().model_dump()

    off, on = await off_then_on_async(run)
    assert on == off
    assert_embeddings_span(one_span_per_request(sdk, stub, untraced=1))


# --- client.post: the Responses API ---------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_post_responses(sdk, stub, oa, stream):
    from openai.types.responses import Response, ResponseStreamEvent

    def run():
        if stream:
            stub.sse("/v1/responses", "openai/response_stream.sse")
        else:
            stub.json("/v1/responses", "openai/response.json")
        body = {"model": "gpt-4.1-mini", "input": "Capital of France?", "max_output_tokens": 100,
                **({"stream": True} if stream else {})}
        result = oa.post("/responses", body=body, cast_to=Response, stream=stream,
                         stream_cls=Stream[ResponseStreamEvent] if stream else None)
        return [e.model_dump() for e in result] if stream else result.model_dump()

    off, on = off_then_on(run)
    assert on == off
    span = one_span_per_request(sdk, stub, untraced=1)
    a = span.attributes
    assert span.name == "chat gpt-4.1-mini" and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert a[sc.GEN_AI_RESPONSE_ID] == "resp_6840a1b2c3d4e5f60718293a4b5c6d7e"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1536 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 34
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("completed",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)


# --- exactly one span where a resource method of ours made the request ----------------------------------------
def test_create_still_one_span(sdk, stub, oa):
    """``create`` sends through the same client method: the resource method's span is the only one (its
    stream got include_usage, hidden from the caller: only the resource method does that)."""
    stub.openai_chat()
    stub.openai_chat_stream()
    stub.openai_chat()
    with openai_instrumented():
        oa.chat.completions.create(model=MODEL, messages=USER)
        chunks = list(oa.chat.completions.create(model=MODEL, messages=USER, stream=True))
        oa.with_options().chat.completions.with_raw_response.create(model=MODEL, messages=USER).parse()
    assert len(chunks) == 9 and stub.bodies[1]["stream_options"] == WITH_USAGE
    spans = calls(sdk)
    assert len(spans) == len(stub.bodies) == 3
    assert spans[1].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24


async def test_create_async_still_one_span(sdk, stub, aoa):
    stub.openai_chat_stream()
    stub.openai_embeddings()
    with openai_instrumented():
        stream = await aoa.chat.completions.create(model=MODEL, messages=USER, stream=True)
        chunks = [c async for c in stream]
        await aoa.embeddings.create(model=EMBEDDING_MODEL, input="hello")
    assert len(chunks) == 9
    spans = calls(sdk)
    assert len(spans) == len(stub.bodies) == 2
    assert spans[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24  # the resource method's include_usage


def test_method_bound_before_instrumenting(sdk, stub):
    """instructor's way: ``create`` kept from a client made before ``init()`` (its resource bound the client's
    methods then); the request is still traced, once."""
    client = openai.OpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)
    create = client.chat.completions.create
    raw_create = client.chat.completions.with_raw_response.create
    stub.openai_chat()
    stub.openai_chat()
    with openai_instrumented():
        create(model=MODEL, messages=USER, temperature=0.2)
        raw_create(model=MODEL, messages=USER, temperature=0.2).parse()
    spans = calls(sdk)
    assert len(spans) == len(stub.bodies) == 2
    for span in spans:
        assert_chat_json_span(span)


def test_feeds_the_users_llm_span(sdk, stub, oa):
    stub.openai_chat()
    with openai_instrumented():
        with agentkit.llm(provider="openai", model=MODEL):
            oa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion)
    span = one_span_per_request(sdk, stub)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == JSON_ID and span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24


# --- what is left alone ----------------------------------------------------------------------------------------
def test_other_paths_are_not_traced(sdk, stub, oa):
    stub.json("/v1/chat/completions/chatcmpl-1", "openai/chat_completion.json")  # updating a stored completion
    with openai_instrumented():
        oa.post("/chat/completions/chatcmpl-1", body={"metadata": {"k": "v"}}, cast_to=ChatCompletion)
    assert len(stub.bodies) == 1 and calls(sdk) == []


def test_suppressed(sdk, stub, oa):
    stub.openai_chat()
    stub.openai_chat()
    with openai_instrumented():
        with suppress_instrumentation():
            oa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion)
        assert calls(sdk) == []
        oa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion)  # the same, not suppressed
    assert len(calls(sdk)) == 1


def test_error_reaches_the_caller_and_ends_the_span(sdk, stub, oa):
    stub.openai_chat("openai/error_429.json", status=429)
    with openai_instrumented():
        with pytest.raises(openai.RateLimitError) as info:
            oa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion)
    span = one_span_per_request(sdk, stub)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "openai.RateLimitError"
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 429
    assert info.value.status_code == 429 and diagnostics.error_counts() == {}


def test_uninstrument_restores_the_client_methods(sdk, stub, oa):
    before = SyncAPIClient.__dict__["request"], AsyncAPIClient.__dict__["request"]
    with openai_instrumented():
        assert SyncAPIClient.__dict__["request"] is not before[0]
        assert AsyncAPIClient.__dict__["request"] is not before[1]
    assert (SyncAPIClient.__dict__["request"], AsyncAPIClient.__dict__["request"]) == before
    stub.openai_chat()
    oa.post("/chat/completions", body=chat_body(), cast_to=ChatCompletion)
    assert calls(sdk) == []
