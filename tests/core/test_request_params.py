"""agentkit.llm(...) takes the request keywords of the OpenAI and Anthropic client calls: mapped to GenAI
attributes, kept as agentkit.request.* when scalar, or ignored; never raising at decoration time."""

from __future__ import annotations

import inspect
import logging

import anthropic
import openai
import pytest
from anthropic.resources.beta.messages import Messages as AnthropicBetaMessages
from anthropic.resources.messages import Messages as AnthropicMessages
from openai.resources.chat.completions import Completions as OpenAIChat
from openai.resources.responses import Responses as OpenAIResponses

import otel_agentkit as agentkit
from otel_agentkit import diagnostics, semconv as sc

LOGGER = "otel_agentkit"
SECRET = "do-not-put-me-on-a-span"
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": SECRET, "parameters": {}}}]


@pytest.fixture
def fresh_log(monkeypatch):
    """Forget which names were logged: the debug lines are once per process, and tests share it."""
    diagnostics.reset()


def _values(span) -> list:
    out = []
    for value in span.attributes.values():
        out.extend(value if isinstance(value, tuple) else (value,))
    return out


# --- no keyword of the client calls raises at decoration time ------------------------------------------------
@pytest.mark.parametrize("keyword, value", [
    ("max_completion_tokens", 1),
    ("reasoning_effort", "high"),
    ("response_format", {"type": "json_object"}),
    ("tools", TOOLS),
    ("metadata", {"session": SECRET}),
    ("user", SECRET),
])
def test_client_keywords_do_not_raise_at_decoration(make_sdk, keyword, value):
    # Decorated before init(), as at import time of the user's module.
    @agentkit.llm(provider="openai", model="gpt-4o", **{keyword: value})
    def ask():
        return "ok"

    sdk = make_sdk()
    assert ask() == "ok"
    assert sdk.span("chat gpt-4o").attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert SECRET not in _values(sdk.span("chat gpt-4o"))


def _client_parameters(func) -> list[str]:
    return [name for name in inspect.signature(func).parameters if name not in ("self", "model")]


@pytest.mark.parametrize("create", [OpenAIChat.create, OpenAIResponses.create, AnthropicMessages.create,
                                    AnthropicBetaMessages.create],
                         ids=["openai-chat", "openai-responses", "anthropic-messages", "anthropic-beta-messages"])
def test_every_parameter_of_the_installed_clients_is_known(caplog, fresh_log, create):
    """Each keyword of the installed client's create() is mapped, kept or deliberately ignored: none is
    logged as unknown (a new client release that adds one makes this fail, to classify it)."""
    names = _client_parameters(create)
    assert "temperature" in names or "max_tokens" in names  # the real signature, not an empty stub
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for name in names:
            agentkit.llm(provider="openai", model="m", **{name: object()})
    unknown = [r.getMessage() for r in caplog.records if "unknown request parameter" in r.getMessage()]
    assert unknown == []


