"""Responses of the real openai and anthropic client libraries (their own pydantic types, built from the
JSON the APIs send) and dicts of the same shape are read automatically by @agentkit.llm."""

from __future__ import annotations

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc

OPENAI_CHAT = {
    "id": "chatcmpl-AbC", "object": "chat.completion", "created": 1732000000, "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None,
                 "message": {"role": "assistant", "content": None, "refusal": None,
                             "tool_calls": [{"id": "call_1", "type": "function",
                                             "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]}}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
              "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
}
ANTHROPIC_MESSAGE = {
    "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 50, "output_tokens": 30, "cache_read_input_tokens": 2000,
              "cache_creation_input_tokens": 500},
}
OPENAI_RESPONSE = {
    "id": "resp_1", "object": "response", "created_at": 1732000000, "model": "o4-mini-2025-04-16",
    "status": "completed", "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "id": "m_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "42", "annotations": []}]}],
    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
    "usage": {"input_tokens": 100, "output_tokens": 300, "total_tokens": 400,
              "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 64},
              "output_tokens_details": {"reasoning_tokens": 256}},
}


def _record(sdk, response, model="m", provider="openai"):
    @agentkit.llm(provider=provider, model=model)
    def ask():
        return response

    assert ask() is response  # the caller gets exactly what the function returned
    return sdk.spans()[-1].attributes


@pytest.mark.parametrize("as_object", [True, False])
def test_openai_chat_completion(sdk, as_object):
    response = ChatCompletion.model_validate(OPENAI_CHAT) if as_object else OPENAI_CHAT
    a = _record(sdk, response, "gpt-4o")
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-AbC"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 0
    assert a[sc.AGENTKIT_COST_USD] == pytest.approx((176 * 2.5 + 1024 * 1.25 + 80 * 10) / 1e6)


@pytest.mark.parametrize("as_object", [True, False])
def test_anthropic_message_input_includes_cache(sdk, as_object):
    response = Message.model_validate(ANTHROPIC_MESSAGE) if as_object else ANTHROPIC_MESSAGE
    a = _record(sdk, response, "claude-sonnet-4-5", "anthropic")
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2550  # 50 uncached + 2000 read + 500 written
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2000
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 500
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "claude-sonnet-4-5-20250929"


def test_openai_responses_api(sdk):
    a = _record(sdk, Response.model_validate(OPENAI_RESPONSE), "o4-mini")
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 256
    assert a[sc.GEN_AI_RESPONSE_ID] == "resp_1"
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 64


def test_explicit_record_wins_over_the_response(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask():
        agentkit.current_call().record(input_tokens=7)
        return OPENAI_CHAT

    ask()
    a = sdk.spans()[0].attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 80


def test_output_tool_calls_captured_with_content_on(make_sdk):
    import json

    sdk = make_sdk(capture_content="SPAN_ONLY")
    a = _record(sdk, ChatCompletion.model_validate(OPENAI_CHAT), "gpt-4o")
    (message,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "tool_call", "id": "call_1", "name": "get_weather",
                                 "arguments": {"city": "Oslo"}}]
    assert message["finish_reason"] == "tool_calls"


def test_non_response_return_values_are_left_alone(sdk):
    for value in ("text", 3, None, {"no": "usage"}, [1, 2], object()):
        _record(sdk, value)
    assert all(sc.GEN_AI_USAGE_INPUT_TOKENS not in s.attributes for s in sdk.spans())
    assert agentkit.sdk_error_counts() == {}


def test_record_llm_call_after_the_fact(sdk):
    import datetime as dt

    start = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    with agentkit.workflow(name="batch"):
        agentkit.record_llm_call(provider="openai", model="gpt-4o-mini", start_time=start,
                                 end_time=start + dt.timedelta(seconds=2), input_tokens=10, output_tokens=3,
                                 finish_reasons=["stop"], prompt_format="plain", time_to_first_chunk=0.4)
        agentkit.record_llm_call(provider="openai", model="gpt-4o-mini", start_time=start.timestamp(),
                                 end_time=start.timestamp() + 1, error="openai.RateLimitError")
    ok, failed = [s for s in sdk.spans() if s.name == "chat gpt-4o-mini"]
    assert ok.start_time == int(start.timestamp() * 1e9)
    assert ok.end_time - ok.start_time == 2_000_000_000
    assert ok.attributes[sc.AGENTKIT_WORKFLOW_NAME] == "batch"  # inherited (v0.1.0 has no gen_ai.workflow.name)
    assert sc.GEN_AI_WORKFLOW_NAME not in ok.attributes
    assert ok.attributes[sc.AGENTKIT_PROMPT_FORMAT] == "plain"
    assert ok.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == 0.4
    assert failed.attributes[sc.ERROR_TYPE] == "openai.RateLimitError"
    assert failed.status.is_ok is False
    (dur,) = [p for p in sdk.points(sc.METRIC_INFERENCE_DURATION) if sc.ERROR_TYPE not in p.attributes]
    assert dur.sum == pytest.approx(2.0)
