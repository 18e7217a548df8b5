"""Opt-in message content: capture modes, schema, truncation that keeps JSON valid, redaction, secrets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.instrument.content import dumps_bounded, mask_secrets, to_messages

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
RESPONSE = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}


def _call():
    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask(messages):
        return RESPONSE

    ask(messages=MESSAGES)


def test_no_content_by_default(sdk):
    _call()
    attrs = sdk.span("chat gpt-4o").attributes
    assert not set(sc.CONTENT_ATTRIBUTES) & set(attrs)
    assert sdk.logs() == []
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 5  # the response is read anyway


def test_span_only(make_sdk):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    _call()
    attrs = sdk.span("chat gpt-4o").attributes
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}]
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hi there"}], "finish_reason": "stop"}]
    assert sdk.logs() == []


@pytest.mark.parametrize("mode, on_span", [("EVENT_ONLY", False), ("span_and_event", True)])
def test_event_modes(make_sdk, mode, on_span):
    sdk = make_sdk(capture_content=mode)
    _call()
    span = sdk.span("chat gpt-4o")
    assert (sc.GEN_AI_INPUT_MESSAGES in span.attributes) is on_span
    (log,) = sdk.logs()
    record = log.log_record
    assert record.event_name == sc.EVENT_INFERENCE_DETAILS
    # v0.1.0: the event carries the messages as structured values (the SDK stores lists as tuples)
    output = record.attributes[sc.GEN_AI_OUTPUT_MESSAGES]
    assert not isinstance(output, str)
    assert _plain(output) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hi there"}], "finish_reason": "stop"}]
    assert _plain(record.attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}]
    assert record.span_id == span.context.span_id  # the event belongs to the call's span


def test_event_carries_json_strings_under_pre_release(make_sdk):
    sdk = make_sdk(capture_content="EVENT_ONLY", semconv="pre-release")
    _call()
    span = sdk.span("chat gpt-4o")
    (log,) = sdk.logs()
    record = log.log_record
    assert record.event_name == sc.EVENT_INFERENCE_DETAILS
    assert json.loads(record.attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "hi there"
    assert record.span_id == span.context.span_id


def _plain(value):
    """A log attribute value with the SDK's tuples turned back into lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_env_values_true_false_for_older_setups(make_sdk, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    sdk = make_sdk()
    _call()
    assert sc.GEN_AI_INPUT_MESSAGES in sdk.span("chat gpt-4o").attributes


def test_truncation_keeps_valid_json(make_sdk):
    sdk = make_sdk(capture_content="SPAN_ONLY", content_max_length=300)

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask(messages):
        return RESPONSE

    ask(messages=[{"role": "user", "content": "x" * 5000}, {"role": "user", "content": "y" * 5000}])
    text = sdk.span("chat gpt-4o").attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert len(text) <= 300
    parsed = json.loads(text)
    assert parsed[0]["role"] == "user" and "truncated" in parsed[0]["parts"][0]["content"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=6),
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(value=json_values, limit=st.integers(min_value=2, max_value=400))
def test_dumps_bounded_always_valid_and_within_limit(value, limit):
    text = dumps_bounded(value, limit)
    assert len(text) <= limit
    json.loads(text)


def test_redaction_hook_sees_schema_messages(make_sdk):
    seen = []

    def hook(messages):
        seen.append(messages)
        return [{**m, "parts": [{"type": "text", "content": "<redacted by app>"}]} for m in messages]

    sdk = make_sdk(capture_content="SPAN_ONLY", redact=hook)
    _call()
    text = sdk.span("chat gpt-4o").attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "hello" not in text and "<redacted by app>" in text
    assert seen[0][1]["parts"][0]["content"] == "hello"


def test_secrets_masked_whatever_the_setting(make_sdk):
    sdk = make_sdk(capture_content="SPAN_ONLY")

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask(messages):
        return RESPONSE

    ask(messages=[{"role": "user", "content": "my key is sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA and "
                                              "Authorization: Bearer abcdef1234567890xyz"}])
    with agentkit.attributes(note="token=supersecretvalue123"):
        with agentkit.tool(name="t"):
            pass
    text = sdk.span("chat gpt-4o").attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "sk-ant-api03" not in text and "abcdef1234567890xyz" not in text
    assert sdk.span("execute_tool t").attributes["agentkit.note"] == "token=[REDACTED]"


@pytest.mark.parametrize("text", [
    "sk-proj-0123456789abcdefghijABCDEFGHIJ", "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36,
    "xoxb-1234567890-abcdefghij", "AIza" + "B" * 35, "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-nature",
    "api_key=abcd1234efgh", "password: hunter2hunter2",
])
def test_mask_secrets_patterns(text):
    masked = mask_secrets(f"before {text} after")
    assert "[REDACTED]" in masked and masked.startswith("before ")


def test_plain_text_is_untouched():
    text = "The key to success is practice; tokens are words."
    assert mask_secrets(text) == text


def test_anthropic_and_tool_messages_convert_to_schema():
    messages = to_messages([
        {"role": "assistant", "content": [{"type": "text", "text": "let me look"},
                                          {"type": "tool_use", "id": "tu_1", "name": "search",
                                           "input": {"q": "otel"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "found"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "calc", "arguments": "{\"x\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
    ])
    assert messages[0]["parts"][1] == {"type": "tool_call", "id": "tu_1", "name": "search", "arguments": {"q": "otel"}}
    assert messages[1]["parts"][0] == {"type": "tool_call_response", "id": "tu_1", "response": "found"}
    assert messages[2]["parts"][0] == {"type": "tool_call", "id": "call_1", "name": "calc", "arguments": {"x": 1}}
    assert messages[3] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "2"}]}
