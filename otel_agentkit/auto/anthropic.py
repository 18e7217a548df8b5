"""Auto-instrumentation of the ``anthropic`` client: ``messages.create`` (``stream=True`` too),
``messages.parse`` and the ``messages.stream()`` helper, and the same of ``beta.messages``, sync and async,
directly or through ``with_raw_response`` / ``with_streaming_response`` (raw.py waits for their body), with
tool use and prompt-caching usage (``input_tokens`` on the span includes cache reads and writes, as the
conventions want).

The anthropic client has spans of its own (``anthropic.messages.create``, on unless
ANTHROPIC_OPEN_TELEMETRY=false). Under an agentkit span for the same call that span is a nested duplicate,
so it is left out (``instrument(suppress_native_spans=False)`` keeps it).
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Mapping

import wrapt
from opentelemetry import context as otel_context

from .. import diagnostics, semconv as sc
from ..instrument import telemetry as _state
from ..instrument.invocation import Invocation
from ._common import AUTO_KEY, AutoInstrumentor, Patch, get, listed, number, server_of, text
from .calls import Call, Endpoint, async_wrapper, attributes, begin, fill, set_tool_calls, sync_wrapper
from .raw import follow_raw
from .streams import StreamState, TracedAsyncStream, TracedStream

REQUIREMENT = "anthropic >= 1.0, < 3"
_PROVIDERS = {
    "AnthropicBedrock": sc.PROVIDER_AWS_BEDROCK, "AsyncAnthropicBedrock": sc.PROVIDER_AWS_BEDROCK,
    "AnthropicBedrockMantle": sc.PROVIDER_AWS_BEDROCK, "AsyncAnthropicBedrockMantle": sc.PROVIDER_AWS_BEDROCK,
    "AnthropicVertex": sc.PROVIDER_GCP_VERTEX_AI, "AsyncAnthropicVertex": sc.PROVIDER_GCP_VERTEX_AI,
}


_USAGE_EVENTS = frozenset({"message_start", "message_delta"})


_SENDERS = frozenset({"post", "request", "_request"})  # the client's request machinery (anthropic._base_client)


def _refused(exc: BaseException) -> bool:
    """A ValueError / TypeError raised before the client's request machinery ran: its own argument checks,
    such as the refusal of a non-streamed call that may outlast the default timeout (pydantic-ai relies on it
    and falls back to streaming). Nothing was sent. Read from the traceback only when a call fails."""
    if not isinstance(exc, (ValueError, TypeError)):
        return False
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in _SENDERS and frame.f_globals.get("__name__") == "anthropic._base_client":
            return False
        tb = tb.tb_next
    return True


def _tool_calls(blocks: Any) -> list[tuple[str | None, str | None]]:
    return [(get(b, "name"), get(b, "id")) for b in blocks or () if get(b, "type") == "tool_use"]


class MessagesEndpoint(Endpoint):
    def __init__(self, stream_cls: type, async_stream_cls: type, streams_always: bool = False) -> None:
        self.stream_types = (stream_cls,)
        self.async_stream_types = (async_stream_cls,)
        self.streams_always = streams_always

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        client = getattr(instance, "_client", None)
        g = kwargs.get
        model = text(g("model"))
        stops = listed(g("stop_sequences"))
        provider = _PROVIDERS.get(type(client).__name__, sc.PROVIDER_ANTHROPIC)
        return sc.OP_CHAT, model, attributes(sc.OP_CHAT, provider, model, server_of(client), (
            (sc.GEN_AI_REQUEST_MAX_TOKENS, number(g("max_tokens"))),
            (sc.GEN_AI_REQUEST_TEMPERATURE, number(g("temperature"))),
            (sc.GEN_AI_REQUEST_TOP_P, number(g("top_p"))),
            (sc.GEN_AI_REQUEST_TOP_K, number(g("top_k"))),
            (sc.GEN_AI_REQUEST_STOP_SEQUENCES, [s for s in stops if isinstance(s, str)] if stops else None),
            (sc.GEN_AI_REQUEST_STREAM, True if self.streams_always or g("stream") is True else None),
        ))

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        system = kwargs.get("system")
        fill(inv, input_messages=listed(kwargs.get("messages")), tool_definitions=listed(kwargs.get("tools")),
             system_instructions=system if isinstance(system, str) else listed(system))

    def after(self, inv: Invocation, result: Any) -> None:
        set_tool_calls(inv, _tool_calls(get(result, "content")))

    def refused(self, exc: BaseException) -> bool:
        return _refused(exc)

    def later(self, call: Call, result: Any) -> Any:
        # with_raw_response / with_streaming_response: the span waits for the body (raw.py)
        return follow_raw(call, result) if hasattr(result, "http_response") else None

    def accumulator(self, want_content: bool) -> MessageAccumulator:
        return MessageAccumulator(want_content)


class MessageAccumulator:
    """Reads message stream events: tool_use blocks always (name, id), and with content capture the
    blocks' text, thinking and tool input. Usage, ids and the stop reason are read from message_start /
    message_delta by the recorder's response parser."""

    __slots__ = ("want", "blocks", "parts", "stop_reason")

    def __init__(self, want_content: bool) -> None:
        self.want = want_content
        self.blocks: dict[int, dict[str, Any]] = {}
        self.parts: dict[int, list[str]] = {}
        self.stop_reason: str | None = None

    @staticmethod
    def usage_only(event: Any) -> bool:
        return False

    @staticmethod
    def has_usage(event: Any) -> bool:
        return get(event, "type") in _USAGE_EVENTS

    def add(self, event: Any) -> None:
        kind = get(event, "type")
        if kind == "content_block_start":
            block = get(event, "content_block")
            btype = get(block, "type")
            if btype == "tool_use" or self.want:
                self.blocks[get(event, "index") or 0] = {"type": btype, "id": get(block, "id"),
                                                          "name": get(block, "name"), "text": get(block, "text")}
        elif kind == "content_block_delta" and self.want:
            delta = get(event, "delta")
            piece = get(delta, "text") or get(delta, "partial_json") or get(delta, "thinking")
            if piece:
                self.parts.setdefault(get(event, "index") or 0, []).append(piece)
        elif kind == "message_delta":
            reason = get(get(event, "delta"), "stop_reason")
            if reason:
                self.stop_reason = str(reason)

    def apply(self, inv: Invocation) -> None:
        ordered = [self.blocks[i] for i in sorted(self.blocks)]
        set_tool_calls(inv, [(b["name"], b["id"]) for b in ordered if b["type"] == "tool_use"])
        if self.stop_reason and inv.finish_reasons is None:
            inv.record(finish_reasons=[self.stop_reason])
        if not self.want:
            return
        content: list[dict[str, Any]] = []
        for index in sorted(self.blocks):
            block, joined = self.blocks[index], "".join(self.parts.get(index, ()))
            if block["type"] == "tool_use":
                content.append({"type": "tool_use", "id": block["id"], "name": block["name"], "input": joined or "{}"})
            elif block["type"] == "thinking":
                content.append({"type": "thinking", "thinking": joined})
            elif block["type"] == "text":
                content.append({"type": "text", "text": (block["text"] or "") + joined})
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.stop_reason:
            message["finish_reason"] = self.stop_reason
        inv.record(output_messages=[message])


