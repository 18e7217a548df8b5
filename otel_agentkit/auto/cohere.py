"""Auto-instrumentation of the ``cohere`` v2 client: ``ClientV2.chat``, ``chat_stream`` and ``embed``, and the
same of ``AsyncClientV2`` (and of ``client.v2`` on the v1 clients: the same methods).

Usage: a v2 response reports ``usage.billed_units`` (what is billed) and ``usage.tokens`` (everything the
model read and wrote, including tokens Cohere adds itself); where both are reported the billed units are
recorded, as gen_ai.usage.* asks for the billable count, and the token counts only when no billed units came.
Finish reasons are mapped to the spec's values (:data:`FINISH_REASONS`).

``chat_stream`` is a generator (``async def ... yield`` for the async client): it sends its request when first
iterated, so an HTTP error reaches the span from the first ``next``. The span ends once: the stream exhausted,
failed, closed, left by ``break`` or garbage-collected.

The client binds ``chat`` and ``chat_stream`` to each ``ClientV2`` / ``AsyncClientV2`` when it is constructed
(its argument checks wrap them), so a client made before ``instrument()`` keeps the untraced ones for those two
(``embed``, and ``client.v2`` of the v1 clients, are traced whenever the client was made). Instrument first:
``opentelemetry-instrument`` does; with ``init(auto_instrument=...)``, call it before making the client. A client
made while instrumented keeps our wrapper after ``uninstrument()``, switched off: its calls go straight through.
"""

from __future__ import annotations

import types
from typing import Any, Collection, Mapping

from .. import semconv as sc
from ..instrument.invocation import Invocation
from ..instrument.kinds import EMBEDDINGS
from ._common import AutoInstrumentor, Patch, get, listed, number, text, url_server
from .calls import Endpoint, async_wrapper, attributes, fill, set_tool_calls, sync_wrapper

REQUIREMENT = "cohere >= 5.20, < 8"

# Cohere's finish reasons -> the spec's. TIMEOUT has no counterpart and is kept, lower-cased.
FINISH_REASONS: dict[str, str] = {
    "COMPLETE": sc.FINISH_REASON_STOP,
    "STOP_SEQUENCE": sc.FINISH_REASON_STOP,
    "MAX_TOKENS": sc.FINISH_REASON_LENGTH,
    "TOOL_CALL": sc.FINISH_REASON_TOOL_CALL,
    "ERROR": sc.FINISH_REASON_ERROR,
}


def finish_reason(value: Any) -> str:
    """The spec's value for a Cohere finish reason (idempotent: a spec value maps to itself)."""
    raw = str(value)
    return FINISH_REASONS.get(raw, raw.lower())


def _count(value: Any) -> int | float | None:
    """A token count (Cohere sends them as floats): a whole float as an int."""
    n = number(value)
    return int(n) if isinstance(n, float) and n.is_integer() else n


def usage_tokens(usage: Any) -> tuple[int | float | None, int | float | None]:
    """(input, output) tokens of a v2 ``usage`` (or an embed response's ``meta``): the billed units where
    they are reported, else the token counts."""
    billed, tokens = get(usage, "billed_units"), get(usage, "tokens")
    counts = []
    for field in ("input_tokens", "output_tokens"):
        value = _count(get(billed, field))
        counts.append(value if value is not None else _count(get(tokens, field)))
    return counts[0], counts[1]


def _server(instance: Any) -> tuple[str | None, int | None]:
    """The base URL of the client (``ClientV2`` holds its wrapper; ``client.v2`` reaches it through its raw
    client)."""
    wrapper = getattr(instance, "_client_wrapper", None)
    if wrapper is None:
        wrapper = getattr(getattr(instance, "_raw_client", None), "_client_wrapper", None)
    try:
        url = wrapper.get_base_url() if wrapper is not None else None
    except Exception:
        return None, None
    return url_server(url) if isinstance(url, str) else (None, None)


def _output_type(fmt: Any) -> str | None:
    kind = get(fmt, "type")
    if kind == "json_object":
        return sc.OUTPUT_TYPE_JSON
    return sc.OUTPUT_TYPE_TEXT if kind == "text" else None


def _tool_calls(calls: Any) -> list[tuple[str | None, str | None]]:
    return [(get(get(call, "function"), "name"), get(call, "id")) for call in listed(calls) or ()]


