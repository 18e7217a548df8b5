"""One instrumented call: the decision (our own span, feed a user's ``agentkit.llm`` span, or stay out of the
way), the start, and the end; and the sync / async wrappers that drive it.

Every span made here is an :class:`~otel_agentkit.instrument.invocation.Invocation`, so an auto-instrumented
call looks like a decorated one. A fault here is reported through ``diagnostics.report`` and the user's call
goes on untouched; the user's exceptions reach them unchanged (same object).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from .. import diagnostics, semconv as sc
from ..instrument import telemetry as _state
from ..instrument.context import CURRENT_KEY
from ..instrument.invocation import Invocation
from ..instrument.kinds import INFERENCE
from ..instrument.suppress import suppressed
from ._common import AUTO_KEY, AUTO_OWNER, RAW_RESPONSE_HEADER, Patch, get
from .streams import StreamState, traced_stream

_AUTO_ON = {AUTO_KEY: True}
_attach = otel_context.attach
_detach = otel_context.detach

try:  # both client libraries return pydantic models
    from pydantic import BaseModel as _Model

    _PARSED_TYPES: tuple[type, ...] = (_Model, dict, list)
except ImportError:  # pragma: no cover - the clients cannot be installed without it
    _PARSED_TYPES = (dict, list)


class Endpoint:
    """One kind of API call (chat completions, responses, embeddings, messages) and how to read it.

    ``request(instance, kwargs)`` gives the span's start attributes; ``inputs(inv, kwargs)`` takes the
    opt-in content; ``after(inv, result)`` reads what ``responses.parse`` does not (tool calls, tiers);
    ``accumulator()`` makes the per-stream reader; ``prepare(kwargs)`` may adjust the request (include_usage)
    and says whether the caller must not see the extra usage chunk that asks for.
    """

    category = INFERENCE
    streams_always = False  # the helper methods that only stream (anthropic messages.stream)
    held_streams = False  # its streams end with the stream, not with a loop left (streams.HeldStream)
    stream_types: tuple[type, ...] = ()
    async_stream_types: tuple[type, ...] = ()

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        """(operation, model, attributes)."""
        raise NotImplementedError

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        return None

    def after(self, inv: Invocation, result: Any) -> None:
        return None

    def accumulator(self, want_content: bool) -> Any:
        """A reader of this call's stream items: ``usage_only(item)`` (an item only for usage, which the
        caller may not have asked for), ``has_usage(item)``, ``add(item)`` and, at the end, ``apply(inv)``."""
        raise NotImplementedError

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return kwargs, False

    def status_code(self, exc: BaseException) -> Any:
        """The HTTP status a failed call carries (the openai, anthropic, mistral and cohere errors name it
        ``status_code``; a client that names it otherwise says so here)."""
        return getattr(exc, "status_code", None)

    def refused(self, exc: BaseException) -> bool:
        """The client refused the call before sending anything (its own argument checks): no model call was
        made, so it leaves no span."""
        return False

    def later(self, call: Call, result: Any) -> Any:
        """A result whose body is read after the call returns (a raw response): a stand-in that ends the
        call when it is read, or None to read it here."""
        return None

    def is_stream(self, result: Any) -> bool:
        return isinstance(result, self.stream_types)

    def is_async_stream(self, result: Any) -> bool:
        return isinstance(result, self.async_stream_types)

    def is_stream_type(self, cls: type) -> bool:
        return issubclass(cls, self.stream_types)

    def is_async_stream_type(self, cls: type) -> bool:
        return issubclass(cls, self.async_stream_types)


class Call:
    """One instrumented call: our own invocation, or the user's ``agentkit.llm`` invocation that it feeds."""

    __slots__ = ("endpoint", "inv", "own", "timing", "context", "kwargs", "swallow", "content")

    def __init__(self, endpoint: Endpoint, inv: Invocation, own: bool, timing: bool, context: Any,
                 kwargs: dict[str, Any], swallow: bool, content: bool) -> None:
        self.endpoint = endpoint
        self.inv = inv
        self.own = own  # ours to end; else a user's span that their block ends
        self.timing = timing  # time and count stream chunks (else someone else does)
        self.context = context  # current while the wrapped call runs
        self.kwargs = kwargs  # what the wrapped method is called with
        self.swallow = swallow  # hide the usage-only chunk that include_usage added
        self.content = content  # message content is captured

    def fail(self, exc: BaseException) -> None:
        """The call raised: record the HTTP status if there is one, end our span with the error (the
        exception itself goes on to the caller unchanged; a user's span ends with it in their block)."""
        if self.own and self.endpoint.refused(exc):  # nothing was sent: the span is dropped unended (unexported)
            self.inv._ended, self.inv.context = True, None
            return
        try:
            status = self.endpoint.status_code(exc)
            if isinstance(status, int) and status >= 400:  # an error event inside a 200 stream has none
                self.inv.put({sc.HTTP_RESPONSE_STATUS_CODE: status})
        except Exception as sdk_exc:
            diagnostics.report("auto.call.fail", sdk_exc)
        if self.own:
            self.inv.end(exc)

    def finish(self, result: Any) -> Any:
        """The call returned: read the response and end, or hand a stream to a traced proxy that ends later."""
        inv, endpoint = self.inv, self.endpoint
        try:
            kind = _kind(endpoint, type(result))
            if kind is _STREAM or kind is _ASYNC_STREAM:
                return traced_stream(result, StreamState(self), kind is _STREAM)
            if kind is _OTHER:
                deferred = endpoint.later(self, result)
                if deferred is not None:
                    return deferred
            body = result if kind is _BODY else self._raw_body(result)
            if body is not None:
                inv.observe_response(body)
                endpoint.after(inv, body)
        except Exception as exc:
            diagnostics.report("auto.response", exc)
        if self.own:
            inv.end()
        return result

    def _raw_body(self, result: Any) -> Any:
        """For ``with_raw_response``, the (cached) parse of the response. A raw streaming response is left
        unread: reading it would change what the caller gets."""
        if not hasattr(result, "http_response"):
            return result
        headers = self.kwargs.get("extra_headers")
        if (not isinstance(headers, Mapping) or headers.get(RAW_RESPONSE_HEADER) not in ("raw", "true")
                or self.kwargs.get("stream") is True):
            return None
        parse = result.parse
        if inspect.iscoroutinefunction(parse):
            return None
        return parse()