# --- messages.stream(): the request is sent when the manager is entered -----------------------------------------
def _trace_message_stream(call: Call, message_stream: Any, async_: bool) -> Any:
    """Put a traced stand-in under the helper's raw event stream (the helper reads every event from it)."""
    try:
        raw = getattr(message_stream, "_raw_stream", None)
        endpoint = call.endpoint
        if raw is not None and (endpoint.is_async_stream(raw) if async_ else endpoint.is_stream(raw)):
            proxy = TracedAsyncStream if async_ else TracedStream
            message_stream._raw_stream = proxy(raw, StreamState(call))
            return message_stream
        diagnostics.report("auto.anthropic.stream", TypeError(f"unexpected stream {type(message_stream)!r}"))
    except Exception as exc:
        diagnostics.report("auto.anthropic.stream", exc)
    if call.own:
        call.inv.end()
    return message_stream


class _StreamManager(wrapt.ObjectProxy):  # type: ignore[misc]
    """``messages.stream(...)``'s manager: the span starts when it is entered (that sends the request)."""

    def __init__(self, wrapped: Any, endpoint: Endpoint, instance: Any, kwargs: dict[str, Any]) -> None:
        super().__init__(wrapped)
        self._self_call_args = (endpoint, instance, kwargs)

    def _self_begin(self) -> Call | None:
        tel = _state.active
        return begin(tel, *self._self_call_args) if tel is not None else None

    def __enter__(self) -> Any:
        call = self._self_begin()
        if call is None:
            return self.__wrapped__.__enter__()
        token = otel_context.attach(call.context)
        try:
            stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            otel_context.detach(token)
            call.fail(exc)
            raise
        otel_context.detach(token)
        return _trace_message_stream(call, stream, async_=False)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        call = self._self_begin()
        if call is None:
            return await self.__wrapped__.__aenter__()
        token = otel_context.attach(call.context)
        try:
            stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            otel_context.detach(token)
            call.fail(exc)
            raise
        otel_context.detach(token)
        return _trace_message_stream(call, stream, async_=True)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


