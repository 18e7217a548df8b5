"""OpenAI chat completions through the real ``openai`` client against the local stub: create, parse, stream=True
and the .stream() helper, sync and async; spans asserted as the real OTel SDK exported them."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agentkit import semconv as sc
from tests.auto.conftest import USER

MODEL = "gpt-4o-mini"
SPAN = f"chat {MODEL}"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


def test_create_span_attributes_usage_and_cost(sdk, stub, instrumented, oa):
    stub.openai_chat()
    out = oa.chat.completions.create(model=MODEL, messages=USER, temperature=0.2, top_p=0.9, max_tokens=50,
                                     seed=7, stop=["\n\n"], frequency_penalty=0.1, presence_penalty=0.3)
    assert out.choices[0].message.content == "The capital of France is Paris."
    span = sdk.span(SPAN)
    a = span.attributes
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat" and a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == stub.server.port
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and a[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50 and a[sc.GEN_AI_REQUEST_SEED] == 7
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("\n\n",)
    assert a[sc.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.1 and a[sc.GEN_AI_REQUEST_PRESENCE_PENALTY] == 0.3
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-BdhN3tE5sNJ6V1dQeQxg3lm6kU0bQ"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[sc.AGENTKIT_COST_USD] > 0
    assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert sc.GEN_AI_REQUEST_STREAM not in a and sc.GEN_AI_INPUT_MESSAGES not in a  # content is opt-in
    # the request went out as the caller made it
    assert stub.bodies[0] == {"model": MODEL, "messages": USER, "temperature": 0.2, "top_p": 0.9,
                              "max_tokens": 50, "seed": 7, "stop": ["\n\n"], "frequency_penalty": 0.1,
                              "presence_penalty": 0.3}
    duration = sdk.points(sc.METRIC_INFERENCE_DURATION)
    assert len(duration) == 1 and duration[0].attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert [p.sum for p in sdk.points(sc.METRIC_INPUT_TOKENS)] == [24]
    assert [p.sum for p in sdk.points(sc.METRIC_OUTPUT_TOKENS)] == [8]
    assert sum(p.value for p in sdk.points(sc.METRIC_COST)) == pytest.approx(a[sc.AGENTKIT_COST_USD])


def test_cached_and_reasoning_tokens(sdk, stub, instrumented, oa):
    stub.openai_chat("openai/chat_cached_reasoning.json")
    oa.chat.completions.create(model="o4-mini", messages=USER, max_completion_tokens=400, n=2)
    a = sdk.span("chat o4-mini").attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006  # includes the cached ones
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1920
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 256
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 400 and a[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2


def test_tool_calls_recorded_without_content(sdk, stub, instrumented, oa):
    stub.openai_chat("openai/chat_tool_calls.json")
    oa.chat.completions.create(model=MODEL, messages=USER, tools=TOOLS)
    a = sdk.span(SPAN).attributes
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather", "get_time")
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("call_Q5hXv1t0m2bT0Nn8eF3K9c2W",
                                                          "call_7WkZr2dC1pLqV9yHs4NfA0bE")
    assert sc.GEN_AI_OUTPUT_MESSAGES not in a and sc.GEN_AI_TOOL_DEFINITIONS not in a


def test_content_captured_when_enabled(make_sdk, stub, instrumented, oa):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.openai_chat("openai/chat_tool_calls.json")
    messages = [{"role": "system", "content": "You are terse."}, *USER]
    oa.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    a = sdk.span(SPAN).attributes
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])[1] == {
        "role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["parts"][0] == {"type": "tool_call", "id": "call_Q5hXv1t0m2bT0Nn8eF3K9c2W",
                                  "name": "get_weather", "arguments": {"city": "Paris"}}
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["function"]["name"] == "get_weather"


def test_refusal(make_sdk, stub, instrumented, oa):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.openai_chat("openai/chat_refusal.json")
    out = oa.chat.completions.create(model="gpt-4o", messages=USER)
    assert out.choices[0].message.refusal.startswith("I'm sorry")
    a = sdk.span("chat gpt-4o").attributes
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    parts = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert parts == [{"type": "text", "content": "I'm sorry, I can't help with that request."}]


def test_stream_gets_usage_without_changing_what_the_caller_sees(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    stream = oa.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    # include_usage was asked for on the wire, but the caller sees the stream they asked for: no usage chunk
    assert stub.bodies[0]["stream_options"] == {"include_usage": True}
    assert len(chunks) == 9 and all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "The capital of France is Paris."
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-BdhS7uQ2k9Xc3VnR1mT8yL0pW5aZe"
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 9
    assert 0 < a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < sdk.span(SPAN).end_time / 1e9
    assert len(sdk.points(sc.METRIC_TIME_TO_FIRST_CHUNK)) == 1


def test_stream_options_set_by_the_caller_are_kept(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    stub.openai_chat_stream()
    without = list(oa.chat.completions.create(model=MODEL, messages=USER, stream=True,
                                              stream_options={"include_usage": False}))
    with_usage = list(oa.chat.completions.create(model=MODEL, messages=USER, stream=True,
                                                 stream_options={"include_usage": True}))
    assert stub.bodies[0]["stream_options"] == {"include_usage": False}
    assert len(without) == 9 and sc.GEN_AI_USAGE_INPUT_TOKENS not in sdk.spans()[0].attributes
    assert len(with_usage) == 10 and with_usage[-1].usage.prompt_tokens == 24  # theirs: they see it
    assert sdk.spans()[1].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24


def test_include_usage_can_be_switched_off(sdk, stub, oa):
    from otel_agentkit import auto

    assert auto.instrument("openai", include_usage=False)
    try:
        stub.openai_chat_stream()
        assert len(list(oa.chat.completions.create(model=MODEL, messages=USER, stream=True))) == 9
        assert "stream_options" not in stub.bodies[0]
        assert sdk.span(SPAN).attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-BdhS7uQ2k9Xc3VnR1mT8yL0pW5aZe"
    finally:
        auto.uninstrument("openai")


def test_stream_tool_calls_and_content(make_sdk, stub, instrumented, oa):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.openai_chat_stream("openai/chat_stream_tools.sse")
    with oa.chat.completions.create(model=MODEL, messages=USER, tools=TOOLS, stream=True) as stream:
        for _ in stream:
            pass
    a = sdk.span(SPAN).attributes
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather", "get_time")
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 64
    parts = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert [p["arguments"] for p in parts if p["type"] == "tool_call"] == [{"city": "Paris"},
                                                                           {"tz": "Europe/Paris"}]


def test_stream_helper(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    with oa.chat.completions.stream(model=MODEL, messages=USER) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()
    assert text == "The capital of France is Paris."
    assert final.usage is None  # the helper's caller did not ask for usage, and does not get it
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_REQUEST_STREAM] is True
    assert len(sdk.spans()) == 1


class Capital(pydantic.BaseModel):
    city: str


def test_parse(sdk, stub, instrumented, oa):
    stub.handler("/v1/chat/completions", _json_reply('{"city":"Paris"}'))
    parsed = oa.chat.completions.parse(model=MODEL, messages=USER, response_format=Capital)
    assert parsed.choices[0].message.parsed == Capital(city="Paris")
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "json" and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8


def _json_reply(content: str):
    from werkzeug import Response

    from tests.auto.conftest import fixture_bytes

    body = json.loads(fixture_bytes("openai/chat_completion.json"))
    body["choices"][0]["message"]["content"] = content
    return lambda request: Response(json.dumps(body), content_type="application/json")


def test_with_raw_response(sdk, stub, instrumented, oa):
    stub.openai_chat()
    raw = oa.chat.completions.with_raw_response.create(model=MODEL, messages=USER)
    assert raw.headers["x-request-id"] == "req_6b1b2f0c7e0d4a58b8c1d2e3f4a5b6c7"
    assert raw.parse().choices[0].message.content == "The capital of France is Paris."
    assert sdk.span(SPAN).attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24


async def test_async_create_and_stream(sdk, stub, instrumented, aoa):
    stub.openai_chat()
    stub.openai_chat_stream()
    out = await aoa.chat.completions.create(model=MODEL, messages=USER)
    assert out.usage.prompt_tokens == 24
    stream = await aoa.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    chunks = [c async for c in stream]
    assert len(chunks) == 9
    first, second = sdk.spans()
    assert first.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and sc.AGENTKIT_STREAM_CHUNKS not in first.attributes
    assert second.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8 and second.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 9


async def test_async_stream_helper_and_parse(sdk, stub, instrumented, aoa):
    stub.openai_chat_stream()
    stub.handler("/v1/chat/completions", _json_reply('{"city":"Paris"}'))
    async with aoa.chat.completions.stream(model=MODEL, messages=USER) as stream:
        events = [e async for e in stream]
    assert any(e.type == "content.done" for e in events)
    parsed = await aoa.chat.completions.parse(model=MODEL, messages=USER, response_format=Capital)
    assert parsed.choices[0].message.parsed.city == "Paris"
    streamed, parsed_span = sdk.spans()
    assert streamed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24
    assert streamed.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert parsed_span.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"
