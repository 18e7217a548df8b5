"""User exceptions pass through unchanged; SDK faults are contained, logged once and counted."""

from __future__ import annotations

import logging
import traceback

import pytest
from opentelemetry.trace import StatusCode

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc


class QuotaError(Exception):
    pass


def test_user_exception_is_the_same_object_with_traceback(sdk):
    original = QuotaError("rate limited")

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask():
        raise original

    with pytest.raises(QuotaError) as info:
        ask()
    assert info.value is original
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "ask"  # the raising frame is still there
    span = sdk.span("chat gpt-4o")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == f"{__name__}.QuotaError"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == f"{__name__}.QuotaError"
    assert event.attributes["exception.message"] == "rate limited"


async def test_async_exception_passes_through(sdk):
    original = ValueError("bad")

    @agentkit.tool
    async def t():
        raise original

    with pytest.raises(ValueError) as info:
        await t()
    assert info.value is original
    assert sdk.span("execute_tool t").attributes[sc.ERROR_TYPE] == "ValueError"


def test_context_manager_exception_passes_through(sdk):
    original = KeyError("k")
    with pytest.raises(KeyError) as info:
        with agentkit.agent(name="a"):
            raise original
    assert info.value is original
    assert sdk.span("invoke_agent a").status.status_code is StatusCode.ERROR


def test_secrets_in_exception_messages_are_masked(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask():
        raise PermissionError("Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz0123")

    with pytest.raises(PermissionError, match="sk-proj-abcdef"):  # the app still sees its own message
        ask()
    span = sdk.span("chat gpt-4o")
    (event,) = span.events
    for text in (span.status.description, event.attributes["exception.message"],
                 event.attributes["exception.stacktrace"]):
        assert "sk-proj-abcdef" not in text and "[REDACTED]" in text


def test_bad_values_given_to_record_are_contained(sdk, caplog):
    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask():
        agentkit.current_call().record(input_tokens="many")
        agentkit.current_call().record(input_tokens=-1)
        agentkit.current_call().record(output_tokens=7)
        return "ok"

    with caplog.at_level(logging.WARNING, logger="otel_agentkit"):
        assert ask() == "ok"
        assert ask() == "ok"
    assert agentkit.sdk_error_counts()[("call.record", "ValueError")] == 4
    assert len([r for r in caplog.records if "call.record" in r.getMessage()]) == 1  # logged once
    span = sdk.spans()[0]
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7


def test_failing_redaction_hook_drops_content_not_the_call(make_sdk):
    def hook(messages):
        raise RuntimeError("hook bug")

    sdk = make_sdk(capture_content="SPAN_ONLY", redact=hook)

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask(messages):
        return {"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    ask(messages=[{"role": "user", "content": "hello"}])
    span = sdk.span("chat gpt-4o")
    assert sc.GEN_AI_INPUT_MESSAGES not in span.attributes
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1
    assert agentkit.sdk_error_counts()[("content.redact_hook", "RuntimeError")] == 2


def test_broken_exporter_never_reaches_the_caller(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
    from opentelemetry.sdk.metrics import MeterProvider

    class Exploding(SpanExporter):
        def export(self, spans):
            raise OSError("disk on fire")

    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(Exploding()))
    agentkit.init(tracer_provider=tp, meter_provider=MeterProvider(), exporters="none", metric_exporters="none",
                  home=tmp_path)
    try:
        @agentkit.tool
        def t():
            return 5

        assert t() == 5
    finally:
        agentkit.shutdown()


def test_disabled_sdk_creates_no_spans(make_sdk, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert agentkit.init() is False
    assert not agentkit.is_active()

    @agentkit.llm(provider="openai", model="m")
    def ask():
        agentkit.current_call().record(input_tokens=1)
        return 1

    assert ask() == 1
    with agentkit.tool(name="x") as call:
        call.record(anything=1)


def test_before_init_decorators_are_pass_through():
    assert not agentkit.is_active()

    @agentkit.workflow
    def flow(x):
        return x * 2

    assert flow(4) == 8
    assert agentkit.current_call().record(input_tokens=1) is None
