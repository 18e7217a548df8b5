"""Auto-instrumentation of AWS Bedrock through boto3 (the ``bedrock-runtime`` client): ``converse``,
``converse_stream``, ``invoke_model`` and ``invoke_model_with_response_stream``, the last two read for the
Anthropic (messages API) and Amazon Nova (``messages-v1``) bodies; other model families get the model, the
request id and, for ``invoke_model``, the token counts Bedrock puts in its response headers.

Where it patches: botocore makes each client class at run time (``creating-client-class`` on a session's event
emitter), so there is no ``converse`` method to wrap before a client exists. The one fixed place every call
goes through is ``botocore.client.BaseClient._make_api_call(operation_name, api_params)``; it is wrapped once,
and the wrapper acts only for the four operations of service ``bedrock-runtime`` (a dict lookup and a string
compare for any other AWS call). Unlike a creation-event hook, this traces clients made before ``instrument()``
and from any session, and ``uninstrument()`` puts the original method back exactly (no client class keeps a
wrapper).

Each call is one inference span through the shared recorder (:mod:`.calls`): request model = ``modelId``,
``inferenceConfig`` (or the body's) parameters, the response id (Anthropic's message id, else the AWS request
id), finish reasons mapped to the spec's values (:data:`FINISH_REASONS`) and usage. Input tokens include cache
reads and writes (Bedrock, like Anthropic, reports them apart), as gen_ai.usage.input_tokens wants.
``invoke_model``'s body is read when the call returns and handed to the caller as a fresh ``StreamingBody`` over
the same bytes. A stream's ``EventStream`` (``stream`` of converse_stream, ``body`` of
invoke_model_with_response_stream) is replaced by a traced stand-in: the span ends exactly once (exhausted,
failed, closed, left by ``break`` or garbage-collected), with the time to the first event. A failed call's
``error.type`` is the exception's type, which botocore makes per error code (``botocore.errorfactory.
ThrottlingException``); the HTTP status is recorded beside it.
"""

from __future__ import annotations

import io
import json
from typing import Any, Callable, Collection, Iterator, Mapping

from opentelemetry import context as otel_context

from .. import diagnostics, semconv as sc
from ..instrument import telemetry as _state
from ..instrument.deferred import abandon
from ..instrument.invocation import Invocation
from ._common import AutoInstrumentor, Patch, get, listed, number, text, url_server
from .calls import Call, Endpoint, attributes, begin, fill, set_tool_calls
from .streams import StreamState, TracedStream

REQUIREMENT = "boto3 >= 1.34.116, < 2"  # converse / converse_stream came in 1.34.116
SERVICE = "bedrock-runtime"
_BASE_CLIENT = "botocore.client:BaseClient"

# Bedrock's stop reasons (converse, Nova and Anthropic bodies) -> the spec's. Others are kept, lower-cased.
FINISH_REASONS: dict[str, str] = {
    "end_turn": sc.FINISH_REASON_STOP,
    "stop_sequence": sc.FINISH_REASON_STOP,
    "max_tokens": sc.FINISH_REASON_LENGTH,
    "model_context_window_exceeded": sc.FINISH_REASON_LENGTH,
    "tool_use": sc.FINISH_REASON_TOOL_CALL,
    "guardrail_intervened": sc.FINISH_REASON_CONTENT_FILTER,
    "content_filtered": sc.FINISH_REASON_CONTENT_FILTER,
    "refusal": sc.FINISH_REASON_CONTENT_FILTER,
}

ANTHROPIC, NOVA = "anthropic", "nova"
# What Bedrock adds to invoke_model responses and to the last event of their streams.
_TOKEN_HEADERS = ("x-amzn-bedrock-input-token-count", "x-amzn-bedrock-output-token-count")
_INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"

_attach = otel_context.attach
_detach = otel_context.detach


def finish_reason(value: Any) -> str:
    """The spec's value for a Bedrock stop reason (idempotent: a spec value maps to itself)."""
    raw = str(value)
    return FINISH_REASONS.get(raw, raw.lower())


def _count(value: Any) -> int | None:
    n = number(value)
    return int(n) if n is not None and float(n).is_integer() else None


def _first(mapping: Any, *names: str) -> int | None:
    for name in names:
        value = _count(get(mapping, name))
        if value is not None:
            return value
    return None