# --- mapping to span attributes -------------------------------------------------------------------------------
def test_openai_chat_completions_keywords(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o", max_completion_tokens=256, n=3, stop="END", seed=7,
                  temperature=0.3, top_p=0.9, frequency_penalty=0.5, presence_penalty=-0.5,
                  response_format={"type": "json_schema", "json_schema": {"name": SECRET, "schema": {}}},
                  service_tier="flex", reasoning_effort="low", verbosity="high", logprobs=True, top_logprobs=2,
                  parallel_tool_calls=False, store=True, tool_choice="required", tools=TOOLS,
                  messages=[{"role": "user", "content": SECRET}], user=SECRET, metadata={"k": SECRET},
                  stream_options={"include_usage": True}, extra_headers={"Authorization": "Bearer " + SECRET})
    def ask():
        return "ok"

    ask()
    a = sdk.span("chat gpt-4o").attributes
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert a[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 3
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)  # one sequence, not its letters
    assert a[sc.GEN_AI_REQUEST_SEED] == 7
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.3 and a[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[sc.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.5 and a[sc.GEN_AI_REQUEST_PRESENCE_PENALTY] == -0.5
    assert a[sc.GEN_AI_OUTPUT_TYPE] == sc.OUTPUT_TYPE_JSON
    assert a[sc.OPENAI_REQUEST_SERVICE_TIER] == "flex" and sc.AGENTKIT_REQUEST_SERVICE_TIER not in a
    assert a[sc.AGENTKIT_REQUEST_REASONING_EFFORT] == "low"
    assert a[sc.AGENTKIT_REQUEST_VERBOSITY] == "high"
    assert a[sc.AGENTKIT_REQUEST_LOGPROBS] is True and a[sc.AGENTKIT_REQUEST_TOP_LOGPROBS] == 2
    assert a[sc.AGENTKIT_REQUEST_PARALLEL_TOOL_CALLS] is False and a[sc.AGENTKIT_REQUEST_STORE] is True
    assert a[sc.AGENTKIT_REQUEST_TOOL_CHOICE] == "required"
    assert not any(SECRET in str(v) for v in _values(sdk.span("chat gpt-4o")))
    assert not [k for k in a if k.endswith((".tools", ".messages", ".user", ".metadata", ".extra_headers"))]


def test_openai_responses_keywords(sdk):
    with agentkit.llm(provider="openai", model="gpt-5", max_output_tokens=1000, reasoning={"effort": "minimal"},
                      text={"format": {"type": "text"}, "verbosity": "low"}, conversation={"id": "conv_1"},
                      previous_response_id="resp_1", truncation="auto", background=False, max_tool_calls=4,
                      tool_choice={"type": "function", "name": SECRET}, instructions=SECRET, input=SECRET,
                      safety_identifier=SECRET, prompt_cache_key=SECRET):
        pass
    a = sdk.span("chat gpt-5").attributes
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 1000
    assert a[sc.AGENTKIT_REQUEST_REASONING_EFFORT] == "minimal"  # the same attribute as reasoning_effort
    assert a[sc.GEN_AI_OUTPUT_TYPE] == sc.OUTPUT_TYPE_TEXT
    assert a[sc.AGENTKIT_REQUEST_VERBOSITY] == "low"
    assert a[sc.GEN_AI_CONVERSATION_ID] == "conv_1"
    assert a[sc.AGENTKIT_REQUEST_PREVIOUS_RESPONSE_ID] == "resp_1"
    assert a[sc.AGENTKIT_REQUEST_TRUNCATION] == "auto"
    assert a[sc.AGENTKIT_REQUEST_BACKGROUND] is False and a[sc.AGENTKIT_REQUEST_MAX_TOOL_CALLS] == 4
    assert a[sc.AGENTKIT_REQUEST_TOOL_CHOICE] == "function"  # the choice's type, never the tool's name
    assert not any(SECRET in str(v) for v in _values(sdk.span("chat gpt-5")))


def test_anthropic_messages_keywords(sdk):
    with agentkit.llm(provider="anthropic", model="claude-sonnet-4-5", max_tokens=1024, top_k=40,
                      temperature=1.0, top_p=0.95, stop_sequences=["\n\nHuman:", "END"], stream=True,
                      thinking={"type": "enabled", "budget_tokens": 2048}, tool_choice={"type": "any"},
                      service_tier="standard_only", system=SECRET, tools=TOOLS,
                      metadata={"user_id": SECRET}, output_config={"effort": "high",
                                                                   "format": {"type": "json_schema", "schema": {}}},
                      speed="fast", inference_geo="us"):
        pass
    a = sdk.span("chat claude-sonnet-4-5").attributes
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 1024
    assert a[sc.GEN_AI_REQUEST_TOP_K] == 40 and type(a[sc.GEN_AI_REQUEST_TOP_K]) is int
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 1.0 and a[sc.GEN_AI_REQUEST_TOP_P] == 0.95
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("\n\nHuman:", "END")
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.AGENTKIT_REQUEST_THINKING_TYPE] == "enabled"
    assert a[sc.AGENTKIT_REQUEST_THINKING_BUDGET_TOKENS] == 2048
    assert a[sc.AGENTKIT_REQUEST_TOOL_CHOICE] == "any"
    # No GenAI attribute for Anthropic's service tier: kept under agentkit, not under openai.*.
    assert a[sc.AGENTKIT_REQUEST_SERVICE_TIER] == "standard_only" and sc.OPENAI_REQUEST_SERVICE_TIER not in a
    assert a[sc.GEN_AI_OUTPUT_TYPE] == sc.OUTPUT_TYPE_JSON and a[sc.AGENTKIT_REQUEST_EFFORT] == "high"
    assert a[sc.AGENTKIT_REQUEST_SPEED] == "fast" and a[sc.AGENTKIT_REQUEST_INFERENCE_GEO] == "us"
    assert not any(SECRET in str(v) for v in _values(sdk.span("chat claude-sonnet-4-5")))


def test_one_choice_is_not_written_and_the_newer_max_wins(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o", n=1, max_tokens=10, max_completion_tokens=20)
    def ask():
        return "ok"

    ask()
    a = sdk.span("chat gpt-4o").attributes
    assert sc.GEN_AI_REQUEST_CHOICE_COUNT not in a  # v0.1.0: only when it is not 1
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 20


def test_long_kept_string_is_cut_to_the_attribute_limit(make_sdk, monkeypatch):
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64")
    sdk = make_sdk()
    with agentkit.llm(provider="openai", model="m", previous_response_id="r" * 500):
        pass
    value = sdk.span("chat m").attributes[sc.AGENTKIT_REQUEST_PREVIOUS_RESPONSE_ID]
    assert len(value) <= 64 and value.startswith("rrrr")


# --- unknown keywords and wrong types ------------------------------------------------------------------------
def test_unknown_keyword_is_ignored_with_one_debug_line(sdk, caplog, fresh_log):
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    @agentkit.llm(provider="openai", model="gpt-4o", temperature=0.1, tempreture_unknown_1=5)
    def ask():
        return "ok"

    with agentkit.llm(provider="openai", model="gpt-4o", tempreture_unknown_1=6):  # the same name again
        pass
    ask()
    lines = [r for r in caplog.records if r.name == LOGGER and "tempreture_unknown_1" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.DEBUG
    assert "unknown request parameter" in lines[0].getMessage()
    spans = sdk.spans()
    assert len(spans) == 2
    assert all(5 not in _values(s) and 6 not in _values(s) for s in spans)
    assert [s.attributes.get(sc.GEN_AI_REQUEST_TEMPERATURE) for s in spans] == [None, 0.1]


def test_typo_gets_a_hint(caplog, fresh_log):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    agentkit.llm(provider="openai", model="m", presense_penalty=1)
    assert any("did you mean 'presence_penalty'" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("keyword, value, attribute", [
    ("temperature", "hot", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_k", "many", sc.GEN_AI_REQUEST_TOP_K),
    ("seed", 1.5, sc.GEN_AI_REQUEST_SEED),
    ("stop", 5, sc.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("stream", "yes", sc.GEN_AI_REQUEST_STREAM),
    ("max_completion_tokens", True, sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("frequency_penalty", float("nan"), sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("response_format", "json", sc.GEN_AI_OUTPUT_TYPE),
    ("reasoning_effort", {"effort": "high"}, sc.AGENTKIT_REQUEST_REASONING_EFFORT),
])
def test_wrong_typed_value_is_dropped_with_one_debug_line(sdk, caplog, fresh_log, keyword, value, attribute):
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    @agentkit.llm(provider="openai", model="gpt-4o", top_p=0.5, **{keyword: value})
    def ask():
        return "ok"

    with agentkit.llm(provider="openai", model="gpt-4o", top_p=0.5, **{keyword: value}):  # the same name again
        pass
    ask()
    for span in sdk.spans():
        assert attribute not in span.attributes
        assert span.attributes[sc.GEN_AI_REQUEST_TOP_P] == 0.5  # the rest of the request is kept
    lines = [r for r in caplog.records if r.name == LOGGER and repr(keyword) in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.DEBUG


def test_wrong_typed_value_logs_once(caplog, fresh_log):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    for _ in range(3):
        agentkit.llm(provider="anthropic", model="m", thinking="lots")
    lines = [r for r in caplog.records if "'thinking'" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.DEBUG


def test_not_given_markers_are_not_given(sdk, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with agentkit.llm(provider="openai", model="m", temperature=openai.NOT_GIVEN, top_k=anthropic.NOT_GIVEN,
                      seed=None):
        pass
    a = sdk.span("chat m").attributes
    assert not {sc.GEN_AI_REQUEST_TEMPERATURE, sc.GEN_AI_REQUEST_TOP_K, sc.GEN_AI_REQUEST_SEED} & set(a)
    assert not [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.DEBUG
                and "agentkit.llm" in r.getMessage()]


def test_a_value_whose_fields_raise_does_not_raise(sdk):
    class Hostile:
        def __getattr__(self, name):
            raise RuntimeError("no fields here")

    with agentkit.llm(provider="openai", model="m", text=Hostile(), temperature=0.5):
        pass
    assert sdk.span("chat m").attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.5


# --- record() / record_llm_call() keep using the shared keyword table -------------------------------------------
def test_record_llm_call_maps_request_keywords(sdk):
    agentkit.record_llm_call(provider="openai", model="o4-mini", start_time=1.7e9, end_time=1.7e9 + 1,
                             temperature=0.2, max_completion_tokens=64, n=3)
    a = sdk.span("chat o4-mini").attributes
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a["agentkit.n"] == 3  # a generic name given to record() stays the caller's own attribute
