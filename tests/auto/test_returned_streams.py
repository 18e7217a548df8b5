"""A function decorated with ``agentkit.llm`` that RETURNS its call's work instead of doing it: an openai or
anthropic stream, a ``.stream()`` helper's manager, a generator over a stream, an async client's un-awaited
coroutine. The span lasts as long as that work, carries its usage and cost, and is the only inference span
of the call, with the auto-instrumentors off and on (``agentkit.init(auto_instrument=True)``), sync and async.
The real clients talk to the local stub server."""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings

import anthropic
import openai
import pytest
from opentelemetry.trace import StatusCode

import otel_agentkit as agentkit
from otel_agentkit import diagnostics, semconv as sc
from tests.auto.conftest import USER

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"
WITH_USAGE = {"include_usage": True}  # without the instrumentor nobody asks for it: the caller does


@pytest.fixture(params=["decorator-only", "auto-instrumented"])
def sdk(request, make_sdk):
    """The SDK without and with the auto-instrumentors (init(auto_instrument=True); shutdown undoes it)."""
    return make_sdk(auto_instrument=True) if request.param == "auto-instrumented" else make_sdk()


def _one_call(sdk, input_tokens: int, output_tokens: int):
    """Exactly one inference span for the one real call, with its tokens, a cost, and the same cost once
    in the cost metric."""
    spans = [s for s in sdk.spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(spans) == 1, f"one inference span per real call, got {[s.name for s in sdk.spans()]}"
    a = spans[0].attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == input_tokens and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == output_tokens
    assert a[sc.AGENTKIT_COST_USD] > 0
    assert sum(p.value for p in sdk.points(sc.METRIC_COST)) == pytest.approx(a[sc.AGENTKIT_COST_USD])
    assert [p.sum for p in sdk.points(sc.METRIC_INPUT_TOKENS)] == [input_tokens]
    return spans[0]


# --- openai, sync -------------------------------------------------------------------------------------------------
def test_returned_stream_ends_when_read_with_its_usage(sdk, stub, oa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return oa.chat.completions.create(model=GPT, messages=USER, stream=True, stream_options=WITH_USAGE)

    stream = ask()
    assert isinstance(stream, openai.Stream) and stream.response.status_code == 200  # the caller's stream
    assert sdk.spans() == []  # still open: the call is not over
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "The capital of France is Paris."
    a = _one_call(sdk, 24, 8).attributes
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 10 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"


def test_returned_stream_as_context_manager_and_closed_early(sdk, stub, oa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return oa.chat.completions.create(model=GPT, messages=USER, stream=True, stream_options=WITH_USAGE)

    with ask() as stream:
        assert isinstance(stream, openai.Stream)
        first = next(stream)
        assert first.choices[0].delta.role == "assistant"
        assert sdk.spans() == []
    (span,) = sdk.spans()  # closed by the with block: ended once, unread usage is not invented
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1 and span.status.status_code is StatusCode.UNSET


def test_returned_stream_helper_manager(sdk, stub, oa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return oa.chat.completions.stream(model=GPT, messages=USER, stream_options=WITH_USAGE)

    with ask() as stream:
        assert sdk.spans() == []
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "The capital of France is Paris."
    a = _one_call(sdk, 24, 8).attributes
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 10 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_returned_responses_stream_helper_manager(sdk, stub, oa):
    stub.sse("/v1/responses", "openai/response_stream.sse")

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return oa.responses.stream(model=GPT, input="Capital of France?")

    with ask() as stream:
        final = stream.get_final_response()
    assert final.output_text == "Paris."
    a = _one_call(sdk, 1536, 34).attributes
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 15


def test_returned_generator_over_a_stream(sdk, stub, oa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return (c for c in oa.chat.completions.create(model=GPT, messages=USER, stream=True,
                                                        stream_options=WITH_USAGE))

    chunks = ask()
    assert inspect.isgenerator(chunks) and sdk.spans() == []
    assert len(list(chunks)) == 10
    _one_call(sdk, 24, 8)


def test_dropped_unread_stream_ends_its_span_once(sdk, stub, oa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return oa.chat.completions.create(model=GPT, messages=USER, stream=True, stream_options=WITH_USAGE)

    stream = ask()
    assert sdk.spans() == []
    del stream
    gc.collect()
    assert [s.name for s in sdk.spans()] == [f"chat {GPT}"]


# --- openai, async ------------------------------------------------------------------------------------------------
async def test_returned_coroutine_of_the_async_client(sdk, stub, aoa):
    stub.openai_chat()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():  # not async: it hands back the client's coroutine, un-awaited
        return aoa.chat.completions.create(model=GPT, messages=USER)

    pending = ask()
    assert inspect.iscoroutine(pending) and sdk.spans() == []
    out = await pending
    assert out.choices[0].message.content == "The capital of France is Paris."
    _one_call(sdk, 24, 8)


async def test_returned_coroutine_resolving_to_a_stream(sdk, stub, aoa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return aoa.chat.completions.create(model=GPT, messages=USER, stream=True, stream_options=WITH_USAGE)

    stream = await ask()
    assert isinstance(stream, openai.AsyncStream) and sdk.spans() == []
    assert len([c async for c in stream]) == 10
    _one_call(sdk, 24, 8)


async def test_async_function_returning_a_stream(sdk, stub, aoa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model=GPT)
    async def ask():
        return await aoa.chat.completions.create(model=GPT, messages=USER, stream=True,
                                                 stream_options=WITH_USAGE)

    stream = await ask()
    assert sdk.spans() == []
    async with stream:
        assert len([c async for c in stream]) == 10
    _one_call(sdk, 24, 8)


async def test_returned_task(sdk, stub, aoa):
    stub.openai_chat()

    @agentkit.llm(provider="openai", model=GPT)
    def ask():  # the task runs with the span current (a task copies the context it is made in)
        return asyncio.ensure_future(aoa.chat.completions.create(model=GPT, messages=USER))

    task = ask()
    assert isinstance(task, asyncio.Task)
    out = await task
    await asyncio.sleep(0)  # the task's done callbacks run on the next loop turn
    assert out.choices[0].message.content == "The capital of France is Paris."
    _one_call(sdk, 24, 8)


async def test_returned_coroutine_that_fails(sdk, stub, aoa):
    stub.openai_chat("openai/error_429.json", status=429)

    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return aoa.chat.completions.create(model=GPT, messages=USER)

    with pytest.raises(openai.RateLimitError):
        await ask()
    (span,) = sdk.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "openai.RateLimitError"


def test_coroutine_never_awaited_ends_its_span(sdk, stub, aoa):
    @agentkit.llm(provider="openai", model=GPT)
    def ask():
        return aoa.chat.completions.create(model=GPT, messages=USER)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited": Python's own
        pending = ask()
        del pending
        gc.collect()
    (span,) = sdk.spans()  # no request was sent (the stub would have failed the test)
    assert span.attributes[sc.ERROR_TYPE] == "NotAwaited"
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


# --- anthropic ----------------------------------------------------------------------------------------------------
def test_anthropic_returned_stream(sdk, stub, an):
    stub.anthropic_messages("anthropic/message_stream.sse")

    @agentkit.llm(provider="anthropic", model=CLAUDE)
    def ask():
        return an.messages.create(model=CLAUDE, max_tokens=64, messages=USER, stream=True)

    stream = ask()
    assert isinstance(stream, anthropic.Stream) and sdk.spans() == []
    text = "".join(e.delta.text for e in stream if e.type == "content_block_delta")
    assert text == "Hello! How can I help?"
    a = _one_call(sdk, 25 + 2048, 15).attributes
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 2048 and a[sc.AGENTKIT_STREAM_CHUNKS] == 7


def test_anthropic_returned_stream_helper_manager(sdk, stub, an):
    stub.anthropic_messages("anthropic/message_stream.sse")

    @agentkit.llm(provider="anthropic", model=CLAUDE)
    def ask():
        return an.messages.stream(model=CLAUDE, max_tokens=64, messages=USER)

    with ask() as stream:
        assert sdk.spans() == []
        assert "".join(stream.text_stream) == "Hello! How can I help?"
    a = _one_call(sdk, 25 + 2048, 15).attributes
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 7 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


async def test_anthropic_returned_coroutine(sdk, stub, aan):
    stub.anthropic_messages()

    @agentkit.llm(provider="anthropic", model=CLAUDE)
    def ask():
        return aan.messages.create(model=CLAUDE, max_tokens=64, messages=USER)

    message = await ask()
    assert message.content[0].text
    _one_call(sdk, 12, 12)


async def test_anthropic_returned_async_stream_helper_manager(sdk, stub, aan):
    stub.anthropic_messages("anthropic/message_stream.sse")

    @agentkit.llm(provider="anthropic", model=CLAUDE)
    def ask():
        return aan.messages.stream(model=CLAUDE, max_tokens=64, messages=USER)

    async with ask() as stream:
        assert sdk.spans() == []
        final = await stream.get_final_message()
    assert final.stop_reason == "end_turn"
    _one_call(sdk, 25 + 2048, 15)


# --- a stream read after the span it feeds ended: said, not lost quietly ---------------------------------------
def test_stream_read_after_its_llm_block_ended_is_reported(make_sdk, stub, oa):
    sdk = make_sdk(auto_instrument=True)
    stub.openai_chat_stream()
    with agentkit.llm(provider="openai", model=GPT):  # the with form cannot follow what escapes the block
        stream = oa.chat.completions.create(model=GPT, messages=USER, stream=True)
    assert len(list(stream)) == 9
    (span,) = sdk.spans()
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert diagnostics.error_counts() == {("auto.stream.late", "RuntimeError"): 1}


async def test_call_made_after_its_llm_block_ended_gets_its_own_priced_span(make_sdk, stub, aoa):
    """A task started inside an llm block that the block does not wait for: the call cannot feed the ended
    span, so it is recorded on its own (priced) rather than lost."""
    sdk = make_sdk(auto_instrument=True)
    stub.openai_chat()
    gate = asyncio.Event()

    async def later():
        await gate.wait()
        return await aoa.chat.completions.create(model=GPT, messages=USER)

    with agentkit.llm(provider="openai", model=GPT):
        task = asyncio.ensure_future(later())
    gate.set()
    await task
    block, call = sdk.spans()
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in block.attributes
    assert call.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and call.attributes[sc.AGENTKIT_COST_USD] > 0
    assert call.parent.span_id == block.context.span_id