def usage_counts(usage: Any) -> tuple[int | None, int | None, int | None, int | None]:
    """(input, output, cache read, cache write) of a converse / Nova ``usage`` or an Anthropic body's usage,
    input including the cache reads and writes that Bedrock reports apart."""
    uncached = _first(usage, "inputTokens", "input_tokens", "inputTokenCount")
    read = _first(usage, "cacheReadInputTokens", "cacheReadInputTokenCount", "cache_read_input_tokens")
    write = _first(usage, "cacheWriteInputTokens", "cacheWriteInputTokenCount", "cache_creation_input_tokens")
    total = None if uncached is None and read is None and write is None else (uncached or 0) + (read or 0) + (
        write or 0)
    return total, _first(usage, "outputTokens", "output_tokens", "outputTokenCount"), read, write


def _fill_usage(inv: Invocation, usage: Any) -> None:
    if usage is None:
        return
    total, output, read, write = usage_counts(usage)
    fill(inv, input_tokens=total, output_tokens=output, cache_read_tokens=read, cache_write_tokens=write)


def _request_id(result: Any) -> str | None:
    return text(get(get(result, "ResponseMetadata"), "RequestId"))


def _server(instance: Any) -> tuple[str | None, int | None]:
    url = getattr(getattr(instance, "meta", None), "endpoint_url", None)
    return url_server(url) if isinstance(url, str) else (None, None)


def _stops(value: Any) -> list[str] | None:
    items = listed(value)
    return [s for s in items if isinstance(s, str)] or None if items else None