def _output_message(content: Any, plan: Any, calls: Any, reason: str | None) -> dict[str, Any]:
    """The reply as a chat-shaped message for the recorder's content conversion (read only when content is
    captured). The tool plan is the model's reasoning before its tool calls."""
    blocks = list(listed(content) or ())
    if isinstance(plan, str) and plan:
        blocks.insert(0, {"type": "thinking", "thinking": plan})
    message: dict[str, Any] = {"role": "assistant", "content": blocks}
    if calls:
        message["tool_calls"] = list(calls)
    if reason:
        message["finish_reason"] = reason
    return message


class ChatEndpoint(Endpoint):
    """``chat`` and, with ``streams_always``, ``chat_stream`` (whose result is a generator)."""

    stream_types = (types.GeneratorType,)
    async_stream_types = (types.AsyncGeneratorType,)

    def __init__(self, streams_always: bool = False) -> None:
        self.streams_always = streams_always

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        g = kwargs.get
        model = text(g("model"))
        stops = listed(g("stop_sequences"))
        return sc.OP_CHAT, model, attributes(sc.OP_CHAT, sc.PROVIDER_COHERE, model, _server(instance), (
            (sc.GEN_AI_REQUEST_TEMPERATURE, number(g("temperature"))),
            (sc.GEN_AI_REQUEST_TOP_P, number(g("p"))),
            (sc.GEN_AI_REQUEST_TOP_K, number(g("k"))),
            (sc.GEN_AI_REQUEST_MAX_TOKENS, number(g("max_tokens"))),
            (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number(g("frequency_penalty"))),
            (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number(g("presence_penalty"))),
            (sc.GEN_AI_REQUEST_SEED, number(g("seed"))),
            (sc.GEN_AI_REQUEST_STOP_SEQUENCES, [s for s in stops if isinstance(s, str)] or None if stops else None),
            (sc.GEN_AI_OUTPUT_TYPE, _output_type(g("response_format"))),
            (sc.GEN_AI_REQUEST_STREAM, True if self.streams_always else None),
        ))

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        fill(inv, input_messages=listed(kwargs.get("messages")), tool_definitions=listed(kwargs.get("tools")))

    def after(self, inv: Invocation, result: Any) -> None:
        # The response parser took the id; the rest of a v2 reply is read here.
        message = get(result, "message")
        reason = get(result, "finish_reason")
        mapped = finish_reason(reason) if reason else None
        input_tokens, output_tokens = usage_tokens(get(result, "usage"))
        calls = get(message, "tool_calls")
        fill(inv, input_tokens=input_tokens, output_tokens=output_tokens,
             finish_reasons=[mapped] if mapped else None,
             output_messages=[_output_message(get(message, "content"), get(message, "tool_plan"), calls, mapped)])
        set_tool_calls(inv, _tool_calls(calls))

    def accumulator(self, want_content: bool) -> StreamAccumulator:
        return StreamAccumulator(want_content)


