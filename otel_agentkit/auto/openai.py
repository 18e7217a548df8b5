"""Auto-instrumentation of the ``openai`` client: chat completions (``create``, ``parse``, ``stream=True`` and
the ``.stream()`` helper, which goes through ``create``), the Responses API (the same forms) and embeddings,
sync and async.

For a streamed chat completion whose caller did not set ``stream_options``, ``include_usage`` is turned on
so that the span gets token usage; the extra usage-only chunk that this makes the server send is kept from
the caller, who sees the stream they asked for. Not through ``with_raw_response`` /
``with_streaming_response``: their caller may read the raw bytes, so the request is left as it is and the
span records what the stream gives (``raw``). Model requests that reach the client without a resource method
of ours (``client.post(...)``, as LiteLLM sends them) are traced where the client sends every request
(``openai_request``), also left as they are.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

from .. import semconv as sc
from ..instrument.invocation import Invocation
from ..instrument.kinds import EMBEDDINGS
from ._common import AutoInstrumentor, Patch, get, given, listed, number, server_of, text
from .calls import (Call, Endpoint, async_wrapper, attributes, chat_tool_calls, fill, set_tool_calls,
                    sync_wrapper)
from .openai_request import async_request_wrapper, sync_request_wrapper
from .raw import follow_raw, raw_mode

REQUIREMENT = "openai >= 1.40, < 4"
_AZURE = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})


def _provider(client: Any) -> str:
    return sc.PROVIDER_AZURE_OPENAI if type(client).__name__ in _AZURE else sc.PROVIDER_OPENAI


def _output_type(fmt: Any) -> str | None:
    kind = get(fmt, "type") if given(fmt) else None
    if kind in ("json_schema", "json_object"):
        return sc.OUTPUT_TYPE_JSON
    if kind == "text":
        return sc.OUTPUT_TYPE_TEXT
    if isinstance(fmt, type):  # parse(response_format=SomeModel)
        return sc.OUTPUT_TYPE_JSON
    return None


def _stop(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    items = listed(value)
    return [s for s in items if isinstance(s, str)] if items else None


def _choices(value: Any) -> int | None:
    n = number(value)
    return n if n is not None and n != 1 else None


# Chat completion request parameters: (attribute, converter giving None for "not recorded").
_CHAT_PARAMS: dict[str, tuple[str, Any]] = {
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
    "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, number),
    "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    "stop": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, _stop),
    "seed": (sc.GEN_AI_REQUEST_SEED, number),
    "n": (sc.GEN_AI_REQUEST_CHOICE_COUNT, _choices),
    "stream": (sc.GEN_AI_REQUEST_STREAM, lambda v: True if v is True else None),
    "response_format": (sc.GEN_AI_OUTPUT_TYPE, _output_type),
    "service_tier": (sc.OPENAI_REQUEST_SERVICE_TIER, text),
}


class _OpenAIEndpoint(Endpoint):
    """What every openai endpoint shares: the stream classes, and raw responses (``with_raw_response``,
    ``with_streaming_response``) followed until their body is read (see ``raw``)."""

    def __init__(self, stream_cls: type, async_stream_cls: type, held_streams: bool = False) -> None:
        self.stream_types = (stream_cls,)
        self.async_stream_types = (async_stream_cls,)
        self.held_streams = held_streams

    def later(self, call: Call, result: Any) -> Any:
        return follow_raw(call, result) if hasattr(result, "http_response") else None


def _response_extras(inv: Invocation, result: Any) -> None:
    """The service tier that served the call (flex and priority tiers are priced differently)."""
    tier = get(result, "service_tier")
    if isinstance(tier, str):
        inv.put({sc.OPENAI_RESPONSE_SERVICE_TIER: tier})


# --- chat completions -------------------------------------------------------------------------------------------
class ChatEndpoint(_OpenAIEndpoint):
    def __init__(self, stream_cls: type, async_stream_cls: type, include_usage: bool,
                 held_streams: bool = False) -> None:
        super().__init__(stream_cls, async_stream_cls, held_streams)
        self.include_usage = include_usage

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        client = getattr(instance, "_client", None)
        model = text(kwargs.get("model"))
        attrs = attributes(sc.OP_CHAT, _provider(client), model, server_of(client), ())
        for key, value in kwargs.items():  # only what the caller passed: usually a handful
            spec = _CHAT_PARAMS.get(key)
            if spec is not None:
                converted = spec[1](value)
                if converted is not None:
                    attrs[spec[0]] = converted
        completion_max = number(kwargs.get("max_completion_tokens"))
        if completion_max is not None:
            attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = completion_max
        return sc.OP_CHAT, model, attrs

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        fill(inv, input_messages=listed(kwargs.get("messages")), tool_definitions=listed(kwargs.get("tools")))

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        # Not for a raw response: its caller may read the bytes, where the extra chunk cannot be hidden.
        if (self.include_usage and kwargs.get("stream") is True and not given(kwargs.get("stream_options"))
                and raw_mode(kwargs) is None):
            return {**kwargs, "stream_options": {"include_usage": True}}, True
        return kwargs, False

    def after(self, inv: Invocation, result: Any) -> None:
        set_tool_calls(inv, chat_tool_calls(result))
        _response_extras(inv, result)

    def accumulator(self, want_content: bool) -> ChatAccumulator:
        return ChatAccumulator(want_content)


class ChatAccumulator:
    """Reads chat completion chunks: ids, per-choice finish reasons, tool calls (their arguments and the
    text only when content is captured)."""

    __slots__ = ("want", "response_id", "model", "reasons", "tools", "texts", "refusals", "extras")

    def __init__(self, want_content: bool) -> None:
        self.want = want_content
        self.response_id: str | None = None
        self.model: str | None = None
        self.reasons: dict[int, str] = {}
        self.tools: dict[tuple[int, int], list[Any]] = {}  # (choice, call index) -> [id, name, [args]]
        self.texts: dict[int, list[str]] = {}
        self.refusals: dict[int, list[str]] = {}
        self.extras: Any = None

    @staticmethod
    def usage_only(chunk: Any) -> bool:
        return not get(chunk, "choices") and get(chunk, "usage") is not None

    @staticmethod
    def has_usage(chunk: Any) -> bool:
        return get(chunk, "usage") is not None

    def add(self, chunk: Any) -> None:
        if self.response_id is None:
            self.response_id, self.model, self.extras = get(chunk, "id"), get(chunk, "model"), chunk
        for choice in get(chunk, "choices") or ():
            index = get(choice, "index") or 0
            reason = get(choice, "finish_reason")
            if reason:
                self.reasons[index] = str(reason)
            delta = get(choice, "delta")
            if delta is None:
                continue
            for call in get(delta, "tool_calls") or ():
                slot = self.tools.setdefault((index, get(call, "index") or 0), [None, None, []])
                slot[0] = get(call, "id") or slot[0]
                function = get(call, "function")
                slot[1] = get(function, "name") or slot[1]
                if self.want and get(function, "arguments"):
                    slot[2].append(get(function, "arguments"))
            if self.want:
                content, refusal = get(delta, "content"), get(delta, "refusal")
                if content:
                    self.texts.setdefault(index, []).append(content)
                if refusal:
                    self.refusals.setdefault(index, []).append(refusal)

    def apply(self, inv: Invocation) -> None:
        reasons = [self.reasons[i] for i in sorted(self.reasons)] or None
        inv.record(response_id=self.response_id if inv.response_id is None else None,
                   response_model=self.model if inv.response_model is None else None,
                   finish_reasons=reasons if inv.finish_reasons is None else None)
        set_tool_calls(inv, [(name, call_id) for call_id, name, _ in self.tools.values()])
        if self.extras is not None:
            _response_extras(inv, self.extras)
        if self.want:
            choices = sorted({*self.texts, *self.refusals, *self.reasons, *(i for i, _ in self.tools)})
            messages = []
            for i in choices:
                msg: dict[str, Any] = {"role": "assistant", "content": "".join(self.texts.get(i, ()))}
                if i in self.refusals:
                    msg["refusal"] = "".join(self.refusals[i])
                calls = [{"id": slot[0], "type": "function", "function": {"name": slot[1],
                                                                          "arguments": "".join(slot[2])}}
                         for (c, _), slot in sorted(self.tools.items()) if c == i]
                if calls:
                    msg["tool_calls"] = calls
                if i in self.reasons:
                    msg["finish_reason"] = self.reasons[i]
                messages.append(msg)
            inv.record(output_messages=messages)


# --- Responses API ----------------------------------------------------------------------------------------------
def _response_inputs(value: Any) -> list[Any] | None:
    """Responses API ``input`` as chat-shaped messages (a string is one user message)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    items = listed(value)
    if items is None:
        return None
    out: list[Any] = []
    for item in items:
        kind = get(item, "type")
        if kind == "function_call":
            out.append({"role": "assistant", "content": [item]})
        elif kind == "function_call_output":
            out.append({"role": "tool", "content": [item]})
        elif get(item, "role") is not None:
            out.append(item)
    return out