def _body_json(body: Any) -> Any:
    """A request or response body (bytes, str) as JSON, or None (a file object is left unread)."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


def family(model: str | None, body: Any) -> str | None:
    """Which body format an invoke call speaks: Anthropic's messages API or Nova's messages-v1."""
    if isinstance(body, dict) and "anthropic_version" in body:
        return ANTHROPIC
    if isinstance(body, dict) and body.get("schemaVersion") == "messages-v1":
        return NOVA
    name = model or ""
    if "anthropic." in name:
        return ANTHROPIC
    if "amazon.nova" in name:
        return NOVA
    return None


# --- content (opt-in): converse blocks as the Anthropic-style blocks the recorder converts --------------------
def converse_block(block: Any) -> Any:
    if not isinstance(block, dict):
        return block
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": get(use, "toolUseId"), "name": get(use, "name"), "input": get(use, "input")}
    if "toolResult" in block:
        result = block["toolResult"]
        return {"type": "tool_result", "tool_use_id": get(result, "toolUseId"), "content": get(result, "content")}
    if "reasoningContent" in block:
        return {"type": "thinking", "thinking": get(get(block["reasoningContent"], "reasoningText"), "text") or ""}
    return block


def converse_message(message: Any, reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": get(message, "role") or "assistant",
                           "content": [converse_block(b) for b in listed(get(message, "content")) or ()]}
    if reason:
        out["finish_reason"] = reason
    return out


def _tool_uses(blocks: Any) -> list[tuple[str | None, str | None]]:
    calls = []
    for block in listed(blocks) or ():
        use = get(block, "toolUse")
        if use is not None:
            calls.append((get(use, "name"), get(use, "toolUseId")))
        elif get(block, "type") == "tool_use":
            calls.append((get(block, "name"), get(block, "id")))
    return calls


# --- the endpoints --------------------------------------------------------------------------------------------------
class BedrockEndpoint(Endpoint):
    """One bedrock-runtime operation. ``stream_key`` names the response key holding its EventStream."""

    stream_key: str | None = None

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        model = text(kwargs.get("modelId"))
        attrs = attributes(sc.OP_CHAT, sc.PROVIDER_AWS_BEDROCK, model, _server(instance), self.params(kwargs))
        if self.stream_key is not None:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        return sc.OP_CHAT, model, attrs

    def params(self, kwargs: Mapping[str, Any]) -> list[tuple[str, Any]]:
        raise NotImplementedError

    def read(self, inv: Invocation, result: Any) -> BaseException | None:
        """A non-streamed response (may replace what it reads, e.g. the body); the error that failed the
        call while it was read, if any."""
        raise NotImplementedError


class ConverseEndpoint(BedrockEndpoint):
    """``converse`` and (with ``streaming``) ``converse_stream``."""

    def __init__(self, streaming: bool) -> None:
        self.stream_key = "stream" if streaming else None

    def params(self, kwargs: Mapping[str, Any]) -> list[tuple[str, Any]]:
        config = kwargs.get("inferenceConfig")
        extra = kwargs.get("additionalModelRequestFields")
        return [(sc.GEN_AI_REQUEST_MAX_TOKENS, number(get(config, "maxTokens"))),
                (sc.GEN_AI_REQUEST_TEMPERATURE, number(get(config, "temperature"))),
                (sc.GEN_AI_REQUEST_TOP_P, number(get(config, "topP"))),
                (sc.GEN_AI_REQUEST_TOP_K, number(get(extra, "top_k") if isinstance(extra, dict) else None)),
                (sc.GEN_AI_REQUEST_STOP_SEQUENCES, _stops(get(config, "stopSequences")))]

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        messages = [converse_message(m) for m in listed(kwargs.get("messages")) or ()]
        system = [converse_block(b) for b in listed(kwargs.get("system")) or ()]
        fill(inv, input_messages=messages or None, system_instructions=system or None,
             tool_definitions=listed(get(kwargs.get("toolConfig"), "tools")))

    def read(self, inv: Invocation, result: Any) -> BaseException | None:
        _read_converse(inv, result)
        fill(inv, response_id=_request_id(result))
        return None

    def accumulator(self, want_content: bool) -> ConverseStreamReader:
        return ConverseStreamReader(want_content)


class InvokeEndpoint(BedrockEndpoint):
    """``invoke_model`` and (with ``streaming``) ``invoke_model_with_response_stream``: the JSON body of the
    model family (:func:`family`)."""

    def __init__(self, streaming: bool) -> None:
        self.stream_key = "body" if streaming else None

    def params(self, kwargs: Mapping[str, Any]) -> list[tuple[str, Any]]:
        body = _body_json(kwargs.get("body"))
        kind = family(text(kwargs.get("modelId")), body)
        if kind == ANTHROPIC:
            return [(sc.GEN_AI_REQUEST_MAX_TOKENS, number(get(body, "max_tokens"))),
                    (sc.GEN_AI_REQUEST_TEMPERATURE, number(get(body, "temperature"))),
                    (sc.GEN_AI_REQUEST_TOP_P, number(get(body, "top_p"))),
                    (sc.GEN_AI_REQUEST_TOP_K, number(get(body, "top_k"))),
                    (sc.GEN_AI_REQUEST_STOP_SEQUENCES, _stops(get(body, "stop_sequences")))]
        if kind == NOVA:
            config = get(body, "inferenceConfig")
            return [(sc.GEN_AI_REQUEST_MAX_TOKENS, number(get(config, "maxTokens") or get(config, "max_new_tokens"))),
                    (sc.GEN_AI_REQUEST_TEMPERATURE, number(get(config, "temperature"))),
                    (sc.GEN_AI_REQUEST_TOP_P, number(get(config, "topP"))),
                    (sc.GEN_AI_REQUEST_TOP_K, number(get(config, "topK"))),
                    (sc.GEN_AI_REQUEST_STOP_SEQUENCES, _stops(get(config, "stopSequences")))]
        return []

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        body = _body_json(kwargs.get("body"))
        kind = family(text(kwargs.get("modelId")), body)
        if kind == ANTHROPIC:
            system = get(body, "system")
            fill(inv, input_messages=listed(get(body, "messages")), tool_definitions=listed(get(body, "tools")),
                 system_instructions=system if isinstance(system, (str, list)) else None)
        elif kind == NOVA:
            messages = [converse_message(m) for m in listed(get(body, "messages")) or ()]
            system = [converse_block(b) for b in listed(get(body, "system")) or ()]
            fill(inv, input_messages=messages or None, system_instructions=system or None,
                 tool_definitions=listed(get(get(body, "toolConfig"), "tools")))

    def read(self, inv: Invocation, result: Any) -> BaseException | None:
        try:
            data = _take_body(result)
        except Exception as exc:  # the body could not be read: the call failed (the caller will meet it too)
            return exc
        body = _body_json(data) if data is not None else None
        kind = family(text(inv.attributes.get(sc.GEN_AI_REQUEST_MODEL)), body)
        if kind == ANTHROPIC and isinstance(body, dict):
            _read_anthropic_message(inv, body)
        elif kind == NOVA and isinstance(body, dict):
            _read_converse(inv, body)
        headers = get(get(result, "ResponseMetadata"), "HTTPHeaders")
        fill(inv, response_id=_request_id(result), input_tokens=_count_header(headers, _TOKEN_HEADERS[0]),
             output_tokens=_count_header(headers, _TOKEN_HEADERS[1]))
        return None

    def accumulator(self, want_content: bool) -> InvokeStreamReader:
        return InvokeStreamReader(want_content)


def _read_converse(inv: Invocation, result: Any) -> None:
    """A reply in converse's shape (converse, and Nova's invoke_model body)."""
    message = get(get(result, "output"), "message")
    reason = get(result, "stopReason")
    mapped = finish_reason(reason) if reason else None
    fill(inv, finish_reasons=[mapped] if mapped else None)
    _fill_usage(inv, get(result, "usage"))
    set_tool_calls(inv, _tool_uses(get(message, "content")))
    if inv._tel.capturing and message is not None:
        fill(inv, output_messages=[converse_message(message, mapped)])


def _count_header(headers: Any, name: str) -> int | None:
    value = get(headers, name) if isinstance(headers, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _read_anthropic_message(inv: Invocation, body: Mapping[str, Any]) -> None:
    reason = body.get("stop_reason")
    mapped = finish_reason(reason) if reason else None
    fill(inv, response_id=text(body.get("id")), response_model=text(body.get("model")),
         finish_reasons=[mapped] if mapped else None)
    _fill_usage(inv, body.get("usage"))
    set_tool_calls(inv, _tool_uses(body.get("content")))
    if inv._tel.capturing:
        message: dict[str, Any] = {"role": "assistant", "content": listed(body.get("content")) or []}
        if mapped:
            message["finish_reason"] = mapped
        fill(inv, output_messages=[message])


class _FailedRead(io.RawIOBase):
    """The raw stream of a body whose reading failed in the instrumentation: the caller's read fails the same."""

    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise self._exc


