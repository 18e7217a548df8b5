"""Every public way the openai client makes a model request, raw responses included: ``with_raw_response``
(LangChain's ChatOpenAI with ``include_response_headers=True`` and LiteLLM call this way: ``create`` then
``raw.parse()``) and ``with_streaming_response`` (sync and async, streamed or not), the Responses API and
embeddings. The real client against the local stub; for each: one inference span per HTTP request (counted at
the stub), the id, model, usage and finish reasons right, and the caller sees exactly what it sees with the
instrumentor off (the same chunks, lines and request body: nothing injected where it cannot be hidden).
"""

from __future__ import annotations

import gc
from typing import Any, Callable

import pydantic
import pytest
from opentelemetry.trace import SpanKind

import otel_agentkit as agentkit
from otel_agentkit import auto, diagnostics, semconv as sc
from tests.auto.conftest import USER

MODEL = "gpt-4o-mini"
CHAT_ID = "chatcmpl-BdhS7uQ2k9Xc3VnR1mT8yL0pW5aZe"  # the stream fixtures' id
JSON_ID = "chatcmpl-BdhN3tE5sNJ6V1dQeQxg3lm6kU0bQ"  # chat_completion.json's
SERVED_MODEL = "gpt-4o-mini-2024-07-18"
RESPONSES_MODEL = "gpt-4.1-mini"
RESPONSE_ID = "resp_6840a1b2c3d4e5f60718293a4b5c6d7e"
WITH_USAGE = {"include_usage": True}


class Capital(pydantic.BaseModel):
    city: str


def inference(sdk) -> list[Any]:
    return [s for s in sdk.spans() if s.kind is SpanKind.CLIENT and sc.GEN_AI_OPERATION_NAME in s.attributes]


def one_span_per_request(sdk, stub, untraced: int = 0) -> Any:
    """Exactly one inference span for each request the stub received while instrumented (``untraced``
    requests were made with the instrumentor off); the last one."""
    spans = inference(sdk)
    requests = len(stub.bodies) - untraced
    assert len(spans) == requests, f"{requests} request(s), spans {[s.name for s in spans]}"
    assert len(sdk.points(sc.METRIC_INFERENCE_DURATION)) == 1  # one series ...
    assert sdk.points(sc.METRIC_INFERENCE_DURATION)[0].count == requests  # ... one point per request
    return spans[-1]


def off_then_on(run: Callable[[], Any]) -> tuple[Any, Any]:
    """``run()`` with the instrumentor off, then on: what the caller saw each time. ``run`` makes its
    client (``with_options()``): a client keeps the methods its ``with_raw_response`` first saw."""
    off = run()
    assert auto.instrument("openai")
    try:
        on = run()
    finally:
        auto.uninstrument("openai")
    return off, on


async def off_then_on_async(run: Callable[[], Any]) -> tuple[Any, Any]:
    off = await run()
    assert auto.instrument("openai")
    try:
        on = await run()
    finally:
        auto.uninstrument("openai")
    return off, on


def dumped(items) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def assert_chat_stream_span(span, usage: bool, chunks: int) -> None:
    a = span.attributes
    assert span.name == f"chat {MODEL}"
    assert a[sc.GEN_AI_RESPONSE_ID] == CHAT_ID and a[sc.GEN_AI_RESPONSE_MODEL] == SERVED_MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == chunks
    if usage:
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
        assert a[sc.AGENTKIT_COST_USD] > 0
    else:  # nobody asked for usage, and nothing was added to a request whose bytes the caller may read
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a


def assert_chat_json_span(span) -> None:
    a = span.attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == JSON_ID and a[sc.GEN_AI_RESPONSE_MODEL] == SERVED_MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[sc.AGENTKIT_COST_USD] > 0


