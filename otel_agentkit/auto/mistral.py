"""Auto-instrumentation of the ``mistralai`` client (3.x): ``chat.complete``, ``chat.stream`` and
``embeddings.create``, sync and async (``complete_async``, ``stream_async``, ``create_async``). ``chat.parse``
and ``chat.parse_stream`` send their request through ``complete`` / ``stream``, so they are traced there.

Responses are shaped like OpenAI's (``usage.prompt_tokens`` / ``completion_tokens``, choices with finish
reasons); a stream is an ``EventStream`` of events whose ``data`` is the chunk, the last one carrying the usage
and the finish reason. Finish reasons are mapped to the spec's values (:data:`FINISH_REASONS`).

The client has opt-in spans of its own (``MISTRAL_SDK_TELEMETRY``, ``configure_telemetry``). Under an agentkit
span for the same call such a span is a nested duplicate, so it is left out (``instrument(
suppress_native_spans=False)`` keeps it).
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Mapping

from opentelemetry import context as otel_context

from .. import semconv as sc
from ..instrument import responses
from ..instrument.invocation import Invocation
from ..instrument.kinds import EMBEDDINGS
from ._common import AUTO_KEY, AutoInstrumentor, Patch, get, listed, number, text, url_server
from .calls import Endpoint, async_wrapper, attributes, chat_tool_calls, fill, set_tool_calls, sync_wrapper

REQUIREMENT = "mistralai >= 3.0, < 4"

# Mistral's finish reasons -> the spec's (gen_ai.response.finish_reasons, output messages). "model_length" is
# the model's context length reached: a length stop too. Others are kept, lower-cased.
FINISH_REASONS: dict[str, str] = {
    "stop": sc.FINISH_REASON_STOP,
    "length": sc.FINISH_REASON_LENGTH,
    "model_length": sc.FINISH_REASON_LENGTH,
    "tool_calls": sc.FINISH_REASON_TOOL_CALL,
    "error": sc.FINISH_REASON_ERROR,
}


def finish_reason(value: Any) -> str:
    """The spec's value for a Mistral finish reason (idempotent: a spec value maps to itself)."""
    raw = str(value)
    return FINISH_REASONS.get(raw, raw.lower())