def _take_body(result: Any) -> bytes | None:
    """Read invoke_model's ``StreamingBody`` and give the caller a fresh one over the same bytes."""
    from botocore.response import StreamingBody

    body = get(result, "body")
    if not isinstance(result, dict) or not isinstance(body, StreamingBody):
        return None
    try:
        data = body.read()
    except Exception as exc:  # the caller meets the same error when they read
        result["body"] = StreamingBody(_FailedRead(exc), None)
        raise
    result["body"] = StreamingBody(io.BytesIO(data), len(data))
    return data


# --- stream readers ---------------------------------------------------------------------------------------------------
class _Reader:
    """What both stream readers keep: tool calls (index -> [id, name, [input]]), text, the stop and the usage."""

    __slots__ = ("want", "tools", "texts", "reason", "usage", "response_id", "model", "request_id")

    def __init__(self, want_content: bool) -> None:
        self.want = want_content
        self.tools: dict[int, list[Any]] = {}
        self.texts: dict[int, list[str]] = {}
        self.reason: str | None = None
        self.usage: Any = None
        self.response_id: str | None = None
        self.model: str | None = None
        self.request_id: str | None = None  # the AWS request id: the response id when the model gives none

    @staticmethod
    def usage_only(event: Any) -> bool:
        return False

    @staticmethod
    def has_usage(event: Any) -> bool:
        return False  # read in add / apply

    def apply(self, inv: Invocation) -> None:
        fill(inv, response_id=self.response_id or self.request_id, response_model=self.model,
             finish_reasons=[self.reason] if self.reason else None)
        _fill_usage(inv, self.usage)
        ordered = [self.tools[i] for i in sorted(self.tools)]
        set_tool_calls(inv, [(name, call_id) for call_id, name, _ in ordered])
        if self.want:
            content: list[dict[str, Any]] = [{"type": "text", "text": "".join(self.texts[i])} for i in sorted(self.texts)]
            content += [{"type": "tool_use", "id": call_id, "name": name, "input": "".join(args)}
                        for call_id, name, args in ordered]
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if self.reason:
                message["finish_reason"] = self.reason
            fill(inv, output_messages=[message])

    def _converse_event(self, event: Any) -> None:
        """One event in converse_stream's shape (Nova's invoke stream sends the same, as JSON chunks)."""
        if not isinstance(event, dict):
            return
        index = _count(get(next(iter(event.values()), None), "contentBlockIndex")) or 0
        if "contentBlockStart" in event:
            use = get(get(event["contentBlockStart"], "start"), "toolUse")
            if use is not None:
                self.tools[index] = [get(use, "toolUseId"), get(use, "name"), []]
        elif "contentBlockDelta" in event:
            delta = get(event["contentBlockDelta"], "delta")
            piece = get(get(delta, "toolUse"), "input")
            if self.want and isinstance(piece, str) and index in self.tools:
                self.tools[index][2].append(piece)
            if self.want and isinstance(get(delta, "text"), str):
                self.texts.setdefault(index, []).append(get(delta, "text"))
        elif "messageStop" in event:
            reason = get(event["messageStop"], "stopReason")
            self.reason = finish_reason(reason) if reason else None
        elif "metadata" in event:
            self.usage = get(event["metadata"], "usage") or self.usage


