"""The google-genai instrumentor through the real ``google-genai`` client against the local stub server (the
Gemini API's and Vertex AI's JSON bodies and SSE streams, camelCase as the services send them): generate_content,
generate_content_stream and embed_content, sync and async, success and HTTP failures, stream lifetimes,
automatic function calling, a user's llm span, exact uninstrumentation and an unsupported version. Nothing of
the client library is mocked."""

from __future__ import annotations

import gc
import json
import logging
from typing import Any, Callable, Iterator

import pytest
import wrapt
from google import genai
from google.genai import errors, types
from google.genai.models import AsyncModels, Models
from opentelemetry.trace import SpanKind, StatusCode
from werkzeug import Request, Response

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.auto.google_genai import GoogleGenAIInstrumentor, finish_reason

MODEL = "gemini-2.5-flash"
SPAN = f"generate_content {MODEL}"
API = "/v1beta"  # the Gemini API version the client is pinned to (the default moved from v1beta to v1 in 3.x)
GENERATE = f"{API}/models/{MODEL}:generateContent"
STREAM = f"{API}/models/{MODEL}:streamGenerateContent"
EMBED_MODEL = "gemini-embedding-001"
EMBED = f"{API}/models/{EMBED_MODEL}:batchEmbedContents"
VERTEX = "/v1beta1/publishers/google/models"

