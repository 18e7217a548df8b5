"""The request keywords of ``agentkit.llm(...)``, as users copy them from their client call, to span
attributes.

Every request parameter of the OpenAI Chat Completions / Responses and Anthropic Messages APIs is accepted;
none of them, nor an unknown name or a wrong-typed value, raises (this runs when the user's module is
imported). The rule is in ``decorators.llm``'s docstring.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from .. import diagnostics, semconv as sc
from .invocation import REQUEST_ATTRS

_SENTINELS = frozenset({"NotGiven", "Omit"})  # the client libraries' "not given" markers
_OPENAI_PROVIDERS = frozenset({sc.PROVIDER_OPENAI, sc.PROVIDER_AZURE_OPENAI})
_Reader = Callable[[Any], Any]  # a parameter's value -> the attribute's value, or None when it gives none


def _number(value: Any) -> int | float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value if ok else None


def _whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return int(value) if isinstance(value, float) and value.is_integer() else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _scalar(value: Any) -> str | bool | int | float | None:
    return value if isinstance(value, (str, bool, int, float)) else None


def _strings(value: Any) -> list[str] | None:
    """Stop sequences: one string or a list of strings (a bare string is one sequence, not its letters)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _field(value: Any, name: str) -> Any:
    """A field of a dict parameter, or of the client library's typed object for it."""
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _output_type(fmt: Any) -> str | None:
    """gen_ai.output.type from a response format: json_object / json_schema -> json, text -> text."""
    if isinstance(fmt, type):  # a model class, as the clients' parse(response_format=Model) takes
        return sc.OUTPUT_TYPE_JSON
    kind = _field(fmt, "type")
    if kind in ("json_object", "json_schema"):
        return sc.OUTPUT_TYPE_JSON
    return sc.OUTPUT_TYPE_TEXT if kind == "text" else None


def _in(name: str, read: _Reader) -> _Reader:
    """A reader of field ``name`` of a dict parameter."""
    return lambda value: None if isinstance(value, str) else read(_field(value, name))


def _or_field(name: str) -> _Reader:
    """A string, or the string field ``name`` of a dict (tool_choice's type, a conversation's id)."""
    return lambda value: value if isinstance(value, str) else _text(_field(value, name))


# GenAI attribute -> the reader of its value, for the keywords of invocation.REQUEST_ATTRS.
_READERS: dict[str, _Reader] = {
    sc.GEN_AI_REQUEST_TEMPERATURE: _number, sc.GEN_AI_REQUEST_TOP_P: _number, sc.GEN_AI_REQUEST_TOP_K: _number,
    sc.GEN_AI_REQUEST_MAX_TOKENS: _whole, sc.GEN_AI_REQUEST_FREQUENCY_PENALTY: _number,
    sc.GEN_AI_REQUEST_PRESENCE_PENALTY: _number, sc.GEN_AI_REQUEST_STOP_SEQUENCES: _strings,
    sc.GEN_AI_REQUEST_SEED: _whole, sc.GEN_AI_REQUEST_CHOICE_COUNT: _whole, sc.GEN_AI_REQUEST_STREAM: _flag,
}
# Keyword -> (attribute, reader) pairs. When two keywords give one attribute, the later one here wins
# (max_completion_tokens / max_output_tokens over max_tokens, n over choice_count, stop over stop_sequences).
_LLM_PARAMS: dict[str, tuple[tuple[str, _Reader], ...]] = {
    key: ((attr, _READERS.get(attr, _scalar)),) for key, attr in REQUEST_ATTRS.items()}