def _response_tool_calls(response: Any) -> list[tuple[str | None, str | None]]:
    return [(get(item, "name"), get(item, "call_id")) for item in get(response, "output") or ()
            if get(item, "type") == "function_call"]


class ResponsesEndpoint(_OpenAIEndpoint):
    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        client = getattr(instance, "_client", None)
        g = kwargs.get
        model = text(g("model"))
        fmt = get(g("text"), "format") if given(g("text")) else None
        if fmt is None and given(g("text_format")):
            fmt = g("text_format")
        return sc.OP_CHAT, model, attributes(sc.OP_CHAT, _provider(client), model, server_of(client), (
            (sc.GEN_AI_REQUEST_TEMPERATURE, number(g("temperature"))),
            (sc.GEN_AI_REQUEST_TOP_P, number(g("top_p"))),
            (sc.GEN_AI_REQUEST_MAX_TOKENS, number(g("max_output_tokens"))),
            (sc.GEN_AI_REQUEST_STREAM, True if g("stream") is True else None),
            (sc.GEN_AI_OUTPUT_TYPE, _output_type(fmt)),
            (sc.OPENAI_REQUEST_SERVICE_TIER, text(g("service_tier"))),
        ))

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        fill(inv, input_messages=_response_inputs(kwargs.get("input")), system_instructions=text(
            kwargs.get("instructions")), tool_definitions=listed(kwargs.get("tools")))

    def after(self, inv: Invocation, result: Any) -> None:
        set_tool_calls(inv, _response_tool_calls(result))
        _response_extras(inv, result)

    def accumulator(self, want_content: bool) -> ResponsesAccumulator:
        return ResponsesAccumulator()


