"""The OpenAI Responses API (create, stream=True, the .stream() helper) and embeddings, sync and async."""

from __future__ import annotations

import json

import openai
from opentelemetry.trace import SpanKind

from otel_agentkit import semconv as sc

MODEL = "gpt-4.1-mini"
SPAN = f"chat {MODEL}"
TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]


def _assert_response_span(a) -> None:
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_RESPONSE_ID] == "resp_6840a1b2c3d4e5f60718293a4b5c6d7e"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4.1-mini-2025-04-14"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1536 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 34
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 0
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("completed",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("call_Xy12Ab34Cd56Ef78Gh90Ij12",)
    assert a[sc.AGENTKIT_COST_USD] > 0


def test_responses_create(sdk, stub, instrumented, oa):
    stub.json("/v1/responses", "openai/response.json")
    out = oa.responses.create(model=MODEL, input="Capital of France?", instructions="You are terse.",
                              max_output_tokens=100, temperature=0.5, tools=TOOLS)
    assert out.output_text == "Paris."
    span = sdk.span(SPAN)
    assert span.kind is SpanKind.CLIENT
    _assert_response_span(span.attributes)
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.5


def test_responses_stream_and_content(make_sdk, stub, instrumented, oa):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.sse("/v1/responses", "openai/response_stream.sse")
    stream = oa.responses.create(model=MODEL, input=[{"role": "user", "content": "Capital of France?"}],
                                 instructions="You are terse.", stream=True)
    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Paris."
    a = sdk.span(SPAN).attributes
    _assert_response_span(a)
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.AGENTKIT_STREAM_CHUNKS] == 15  # every event
    assert "stream_options" not in stub.bodies[0]  # include_usage is a chat completions matter only
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "You are terse."}]
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert out[0] == {"type": "text", "content": "Paris."} and out[1]["name"] == "get_weather"


def test_responses_stream_helper(sdk, stub, instrumented, oa):
    stub.sse("/v1/responses", "openai/response_stream.sse")
    with oa.responses.stream(model=MODEL, input="Capital of France?") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Paris."
    assert len(sdk.spans()) == 1
    _assert_response_span(sdk.span(SPAN).attributes)


async def test_responses_async(sdk, stub, instrumented, aoa):
    stub.json("/v1/responses", "openai/response.json")
    stub.sse("/v1/responses", "openai/response_stream.sse")
    await aoa.responses.create(model=MODEL, input="Capital of France?")
    stream = await aoa.responses.create(model=MODEL, input="Capital of France?", stream=True)
    assert isinstance(stream, openai.AsyncStream)
    events = [e async for e in stream]
    assert events[-1].type == "response.completed"
    spans = sdk.spans()
    assert len(spans) == 2
    for span in spans:
        _assert_response_span(span.attributes)
    assert spans[1].attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_embeddings_default_base64_and_float(sdk, stub, instrumented, oa):
    stub.openai_embeddings()
    stub.openai_embeddings()
    default = oa.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])
    floats = oa.embeddings.create(model="text-embedding-3-small", input=["hello", "world"], encoding_format="float")
    assert stub.bodies[0]["encoding_format"] == "base64"  # what the client asks for by default
    assert len(default.data[0].embedding) == 8
    assert abs(default.data[1].embedding[0] - floats.data[1].embedding[0]) < 1e-6
    first, second = sdk.spans()
    for span in (first, second):
        a = span.attributes
        assert span.name == "embeddings text-embedding-3-small" and span.kind is SpanKind.CLIENT
        assert a[sc.GEN_AI_OPERATION_NAME] == "embeddings"
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9
        assert a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
        assert a[sc.GEN_AI_RESPONSE_MODEL] == "text-embedding-3-small"
        assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in a
    assert tuple(second.attributes[sc.GEN_AI_REQUEST_ENCODING_FORMATS]) == ("float",)
    # v0.1.0: embeddings go to their own metrics, not the inference ones
    assert sum(p.count for p in sdk.points(sc.METRIC_EMBEDDINGS_DURATION)) == 2
    assert [p.sum for p in sdk.points(sc.METRIC_EMBEDDINGS_INPUT_TOKENS)] == [18]
    assert sdk.points(sc.METRIC_INFERENCE_DURATION) == [] and sdk.points(sc.METRIC_INPUT_TOKENS) == []


async def test_embeddings_async(sdk, stub, instrumented, aoa):
    stub.openai_embeddings()
    out = await aoa.embeddings.create(model="text-embedding-3-small", input="hello", encoding_format="float")
    assert out.usage.prompt_tokens == 9
    assert sdk.span("embeddings text-embedding-3-small").attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
