"""Anthropic messages through the real ``anthropic`` client against the local stub: create, stream=True, the
.stream() helper and parse, sync and async, tool use and prompt-caching usage; and the client's own span."""

from __future__ import annotations

import json

import anthropic
import pydantic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from otel_agentkit import auto, semconv as sc
from tests.auto.conftest import USER

MODEL = "claude-sonnet-4-6"
SPAN = f"chat {MODEL}"
TOOLS = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
SYSTEM = [{"type": "text", "text": "You are a weather bot.", "cache_control": {"type": "ephemeral"}}]


def test_create(sdk, stub, instrumented, an):
    stub.anthropic_messages()
    # (anthropic 2.x takes no sampling parameters; temperature / top_p / top_k are read when older clients do)
    msg = an.messages.create(model=MODEL, max_tokens=256, messages=USER, stop_sequences=["END"])
    assert msg.content[0].text.startswith("Hello")
    span = sdk.span(SPAN)
    a = span.attributes
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic" and a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == stub.server.port
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "claude-sonnet-4-5-20250929"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("end_turn",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
    assert a[sc.AGENTKIT_COST_USD] > 0
    assert sc.AGENTKIT_RESPONSE_TOOL_CALLS not in a


def test_tool_use_with_prompt_cache_read(make_sdk, stub, instrumented, an):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.anthropic_messages("anthropic/message_tool_use.json")
    an.messages.create(model=MODEL, max_tokens=256, system=SYSTEM, tools=TOOLS, messages=USER)
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 472 + 1800  # input_tokens includes the cache read
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1800
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 0
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("toolu_01A09q90qw90lq917835lq9",)
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "You are a weather bot."}]
    parts = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert parts[1] == {"type": "tool_call", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                        "arguments": {"city": "Paris", "unit": "celsius"}}
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"


def test_create_stream_true_with_cache_write(sdk, stub, instrumented, an):
    stub.anthropic_messages("anthropic/message_stream.sse")
    stream = an.messages.create(model=MODEL, max_tokens=256, messages=USER, stream=True)
    assert isinstance(stream, anthropic.Stream)
    text = "".join(e.delta.text for e in stream if e.type == "content_block_delta")
    assert text == "Hello! How can I help?"
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 25 + 2048 and a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 2048
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15  # from the last event, not the first
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("end_turn",)
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 7 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_stream_helper_tool_use(make_sdk, stub, instrumented, an):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    stub.anthropic_messages("anthropic/message_stream_tool_use.sse")
    with an.messages.stream(model=MODEL, max_tokens=256, tools=TOOLS, messages=USER) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == ["Let me check the weather."]
    assert final.content[1].input == {"city": "Paris", "unit": "celsius"}
    assert len(sdk.spans()) == 1
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2272 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 89
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]
    assert out["parts"][0] == {"type": "text", "content": "Let me check the weather."}
    assert out["parts"][1]["arguments"] == {"city": "Paris", "unit": "celsius"}


class Weather(pydantic.BaseModel):
    city: str


def test_parse(sdk, stub, instrumented, an):
    stub.handler("/v1/messages", _text_reply('{"city": "Paris"}'))
    parsed = an.messages.parse(model=MODEL, max_tokens=64, messages=USER, output_format=Weather)
    assert parsed.parsed_output == Weather(city="Paris")
    assert sdk.span(SPAN).attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12


def _text_reply(text: str):
    from werkzeug import Response

    from tests.auto.conftest import fixture_bytes

    body = json.loads(fixture_bytes("anthropic/message.json"))
    body["content"][0]["text"] = text
    return lambda request: Response(json.dumps(body), content_type="application/json")


async def test_async_create_stream_and_helper(sdk, stub, instrumented, aan):
    stub.anthropic_messages()
    stub.anthropic_messages("anthropic/message_stream.sse")
    stub.anthropic_messages("anthropic/message_stream_tool_use.sse")
    await aan.messages.create(model=MODEL, max_tokens=64, messages=USER)
    stream = await aan.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True)
    assert isinstance(stream, anthropic.AsyncStream)
    assert len([e async for e in stream]) == 7  # the client drops the ping event
    async with aan.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=TOOLS) as helper:
        final = await helper.get_final_message()
    assert final.stop_reason == "tool_use"
    plain, streamed, helped = sdk.spans()
    assert plain.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
    assert streamed.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    assert helped.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1800
    assert tuple(helped.attributes[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)


def _native_client(sdk, stub) -> anthropic.Anthropic:
    """A client whose own tracing (on by default) goes to the same exporter as agentkit's spans."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(sdk.spans_exporter))
    return anthropic.Anthropic(base_url=stub.url(), api_key="sk-ant-test", max_retries=0,
                               open_telemetry={"tracer_provider": provider})


def test_the_clients_own_span_is_a_suppressed_duplicate(sdk, stub, instrumented):
    client = _native_client(sdk, stub)
    stub.anthropic_messages()
    stub.anthropic_messages("anthropic/message_stream.sse")
    client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    with client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        stream.until_done()
    assert [s.name for s in sdk.spans()] == [SPAN, SPAN]


def test_the_clients_own_span_without_agentkit_and_when_kept(sdk, stub):
    client = _native_client(sdk, stub)
    stub.anthropic_messages()
    client.messages.create(model=MODEL, max_tokens=64, messages=USER)  # not instrumented: the client's span
    assert [s.name for s in sdk.spans()] == ["anthropic.messages.create"]
    assert auto.instrument("anthropic", suppress_native_spans=False)
    try:
        stub.anthropic_messages()
        client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    finally:
        auto.uninstrument("anthropic")
    native, ours = sdk.spans()[1:]
    assert (native.name, ours.name) == ("anthropic.messages.create", SPAN)
    assert native.parent.span_id == ours.context.span_id  # kept on request: nested under ours