class ConverseStreamReader(_Reader):
    """Reads converse_stream's events: tool uses (contentBlockStart), messageStop, metadata's usage."""

    __slots__ = ()

    def add(self, event: Any) -> None:
        self._converse_event(event)


class InvokeStreamReader(_Reader):
    """Reads invoke_model_with_response_stream's ``chunk`` events: the model's own stream events as JSON
    bytes (Anthropic's message_start ... message_delta, or Nova's converse-shaped ones), and the invocation
    metrics Bedrock adds to the last one (the usage when the model's events gave none)."""

    __slots__ = ("metrics",)

    def __init__(self, want_content: bool) -> None:
        super().__init__(want_content)
        self.metrics: Any = None

    def add(self, event: Any) -> None:
        data = _body_json(get(get(event, "chunk"), "bytes"))
        if not isinstance(data, dict):
            return
        metrics = data.get(_INVOCATION_METRICS)
        if metrics is not None:
            self.metrics = metrics
        kind = data.get("type")
        if kind is None:
            self._converse_event(data)
        else:
            self._anthropic_event(kind, data)

    def _anthropic_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "message_start":
            message = data.get("message")
            self.response_id, self.model = text(get(message, "id")), text(get(message, "model"))
            self.usage = dict(get(message, "usage") or {})
        elif kind == "content_block_start":
            block = data.get("content_block")
            if get(block, "type") == "tool_use":
                self.tools[_count(data.get("index")) or 0] = [get(block, "id"), get(block, "name"), []]
        elif kind == "content_block_delta" and self.want:
            index, delta = _count(data.get("index")) or 0, data.get("delta")
            if get(delta, "type") == "text_delta":
                self.texts.setdefault(index, []).append(get(delta, "text") or "")
            elif get(delta, "type") == "input_json_delta" and index in self.tools:
                self.tools[index][2].append(get(delta, "partial_json") or "")
        elif kind == "message_delta":
            reason = get(data.get("delta"), "stop_reason")
            self.reason = finish_reason(reason) if reason else self.reason
            usage = data.get("usage")
            if isinstance(usage, dict):  # the final counts (output; input too in newer streams)
                self.usage = {**(self.usage or {}), **{k: v for k, v in usage.items() if v is not None}}

    def apply(self, inv: Invocation) -> None:
        super().apply(inv)
        if self.metrics is not None:
            _fill_usage(inv, self.metrics)


# --- the traced event stream ----------------------------------------------------------------------------------------
def _step(state: StreamState, events: Iterator[Any]) -> Any:
    while True:
        try:
            item = next(events)
        except StopIteration:
            state.finish()
            raise
        except BaseException as exc:
            _put_status(state.call.inv, exc)
            state.finish(exc)
            raise
        if state.deliver(item):
            return item


class _Loop:
    """The iterator a ``for`` loop over the traced stream holds: dropping it (``break``) ends the span."""

    __slots__ = ("_proxy",)

    def __init__(self, proxy: TracedEventStream) -> None:
        self._proxy = proxy

    def __iter__(self) -> _Loop:
        return self

    def __next__(self) -> Any:
        proxy = self._proxy
        return _step(proxy._self_state, proxy._self_events)

    def __del__(self) -> None:
        abandon(getattr(getattr(self, "_proxy", None), "_self_state", None))