# --- with_raw_response, streamed (LangChain include_response_headers, LiteLLM) -----------------------------------
@pytest.mark.parametrize("options", [None, WITH_USAGE], ids=["no-usage-asked", "usage-asked"])
@pytest.mark.parametrize("form", ["for", "with"])
def test_raw_stream_parse(sdk, stub, oa, options, form):
    extra = {"stream_options": options} if options else {}

    def run():
        stub.openai_chat_stream()
        raw = oa.with_options().chat.completions.with_raw_response.create(model=MODEL, messages=USER, stream=True,
                                                                          **extra)
        assert raw.headers["x-request-id"]
        stream = raw.parse()
        assert raw.parse() is stream  # the same stream each time, as the client gives
        if form == "with":  # LangChain: ``with raw.parse() as response: for chunk in response``
            with stream as s:
                return dumped(s)
        return dumped(stream)

    off, on = off_then_on(run)
    assert on == off and len(on) == (10 if options else 9)
    assert stub.bodies[0] == stub.bodies[1]  # the request went out as the caller made it
    span = one_span_per_request(sdk, stub, untraced=1)
    assert_chat_stream_span(span, usage=bool(options), chunks=9)


async def test_raw_stream_async(sdk, stub, aoa):
    async def run():
        stub.openai_chat_stream()
        raw = await aoa.with_options().chat.completions.with_raw_response.create(
            model=MODEL, messages=USER, stream=True, stream_options=WITH_USAGE)
        return [c.model_dump() async for c in raw.parse()]  # a sync parse() giving an AsyncStream

    off, on = await off_then_on_async(run)
    assert on == off and len(on) == 10
    assert stub.bodies[0] == stub.bodies[1]
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=True, chunks=9)


def test_raw_stream_left_early_ends_once(sdk, stub, oa):
    stub.openai_chat_stream()
    with auto_on():
        raw = oa.chat.completions.with_raw_response.create(model=MODEL, messages=USER, stream=True)
        stream = raw.parse()
        for i, _ in enumerate(stream):
            if i == 1:
                break
        span = one_span_per_request(sdk, stub)  # the loop was left: the span ended
        del raw, stream, _
        gc.collect()
    assert inference(sdk) == [span]  # and only once
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == CHAT_ID
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 2
    assert diagnostics.error_counts() == {}


def test_raw_stream_bytes_read_directly(sdk, stub, oa):
    """The caller reads the raw bytes: exactly what it reads without the instrumentor (no usage chunk
    injected); the span ends when the response is dropped."""
    def run():
        stub.openai_chat_stream()
        raw = oa.with_options().chat.completions.with_raw_response.create(model=MODEL, messages=USER, stream=True)
        lines = list(raw.http_response.iter_lines())
        del raw
        gc.collect()
        return lines

    off, on = off_then_on(run)
    assert on == off and sum(line.startswith("data: ") for line in on) == 10  # 9 chunks and [DONE]
    assert "stream_options" not in stub.bodies[1]
    span = one_span_per_request(sdk, stub, untraced=1)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True


def test_raw_stream_never_read_ends_once_when_dropped(sdk, stub, oa):
    stub.openai_chat_stream()
    with auto_on():
        raw = oa.chat.completions.with_raw_response.create(model=MODEL, messages=USER, stream=True)
        assert inference(sdk) == []
        raw.http_response.close()
        del raw
        gc.collect()
    one_span_per_request(sdk, stub)


def test_raw_stream_feeds_the_users_llm_span(sdk, stub, oa):
    stub.openai_chat_stream()
    with auto_on():
        with agentkit.llm(provider="openai", model=MODEL):
            raw = oa.chat.completions.with_raw_response.create(model=MODEL, messages=USER, stream=True,
                                                               stream_options=WITH_USAGE)
            chunks = list(raw.parse())
    assert len(chunks) == 10
    span = one_span_per_request(sdk, stub)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and span.attributes[sc.GEN_AI_RESPONSE_ID] == CHAT_ID