def _stream_wrapper(endpoint: Endpoint) -> Callable[[Patch], Callable[..., Any]]:
    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            manager = wrapped(*args, **kwargs)
            if _state.active is None or not record.enabled:
                return manager
            return _StreamManager(manager, endpoint, instance, kwargs)

        return wrapper

    return factory


def _suppress_native(record: Patch) -> Callable[..., Any]:
    """Around the client's own ``start_api_call_span``: no span of its own under an agentkit call span."""
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if record.enabled and otel_context.get_value(AUTO_KEY) is not None:
            return None  # the client then sends the request without a span, as when its tracing is off
        return wrapped(*args, **kwargs)

    return wrapper


# --- the instrumentor -------------------------------------------------------------------------------------------
# Both are a module in older clients and a package (re-exporting the classes) in newer ones. ``beta.messages``
# is what the beta features, pydantic-ai and ChatAnthropic with ``betas`` use; its tool runner and message
# threads send their requests through ``beta.messages.create``, so they are traced there.
_RESOURCES = ("anthropic.resources.messages", "anthropic.resources.beta.messages")


class AnthropicInstrumentor(AutoInstrumentor):
    """Traces the ``anthropic`` client (1.x and 2.x): ``messages`` and ``beta.messages`` create / parse /
    stream, sync and async, with their ``with_raw_response`` and ``with_streaming_response`` forms (they call
    ``create`` / ``parse``; the body they read later ends the span).

    ``instrument(suppress_native_spans=False)`` keeps the client's own span under ours.
    """

    library = "anthropic"
    requirement = REQUIREMENT

    def instrumentation_dependencies(self) -> Collection[str]:
        return (REQUIREMENT,)

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        import anthropic

        streams = (anthropic.Stream, anthropic.AsyncStream)
        messages = MessagesEndpoint(*streams)
        streamed = MessagesEndpoint(*streams, streams_always=True)
        targets = []
        for module in _RESOURCES:
            targets += [
                (f"{module}:Messages", "create", sync_wrapper(messages)),
                (f"{module}:Messages", "parse", sync_wrapper(messages)),
                (f"{module}:Messages", "stream", _stream_wrapper(streamed)),
                (f"{module}:AsyncMessages", "create", async_wrapper(messages)),
                (f"{module}:AsyncMessages", "parse", async_wrapper(messages)),
                (f"{module}:AsyncMessages", "stream", _stream_wrapper(streamed)),
            ]
        patches = self._apply(targets)
        if patches and kwargs.get("suppress_native_spans", True):
            patches += self._apply([("anthropic._base_client", "start_api_call_span", _suppress_native)])
        return patches