class TracedEventStream(TracedStream):
    """botocore's ``EventStream`` (iterable, not an iterator: each loop continues where the last stopped),
    traced: every loop reads one shared generator over it; ``close`` and the rest reach the real stream."""

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped, state)
        self._self_events = iter(wrapped)

    def __iter__(self) -> _Loop:  # type: ignore[override]
        return _Loop(self)

    def __next__(self) -> Any:
        return _step(self._self_state, self._self_events)


# --- the wrapper --------------------------------------------------------------------------------------------------
def _put_status(inv: Invocation, exc: BaseException) -> None:
    """The HTTP status of a botocore ClientError (not on an error event inside a 200 stream)."""
    try:
        status = get(get(getattr(exc, "response", None), "ResponseMetadata"), "HTTPStatusCode")
        if isinstance(status, int) and status >= 400:
            inv.put({sc.HTTP_RESPONSE_STATUS_CODE: status})
    except Exception as sdk_exc:
        diagnostics.report("auto.bedrock.status", sdk_exc)


def _settle(call: Call, result: Any) -> Any:
    """A stream goes to the caller as a traced stand-in that ends the call; anything else is read and ended."""
    endpoint: BedrockEndpoint = call.endpoint  # type: ignore[assignment]
    inv = call.inv
    try:
        key = endpoint.stream_key
        if key is not None:
            from botocore.eventstream import EventStream

            events = result.get(key) if isinstance(result, dict) else None
            if isinstance(events, EventStream):
                state = StreamState(call)
                state.acc.request_id = _request_id(result)
                result[key] = TracedEventStream(events, state)
                return result
        else:
            failure = endpoint.read(inv, result)
            if failure is not None:
                _put_status(inv, failure)
                call.fail(failure)
                return result
    except Exception as exc:
        diagnostics.report("auto.bedrock.response", exc)
    if call.own:
        inv.end()
    return result


def _run(call: Call, wrapped: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    token = _attach(call.context)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _detach(token)
        _put_status(call.inv, exc)
        call.fail(exc)
        raise
    _detach(token)
    return _settle(call, result)


def _operation(endpoints: Mapping[str, BedrockEndpoint], instance: Any, args: tuple,
               kwargs: dict) -> tuple[BedrockEndpoint, dict[str, Any]] | None:
    """The endpoint and parameters of a bedrock-runtime call we trace, or None for any other AWS call."""
    name = args[0] if args else kwargs.get("operation_name")
    endpoint = endpoints.get(name) if isinstance(name, str) else None
    if endpoint is None:
        return None
    try:
        if instance.meta.service_model.service_name != SERVICE:
            return None
    except AttributeError:
        return None
    params = args[1] if len(args) > 1 else kwargs.get("api_params")
    return (endpoint, params) if isinstance(params, dict) else None


def api_call_wrapper(endpoints: Mapping[str, BedrockEndpoint]) -> Callable[[Patch], Callable[..., Any]]:
    """The wrapt wrapper factory for ``BaseClient._make_api_call``: only the traced operations are touched."""
    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            tel = _state.active
            if tel is None or not record.enabled:
                return wrapped(*args, **kwargs)
            found = _operation(endpoints, instance, args, kwargs)
            if found is None:
                return wrapped(*args, **kwargs)
            call = begin(tel, found[0], instance, found[1])
            if call is None:
                return wrapped(*args, **kwargs)
            return _run(call, wrapped, args, kwargs)

        return wrapper

    return factory


# --- the instrumentor -----------------------------------------------------------------------------------------------
class BedrockInstrumentor(AutoInstrumentor):
    """Traces boto3's ``bedrock-runtime`` client: converse, converse_stream, invoke_model and
    invoke_model_with_response_stream (Anthropic and Nova bodies read), for clients made before or after."""

    library = "boto3"
    requirement = REQUIREMENT

    def instrumentation_dependencies(self) -> Collection[str]:
        return (REQUIREMENT,)

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        endpoints: dict[str, BedrockEndpoint] = {
            "Converse": ConverseEndpoint(False),
            "ConverseStream": ConverseEndpoint(True),
            "InvokeModel": InvokeEndpoint(False),
            "InvokeModelWithResponseStream": InvokeEndpoint(True),
        }
        return self._apply([(_BASE_CLIENT, "_make_api_call", api_call_wrapper(endpoints))])