# --- the services' payloads ------------------------------------------------------------------------------------------
ANSWER = {
    "candidates": [{"content": {"parts": [{"text": "The capital of France is Paris."}], "role": "model"},
                    "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 7, "totalTokenCount": 44,
                      "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}], "thoughtsTokenCount": 28},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "e3UtaZ-yDIuVvdIPqN6J0Qg",
}
# A function call, with cached content in the prompt (promptTokenCount includes it).
TOOL_CALL = {
    "candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                           "thoughtSignature": "CiQB0e2Kb7xJ0c1Yq1mZ0yE4W4z0nq7Ry3rE8Kc="}],
                                "role": "model"},
                    "finishReason": "STOP", "index": 0, "finishMessage": "Model generated function call(s)."}],
    "usageMetadata": {"promptTokenCount": 2312, "candidatesTokenCount": 15, "totalTokenCount": 2391,
                      "cachedContentTokenCount": 2048, "thoughtsTokenCount": 64,
                      "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2312}],
                      "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2048}]},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "j3UtaeWVNsGxvdIP6-2HqAU",
}
WEATHER = {
    "candidates": [{"content": {"parts": [{"text": "It is 18°C and sunny in Paris."}], "role": "model"},
                    "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 2360, "candidatesTokenCount": 12, "totalTokenCount": 2372,
                      "cachedContentTokenCount": 2048},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "k3UtaeWVNsGxvdIP6-2HqAV",
}
TRUNCATED = {  # two candidates, one cut at max_output_tokens
    "candidates": [{"content": {"parts": [{"text": "Paris is"}], "role": "model"}, "finishReason": "MAX_TOKENS",
                    "index": 0},
                   {"content": {"parts": [{"text": "Paris."}], "role": "model"}, "finishReason": "STOP",
                    "index": 1}],
    "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 6, "totalTokenCount": 15},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "m3UtaZ-yDIuVvdIPqN6J0Qh",
}
# streamGenerateContent?alt=sse: every chunk has the usage so far; the last one the finish reason.
STREAM_CHUNKS = [
    {"candidates": [{"content": {"parts": [{"text": "The capital"}], "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9,
                       "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]},
     "modelVersion": "gemini-2.5-flash", "responseId": "q3YtaaKcBPKwvdIPw5ajqQo"},
    {"candidates": [{"content": {"parts": [{"text": " of France is"}], "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9,
                       "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]},
     "modelVersion": "gemini-2.5-flash", "responseId": "q3YtaaKcBPKwvdIPw5ajqQo"},
    {"candidates": [{"content": {"parts": [{"text": " Paris."}], "role": "model"}, "finishReason": "STOP",
                     "index": 0}],
     "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 7, "totalTokenCount": 40,
                       "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}], "thoughtsTokenCount": 24},
     "modelVersion": "gemini-2.5-flash", "responseId": "q3YtaaKcBPKwvdIPw5ajqQo"},
]
EMBEDDINGS = {"embeddings": [{"values": [0.0123, -0.0456, 0.0789, 0.0012]},
                             {"values": [-0.0213, 0.0342, 0.0567, -0.0098]}],
              "usageMetadata": {"promptTokenCount": 11, "totalTokenCount": 11}}
# Vertex AI :predict of a text-embedding model: token counts per vector.
VERTEX_EMBEDDINGS = {"predictions": [
    {"embeddings": {"statistics": {"truncated": False, "token_count": 4}, "values": [0.01, 0.02, 0.03]}},
    {"embeddings": {"statistics": {"truncated": False, "token_count": 6}, "values": [0.04, 0.05, 0.06]}}],
    "metadata": {"billableCharacterCount": 31}}
ERROR_429 = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                       "status": "RESOURCE_EXHAUSTED"}}
ERROR_400 = {"error": {"code": 400, "message": "Unable to submit request because it has an empty text parameter.",
                       "status": "INVALID_ARGUMENT"}}
ERROR_500 = {"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in "
                                               "https://developers.generativeai.google/guide/troubleshooting",
                       "status": "INTERNAL"}}
ERROR_404 = {"error": {"code": 404, "message": "models/gemini-embedding-000 is not found for API version v1.",
                       "status": "NOT_FOUND"}}


def _json(stub, path: str, body: dict[str, Any], status: int = 200) -> None:
    data = json.dumps(body).encode()

    def handler(request: Request) -> Response:
        stub._record(request)
        return Response(data, status=status, content_type="application/json; charset=UTF-8")

    stub.handler(path, handler)


def _sse(stub, path: str, chunks: list[dict[str, Any]]) -> None:
    """The stream as the service sends it: ``data: {...}`` events separated by CRLF pairs, one per HTTP chunk."""
    events = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\r\n\r\n" for c in chunks]

    def handler(request: Request) -> Response:
        stub._record(request)
        assert request.args.get("alt") == "sse"
        return Response(iter(events), content_type="text/event-stream")

    stub.handler(path, handler)


# --- fixtures ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def gg_instrumented() -> Iterator[GoogleGenAIInstrumentor]:
    inst = GoogleGenAIInstrumentor()
    inst.instrument()
    assert inst._patches, "google-genai was not instrumented"
    try:
        yield inst
    finally:
        inst.uninstrument()


def _client(stub, vertex: bool = False) -> genai.Client:
    options = types.HttpOptions(base_url=stub.url()) if vertex else \
        types.HttpOptions(base_url=stub.url(), api_version=API.strip("/"))
    return genai.Client(api_key="test", vertexai=vertex, http_options=options)


@pytest.fixture
def gc_(stub) -> genai.Client:
    return _client(stub)


USER = "What is the capital of France?"
CONFIG = types.GenerateContentConfig(temperature=0.2, top_p=0.95, top_k=40, max_output_tokens=256,
                                     stop_sequences=["END"], seed=7, candidate_count=1)


def _attrs(sdk, name: str = SPAN) -> dict[str, Any]:
    return dict(sdk.span(name).attributes)


# --- generate_content -------------------------------------------------------------------------------------------------
def test_generate_content(sdk, stub, gg_instrumented, gc_):
    _json(stub, GENERATE, ANSWER)
    response = gc_.models.generate_content(model=MODEL, contents=USER, config=CONFIG)
    assert response.text == "The capital of France is Paris."
    span = sdk.span(SPAN)
    a = span.attributes
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_OPERATION_NAME] == "generate_content" and a[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == stub.server.port
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and a[sc.GEN_AI_REQUEST_TOP_P] == 0.95
    assert a[sc.GEN_AI_REQUEST_TOP_K] == 40 and type(a[sc.GEN_AI_REQUEST_TOP_K]) is int
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256 and a[sc.GEN_AI_REQUEST_SEED] == 7
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert sc.GEN_AI_REQUEST_CHOICE_COUNT not in a  # candidate_count=1 is the default
    assert sc.GEN_AI_REQUEST_STREAM not in a
    assert a[sc.GEN_AI_RESPONSE_ID] == "e3UtaZ-yDIuVvdIPqN6J0Qg" and a[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7 + 28  # thinking is output (and billed as output)
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 28
    assert sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in a
    assert a[sc.AGENTKIT_COST_USD] == pytest.approx((9 * 0.3 + 35 * 2.5) / 1e6)  # the bundled 2.5 Flash prices
    assert sc.GEN_AI_INPUT_MESSAGES not in a and sc.GEN_AI_OUTPUT_MESSAGES not in a  # content is opt-in
    sent = stub.bodies[0]
    assert sent["contents"] == [{"parts": [{"text": USER}], "role": "user"}]
    assert sent["generationConfig"]["temperature"] == 0.2 and sent["generationConfig"]["topK"] == 40
    durations = sdk.points(sc.METRIC_INFERENCE_DURATION)
    assert durations[0].attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"


def test_tool_call_with_cached_content_and_content_capture(make_sdk, stub, gg_instrumented, gc_):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    _json(stub, GENERATE, TOOL_CALL)
    weather = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather in a city",
        parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}))])
    config = types.GenerateContentConfig(system_instruction="You are a weather bot.", tools=[weather],
                                         cached_content="cachedContents/4d2kd477o3pg", candidate_count=1)
    response = gc_.models.generate_content(model=f"models/{MODEL}", contents=[USER], config=config)
    assert response.function_calls[0].args == {"city": "Paris"}
    a = _attrs(sdk)
    assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL  # "models/ID" names the same model
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2312  # promptTokenCount already counts the cached content
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15 + 64
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)  # STOP with a function call
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert a[sc.AGENTKIT_COST_USD] == pytest.approx(((2312 - 2048) * 0.3 + 2048 * 0.03 + 79 * 2.5) / 1e6)
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [{"role": "user", "parts": [{"type": "text", "content": USER}]}]
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "You are a weather bot."}]
    tools = json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])
    assert tools[0]["name"] == "get_weather" and tools[0]["parameters"]["properties"] == {"city": {"type": "STRING"}}
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out == [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "tool_call", "id": None, "name": "get_weather", "arguments": {"city": "Paris"}}]}]


