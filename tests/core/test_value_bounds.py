"""Values are bounded where they enter a span: token counts and costs outside any real range are refused
(a counted SDK error naming the field and the value; the call is recorded without it), and attribute values
are cut to the OTel attribute value length limit (16 KiB by default), JSON content staying valid JSON."""

from __future__ import annotations

import json
import logging

import pytest

import otel_agentkit as agentkit
from otel_agentkit import ConfigError, diagnostics, semconv as sc
from otel_agentkit.config import load_settings
from otel_agentkit.instrument import bounds

MODEL = "gpt-4o-mini"
SPAN = f"chat {MODEL}"


@pytest.fixture(autouse=True)
def _fresh_counts():
    bounds.reset()
    yield
    bounds.reset()


def _errors(where: str) -> int:
    return diagnostics.error_counts().get((where, "ValueError"), 0)


# --- counts and costs -----------------------------------------------------------------------------------------
def test_absurd_token_count_is_refused_and_the_call_kept(sdk, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentkit")
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(input_tokens=10**30, output_tokens=5, response_id="r-1")
    a = sdk.span(SPAN).attributes
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5 and a[sc.GEN_AI_RESPONSE_ID] == "r-1"
    assert a[sc.AGENTKIT_COST_USD] < 0.01  # priced on what was kept, not $7.5e23
    assert _errors("call.record") == 1
    assert "input_tokens must be a whole number from 0 to 1_000_000_000" in caplog.text
    assert "got 1000000000000000000000000000000" in caplog.text
    assert [p.sum for p in sdk.points(sc.METRIC_INPUT_TOKENS)] == [0]


@pytest.mark.parametrize("bad", [-1, 10**9 + 1, 1.5, float("nan"), float("inf"), "12", True])
def test_each_kind_of_bad_count_is_refused(sdk, bad):
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(output_tokens=bad, reasoning_tokens=3)
    a = sdk.span(SPAN).attributes
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in a and a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 3
    assert _errors("call.record") == 1


def test_whole_float_and_the_bound_itself_are_counts(sdk):
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(input_tokens=12.0, output_tokens=10**9)
    a = sdk.span(SPAN).attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 and type(a[sc.GEN_AI_USAGE_INPUT_TOKENS]) is int
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 10**9
    assert diagnostics.error_counts() == {}


def test_usage_attribute_names_get_the_same_bounds(sdk):
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(**{sc.GEN_AI_USAGE_INPUT_TOKENS: 10**30, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 7})
    a = sdk.span(SPAN).attributes
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert _errors("call.record") == 1


@pytest.mark.parametrize("bad", [1e30, float("nan"), -4])
def test_absurd_usage_in_a_response_is_refused(sdk, bad):
    @agentkit.llm(provider="openai", model=MODEL)
    def ask():
        return {"id": "c-1", "model": MODEL, "choices": [{"finish_reason": "stop"}],
                "usage": {"prompt_tokens": bad, "completion_tokens": 8}}

    ask()
    a = sdk.span(SPAN).attributes
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8 and a[sc.GEN_AI_RESPONSE_ID] == "c-1"
    assert _errors("response.usage") == 1


def test_record_llm_call_is_bounded_too(sdk):
    agentkit.record_llm_call(provider="openai", model=MODEL, start_time=1_700_000_000, end_time=1_700_000_001,
                             input_tokens=10**30, output_tokens=2)
    a = sdk.span(SPAN).attributes
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert _errors("call.record") == 1


def test_cost_beyond_any_real_price_is_refused(make_sdk):
    sdk = make_sdk(pricing={"mad-model": {"input": 1e12, "output": 1}})
    with agentkit.llm(provider="openai", model="mad-model") as call:
        call.record(input_tokens=1000, output_tokens=1)  # $1e9: not a call anyone made
    a = sdk.span("chat mad-model").attributes
    assert sc.AGENTKIT_COST_USD not in a and a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert _errors("pricing.cost") == 1
    assert sum(p.value for p in sdk.points(sc.METRIC_COST)) == 0


def test_a_cost_given_by_the_user_is_bounded(sdk):
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(**{sc.AGENTKIT_COST_USD: float("inf")})
    assert sc.AGENTKIT_COST_USD not in sdk.span(SPAN).attributes
    assert _errors("call.record") == 1


@pytest.mark.parametrize("price", [float("inf"), float("nan"), -1])
def test_pricing_table_prices_must_be_finite(tmp_path, price):
    agentkit.shutdown()  # init() while active would return early, before validating
    with pytest.raises(ConfigError, match=r"pricing\['m'\]\.input"):
        agentkit.init(pricing={"m": {"input": price, "output": 1}}, exporters="none", home=tmp_path)
    assert not agentkit.is_active()


# --- attribute value length -----------------------------------------------------------------------------------
def test_a_10_mb_attribute_is_cut_to_the_default_limit_and_counted(sdk):
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(note="x" * 10_000_000)
    value = sdk.span(SPAN).attributes["agentkit.note"]
    assert bounds.DEFAULT_VALUE_LENGTH == 16384 and 16300 < len(value) <= 16384
    assert value.startswith("xxx") and value.endswith("chars]") and "[truncated 99" in value
    assert bounds.truncation_counts() == {"agentkit.note": 1}
    (point,) = sdk.points(sc.METRIC_SDK_TRUNCATED_ATTRIBUTES)
    assert point.value == 1 and point.attributes == {"attribute": "agentkit.note"}


def test_start_attributes_span_name_and_exception_event_are_bounded(sdk):
    model = "m" * 50_000
    boom = RuntimeError("e" * 50_000)

    @agentkit.llm(provider="openai", model=model)
    def ask():
        raise boom

    with pytest.raises(RuntimeError) as caught:
        ask()
    assert caught.value is boom
    (span,) = sdk.spans()
    assert len(span.name) <= 16384 and len(span.attributes[sc.GEN_AI_REQUEST_MODEL]) <= 16384
    event = span.events[0]
    assert len(event.attributes["exception.message"]) <= 16384
    assert len(event.attributes["exception.stacktrace"]) <= 16384
    assert set(bounds.truncation_counts()) == {sc.GEN_AI_REQUEST_MODEL, "exception.message",
                                               "exception.stacktrace"}


def test_otel_limit_applies_and_content_stays_valid_json(make_sdk, monkeypatch):
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000")
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5")  # the span-specific one wins
    sdk = make_sdk(capture_content="SPAN_ONLY")  # its TracerProvider reads the same limit, as users' would
    messages = [{"role": "user", "content": "word " * 2000}]
    with agentkit.llm(provider="openai", model=MODEL) as call:
        call.record(input_messages=messages, note="n" * 5000)
    a = sdk.span(SPAN).attributes
    content = a[sc.GEN_AI_INPUT_MESSAGES]
    assert len(content) <= 1000
    assert json.loads(content)[0]["parts"][0]["content"].startswith("word word")
    assert len(a["agentkit.note"]) == 1000
    assert bounds.truncation_counts() == {sc.GEN_AI_INPUT_MESSAGES: 1, "agentkit.note": 1}


def test_limit_settings(monkeypatch):
    monkeypatch.delenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", raising=False)
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "2048")
    assert load_settings().attribute_value_length_limit == 2048
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "lots")  # warned about (test_config), not fatal
    assert load_settings().attribute_value_length_limit is None
    with pytest.raises(ConfigError, match="invalid attribute_value_length_limit='lots'"):
        load_settings(attribute_value_length_limit="lots")
    monkeypatch.delenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
    assert load_settings().attribute_value_length_limit is None
    # unset: 16 KiB, or the content length when that was raised above it
    assert bounds.value_length_limit(None, 16384) == 16384
    assert bounds.value_length_limit(None, 100_000) == 100_000
    assert bounds.value_length_limit(500, 100_000) == 500
