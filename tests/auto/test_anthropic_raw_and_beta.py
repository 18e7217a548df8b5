"""The anthropic client's other ways to make a model request: ``with_raw_response`` and
``with_streaming_response`` (the body read after the call returns: ChatAnthropic and LiteLLM go this way) and
``client.beta.messages`` (pydantic-ai, ChatAnthropic with ``betas``, the tool runner), sync and async, streamed
or not. The real client against the local stub: one inference span per HTTP request the stub received, with
the usage of the body (or of the stream's last event), and what the caller gets identical to an
uninstrumented run of the same scenario.
"""

from __future__ import annotations

import gc
from typing import Any, Awaitable, Callable

import anthropic
import pytest
import wrapt
from opentelemetry.trace import StatusCode

from otel_agentkit import auto, semconv as sc
from tests.auto.conftest import USER

MODEL = "claude-sonnet-4-6"
SPAN = f"chat {MODEL}"
ASK = {"model": MODEL, "max_tokens": 256, "messages": USER}

PLAIN_JSON = "anthropic/message.json"  # id msg_01XFDUDYJgAACzvnptvVoYEL, 12 in / 12 out, end_turn
CACHE_WRITE_SSE = "anthropic/message_stream.sse"  # 25 + 2048 written in, 15 out (last event), end_turn
BETA_JSON = "anthropic/beta_message_cache_tool_use.json"  # 36 + 512 written + 1024 read in, 58 out, tool_use
BETA_SSE = "anthropic/beta_message_stream_thinking.sse"  # thinking; 18 + 2304 read in, 41 out (last event)

# fixture -> (response id, input tokens incl. cache, cache read, cache write, output tokens, finish reason)
EXPECTED = {
    PLAIN_JSON: ("msg_01XFDUDYJgAACzvnptvVoYEL", 12, 0, 0, 12, "end_turn"),
    CACHE_WRITE_SSE: ("msg_01HCDu5LRGeP2o7s2xGmxyx8", 25 + 2048, 0, 2048, 15, "end_turn"),
    BETA_JSON: ("msg_01Bq9w938a90dw8q2rK4vTn7", 36 + 512 + 1024, 1024, 512, 58, "tool_use"),
    BETA_SSE: ("msg_01Pq7GZ3mY8ffXz4fVfhK2aD", 18 + 2304, 2304, 0, 41, "end_turn"),
}