class StreamAccumulator:
    """Reads v2 chat stream events: the id (message-start), tool calls (tool-call-start; their arguments,
    the text and the tool plan only when content is captured), and the finish reason and usage
    (message-end)."""

    __slots__ = ("want", "response_id", "usage", "reason", "tools", "texts", "plan")

    def __init__(self, want_content: bool) -> None:
        self.want = want_content
        self.response_id: str | None = None
        self.usage: Any = None
        self.reason: str | None = None
        self.tools: dict[int, list[Any]] = {}  # index -> [id, name, [arguments]]
        self.texts: dict[int, list[str]] = {}
        self.plan: list[str] = []

    @staticmethod
    def usage_only(event: Any) -> bool:
        return False

    @staticmethod
    def has_usage(event: Any) -> bool:
        return False  # message-end carries it: read in add / apply

    def add(self, event: Any) -> None:
        kind = get(event, "type")
        message = get(get(event, "delta"), "message")
        if kind == "message-start":
            self.response_id = text(get(event, "id"))
        elif kind == "content-delta":
            if self.want:
                piece = get(get(message, "content"), "text")
                if piece:
                    self.texts.setdefault(get(event, "index") or 0, []).append(piece)
        elif kind == "tool-call-start":
            call = get(message, "tool_calls")
            function = get(call, "function")
            arguments = get(function, "arguments")
            self.tools[get(event, "index") or 0] = [get(call, "id"), get(function, "name"),
                                                     [arguments] if self.want and arguments else []]
        elif kind == "tool-call-delta":
            piece = get(get(get(message, "tool_calls"), "function"), "arguments")
            slot = self.tools.get(get(event, "index") or 0)
            if self.want and slot is not None and piece:
                slot[2].append(piece)
        elif kind == "tool-plan-delta":
            piece = get(message, "tool_plan")
            if self.want and piece:
                self.plan.append(piece)
        elif kind == "message-end":
            delta = get(event, "delta")
            reason = get(delta, "finish_reason")
            self.reason = finish_reason(reason) if reason else None
            self.usage = get(delta, "usage")

    def apply(self, inv: Invocation) -> None:
        input_tokens, output_tokens = usage_tokens(self.usage)
        fill(inv, response_id=self.response_id, input_tokens=input_tokens, output_tokens=output_tokens,
             finish_reasons=[self.reason] if self.reason else None)
        ordered = [self.tools[i] for i in sorted(self.tools)]
        set_tool_calls(inv, [(name, call_id) for call_id, name, _ in ordered])
        if self.want:
            content = [{"type": "text", "text": "".join(self.texts[i])} for i in sorted(self.texts)]
            calls = [{"id": call_id, "type": "function", "function": {"name": name, "arguments": "".join(args)}}
                     for call_id, name, args in ordered]
            fill(inv, output_messages=[_output_message(content, "".join(self.plan), calls, self.reason)])


class EmbedEndpoint(Endpoint):
    """``embed``: billed input tokens from ``meta``, dimensions from the first embedding of any type."""

    category = EMBEDDINGS

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        model = text(kwargs.get("model"))
        formats = [f for f in listed(kwargs.get("embedding_types")) or () if isinstance(f, str)]
        return sc.OP_EMBEDDINGS, model, attributes(sc.OP_EMBEDDINGS, sc.PROVIDER_COHERE, model, _server(instance), (
            (sc.GEN_AI_REQUEST_ENCODING_FORMATS, formats or None),
        ))

    def after(self, inv: Invocation, result: Any) -> None:
        if inv.response_id is not None and inv.response_id == get(result, "id"):
            inv.response_id = None  # an embeddings span records no response id (as for the other providers)
        input_tokens, _ = usage_tokens(get(result, "meta"))
        fill(inv, input_tokens=input_tokens, embedding_dimensions=_dimensions(get(result, "embeddings")))

    def accumulator(self, want_content: bool) -> Any:  # embeddings never stream
        raise TypeError("embeddings do not stream")


def _dimensions(embeddings: Any) -> int | None:
    """The length of the first vector of whichever embedding type came back (``float`` is ``float_`` on the
    model)."""
    for field in ("float_", "float", "int8", "uint8", "binary", "ubinary", "base64"):
        vectors = listed(get(embeddings, field))
        if vectors and isinstance(vectors[0], (list, tuple)):
            return len(vectors[0])
    return None


# --- the instrumentor -------------------------------------------------------------------------------------------
_V2 = "cohere.v2.client:V2Client"
_ASYNC_V2 = "cohere.v2.client:AsyncV2Client"


class CohereInstrumentor(AutoInstrumentor):
    """Traces the ``cohere`` v2 client (``ClientV2`` / ``AsyncClientV2``, and ``client.v2``): chat, chat_stream
    and embed, sync and async."""

    library = "cohere"
    requirement = REQUIREMENT

    def instrumentation_dependencies(self) -> Collection[str]:
        return (REQUIREMENT,)

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        chat, streamed, embed = ChatEndpoint(), ChatEndpoint(streams_always=True), EmbedEndpoint()
        return self._apply([
            (_V2, "chat", sync_wrapper(chat)),
            (_V2, "chat_stream", sync_wrapper(streamed)),  # returns a generator: the request goes when it is read
            (_V2, "embed", sync_wrapper(embed)),
            (_ASYNC_V2, "chat", async_wrapper(chat)),
            (_ASYNC_V2, "chat_stream", sync_wrapper(streamed)),  # an async generator function: not awaited
            (_ASYNC_V2, "embed", async_wrapper(embed)),
        ])