# --- with_raw_response, not streamed ------------------------------------------------------------------------------
def test_raw_parse_structured_output(sdk, stub, oa):
    from tests.auto.test_openai_chat import _json_reply

    stub.handler("/v1/chat/completions", lambda r: (stub._record(r), _json_reply('{"city":"Paris"}')(r))[1])
    with auto_on():
        raw = oa.chat.completions.with_raw_response.parse(model=MODEL, messages=USER, response_format=Capital)
        assert inference(sdk)  # the body was already read: the span ended at return
        assert raw.parse().choices[0].message.parsed == Capital(city="Paris")
    span = one_span_per_request(sdk, stub)
    assert span.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8


async def test_raw_async_not_streamed(sdk, stub, aoa):
    stub.openai_chat()
    with auto_on():
        raw = await aoa.chat.completions.with_raw_response.create(model=MODEL, messages=USER)
        assert raw.parse().choices[0].message.content == "The capital of France is Paris."
    assert_chat_json_span(one_span_per_request(sdk, stub))


# --- with_streaming_response --------------------------------------------------------------------------------------
READERS = {
    "parse": lambda r: r.parse().choices[0].message.content,
    "json": lambda r: r.json()["choices"][0]["message"]["content"],
    "text": lambda r: r.text().count("Paris"),
    "read": lambda r: len(r.read()),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_streaming_response_not_streamed(sdk, stub, oa, reader):
    def run():
        stub.openai_chat()
        with oa.with_options().chat.completions.with_streaming_response.create(model=MODEL, messages=USER) as response:
            return READERS[reader](response)

    off, on = off_then_on(run)
    assert on == off
    assert_chat_json_span(one_span_per_request(sdk, stub, untraced=1))


def test_streaming_response_not_streamed_bytes(sdk, stub, oa):
    """Bytes read straight from ``http_response``: the span ends when the block does."""
    stub.openai_chat()
    with auto_on():
        with oa.chat.completions.with_streaming_response.create(model=MODEL, messages=USER) as response:
            body = b"".join(response.iter_bytes())
            assert inference(sdk) == []
        assert b"Paris" in body
    one_span_per_request(sdk, stub)


@pytest.mark.parametrize("options", [None, WITH_USAGE], ids=["no-usage-asked", "usage-asked"])
def test_streaming_response_streamed(sdk, stub, oa, options):
    extra = {"stream_options": options} if options else {}

    def run():
        stub.openai_chat_stream()
        with oa.with_options().chat.completions.with_streaming_response.create(model=MODEL, messages=USER,
                                                                               stream=True, **extra) as response:
            return dumped(response.parse())

    off, on = off_then_on(run)
    assert on == off and len(on) == (10 if options else 9)
    assert stub.bodies[0] == stub.bodies[1]
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=bool(options), chunks=9)


@pytest.mark.parametrize("options", [None, WITH_USAGE], ids=["no-usage-asked", "usage-asked"])
def test_streaming_response_streamed_lines(sdk, stub, oa, options):
    """The caller reads the SSE lines itself: the same lines as uninstrumented, and the span reads their
    events (usage when the caller asked for it)."""
    extra = {"stream_options": options} if options else {}

    def run():
        stub.openai_chat_stream()
        with oa.with_options().chat.completions.with_streaming_response.create(model=MODEL, messages=USER,
                                                                               stream=True, **extra) as response:
            return list(response.iter_lines())

    off, on = off_then_on(run)
    assert on == off and stub.bodies[0] == stub.bodies[1]
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=bool(options), chunks=9)


async def test_streaming_response_streamed_lines_async(sdk, stub, aoa):
    async def run():
        stub.openai_chat_stream()
        async with aoa.with_options().chat.completions.with_streaming_response.create(
                model=MODEL, messages=USER, stream=True, stream_options=WITH_USAGE) as response:
            return [line async for line in response.iter_lines()]

    off, on = await off_then_on_async(run)
    assert on == off
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=True, chunks=9)


def test_streaming_response_streamed_left_early(sdk, stub, oa):
    stub.openai_chat_stream()
    with auto_on():
        with oa.chat.completions.with_streaming_response.create(model=MODEL, messages=USER,
                                                                stream=True) as response:
            for chunk in response.parse():
                break
    span = one_span_per_request(sdk, stub)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == CHAT_ID and span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1