_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesAccumulator:
    """Responses API stream events: the final event carries the whole response (usage included)."""

    __slots__ = ("first", "final")

    def __init__(self) -> None:
        self.first: Any = None
        self.final: Any = None

    @staticmethod
    def usage_only(event: Any) -> bool:
        return False

    @staticmethod
    def has_usage(event: Any) -> bool:
        return False  # only the final event's response has it: read in apply()

    def add(self, event: Any) -> None:
        kind = get(event, "type")
        if kind in _FINAL_EVENTS:
            self.final = get(event, "response")
        elif self.first is None and kind == "response.created":
            self.first = get(event, "response")

    def apply(self, inv: Invocation) -> None:
        response = self.final if self.final is not None else self.first
        if response is None:
            return
        inv.observe_response(response)
        if self.final is not None:
            set_tool_calls(inv, _response_tool_calls(self.final))
        _response_extras(inv, response)


# --- embeddings -------------------------------------------------------------------------------------------------
class EmbeddingsEndpoint(_OpenAIEndpoint):
    category = EMBEDDINGS

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        client = getattr(instance, "_client", None)
        model = text(kwargs.get("model"))
        fmt = text(kwargs.get("encoding_format"))
        return sc.OP_EMBEDDINGS, model, attributes(sc.OP_EMBEDDINGS, _provider(client), model, server_of(client), (
            (sc.GEN_AI_REQUEST_ENCODING_FORMATS, [fmt] if fmt else None),
        ))

    def accumulator(self, want_content: bool) -> Any:  # embeddings never stream
        raise TypeError("embeddings do not stream")