def dump(value: Any) -> Any:
    """What the caller got, comparable across runs: models as JSON data, lists element by element."""
    if isinstance(value, list):
        return [dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def assert_usage(span: Any, fixture: str) -> None:
    response_id, input_tokens, read, write, output, reason = EXPECTED[fixture]
    a = span.attributes
    assert span.name == SPAN and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic" and a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.GEN_AI_RESPONSE_ID] == response_id
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "claude-sonnet-4-5-20250929"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == input_tokens
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == read
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == write
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == output
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == (reason,)


class Runs:
    """A scenario run on a fresh client uninstrumented, then instrumented (uninstrumented again after the
    test); each run gets its own stub routes, and the requests of the instrumented run are counted."""

    def __init__(self, sdk: Any, stub: Any) -> None:
        self.sdk, self.stub = sdk, stub
        self.requests = 0
        self.on = False  # the instrumented run

    def _client(self, async_: bool) -> Any:
        cls = anthropic.AsyncAnthropic if async_ else anthropic.Anthropic
        return cls(base_url=self.stub.url(), api_key="sk-ant-test", max_retries=0)

    def _route(self, fixtures: tuple[str, ...]) -> None:
        for name in fixtures:
            self.stub.anthropic_messages(name)

    def sync(self, scenario: Callable[[anthropic.Anthropic], Any], *fixtures: str) -> tuple[Any, Any]:
        self._route(fixtures)
        plain = dump(scenario(self._client(False)))
        assert self.sdk.spans() == []  # nothing of ours while off
        assert auto.instrument("anthropic")
        self.on = True
        before = len(self.stub.bodies)
        self._route(fixtures)
        traced = dump(scenario(self._client(False)))
        self.requests = len(self.stub.bodies) - before
        return plain, traced

    async def async_(self, scenario: Callable[[anthropic.AsyncAnthropic], Awaitable[Any]],
                     *fixtures: str) -> tuple[Any, Any]:
        self._route(fixtures)
        plain = dump(await scenario(self._client(True)))
        assert self.sdk.spans() == []
        assert auto.instrument("anthropic")
        self.on = True
        before = len(self.stub.bodies)
        self._route(fixtures)
        traced = dump(await scenario(self._client(True)))
        self.requests = len(self.stub.bodies) - before
        return plain, traced

    def one_span_per_request(self) -> list[Any]:
        spans = self.sdk.spans()
        assert self.requests >= 1 and len(spans) == self.requests, [s.name for s in spans]
        return spans


@pytest.fixture
def runs(sdk, stub):
    yield Runs(sdk, stub)
    auto.uninstrument("anthropic")


@pytest.fixture
def traced(stub):
    assert auto.instrument("anthropic")
    yield
    auto.uninstrument("anthropic")


# --- with_raw_response ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
def test_raw_stream_ends_its_span_when_the_stream_ends(runs, sdk, beta):
    fixture = BETA_SSE if beta else CACHE_WRITE_SSE

    def scenario(client: anthropic.Anthropic) -> Any:
        resource = client.beta.messages if beta else client.messages
        raw = resource.with_raw_response.create(**ASK, stream=True)
        assert raw.headers["request-id"] == "req_011CSHoEeqs5C35K2UUqR7Fy"
        stream = raw.parse()
        assert isinstance(stream, anthropic.Stream) and raw.parse() is stream  # parse() is cached: still so
        assert sdk.spans() == []  # the body is not read yet: the span is open
        return list(stream)

    plain, traced = runs.sync(scenario, fixture)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, fixture)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == len(plain)


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
async def test_async_raw_stream_as_chat_anthropic_astream_reads_it(runs, sdk, beta):
    fixture = BETA_SSE if beta else CACHE_WRITE_SSE

    async def scenario(client: anthropic.AsyncAnthropic) -> Any:
        resource = client.beta.messages if beta else client.messages
        raw = await resource.with_raw_response.create(**ASK, stream=True)
        parsed = raw.parse()  # langchain-anthropic's _aparse: call, then await what is awaitable
        stream = await parsed
        assert isinstance(stream, anthropic.AsyncStream)
        assert sdk.spans() == []
        return [event async for event in stream]

    plain, traced = await runs.async_(scenario, fixture)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, fixture)


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
def test_raw_message_is_read_when_the_call_returns(runs, sdk, beta):
    fixture = BETA_JSON if beta else PLAIN_JSON

    def scenario(client: anthropic.Anthropic) -> Any:
        raw = (client.beta.messages if beta else client.messages).with_raw_response.create(**ASK)
        assert len(sdk.spans()) == runs.on  # the client read the body before returning: the span has ended
        return [raw.parse(), raw.parse()]

    plain, traced = runs.sync(scenario, fixture)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, fixture)


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
async def test_async_raw_message_as_chat_anthropic_ainvoke_reads_it(runs, sdk, beta):
    fixture = BETA_JSON if beta else PLAIN_JSON

    async def scenario(client: anthropic.AsyncAnthropic) -> Any:
        raw = await (client.beta.messages if beta else client.messages).with_raw_response.create(**ASK)
        return await raw.parse()

    plain, traced = await runs.async_(scenario, fixture)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, fixture)
    if beta:
        assert tuple(span.attributes[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)


async def test_beta_raw_parse_sync_and_async(runs, sdk):
    plain, traced = runs.sync(lambda c: c.beta.messages.with_raw_response.parse(**ASK).parse(), BETA_JSON)
    assert traced == plain
    sdk.spans_exporter.clear()
    auto.uninstrument("anthropic")
    runs.on = False

    async def scenario(client: anthropic.AsyncAnthropic) -> Any:
        return await (await client.beta.messages.with_raw_response.parse(**ASK)).parse()

    plain, traced = await runs.async_(scenario, BETA_JSON)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, BETA_JSON)


# --- with_streaming_response -----------------------------------------------------------------------------------
@pytest.mark.parametrize("reader", ["parse", "json", "read", "text"])
def test_streaming_response_message_by_each_reader(runs, sdk, reader):
    def scenario(client: anthropic.Anthropic) -> Any:
        with client.messages.with_streaming_response.create(**ASK) as response:
            assert sdk.spans() == []  # the body is still on the wire
            value = getattr(response, reader)()
        return value if reader != "parse" else dump(value)

    plain, traced = runs.sync(scenario, PLAIN_JSON)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, PLAIN_JSON)


@pytest.mark.parametrize("reader", ["parse", "json"])
async def test_async_streaming_response_message(runs, sdk, reader):
    async def scenario(client: anthropic.AsyncAnthropic) -> Any:
        async with client.beta.messages.with_streaming_response.create(**ASK) as response:
            assert sdk.spans() == []
            return await getattr(response, reader)()

    plain, traced = await runs.async_(scenario, BETA_JSON)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, BETA_JSON)


def test_streaming_response_stream(runs, sdk):
    def scenario(client: anthropic.Anthropic) -> Any:
        with client.messages.with_streaming_response.create(**ASK, stream=True) as response:
            return list(response.parse())

    plain, traced = runs.sync(scenario, CACHE_WRITE_SSE)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, CACHE_WRITE_SSE)