_BODY, _STREAM, _ASYNC_STREAM, _OTHER = "body", "stream", "async_stream", "other"


def _kind(endpoint: Endpoint, cls: type) -> str:
    """What a result of type ``cls`` is for this endpoint, remembered per type (isinstance checks against
    pydantic's ABC-based models are slow, and each endpoint sees a handful of types)."""
    kinds = endpoint.__dict__.get("_kinds")
    if kinds is None:
        kinds = endpoint._kinds = {}
    kind = kinds.get(cls)
    if kind is None:
        if endpoint.is_stream_type(cls):
            kind = _STREAM
        elif endpoint.is_async_stream_type(cls):
            kind = _ASYNC_STREAM
        elif issubclass(cls, _PARSED_TYPES):
            kind = _BODY
        else:
            kind = _OTHER
        if len(kinds) < 64:
            kinds[cls] = kind
    return kind


def _foreign_genai_span(ctx: Any, current: Any) -> bool:
    """A GenAI CLIENT span of another instrumentation is current: ours would be a nested duplicate."""
    span = trace.get_current_span(ctx)
    if not span.is_recording() or getattr(span, "kind", None) is not SpanKind.CLIENT:
        return False
    if current is not None and getattr(current, "span", None) is span:
        return False
    attrs = getattr(span, "attributes", None)
    return bool(attrs) and (sc.GEN_AI_OPERATION_NAME in attrs or sc.GEN_AI_SYSTEM_LEGACY in attrs)


def begin(tel: _state.Telemetry, endpoint: Endpoint, instance: Any, kwargs: dict[str, Any]) -> Call | None:
    """Decide how to record this call and start it; None means call through untouched.

    - under OTel's ``suppress_instrumentation()``: None;
    - inside another agentkit wrapper of the same call (AUTO_KEY set), or under another instrumentation's
      GenAI client span: None (the nested duplicate is ours, so ours is the one left out);
    - the current span is a user's ``agentkit.llm`` / ``agentkit.embedding`` of the same category, still
      open: feed it (a decorated function that returns its call's work keeps it open: instrument.deferred);
    - otherwise: our own span.
    """
    try:
        ctx = otel_context.get_current()
        if ctx.get(AUTO_KEY) is not None or suppressed(ctx):  # suppressed: the request goes out untouched
            return None
        current = ctx.get(CURRENT_KEY)
        operation, model, attrs = endpoint.request(instance, kwargs)
        # An ended span (a context that outlived it: a thread or task started inside it) is not fed: what
        # the call tells would be lost. The call gets its own span under it instead.
        adopt = (isinstance(current, Invocation) and current.category == endpoint.category
                 and current.owner is not AUTO_OWNER and current.span is trace.get_current_span(ctx)
                 and not current._ended)
        if adopt:
            inv = current
            _adopt(inv, operation, model, attrs)
            own = False
            timing = inv.owner is not None  # the ``with`` form: nothing else times its chunks
        else:
            if _foreign_genai_span(ctx, current):
                return None
            inv = Invocation(tel, endpoint.category, operation, sc.span_name(operation, model), SpanKind.CLIENT,
                             attrs).start(ctx, values=_AUTO_ON)
            inv.owner = AUTO_OWNER
            own = timing = True
        call_kwargs, swallow = endpoint.prepare(kwargs)
        content = tel.capturing
        if content:
            try:
                endpoint.inputs(inv, kwargs)
            except Exception as exc:
                diagnostics.report("auto.inputs", exc)
        context = inv.context if own else otel_context.set_value(AUTO_KEY, True, ctx)
        return Call(endpoint, inv, own, timing, context, call_kwargs, swallow, content)
    except Exception as exc:
        diagnostics.report("auto.begin", exc)
        return None