_LLM_PARAMS.update({
    "n": ((sc.GEN_AI_REQUEST_CHOICE_COUNT, _whole),),
    "stop": ((sc.GEN_AI_REQUEST_STOP_SEQUENCES, _strings),),
    "response_format": ((sc.GEN_AI_OUTPUT_TYPE, _output_type),),
    "text": ((sc.GEN_AI_OUTPUT_TYPE, _in("format", _output_type)),
             (sc.AGENTKIT_REQUEST_VERBOSITY, _in("verbosity", _text))),
    "output_config": ((sc.GEN_AI_OUTPUT_TYPE, _in("format", _output_type)),
                      (sc.AGENTKIT_REQUEST_EFFORT, _in("effort", _text))),
    "conversation": ((sc.GEN_AI_CONVERSATION_ID, _or_field("id")),),
    "service_tier": ((sc.AGENTKIT_REQUEST_SERVICE_TIER, _text),),  # openai.request.service_tier for OpenAI
    "reasoning_effort": ((sc.AGENTKIT_REQUEST_REASONING_EFFORT, _text),),
    "reasoning": ((sc.AGENTKIT_REQUEST_REASONING_EFFORT, _in("effort", _text)),),
    "verbosity": ((sc.AGENTKIT_REQUEST_VERBOSITY, _text),),
    "thinking": ((sc.AGENTKIT_REQUEST_THINKING_TYPE, _in("type", _text)),
                 (sc.AGENTKIT_REQUEST_THINKING_BUDGET_TOKENS, _in("budget_tokens", _whole))),
    "tool_choice": ((sc.AGENTKIT_REQUEST_TOOL_CHOICE, _or_field("type")),),
    "parallel_tool_calls": ((sc.AGENTKIT_REQUEST_PARALLEL_TOOL_CALLS, _scalar),),
    "max_tool_calls": ((sc.AGENTKIT_REQUEST_MAX_TOOL_CALLS, _scalar),),
    "logprobs": ((sc.AGENTKIT_REQUEST_LOGPROBS, _scalar),),
    "top_logprobs": ((sc.AGENTKIT_REQUEST_TOP_LOGPROBS, _scalar),),
    "store": ((sc.AGENTKIT_REQUEST_STORE, _scalar),),
    "background": ((sc.AGENTKIT_REQUEST_BACKGROUND, _scalar),),
    "truncation": ((sc.AGENTKIT_REQUEST_TRUNCATION, _scalar),),
    "previous_response_id": ((sc.AGENTKIT_REQUEST_PREVIOUS_RESPONSE_ID, _scalar),),
    "prompt_cache_retention": ((sc.AGENTKIT_REQUEST_PROMPT_CACHE_RETENTION, _scalar),),
    "speed": ((sc.AGENTKIT_REQUEST_SPEED, _scalar),),
    "inference_geo": ((sc.AGENTKIT_REQUEST_INFERENCE_GEO, _scalar),),
    "workspace_id": ((sc.AGENTKIT_REQUEST_WORKSPACE_ID, _scalar),),
})
_RANK = {key: i for i, key in enumerate(_LLM_PARAMS)}
# Known parameters never recorded from the decorator: content (captured, opt-in, from the call itself),
# tool definitions and tool configuration, end-user identifiers (recorded only as enduser.pseudo.id),
# free-form or structured options, and the clients' transport options (headers may hold secrets).
_IGNORED = frozenset({
    "messages", "input", "instructions", "system", "prompt", "prediction",
    "tools", "functions", "function_call", "web_search_options", "mcp_servers", "container",
    "context_management", "compaction",
    "metadata", "user", "safety_identifier", "prompt_cache_key", "user_profile_id",
    "logit_bias", "audio", "modalities", "include", "image", "moderation", "stream_options",
    "background_options", "prompt_cache_options", "access_programs", "cache_control", "diagnostics", "betas",
    "fallbacks", "fallback_credit_token", "billing_policy", "thread",
    "extra_headers", "extra_query", "extra_body", "timeout",
})


def _unknown(name: str) -> None:
    if diagnostics.seen(("llm-request", "unknown", name)):
        return
    import difflib  # only on this path, once per name

    close = difflib.get_close_matches(name, [*_LLM_PARAMS, *_IGNORED], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    diagnostics.debug_once(("llm-request", "unknown", name), "otel_agentkit: agentkit.llm ignores the unknown request parameter %r%s",
                name, hint)


def _read_param(name: str, value: Any, readers: tuple[tuple[str, _Reader], ...], attrs: dict[str, Any]) -> None:
    if value is None or type(value).__name__ in _SENTINELS:
        return
    found = False
    for attribute, read in readers:
        got = read(value)
        if got is not None:
            attrs[attribute] = got
            found = True
    if not found:
        diagnostics.debug_once(("llm-request", "value", name), "otel_agentkit: agentkit.llm does not record request parameter %r: a value "
                    "of type %s gives no attribute", name, type(value).__name__)


def request_attributes(request: dict[str, Any], provider: str | None) -> dict[str, Any]:
    """The span attributes of ``llm``'s request keywords (see its docstring); never raises."""
    attrs: dict[str, Any] = {}
    if not request:
        return attrs
    names = sorted(request, key=lambda k: _RANK.get(k, -1)) if len(request) > 1 else list(request)
    for name in names:
        readers = _LLM_PARAMS.get(name)
        try:
            if readers is not None:
                _read_param(name, request[name], readers, attrs)
            elif name not in _IGNORED:
                _unknown(name)
        except Exception as exc:  # a value whose fields cannot be read: that parameter is left out
            diagnostics.report("decorator.request", exc)
    if provider in _OPENAI_PROVIDERS and sc.AGENTKIT_REQUEST_SERVICE_TIER in attrs:
        attrs[sc.OPENAI_REQUEST_SERVICE_TIER] = attrs.pop(sc.AGENTKIT_REQUEST_SERVICE_TIER)
    return attrs