async def test_async_streaming_response_stream(runs, sdk):
    async def scenario(client: anthropic.AsyncAnthropic) -> Any:
        async with client.beta.messages.with_streaming_response.create(**ASK, stream=True) as response:
            return [event async for event in await response.parse()]

    plain, traced = await runs.async_(scenario, BETA_SSE)
    assert traced == plain
    (span,) = runs.one_span_per_request()
    assert_usage(span, BETA_SSE)


# --- every way a deferred body can end: once -------------------------------------------------------------------
def test_streaming_response_left_unread_ends_at_close(sdk, stub, traced, an):
    stub.anthropic_messages(PLAIN_JSON)
    with an.messages.with_streaming_response.create(**ASK) as response:
        assert response.status_code == 200
    (span,) = sdk.spans()
    assert span.name == SPAN and sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    response.close()  # again: still one span
    assert len(sdk.spans()) == 1


def test_raw_stream_broken_out_of_ends_with_what_it_saw(sdk, stub, traced, an):
    stub.anthropic_messages(CACHE_WRITE_SSE)
    raw = an.messages.with_raw_response.create(**ASK, stream=True)
    stream = raw.parse()
    del raw  # the response goes; the stream it gave still runs the span
    gc.collect()
    assert sdk.spans() == []
    for event in stream:
        assert event.type == "message_start"
        break
    gc.collect()
    (span,) = sdk.spans()  # the loop's iterator was dropped: the stream was left
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 25 + 2048  # from message_start
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 1
    stream.close()
    del stream
    gc.collect()
    assert len(sdk.spans()) == 1


def test_raw_stream_dropped_unread_and_closed(sdk, stub, traced, an):
    stub.anthropic_messages(CACHE_WRITE_SSE)
    stub.anthropic_messages(CACHE_WRITE_SSE)
    raw = an.messages.with_raw_response.create(**ASK, stream=True)
    del raw
    gc.collect()
    assert len(sdk.spans()) == 1
    raw = an.beta.messages.with_raw_response.create(**ASK, stream=True)
    stream = raw.parse()
    next(iter(stream))
    raw.close()  # closing the response ends the stream read from it
    assert len(sdk.spans()) == 2
    del raw, stream
    gc.collect()
    assert len(sdk.spans()) == 2 and len(stub.bodies) == 2


async def test_async_raw_stream_parsed_then_dropped_unread(sdk, stub, traced, aan):
    stub.anthropic_messages(CACHE_WRITE_SSE)
    raw = await aan.messages.with_raw_response.create(**ASK, stream=True)
    stream = await raw.parse()
    assert sdk.spans() == []
    del raw, stream
    gc.collect()
    (span,) = sdk.spans()
    assert span.name == SPAN and sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # nothing was read


async def test_async_raw_stream_closed_early(sdk, stub, traced, aan):
    stub.anthropic_messages(BETA_SSE)
    raw = await aan.beta.messages.with_raw_response.create(**ASK, stream=True)
    async with await raw.parse() as stream:
        async for _event in stream:
            break
    (span,) = sdk.spans()
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2304
    await raw.close()
    assert len(sdk.spans()) == 1


def test_raw_response_is_the_clients_own_type(stub, traced, an):
    stub.anthropic_messages(CACHE_WRITE_SSE)
    raw = an.messages.with_raw_response.create(**ASK, stream=True)
    from anthropic._response import APIResponse

    assert isinstance(raw, APIResponse) and isinstance(raw, wrapt.ObjectProxy)
    assert raw.http_response.status_code == 200 and raw.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    raw.close()


def test_raw_call_that_fails_ends_its_span_with_the_error(sdk, stub, traced, an):
    stub.anthropic_messages("anthropic/error_500.json", status=500)
    with pytest.raises(anthropic.InternalServerError) as caught:
        an.beta.messages.with_raw_response.create(**ASK, stream=True)
    (span,) = sdk.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "anthropic.InternalServerError"
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 500


# --- client.beta.messages ------------------------------------------------------------------------------------
def test_beta_create_stream_and_helper(runs, sdk):
    def scenario(client: anthropic.Anthropic) -> Any:
        message = client.beta.messages.create(**ASK, betas=["context-management-2025-06-27"])
        events = list(client.beta.messages.create(**ASK, stream=True))
        with client.beta.messages.stream(**ASK) as stream:
            texts = list(stream.text_stream)
            final = stream.get_final_message()
        parsed = client.beta.messages.parse(**ASK)
        return [message, events, texts, final, parsed]

    plain, traced = runs.sync(scenario, BETA_JSON, BETA_SSE, BETA_SSE, BETA_JSON)
    assert traced == plain
    created, streamed, helped, parsed = runs.one_span_per_request()
    assert_usage(created, BETA_JSON)
    assert_usage(streamed, BETA_SSE)
    assert_usage(helped, BETA_SSE)
    assert_usage(parsed, BETA_JSON)
    assert runs.stub.bodies[-4]["model"] == MODEL