def _adopt(inv: Invocation, operation: str, model: str | None, attrs: dict[str, Any]) -> None:
    """Give a user's span what the call tells and the user did not (provider, model, request parameters);
    the user's own values win. Its metrics get the same (they read ``inv.attributes``)."""
    missing = {k: v for k, v in attrs.items() if k not in inv.attributes}
    if missing:
        inv.attributes = {**inv.attributes, **missing}
        if inv.span is not None:
            inv.span.set_attributes(missing)
    if model and inv.span is not None and inv.name == operation == inv.operation:
        inv.name = sc.span_name(operation, model)
        inv.span.update_name(inv.name)


def attributes(operation: str, provider: str, model: str | None, server: tuple[str | None, int | None],
               extra: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Start attributes: the required ones, then every extra whose value is known."""
    attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider}
    if model:
        attrs[sc.GEN_AI_REQUEST_MODEL] = model
    host, port = server
    if host:
        attrs[sc.SERVER_ADDRESS] = host
    if port:
        attrs[sc.SERVER_PORT] = port
    for key, value in extra:
        if value is not None:
            attrs[key] = value
    return attrs


def fill(inv: Invocation, **fields: Any) -> None:
    """Set content fields that nobody set yet (a user's own ``record(...)`` in their llm block wins)."""
    for name, value in fields.items():
        if value is not None and getattr(inv, name) is None:
            setattr(inv, name, value)


def chat_tool_calls(result: Any) -> list[tuple[str | None, str | None]]:
    """(name, id) of every tool call in a chat completion of the OpenAI shape (openai, mistral)."""
    return [(get(get(call, "function"), "name"), get(call, "id"))
            for choice in get(result, "choices") or () for call in get(get(choice, "message"), "tool_calls") or ()]


def set_tool_calls(inv: Invocation, calls: list[tuple[str | None, str | None]]) -> None:
    """Record the tool calls the model asked for: names and ids (arguments are content: opt-in only)."""
    if not calls:
        return
    inv.put({
        sc.AGENTKIT_RESPONSE_TOOL_CALLS: [name or "" for name, _ in calls],
        sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS: [call_id or "" for _, call_id in calls],
    })


# --- the wrappers ---------------------------------------------------------------------------------------------
def run_sync(call: Call, wrapped: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Make the request inside the call's context; the call sees the result or the error (which propagates)."""
    token = _attach(call.context)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _detach(token)
        call.fail(exc)
        raise
    _detach(token)
    return call.finish(result)


async def run_async(call: Call, wrapped: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """As run_sync, for an ``async def`` request."""
    token = _attach(call.context)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _detach(token)
        call.fail(exc)
        raise
    _detach(token)
    return call.finish(result)


def sync_wrapper(endpoint: Endpoint) -> Callable[[Patch], Callable[..., Any]]:
    """The wrapt wrapper factory for a sync API method; when off it is one read and a direct call."""
    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            tel = _state.active
            if tel is None or not record.enabled:
                return wrapped(*args, **kwargs)
            call = begin(tel, endpoint, instance, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            return run_sync(call, wrapped, args, call.kwargs)

        return wrapper

    return factory


def async_wrapper(endpoint: Endpoint) -> Callable[[Patch], Callable[..., Any]]:
    """The wrapt wrapper factory for an ``async def`` API method: the span starts when it is awaited."""
    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            if _state.active is None or not record.enabled:
                return wrapped(*args, **kwargs)

            async def run() -> Any:
                tel = _state.active
                call = begin(tel, endpoint, instance, kwargs) if tel is not None else None
                if call is None:
                    return await wrapped(*args, **kwargs)
                return await run_async(call, wrapped, args, call.kwargs)

            return run()

        return wrapper

    return factory