def _server(instance: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The server a call goes to: its own ``server_url``, else the client's."""
    url = kwargs.get("server_url")
    if not isinstance(url, str) or not url:
        try:
            url = instance.sdk_configuration.get_server_details()[0]
        except Exception:  # an unknown server name: the client itself will say so
            return None, None
    return url_server(url) if isinstance(url, str) else (None, None)


def _stop(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    items = listed(value)
    return [s for s in items if isinstance(s, str)] or None if items else None


def _choices(value: Any) -> int | None:
    n = number(value)
    return n if n is not None and n != 1 else None


def _output_type(fmt: Any) -> str | None:
    kind = get(fmt, "type")
    if kind in ("json_object", "json_schema"):
        return sc.OUTPUT_TYPE_JSON
    return sc.OUTPUT_TYPE_TEXT if kind == "text" else None


# Chat request parameters: (attribute, converter giving None for "not recorded").
_CHAT_PARAMS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
    "top_k": (sc.GEN_AI_REQUEST_TOP_K, number),
    "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, number),
    "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    "stop": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, _stop),
    "random_seed": (sc.GEN_AI_REQUEST_SEED, number),
    "n": (sc.GEN_AI_REQUEST_CHOICE_COUNT, _choices),
    "response_format": (sc.GEN_AI_OUTPUT_TYPE, _output_type),
}


def _map_parsed_reasons(inv: Invocation, result: Any) -> None:
    """The response parser recorded Mistral's own finish reasons: put the spec's in their place (a user's
    own values, which differ from the response's, are left as they are)."""
    raw = [str(r) for r in (get(c, "finish_reason") for c in get(result, "choices") or ()) if r]
    if raw and inv.finish_reasons == raw:
        inv.finish_reasons = [finish_reason(r) for r in raw]
    for message in inv.output_messages or ():
        if isinstance(message, dict) and message.get("finish_reason"):
            message["finish_reason"] = finish_reason(message["finish_reason"])


class ChatEndpoint(Endpoint):
    """``chat.complete`` / ``complete_async`` and, with ``streams_always``, ``chat.stream`` / ``stream_async``."""

    def __init__(self, stream_cls: type, async_stream_cls: type, streams_always: bool = False) -> None:
        self.stream_types = (stream_cls,)
        self.async_stream_types = (async_stream_cls,)
        self.streams_always = streams_always

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        model = text(kwargs.get("model"))
        attrs = attributes(sc.OP_CHAT, sc.PROVIDER_MISTRAL, model, _server(instance, kwargs), ())
        for key, value in kwargs.items():  # only what the caller passed
            spec = _CHAT_PARAMS.get(key)
            if spec is not None:
                converted = spec[1](value)
                if converted is not None:
                    attrs[spec[0]] = converted
        if self.streams_always:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        return sc.OP_CHAT, model, attrs

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        fill(inv, input_messages=listed(kwargs.get("messages")), tool_definitions=listed(kwargs.get("tools")))

    def after(self, inv: Invocation, result: Any) -> None:
        set_tool_calls(inv, chat_tool_calls(result))
        _map_parsed_reasons(inv, result)

    def accumulator(self, want_content: bool) -> ChunkAccumulator:
        return ChunkAccumulator(want_content)


def _text_of(content: Any) -> str:
    """A delta's content: a string, or a list of chunks whose text parts count."""
    if isinstance(content, str):
        return content
    return "".join(get(c, "text") or "" for c in listed(content) or () if get(c, "type") == "text")


class ChunkAccumulator:
    """Reads ``CompletionEvent`` s (their ``data`` is the chunk): ids, the usage of the last chunk, finish
    reasons per choice, tool calls (their arguments and the text only when content is captured)."""

    __slots__ = ("want", "response_id", "model", "usage", "reasons", "tools", "texts")

    def __init__(self, want_content: bool) -> None:
        self.want = want_content
        self.response_id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.reasons: dict[int, str] = {}
        self.tools: dict[tuple[int, int], list[Any]] = {}  # (choice, call index) -> [id, name, [args]]
        self.texts: dict[int, list[str]] = {}

    @staticmethod
    def usage_only(event: Any) -> bool:
        return False

    @staticmethod
    def has_usage(event: Any) -> bool:
        return False  # the usage sits in the event's chunk: read in add / apply

    def add(self, event: Any) -> None:
        chunk = get(event, "data")
        if chunk is None:
            return
        if self.response_id is None:
            self.response_id, self.model = text(get(chunk, "id")), text(get(chunk, "model"))
        usage = get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        for choice in get(chunk, "choices") or ():
            index = get(choice, "index") or 0
            reason = get(choice, "finish_reason")
            if reason:
                self.reasons[index] = finish_reason(reason)
            delta = get(choice, "delta")
            for position, call in enumerate(get(delta, "tool_calls") or ()):
                key = (index, get(call, "index") if isinstance(get(call, "index"), int) else position)
                slot = self.tools.setdefault(key, [None, None, []])
                function = get(call, "function")
                slot[0] = get(call, "id") or slot[0]
                slot[1] = get(function, "name") or slot[1]
                if self.want and isinstance(get(function, "arguments"), str):
                    slot[2].append(get(function, "arguments"))
            if self.want and delta is not None:
                piece = _text_of(get(delta, "content"))
                if piece:
                    self.texts.setdefault(index, []).append(piece)

    def apply(self, inv: Invocation) -> None:
        reasons = [self.reasons[i] for i in sorted(self.reasons)] or None
        fill(inv, response_id=self.response_id, response_model=self.model, finish_reasons=reasons)
        if self.usage is not None:
            p = responses.parse({"usage": self.usage})
            fill(inv, input_tokens=p.input_tokens, output_tokens=p.output_tokens,
                 cache_read_tokens=p.cache_read_tokens)
        set_tool_calls(inv, [(name, call_id) for call_id, name, _ in self.tools.values()])
        if self.want:
            fill(inv, output_messages=self._messages())

    def _messages(self) -> list[dict[str, Any]]:
        messages = []
        for i in sorted({*self.texts, *self.reasons, *(c for c, _ in self.tools)}):
            msg: dict[str, Any] = {"role": "assistant", "content": "".join(self.texts.get(i, ()))}
            calls = [{"id": slot[0], "type": "function", "function": {"name": slot[1], "arguments": "".join(slot[2])}}
                     for (c, _), slot in sorted(self.tools.items()) if c == i]
            if calls:
                msg["tool_calls"] = calls
            if i in self.reasons:
                msg["finish_reason"] = self.reasons[i]
            messages.append(msg)
        return messages


class EmbeddingsEndpoint(Endpoint):
    """``embeddings.create`` / ``create_async``: the response parser reads its OpenAI-shaped body (usage,
    model, dimensions)."""

    category = EMBEDDINGS

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        model = text(kwargs.get("model"))
        # output_dtype (float, int8, binary...) and encoding_format (float, base64): both are formats asked for
        formats = [f for f in dict.fromkeys((text(kwargs.get("output_dtype")), text(kwargs.get("encoding_format"))))
                   if f]
        return sc.OP_EMBEDDINGS, model, attributes(sc.OP_EMBEDDINGS, sc.PROVIDER_MISTRAL, model,
                                                   _server(instance, kwargs),
                                                   ((sc.GEN_AI_REQUEST_ENCODING_FORMATS, formats or None),))

    def accumulator(self, want_content: bool) -> Any:  # embeddings never stream
        raise TypeError("embeddings do not stream")


# --- the client's own spans -------------------------------------------------------------------------------------
def _suppress_native(record: Patch) -> Callable[..., Any]:
    """Around the client's tracing hook (``TracingHook.before_request``): no span of its own under an agentkit
    call span. The request goes on as when the client's telemetry is off."""
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if record.enabled and otel_context.get_value(AUTO_KEY) is not None:
            request = args[1] if len(args) > 1 else kwargs.get("request")
            if request is not None:
                return request
        return wrapped(*args, **kwargs)

    return wrapper


# --- the instrumentor -------------------------------------------------------------------------------------------
_CHAT = "mistralai.client.chat:Chat"
_EMBEDDINGS = "mistralai.client.embeddings:Embeddings"
_TRACING_HOOK = "mistralai.client._hooks.tracing:TracingHook"


class MistralInstrumentor(AutoInstrumentor):
    """Traces the ``mistralai`` client (3.x): chat completions (plain and streamed) and embeddings, sync and
    async. ``instrument(suppress_native_spans=False)`` keeps the client's own (opt-in) span under ours."""

    library = "mistralai"
    requirement = REQUIREMENT

    def instrumentation_dependencies(self) -> Collection[str]:
        return (REQUIREMENT,)

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        from mistralai.client.utils.eventstreaming import EventStream, EventStreamAsync

        chat = ChatEndpoint(EventStream, EventStreamAsync)
        streamed = ChatEndpoint(EventStream, EventStreamAsync, streams_always=True)
        embeddings = EmbeddingsEndpoint()
        patches = self._apply([
            (_CHAT, "complete", sync_wrapper(chat)),
            (_CHAT, "complete_async", async_wrapper(chat)),
            (_CHAT, "stream", sync_wrapper(streamed)),
            (_CHAT, "stream_async", async_wrapper(streamed)),
            (_EMBEDDINGS, "create", sync_wrapper(embeddings)),
            (_EMBEDDINGS, "create_async", async_wrapper(embeddings)),
        ])
        if patches and kwargs.get("suppress_native_spans", True):
            patches += self._apply([(_TRACING_HOOK, "before_request", _suppress_native)])
        return patches