async def test_async_beta_create_stream_and_helper(runs, sdk):
    async def scenario(client: anthropic.AsyncAnthropic) -> Any:
        message = await client.beta.messages.create(**ASK)
        events = [e async for e in await client.beta.messages.create(**ASK, stream=True)]
        async with client.beta.messages.stream(**ASK) as stream:
            final = await stream.get_final_message()
        parsed = await client.beta.messages.parse(**ASK)
        return [message, events, final, parsed]

    plain, traced = await runs.async_(scenario, BETA_JSON, BETA_SSE, BETA_SSE, BETA_JSON)
    assert traced == plain
    created, streamed, helped, parsed = runs.one_span_per_request()
    assert_usage(created, BETA_JSON)
    assert_usage(streamed, BETA_SSE)
    assert_usage(helped, BETA_SSE)
    assert_usage(parsed, BETA_JSON)


@anthropic.beta_tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """The weather in a city."""
    return f"18 degrees {unit} and sunny in {city}"


@pytest.mark.parametrize("stream", [False, True], ids=["messages", "streams"])
def test_beta_tool_runner_one_span_per_turn(runs, sdk, stream):
    """The tool runner sends each turn through beta.messages.create: one span per request, each its own."""
    def scenario(client: anthropic.Anthropic) -> Any:
        runner = client.beta.messages.tool_runner(**ASK, tools=[get_weather], stream=stream)
        if not stream:
            return list(runner)
        return [list(turn) for turn in runner]

    turns = ("anthropic/message_stream_tool_use.sse", CACHE_WRITE_SSE) if stream else (BETA_JSON, PLAIN_JSON)
    plain, traced = runs.sync(scenario, *turns)
    assert traced == plain
    first, second = runs.one_span_per_request()
    assert tuple(first.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    assert tuple(first.attributes[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert_usage(second, turns[1])


# --- uninstrument ---------------------------------------------------------------------------------------------
def test_uninstrument_restores_every_patched_method_exactly():
    from anthropic import _base_client
    from anthropic.resources import messages as stable
    from anthropic.resources.beta import messages as beta

    owners = [stable.Messages, stable.AsyncMessages, beta.Messages, beta.AsyncMessages]
    before = {(cls, name): cls.__dict__[name] for cls in owners for name in ("create", "parse", "stream")}
    native = _base_client.__dict__.get("start_api_call_span")  # the client's own tracing (absent before 2.x)
    assert auto.instrument("anthropic")
    try:
        for (cls, name), original in before.items():
            installed = cls.__dict__[name]
            assert isinstance(installed, wrapt.FunctionWrapper) and installed.__wrapped__ is original
        assert native is None or _base_client.__dict__["start_api_call_span"] is not native
    finally:
        auto.uninstrument("anthropic")
    assert all(cls.__dict__[name] is original for (cls, name), original in before.items())
    assert _base_client.__dict__.get("start_api_call_span") is native


# --- a call the client refuses before sending -------------------------------------------------------------------
def test_call_refused_before_sending_leaves_no_span(sdk, stub, traced, an):
    """The client refuses a non-streamed call that may outlast its default timeout (pydantic-ai counts on that
    and streams instead): no request, so no span; the streamed retry is the one model call."""
    big = {**ASK, "max_tokens": 64000}
    with pytest.raises(ValueError, match="[Ss]treaming"):
        an.beta.messages.create(**big)
    assert sdk.spans() == [] and stub.bodies == []
    stub.anthropic_messages(BETA_SSE)
    assert len(list(an.beta.messages.create(**big, stream=True))) > 0
    (span,) = sdk.spans()
    assert_usage(span, BETA_SSE)


async def test_async_call_refused_before_sending_leaves_no_span(sdk, stub, traced, aan):
    with pytest.raises(ValueError):
        await aan.messages.create(**{**ASK, "max_tokens": 64000})
    assert sdk.spans() == [] and stub.bodies == []


def test_value_error_after_the_request_keeps_its_span(sdk, stub, traced, an):
    """parse() whose reply does not fit the output format: a pydantic ValidationError (a ValueError) raised
    after the request went out, so the call keeps its span, ended with the error."""
    import pydantic

    class Weather(pydantic.BaseModel):
        city: str

    stub.anthropic_messages(PLAIN_JSON)  # its text is no JSON
    with pytest.raises(ValueError):
        an.messages.parse(**ASK, output_format=Weather)
    (span,) = sdk.spans()
    assert span.status.status_code is StatusCode.ERROR and len(stub.bodies) == 1