@pytest.mark.parametrize("reader", ["parse", "json", "read"])
async def test_streaming_response_async_not_streamed(sdk, stub, aoa, reader):
    async def run():
        stub.openai_chat()
        async with aoa.with_options().chat.completions.with_streaming_response.create(
                model=MODEL, messages=USER) as response:
            if reader == "parse":
                return (await response.parse()).choices[0].message.content
            if reader == "json":
                return (await response.json())["choices"][0]["message"]["content"]
            return len(await response.read())

    off, on = await off_then_on_async(run)
    assert on == off
    assert_chat_json_span(one_span_per_request(sdk, stub, untraced=1))


async def test_streaming_response_async_streamed(sdk, stub, aoa):
    async def run():
        stub.openai_chat_stream()
        async with aoa.with_options().chat.completions.with_streaming_response.create(
                model=MODEL, messages=USER, stream=True, stream_options=WITH_USAGE) as response:
            return [c.model_dump() async for c in await response.parse()]

    off, on = await off_then_on_async(run)
    assert on == off and len(on) == 10
    assert_chat_stream_span(one_span_per_request(sdk, stub, untraced=1), usage=True, chunks=9)


# --- the Responses API and embeddings ----------------------------------------------------------------------------
def assert_response_span(span) -> None:
    a = span.attributes
    assert span.name == f"chat {RESPONSES_MODEL}"
    assert a[sc.GEN_AI_RESPONSE_ID] == RESPONSE_ID
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1536 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 34
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("completed",)


def test_responses_raw_stream(sdk, stub, oa):
    """LangChain's Responses path: ``with_raw_response.responses.create(stream=True)``, then ``with parse()``."""
    def run():
        stub.sse("/v1/responses", "openai/response_stream.sse")
        raw = oa.with_options().with_raw_response.responses.create(model=RESPONSES_MODEL, input="Capital of France?",
                                                    stream=True)
        with raw.parse() as events:
            return dumped(events)

    off, on = off_then_on(run)
    assert on == off and on[-1]["type"] == "response.completed"
    assert_response_span(one_span_per_request(sdk, stub, untraced=1))


async def test_responses_streaming_response_async(sdk, stub, aoa):
    async def run():
        stub.json("/v1/responses", "openai/response.json")
        async with aoa.with_options().responses.with_streaming_response.create(
                model=RESPONSES_MODEL, input="Capital of France?") as response:
            return (await response.parse()).output_text

    off, on = await off_then_on_async(run)
    assert on == off == "Paris."
    assert_response_span(one_span_per_request(sdk, stub, untraced=1))


def test_beta_responses(sdk, stub, oa):
    stub.json("/v1/responses", "openai/response.json")
    with auto_on():
        assert oa.beta.responses.create(model=RESPONSES_MODEL, input="Capital of France?").id == RESPONSE_ID
    assert_response_span(one_span_per_request(sdk, stub))


@pytest.mark.parametrize("way", ["raw", "streaming"])
def test_embeddings_raw(sdk, stub, oa, way):
    stub.openai_embeddings()
    with auto_on():
        if way == "raw":
            vectors = oa.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hi").parse()
        else:
            with oa.embeddings.with_streaming_response.create(model="text-embedding-3-small",
                                                              input="hi") as response:
                vectors = response.parse()
    assert len(vectors.data[0].embedding) > 0
    spans = inference(sdk)
    assert len(spans) == len(stub.bodies) == 1
    assert spans[0].name == "embeddings text-embedding-3-small"
    assert spans[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0


# --- helpers ------------------------------------------------------------------------------------------------------
class auto_on:
    """The openai instrumentor on for a block."""

    def __enter__(self) -> None:
        assert auto.instrument("openai")

    def __exit__(self, *exc: Any) -> None:
        auto.uninstrument("openai")