def test_two_candidates_and_finish_reasons(sdk, stub, gg_instrumented, gc_):
    _json(stub, GENERATE, TRUNCATED)
    gc_.models.generate_content(model=MODEL, contents=USER, config={"candidate_count": 2, "max_output_tokens": 3,
                                                                    "response_mime_type": "application/json"})
    a = _attrs(sdk)
    assert a[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2 and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 3
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("length", "stop")
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 6 and sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in a


def test_finish_reason_mapping():
    assert [finish_reason(types.FinishReason(n)) for n in ("STOP", "MAX_TOKENS", "SAFETY", "RECITATION",
                                                           "MALFORMED_FUNCTION_CALL", "LANGUAGE", "OTHER")] == \
        ["stop", "length", "content_filter", "content_filter", "error", "language", "other"]
    assert finish_reason(types.FinishReason.STOP, tool_call=True) == "tool_call"
    assert finish_reason(types.FinishReason.FINISH_REASON_UNSPECIFIED) is None
    assert finish_reason("SOMETHING_NEW") == "something_new" and finish_reason(None) is None


# --- generate_content_stream -----------------------------------------------------------------------------------------
def test_stream(make_sdk, stub, gg_instrumented, gc_):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    _sse(stub, STREAM, STREAM_CHUNKS)
    stream = gc_.models.generate_content_stream(model=MODEL, contents=USER, config={"temperature": 0.5})
    assert sdk.spans() == []  # open while the stream is
    text = "".join(chunk.text for chunk in stream)
    assert text == "The capital of France is Paris."
    a = _attrs(sdk)
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 3 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7 + 24  # the last chunk's
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 24
    assert a[sc.GEN_AI_RESPONSE_ID] == "q3YtaaKcBPKwvdIPw5ajqQo" and a[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.AGENTKIT_COST_USD] > 0
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [{"role": "assistant", "finish_reason": "stop", "parts": [
        {"type": "text", "content": "The capital of France is Paris."}]}]
    ttfc = sdk.points(sc.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc and ttfc[0].count == 1


def test_stream_left_early_ends_the_span_once(sdk, stub, gg_instrumented, gc_):
    _sse(stub, STREAM, STREAM_CHUNKS)
    stream = gc_.models.generate_content_stream(model=MODEL, contents=USER)
    for chunk in stream:
        break
    spans = sdk.spans()
    assert [s.name for s in spans] == [SPAN]
    a = spans[0].attributes
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 1 and a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9  # what was read
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in a
    stream.close()
    del stream
    gc.collect()
    assert len(sdk.spans()) == 1


def test_stream_closed_unread_or_dropped(sdk, stub, gg_instrumented, gc_):
    closed = gc_.models.generate_content_stream(model=MODEL, contents=USER)
    closed.close()  # nothing was sent: the generator never ran
    assert len(sdk.spans()) == 1 and sc.AGENTKIT_STREAM_CHUNKS not in sdk.spans()[0].attributes
    _sse(stub, STREAM, STREAM_CHUNKS)
    dropped = gc_.models.generate_content_stream(model=MODEL, contents=USER)
    next(dropped)
    del dropped
    gc.collect()
    spans = sdk.spans()
    assert len(spans) == 2 and spans[1].attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1


# --- embed_content ----------------------------------------------------------------------------------------------------
def test_embed_content(sdk, stub, gg_instrumented, gc_):
    _json(stub, EMBED, EMBEDDINGS)
    result = gc_.models.embed_content(model=EMBED_MODEL, contents=["Paris", "France"],
                                      config={"output_dimensionality": 4})
    assert len(result.embeddings) == 2
    span = sdk.span(f"embeddings {EMBED_MODEL}")
    a = span.attributes
    assert span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_OPERATION_NAME] == "embeddings" and a[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
    if "usage_metadata" in types.EmbedContentResponse.model_fields:  # 3.x clients read it (2.x drop it)
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 11
        assert a[sc.AGENTKIT_COST_USD] == pytest.approx(11 * 0.15 / 1e6)
    else:
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a and sc.AGENTKIT_COST_USD not in a
    assert [p.attributes[sc.GEN_AI_OPERATION_NAME] for p in sdk.points(sc.METRIC_EMBEDDINGS_DURATION)] == \
        ["embeddings"]


# --- async ------------------------------------------------------------------------------------------------------------
async def test_async_generate_stream_and_embed(sdk, stub, gg_instrumented, gc_):
    _json(stub, GENERATE, ANSWER)
    _sse(stub, STREAM, STREAM_CHUNKS)
    _json(stub, EMBED, EMBEDDINGS)
    response = await gc_.aio.models.generate_content(model=MODEL, contents=USER, config=CONFIG)
    assert response.text.endswith("Paris.")
    stream = await gc_.aio.models.generate_content_stream(model=MODEL, contents=USER)
    assert len([chunk async for chunk in stream]) == 3
    await gc_.aio.models.embed_content(model=EMBED_MODEL, contents=["Paris", "France"])
    plain, streamed, embedded = sdk.spans()
    assert (plain.name, streamed.name, embedded.name) == (SPAN, SPAN, f"embeddings {EMBED_MODEL}")
    assert plain.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 35 and plain.attributes[sc.GEN_AI_REQUEST_TOP_K] == 40
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert streamed.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 3
    assert streamed.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 31
    assert streamed.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert embedded.attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS) == (
        11 if "usage_metadata" in types.EmbedContentResponse.model_fields else None)


async def test_async_stream_left_early(sdk, stub, gg_instrumented, gc_):
    _sse(stub, STREAM, STREAM_CHUNKS)
    stream = await gc_.aio.models.generate_content_stream(model=MODEL, contents=USER)
    async for _ in stream:
        break
    spans = sdk.spans()
    assert len(spans) == 1 and spans[0].attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1
    await stream.aclose()
    assert len(sdk.spans()) == 1


# --- Vertex AI --------------------------------------------------------------------------------------------------------
async def test_vertex_client(sdk, stub, gg_instrumented):
    client = _client(stub, vertex=True)
    _json(stub, f"{VERTEX}/{MODEL}:generateContent", ANSWER)
    _sse(stub, f"{VERTEX}/{MODEL}:streamGenerateContent", STREAM_CHUNKS)
    _json(stub, f"{VERTEX}/text-embedding-005:predict", VERTEX_EMBEDDINGS)
    client.models.generate_content(model=MODEL, contents=USER)
    assert len([c async for c in await client.aio.models.generate_content_stream(model=MODEL, contents=USER)]) == 3
    client.models.embed_content(model="text-embedding-005", contents=["Paris", "France, a country"])
    plain, streamed, embedded = sdk.spans()
    assert {s.attributes[sc.GEN_AI_PROVIDER_NAME] for s in (plain, streamed, embedded)} == {"gcp.vertex_ai"}
    assert plain.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9 and streamed.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 3
    assert embedded.name == "embeddings text-embedding-005"
    assert embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 4 + 6  # the vectors' token counts
    assert embedded.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3


# --- failures ---------------------------------------------------------------------------------------------------------
def _qualified(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _assert_failed(sdk, name: str, exc: BaseException, status: int) -> None:
    span = sdk.span(name)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(exc)
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == status
    assert [e.name for e in span.events] == ["exception"]
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_429_reaches_the_caller_unchanged(sdk, stub, gc_):
    _json(stub, GENERATE, ERROR_429, status=429)
    with pytest.raises(errors.ClientError) as bare:
        gc_.models.generate_content(model=MODEL, contents=USER)
    inst = GoogleGenAIInstrumentor()
    inst.instrument()
    try:
        _json(stub, GENERATE, ERROR_429, status=429)
        with pytest.raises(errors.ClientError) as traced:
            gc_.models.generate_content(model=MODEL, contents=USER)
    finally:
        inst.uninstrument()
    assert (type(traced.value), str(traced.value), traced.value.code, traced.value.status) == \
        (type(bare.value), str(bare.value), bare.value.code, bare.value.status)
    assert not hasattr(traced.value, "status_code")  # the exception is the client's, untouched
    _assert_failed(sdk, SPAN, traced.value, 429)
    assert _qualified(traced.value) == "google.genai.errors.ClientError"
    inputs = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert [(p.sum, p.attributes[sc.ERROR_TYPE]) for p in inputs] == [(0, "google.genai.errors.ClientError")]


def test_stream_400_fails_when_read(sdk, stub, gg_instrumented, gc_):
    _json(stub, STREAM, ERROR_400, status=400)
    stream = gc_.models.generate_content_stream(model=MODEL, contents=USER)
    with pytest.raises(errors.ClientError) as info:
        next(stream)
    _assert_failed(sdk, SPAN, info.value, 400)


async def test_async_500_and_stream_500(sdk, stub, gg_instrumented, gc_):
    _json(stub, GENERATE, ERROR_500, status=500)
    _json(stub, STREAM, ERROR_500, status=500)
    with pytest.raises(errors.ServerError) as plain:
        await gc_.aio.models.generate_content(model=MODEL, contents=USER)
    stream = await gc_.aio.models.generate_content_stream(model=MODEL, contents=USER)
    with pytest.raises(errors.ServerError) as streamed:
        async for _ in stream:
            pass
    first, second = sdk.spans()
    for span, exc in ((first, plain.value), (second, streamed.value)):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == "google.genai.errors.ServerError"
        assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 500 and exc.code == 500


async def test_embed_404_sync_and_async(sdk, stub, gg_instrumented, gc_):
    _json(stub, f"{API}/models/gemini-embedding-000:batchEmbedContents", ERROR_404, status=404)
    _json(stub, f"{API}/models/gemini-embedding-000:batchEmbedContents", ERROR_404, status=404)
    with pytest.raises(errors.ClientError):
        gc_.models.embed_content(model="gemini-embedding-000", contents=["Paris"])
    with pytest.raises(errors.ClientError):
        await gc_.aio.models.embed_content(model="gemini-embedding-000", contents=["Paris"])
    spans = sdk.spans()
    assert [s.name for s in spans] == ["embeddings gemini-embedding-000"] * 2
    assert all(s.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 404 for s in spans)
    assert all(s.attributes[sc.ERROR_TYPE] == "google.genai.errors.ClientError" for s in spans)


# --- automatic function calling: one span, the usage of every model request -------------------------------------------
def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"18°C and sunny in {city}"


def test_automatic_function_calling_sums_its_requests(sdk, stub, gg_instrumented, gc_):
    _json(stub, GENERATE, TOOL_CALL)
    _json(stub, GENERATE, WEATHER)
    response = gc_.models.generate_content(model=MODEL, contents=USER,
                                           config=types.GenerateContentConfig(tools=[get_weather]))
    assert response.text == "It is 18°C and sunny in Paris."
    assert stub.bodies[1]["contents"][-1]["parts"][0]["functionResponse"]["name"] == "get_weather"
    a = _attrs(sdk)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2312 + 2360 and a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4096
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15 + 64 + 12 and a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 64
    assert a[sc.GEN_AI_RESPONSE_ID] == "k3UtaeWVNsGxvdIP6-2HqAV"  # the final response
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


async def test_automatic_function_calling_async_and_streamed(sdk, stub, gg_instrumented, gc_):
    _json(stub, GENERATE, TOOL_CALL)
    _json(stub, GENERATE, WEATHER)
    _sse(stub, STREAM, [TOOL_CALL])
    _sse(stub, STREAM, STREAM_CHUNKS)
    config = types.GenerateContentConfig(tools=[get_weather])
    await gc_.aio.models.generate_content(model=MODEL, contents=USER, config=config)
    stream = await gc_.aio.models.generate_content_stream(model=MODEL, contents=USER, config=config)
    assert len([c async for c in stream]) == 4
    plain, streamed = sdk.spans()
    assert plain.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2312 + 2360
    assert streamed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2312 + 9  # each response's last usage, summed
    assert streamed.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 79 + 31
    assert tuple(streamed.attributes[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert tuple(streamed.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


# --- no second span ---------------------------------------------------------------------------------------------------
def test_feeds_a_users_llm_block(sdk, stub, gg_instrumented, gc_):
    _sse(stub, STREAM, STREAM_CHUNKS)
    _json(stub, GENERATE, ANSWER)
    with agentkit.llm() as call:  # provider and model come from the call
        chunks = list(gc_.models.generate_content_stream(model=MODEL, contents=USER))
        assert call.span.is_recording()
    assert len(chunks) == 3
    with agentkit.llm(provider="gcp.gemini", model=MODEL, temperature=0.9):
        gc_.models.generate_content(model=MODEL, contents=USER, config={"temperature": 0.1})
    first, second = sdk.spans()  # the user's spans, of the user's operation (llm's default: chat)
    assert (first.name, second.name) == ("chat", f"chat {MODEL}")
    a = first.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat" and a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini" and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 31
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 3
    assert second.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.9  # the user's value wins
    assert second.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9


def test_chat_session_is_one_span_per_message(make_sdk, stub, gg_instrumented, gc_):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    _json(stub, GENERATE, ANSWER)
    _json(stub, GENERATE, WEATHER)
    chat = gc_.chats.create(model=MODEL)
    assert chat.send_message(USER).text.endswith("Paris.")
    chat.send_message("And the weather there?")
    first, second = sdk.spans()
    assert first.name == second.name == SPAN
    assert [m["role"] for m in json.loads(second.attributes[sc.GEN_AI_INPUT_MESSAGES])] == \
        ["user", "assistant", "user"]  # the history, the model's turn as the assistant's
    assert json.loads(second.attributes[sc.GEN_AI_INPUT_MESSAGES])[1]["parts"] == \
        [{"type": "text", "content": "The capital of France is Paris."}]


# --- instrument / uninstrument ----------------------------------------------------------------------------------------
_METHODS = [(cls, name) for cls in (Models, AsyncModels)
            for name in ("generate_content", "generate_content_stream", "embed_content", "_generate_content")]


def test_uninstrument_restores_the_exact_originals(sdk, stub, gc_):
    before = {(owner, name): owner.__dict__[name] for owner, name in _METHODS}
    inst = GoogleGenAIInstrumentor()
    inst.instrument()
    try:
        assert all(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in _METHODS)
    finally:
        inst.uninstrument()
    assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in _METHODS)
    _json(stub, GENERATE, ANSWER)
    gc_.models.generate_content(model=MODEL, contents=USER)
    assert sdk.spans() == []


class _FutureOnly(GoogleGenAIInstrumentor):
    """The same instrumentor, declaring support only for versions that do not exist (nothing is mocked)."""

    _instance = None
    requirement = "google-genai >= 99"


def test_unsupported_version_warns_once_and_patches_nothing(sdk, caplog):
    before = {(owner, name): owner.__dict__[name] for owner, name in _METHODS}
    inst = _FutureOnly()
    with caplog.at_level(logging.WARNING, logger="otel_agentkit.auto"):
        inst.instrument()
    try:
        assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in _METHODS)
        warnings = [r for r in caplog.records if r.name == "otel_agentkit.auto"]
        assert len(warnings) == 1
        assert f"google-genai {genai.__version__} is not supported" in warnings[0].getMessage()
        assert "google-genai >= 99" in warnings[0].getMessage()
    finally:
        inst.uninstrument()


def test_sdk_off_calls_straight_through(stub, gc_, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    inst = GoogleGenAIInstrumentor()
    inst.instrument()
    try:
        assert not agentkit.is_active()
        _json(stub, GENERATE, ANSWER)
        assert gc_.models.generate_content(model=MODEL, contents=USER).usage_metadata.prompt_token_count == 9
    finally:
        inst.uninstrument()


def test_the_entry_point_target_is_one_instrumentor_with_its_requirement():
    """What the opentelemetry_instrumentor entry point (agentkit_google_genai) is to name."""
    module, _, name = "otel_agentkit.auto.google_genai:GoogleGenAIInstrumentor".partition(":")
    import importlib

    cls: Callable[[], Any] = getattr(importlib.import_module(module), name)
    assert cls() is GoogleGenAIInstrumentor()  # one instance per class, as BaseInstrumentor keeps it
    assert tuple(cls().instrumentation_dependencies()) == ("google-genai >= 1.0, < 4",)
