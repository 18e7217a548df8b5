"""Failures: HTTP 429 and 500, a timeout, connection refused, an error inside a stream. Each gives error.type and
ERROR status on the span, the exception reaches the caller exactly as without instrumentation, and the token
metrics record zero for the failed call. SDK faults inside the instrumentor are contained."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from opentelemetry.trace import StatusCode
from werkzeug import Response

from otel_agentkit import auto, diagnostics, semconv as sc
from tests.auto.conftest import USER
from tests.support.procs import free_port


def _qualified(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _assert_failed(sdk, name: str, exc: BaseException, status: int | None) -> None:
    span = sdk.span(name)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(exc)
    assert span.attributes.get(sc.HTTP_RESPONSE_STATUS_CODE) == status
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == _qualified(exc)
    inputs = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert [(p.sum, p.attributes[sc.ERROR_TYPE]) for p in inputs] == [(0, _qualified(exc))]
    assert [p.sum for p in sdk.points(sc.METRIC_OUTPUT_TOKENS)] == [0]
    assert sdk.points(sc.METRIC_INFERENCE_DURATION)[0].attributes[sc.ERROR_TYPE] == _qualified(exc)


def _same_failure(call, expected: type[BaseException]) -> BaseException:
    """Run ``call`` (which fails) and return the exception."""
    with pytest.raises(expected) as info:
        call()
    return info.value


def test_openai_429_reaches_the_caller_unchanged(sdk, stub, oa):
    stub.openai_chat("openai/error_429.json", status=429)
    bare = _same_failure(lambda: oa.chat.completions.create(model="gpt-4o-mini", messages=USER),
                         openai.RateLimitError)
    assert auto.instrument("openai")
    try:
        stub.openai_chat("openai/error_429.json", status=429)
        traced = _same_failure(lambda: oa.chat.completions.create(model="gpt-4o-mini", messages=USER),
                               openai.RateLimitError)
    finally:
        auto.uninstrument("openai")
    assert (type(traced), str(traced), traced.status_code, traced.body) == \
           (type(bare), str(bare), bare.status_code, bare.body)
    assert traced.body["code"] == "rate_limit_exceeded"
    _assert_failed(sdk, "chat gpt-4o-mini", traced, 429)


async def test_openai_500_async(sdk, stub, instrumented, aoa):
    stub.openai_chat("openai/error_500.json", status=500)
    with pytest.raises(openai.InternalServerError) as info:
        await aoa.chat.completions.create(model="gpt-4o-mini", messages=USER)
    _assert_failed(sdk, "chat gpt-4o-mini", info.value, 500)


def test_openai_timeout(sdk, stub, instrumented, oa):
    def slow(request):
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    stub.handler("/v1/chat/completions", slow)
    with pytest.raises(openai.APITimeoutError) as info:
        oa.chat.completions.create(model="gpt-4o-mini", messages=USER, timeout=0.1)
    _assert_failed(sdk, "chat gpt-4o-mini", info.value, None)


def test_openai_connection_refused(sdk, instrumented):
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-test-key", max_retries=0)
    with pytest.raises(openai.APIConnectionError) as info:
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    span = sdk.span("embeddings text-embedding-3-small")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(info.value)
    assert [p.sum for p in sdk.points(sc.METRIC_EMBEDDINGS_INPUT_TOKENS)] == [0]  # v0.1.0: embeddings metrics


def test_openai_error_inside_a_stream(sdk, stub, instrumented, oa):
    stub.openai_chat_stream("openai/chat_stream_error.sse")
    stream = oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2
    span = sdk.span("chat gpt-4o-mini")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(info.value)
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 2
    assert len(sdk.spans()) == 1


def test_anthropic_429_and_stream_helper_500(sdk, stub, instrumented, an):
    stub.anthropic_messages("anthropic/error_429.json", status=429)
    stub.anthropic_messages("anthropic/error_500.json", status=500)
    with pytest.raises(anthropic.RateLimitError) as limited:
        an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    with pytest.raises(anthropic.InternalServerError) as failed:
        with an.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=USER):
            pytest.fail("the manager must not enter")
    first, second = sdk.spans()
    assert first.attributes[sc.ERROR_TYPE] == _qualified(limited.value)
    assert first.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 429
    assert second.attributes[sc.ERROR_TYPE] == _qualified(failed.value)
    assert second.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 500
    assert all(s.status.status_code is StatusCode.ERROR for s in (first, second))


async def test_anthropic_async_error_event_in_stream(sdk, stub, instrumented, aan):
    stub.anthropic_messages("anthropic/stream_error.sse")
    stream = await aan.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER, stream=True)
    with pytest.raises(anthropic.APIStatusError) as info:
        async for _ in stream:
            pass
    assert "Overloaded" in str(info.value)
    span = sdk.span("chat claude-sonnet-4-6")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == _qualified(info.value)
    assert sc.HTTP_RESPONSE_STATUS_CODE not in span.attributes  # the error came inside a 200 stream
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 25  # what was learned before the error stays


async def test_anthropic_async_connection_refused(sdk, instrumented):
    client = anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{free_port()}", api_key="k", max_retries=0)
    with pytest.raises(anthropic.APIConnectionError) as info:
        await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)
    assert sdk.span("chat claude-sonnet-4-6").attributes[sc.ERROR_TYPE] == _qualified(info.value)


def test_sdk_fault_is_contained(sdk, stub, instrumented, oa, monkeypatch):
    """A fault in the instrumentor's own reading (forced here) never reaches the caller."""
    from otel_agentkit.auto import openai as auto_openai

    def broken(self, inv, result):
        raise RuntimeError("instrumentor bug")

    monkeypatch.setattr(auto_openai.ChatEndpoint, "after", broken)
    stub.openai_chat()
    out = oa.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert out.choices[0].message.content == "The capital of France is Paris."
    span = sdk.span("chat gpt-4o-mini")
    assert span.status.status_code is StatusCode.UNSET and span.end_time is not None
    assert diagnostics.error_counts()[("auto.response", "RuntimeError")] == 1