# --- the instrumentor -------------------------------------------------------------------------------------------
_CHAT = "openai.resources.chat.completions"
_RESPONSES = "openai.resources.responses"
_EMBEDDINGS = "openai.resources.embeddings"
_BETA_RESPONSES = "openai.resources.beta.responses.responses"
_BETA_CHAT = "openai.resources.beta.chat.completions"
_BASE_CLIENT = "openai._base_client"


class OpenAIInstrumentor(AutoInstrumentor):
    """Traces the ``openai`` client (1.x to 3.x): chat completions, the Responses API and embeddings.

    ``instrument(include_usage=False)`` leaves streamed requests exactly as the caller made them (no usage
    then, unless the caller asks for it). ``tracer_provider`` / ``meter_provider`` are used when
    ``agentkit.init()`` was not called (as under ``opentelemetry-instrument``).
    """

    library = "openai"
    requirement = REQUIREMENT

    def instrumentation_dependencies(self) -> Collection[str]:
        return (REQUIREMENT,)

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        import openai

        streams = (openai.Stream, openai.AsyncStream)
        chat = ChatEndpoint(*streams, include_usage=bool(kwargs.get("include_usage", True)))
        responses_ = ResponsesEndpoint(*streams)
        embeddings = EmbeddingsEndpoint(*streams)
        # Requests no resource method of ours saw (``client.post(...)``, methods bound before instrumenting):
        # endpoints of their own, which never add include_usage and whose streams are held (openai_request).
        paths = {"/chat/completions": ChatEndpoint(*streams, include_usage=False, held_streams=True),
                 "/responses": ResponsesEndpoint(*streams, held_streams=True),
                 "/embeddings": EmbeddingsEndpoint(*streams, held_streams=True)}
        return self._apply([
            (f"{_CHAT}:Completions", "create", sync_wrapper(chat)),
            (f"{_CHAT}:Completions", "parse", sync_wrapper(chat)),
            (f"{_CHAT}:AsyncCompletions", "create", async_wrapper(chat)),
            (f"{_CHAT}:AsyncCompletions", "parse", async_wrapper(chat)),
            (f"{_RESPONSES}:Responses", "create", sync_wrapper(responses_)),
            (f"{_RESPONSES}:Responses", "parse", sync_wrapper(responses_)),
            (f"{_RESPONSES}:AsyncResponses", "create", async_wrapper(responses_)),
            (f"{_RESPONSES}:AsyncResponses", "parse", async_wrapper(responses_)),
            (f"{_EMBEDDINGS}:Embeddings", "create", sync_wrapper(embeddings)),
            (f"{_EMBEDDINGS}:AsyncEmbeddings", "create", async_wrapper(embeddings)),
            # beta surfaces that send model requests of their own (each exists only in some versions): the
            # Responses beta (POST /responses?beta=true, 2.x and later), and beta.chat.completions.parse of
            # 1.x (which posts itself in most 1.x releases; where it calls create, that nested call stays out)
            (f"{_BETA_RESPONSES}:Responses", "create", sync_wrapper(responses_)),
            (f"{_BETA_RESPONSES}:AsyncResponses", "create", async_wrapper(responses_)),
            (f"{_BETA_CHAT}:Completions", "parse", sync_wrapper(chat)),
            (f"{_BETA_CHAT}:AsyncCompletions", "parse", async_wrapper(chat)),
            (f"{_BASE_CLIENT}:SyncAPIClient", "request", sync_request_wrapper(paths)),
            (f"{_BASE_CLIENT}:AsyncAPIClient", "request", async_request_wrapper(paths)),
        ])
