"""Auto-instrumentation of the ``google-genai`` client (``from google import genai``): ``models.generate_content``,
``models.generate_content_stream`` and ``models.embed_content``, sync and ``client.aio.models`` async. Chats
(``client.chats``) send through ``models.generate_content`` and are traced there.

One span per call the user makes, through the same recorder as the openai and anthropic instrumentors:
operation ``generate_content`` (``embeddings`` for embed_content), provider ``gcp.gemini`` for the Gemini
Developer API client and ``gcp.vertex_ai`` for a client made with ``vertexai=True``.

Usage is read from ``usage_metadata``. ``gen_ai.usage.input_tokens`` is ``prompt_token_count`` (which already
counts the cached content) plus ``tool_use_prompt_token_count`` (tool results fed back to the model, billed as
input and outside the prompt count); ``output_tokens`` is ``candidates_token_count`` plus
``thoughts_token_count``, as the conventions count reasoning in the output and as Google bills thinking at
the output price; ``reasoning.output_tokens`` is ``thoughts_token_count`` and ``cache_read.input_tokens``
``cached_content_token_count``. A call that makes several model requests (automatic function calling, or
automatic continuation) gets the sum of all of them, so its cost is the whole call's. Finish reasons are the
spec's values where Gemini's mean the same (STOP is ``stop``, or ``tool_call`` when the candidate calls a
function; MAX_TOKENS ``length``; the safety and recitation stops ``content_filter``; malformed calls ``error``),
other ``FinishReason`` names lower-cased; an unspecified one is left out.

The stream methods return generators that send the request when first read: their span starts at the call
and ends with the stream (exhausted, failed, closed, left or garbage-collected), its time to first chunk
counting the request. The client's errors name the HTTP status ``code`` (Endpoint.status_code reads it); it is
recorded as ``http.response.status_code`` beside ``error.type`` (the client's exception type), for calls and
streams alike.
"""

from __future__ import annotations

import base64
import collections.abc as abc
import contextvars
import math
from typing import Any, Callable, Collection, Iterable, Mapping
from urllib.parse import urlsplit


from .. import semconv as sc
from ..instrument import telemetry as _state
from ..instrument.invocation import Invocation
from ..instrument.kinds import EMBEDDINGS
from ..instrument.responses import fields_of
from ._common import AutoInstrumentor, Patch, get, listed, number, text
from .calls import Endpoint, attributes, begin, fill, run_async, run_sync, set_tool_calls


REQUIREMENT = "google-genai >= 1.0, < 4"
LIBRARY = "google-genai"

# The usage of each model request a call makes (its hops), collected by the wrappers of the private request
# methods while a traced generate_content call runs; None outside one.
_HOPS: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("agentkit_genai_hops", default=None)


# --- the client ---------------------------------------------------------------------------------------------------
def _api_client(instance: Any) -> Any:
    return getattr(instance, "_api_client", None)


def _provider(api_client: Any) -> str:
    """gcp.vertex_ai for a Vertex client, gcp.gemini for the Gemini Developer API; gcp.gen_ai if unknown."""
    vertex = getattr(api_client, "vertexai", None)
    if vertex is None:
        return sc.PROVIDER_GCP_GEN_AI
    return sc.PROVIDER_GCP_VERTEX_AI if vertex else sc.PROVIDER_GCP_GEMINI


_servers: dict[str, tuple[str | None, int | None]] = {}


def _server(api_client: Any) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` of the client's base URL (remembered per URL)."""
    url = get(getattr(api_client, "_http_options", None), "base_url")  # a dict in the oldest clients
    if not isinstance(url, str):
        return None, None
    found = _servers.get(url)
    if found is None:
        try:
            parts = urlsplit(url)
            host = parts.hostname
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        except ValueError:
            host = port = None
        found = (host, port) if host else (None, None)
        if len(_servers) < 64:
            _servers[url] = found
    return found


def _model(value: Any) -> str | None:
    """The model ID: the Gemini API's ``models/ID`` and Vertex's ``.../publishers/P/models/ID`` resource names
    name the same model as ``ID``; other forms (tuned models, endpoints) are kept as given."""
    name = text(value)
    if name and name.startswith(("models/", "publishers/", "projects/")) and "models/" in name:
        return name.rpartition("models/")[2] or name
    return name or None


# --- request parameters ---------------------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    """A count from the config as an int (top_k is a float in the client's types, an int in the conventions)."""
    n = number(value)
    return int(round(n)) if n is not None and math.isfinite(n) else None


def _choices(value: Any) -> int | None:
    n = _int(value)
    return n if n != 1 else None


def _stops(value: Any) -> list[str] | None:
    stops = [s for s in listed(value) or () if isinstance(s, str)]
    return stops or None


_CONFIG_PARAMS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE, number),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P, number),
    ("top_k", sc.GEN_AI_REQUEST_TOP_K, _int),
    ("max_output_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS, number),
    ("stop_sequences", sc.GEN_AI_REQUEST_STOP_SEQUENCES, _stops),
    ("candidate_count", sc.GEN_AI_REQUEST_CHOICE_COUNT, _choices),
    ("seed", sc.GEN_AI_REQUEST_SEED, _int),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
)


def _output_type(config: Any) -> str | None:
    if get(config, "response_schema") is not None or get(config, "response_json_schema") is not None:
        return sc.OUTPUT_TYPE_JSON
    mime = text(get(config, "response_mime_type"))
    if mime == "application/json":
        return sc.OUTPUT_TYPE_JSON
    if mime == "text/plain":
        return sc.OUTPUT_TYPE_TEXT
    return None


def _config_params(config: Any) -> list[tuple[str, Any]]:
    """Request attributes from ``config`` (a GenerateContentConfig or a dict shaped like one)."""
    if config is None:
        return []
    fields = fields_of(config)
    out = [(attr, convert(fields.get(name))) for name, attr, convert in _CONFIG_PARAMS]
    out.append((sc.GEN_AI_OUTPUT_TYPE, _output_type(config)))
    return out


# --- content (opt-in) -------------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Pydantic values as JSON-ready data without their unset fields."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return value


def _modality(mime: Any) -> str | None:
    kind = mime.partition("/")[0] if isinstance(mime, str) else ""
    return kind if kind in ("image", "video", "audio") else None


def _part(part: Any) -> dict[str, Any] | None:
    """One google-genai Part (object or dict; or a string) as a part of the GenAI message schema."""
    if isinstance(part, str):
        return {"type": "text", "content": part}
    p = fields_of(part)
    value = p.get("text")
    if value is not None:
        return {"type": "reasoning" if p.get("thought") else "text", "content": value}
    call = p.get("function_call")
    if call is not None:
        return {"type": "tool_call", "id": get(call, "id"), "name": get(call, "name"),
                "arguments": _plain(get(call, "args"))}
    response = p.get("function_response")
    if response is not None:
        return {"type": "tool_call_response", "id": get(response, "id"),
                "response": _plain(get(response, "response"))}
    blob = p.get("inline_data")
    if blob is not None:
        mime, data = get(blob, "mime_type"), get(blob, "data")
        content = base64.b64encode(data).decode("ascii") if isinstance(data, (bytes, bytearray)) else data
        return {"type": "blob", "modality": _modality(mime), "mime_type": mime, "content": content}
    file = p.get("file_data")
    if file is not None:
        mime = get(file, "mime_type")
        return {"type": "uri", "modality": _modality(mime), "mime_type": mime, "uri": get(file, "file_uri")}
    return None


def _parts(parts: Any) -> list[dict[str, Any]]:
    return [p for p in map(_part, listed(parts) or ()) if p is not None]


def _message(content: Any) -> dict[str, Any]:
    role = get(content, "role")
    role = "assistant" if role == "model" else (text(role) or "user")
    return {"role": role, "parts": _parts(get(content, "parts"))}


def _input_messages(contents: Any) -> list[dict[str, Any]] | None:
    """``contents`` as messages: Content items are messages; strings and parts between them are one user
    message (as the client groups them)."""
    if contents is None:
        return None
    items = listed(contents)
    if items is None:
        items = [contents]
    out: list[dict[str, Any]] = []
    loose: list[Any] = []
    for item in items:
        if not isinstance(item, str) and get(item, "parts") is not None:
            if loose:
                out.append({"role": "user", "parts": _parts(loose)})
                loose = []
            out.append(_message(item))
        else:
            loose.append(item)
    if loose:
        out.append({"role": "user", "parts": _parts(loose)})
    return out


def _system(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if get(value, "parts") is not None:
        return _parts(get(value, "parts"))
    return _parts(listed(value) or [value])


def _tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    """Function declarations (and Python functions given as tools) by name, description and parameters;
    built-in tools (search, code execution...) by their kind."""
    items = listed(tools)
    if not items:
        return None
    out: list[dict[str, Any]] = []
    for tool in items:
        if callable(tool) and not hasattr(tool, "model_dump"):
            doc = (getattr(tool, "__doc__", None) or "").strip()
            out.append({"type": "function", "name": getattr(tool, "__name__", None), "description": doc or None})
            continue
        if not (isinstance(tool, dict) or hasattr(tool, "model_dump")):  # an MCP session: not a definition
            continue
        declarations = get(tool, "function_declarations")
        for decl in declarations or ():
            params = get(decl, "parameters_json_schema") or get(decl, "parameters")
            out.append({"type": "function", "name": get(decl, "name"), "description": get(decl, "description"),
                        "parameters": _plain(params)})
        if not declarations:
            out.extend({"type": kind} for kind, value in fields_of(tool).items() if value is not None)
    return out or None


# --- the response -----------------------------------------------------------------------------------------------------
# Gemini's FinishReason names -> the spec's values where they mean the same (gen_ai.response.finish_reasons
# and the output messages); STOP with a function call is a tool call. Others are kept, lower-cased.
_STOP = "STOP"
FINISH_REASONS: dict[str, str] = {
    _STOP: sc.FINISH_REASON_STOP,
    "MAX_TOKENS": sc.FINISH_REASON_LENGTH,
    **dict.fromkeys(("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                     "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR"),
                    sc.FINISH_REASON_CONTENT_FILTER),
    **dict.fromkeys(("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
                     "MISSING_THOUGHT_SIGNATURE", "MALFORMED_RESPONSE"), sc.FINISH_REASON_ERROR),
}


def finish_reason(value: Any, tool_call: bool = False) -> str | None:
    """The spec's value for a FinishReason (enum member or string); None for an unspecified one."""
    name = getattr(value, "value", value)
    if not isinstance(name, str) or not name or name == "FINISH_REASON_UNSPECIFIED":
        return None
    if tool_call and name == _STOP:
        return sc.FINISH_REASON_TOOL_CALL
    return FINISH_REASONS.get(name, name.lower())


_USAGE_FIELDS = ("prompt_token_count", "tool_use_prompt_token_count", "candidates_token_count",
                 "thoughts_token_count", "cached_content_token_count")


def _fill_usage(inv: Invocation, usages: Iterable[Any]) -> None:
    """Token counts from the ``usage_metadata`` of each model request of the call, summed (see the module
    docstring for what each count is made of). Counts someone else set first are kept."""
    totals: dict[str, int] | None = None
    for usage in usages:
        if usage is None:
            continue
        fields = fields_of(usage)
        if totals is None:
            totals = {}
        for name in _USAGE_FIELDS:
            value = fields.get(name)
            if type(value) is int:
                totals[name] = totals.get(name, 0) + value
    if totals is None:
        return
    g = totals.get
    fill(inv, input_tokens=g("prompt_token_count", 0) + g("tool_use_prompt_token_count", 0),
         output_tokens=g("candidates_token_count", 0) + g("thoughts_token_count", 0),
         reasoning_tokens=g("thoughts_token_count"), cache_read_tokens=g("cached_content_token_count"))


def _candidate_calls(candidate: Any) -> list[tuple[str | None, str | None]]:
    parts = get(get(candidate, "content"), "parts") or ()
    return [(get(call, "name"), get(call, "id")) for call in (get(p, "function_call") for p in parts)
            if call is not None]


def _candidate_reason(candidate: Any) -> str | None:
    return finish_reason(get(candidate, "finish_reason"), bool(_candidate_calls(candidate)))


def _output_message(parts: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if reason:
        message["finish_reason"] = reason
    return message


def _fill_response(inv: Invocation, response: Any, usages: Iterable[Any], want_content: bool) -> None:
    """What a GenerateContentResponse tells: id, model, finish reasons, usage, tool calls, output."""
    fields = fields_of(response)
    candidates = listed(fields.get("candidates")) or []
    reasons = [_candidate_reason(c) for c in candidates]
    fill(inv, response_id=text(fields.get("response_id")), response_model=text(fields.get("model_version")),
         finish_reasons=[r for r in reasons if r] or None)
    _fill_usage(inv, usages)
    set_tool_calls(inv, [call for c in candidates for call in _candidate_calls(c)])
    if want_content and candidates:
        fill(inv, output_messages=[
            _output_message(_parts(get(get(c, "content"), "parts")), reason)
            for c, reason in zip(candidates, reasons)])


def _status_code(exc: BaseException) -> Any:
    """google-genai's APIError names the HTTP status ``code``."""
    status = getattr(exc, "status_code", None)
    return status if status is not None else getattr(exc, "code", None)


# --- generate_content -------------------------------------------------------------------------------------------------
class GenerateEndpoint(Endpoint):
    """``generate_content`` (``streaming=False``) and ``generate_content_stream``."""

    def status_code(self, exc: BaseException) -> Any:
        return _status_code(exc)

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        api_client = _api_client(instance)
        model = _model(kwargs.get("model"))
        extra = _config_params(kwargs.get("config"))
        if self.streaming:
            extra.append((sc.GEN_AI_REQUEST_STREAM, True))
        op = sc.OP_GENERATE_CONTENT
        return op, model, attributes(op, _provider(api_client), model, _server(api_client), extra)

    def inputs(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        config = kwargs.get("config")
        fill(inv, input_messages=_input_messages(kwargs.get("contents")),
             system_instructions=_system(get(config, "system_instruction")),
             tool_definitions=_tool_definitions(get(config, "tools")))

    def after(self, inv: Invocation, result: Any) -> None:
        hops = _HOPS.get()
        usages = hops if hops else (get(result, "usage_metadata"),)
        _fill_response(inv, result, usages, inv._tel.capturing)

    # The stream methods return a generator (sync) or, awaited, an async generator.
    def is_stream_type(self, cls: type) -> bool:
        return self.streaming and issubclass(cls, abc.Iterator)

    def is_async_stream_type(self, cls: type) -> bool:
        return self.streaming and issubclass(cls, abc.AsyncIterator)

    def is_stream(self, result: Any) -> bool:
        return self.is_stream_type(type(result))

    def is_async_stream(self, result: Any) -> bool:
        return self.is_async_stream_type(type(result))

    def accumulator(self, want_content: bool) -> GenerateAccumulator:
        return GenerateAccumulator(want_content)


class GenerateAccumulator:
    """Reads the streamed GenerateContentResponse chunks: each carries the usage so far of its response, so
    the last usage of each response (by response id: automatic function calling streams several responses)
    is summed at the end; finish reasons and tool calls per candidate; the text only with content capture."""

    __slots__ = ("want", "response_id", "model", "usage", "reasons", "calls", "called", "parts")

    def __init__(self, want_content: bool) -> None:
        self.want = want_content
        self.response_id: str | None = None
        self.model: str | None = None
        self.usage: dict[Any, Any] = {}
        self.reasons: dict[int, tuple[Any, Any]] = {}  # candidate index -> (FinishReason, response id)
        self.calls: list[tuple[str | None, str | None]] = []
        self.called: set[tuple[Any, int]] = set()  # (response id, candidate index) that called a function
        self.parts: dict[int, list[dict[str, Any]]] = {}

    @staticmethod
    def usage_only(chunk: Any) -> bool:
        return False

    @staticmethod
    def has_usage(chunk: Any) -> bool:
        return False  # read in apply(): the recorder's parser does not know this shape

    def add(self, chunk: Any) -> None:
        fields = fields_of(chunk)
        response_id = fields.get("response_id")
        if response_id is not None:
            self.response_id = response_id
        model = fields.get("model_version")
        if model is not None:
            self.model = model
        usage = fields.get("usage_metadata")
        if usage is not None:
            self.usage[response_id] = usage
        for candidate in fields.get("candidates") or ():
            index = get(candidate, "index") or 0
            reason = get(candidate, "finish_reason")
            if reason is not None:
                self.reasons[index] = (reason, response_id)
            calls = _candidate_calls(candidate)
            if calls:
                self.calls.extend(calls)
                self.called.add((response_id, index))
            if self.want:
                self._add_parts(index, get(get(candidate, "content"), "parts"))

    def _add_parts(self, index: int, parts: Any) -> None:
        """Streamed text arrives in pieces: adjacent pieces of the same kind are joined."""
        kept = self.parts.setdefault(index, [])
        for part in _parts(parts):
            last = kept[-1] if kept else None
            if last is not None and last["type"] == part["type"] and part["type"] in ("text", "reasoning"):
                last["content"] += part["content"]
            else:
                kept.append(part)

    def apply(self, inv: Invocation) -> None:
        reasons = {i: finish_reason(raw, (rid, i) in self.called) for i, (raw, rid) in self.reasons.items()}
        fill(inv, response_id=text(self.response_id), response_model=text(self.model),
             finish_reasons=[r for i in sorted(reasons) if (r := reasons[i])] or None)
        _fill_usage(inv, self.usage.values())
        set_tool_calls(inv, self.calls)
        if self.want and (self.parts or reasons):
            fill(inv, output_messages=[_output_message(self.parts.get(i, []), reasons.get(i))
                                       for i in sorted({*self.parts, *reasons})])


# --- embed_content ----------------------------------------------------------------------------------------------------
class EmbedEndpoint(Endpoint):
    category = EMBEDDINGS

    def status_code(self, exc: BaseException) -> Any:
        return _status_code(exc)

    def request(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        api_client = _api_client(instance)
        model = _model(kwargs.get("model"))
        op = sc.OP_EMBEDDINGS
        return op, model, attributes(op, _provider(api_client), model, _server(api_client), ())

    def after(self, inv: Invocation, result: Any) -> None:
        """Dimensions from the first vector; input tokens from usage_metadata (the Gemini API) or from the
        vectors' statistics (Vertex)."""
        embeddings = listed(get(result, "embeddings")) or []
        values = listed(get(embeddings[0], "values")) if embeddings else None
        usage = get(result, "usage_metadata")
        tokens = get(usage, "prompt_token_count") if usage is not None else None
        if type(tokens) is not int:  # Vertex: a count per vector (a float in the client's types)
            counts = [n for n in (number(get(get(e, "statistics"), "token_count")) for e in embeddings)
                      if n is not None and math.isfinite(n)]
            tokens = int(sum(counts)) if counts else None
        fill(inv, embedding_dimensions=len(values) if values else None, input_tokens=tokens)

    def accumulator(self, want_content: bool) -> Any:  # embeddings never stream
        raise TypeError("embeddings do not stream")


# --- the wrappers -----------------------------------------------------------------------------------------------------
def _collects_hops(endpoint: Endpoint) -> bool:
    return isinstance(endpoint, GenerateEndpoint) and not endpoint.streaming


def _sync_wrapper(endpoint: Endpoint) -> Callable[[Patch], Callable[..., Any]]:
    """As calls.sync_wrapper; a non-streamed generate call also collects the usage of its model requests."""
    hops = _collects_hops(endpoint)

    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            tel = _state.active
            if tel is None or not record.enabled:
                return wrapped(*args, **kwargs)
            call = begin(tel, endpoint, instance, kwargs)
            if call is None:  # not ours, nor are its requests (a call made by a traced call's tool function)
                if _HOPS.get() is None:
                    return wrapped(*args, **kwargs)
                token = _HOPS.set(None)
                try:
                    return wrapped(*args, **kwargs)
                finally:
                    _HOPS.reset(token)
            if not hops:
                return run_sync(call, wrapped, args, call.kwargs)
            token = _HOPS.set([])
            try:
                return run_sync(call, wrapped, args, call.kwargs)
            finally:
                _HOPS.reset(token)

        return wrapper

    return factory


def _async_wrapper(endpoint: Endpoint) -> Callable[[Patch], Callable[..., Any]]:
    """As calls.async_wrapper (the span starts when the call is awaited), collecting hops as above."""
    hops = _collects_hops(endpoint)

    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            if _state.active is None or not record.enabled:
                return wrapped(*args, **kwargs)

            async def run() -> Any:
                tel = _state.active
                call = begin(tel, endpoint, instance, kwargs) if tel is not None else None
                token = _HOPS.set([] if hops and call is not None else None)
                try:
                    if call is None:
                        return await wrapped(*args, **kwargs)
                    return await run_async(call, wrapped, args, call.kwargs)
                finally:
                    _HOPS.reset(token)

            return run()

        return wrapper

    return factory


def _hop_sync(record: Patch) -> Callable[..., Any]:
    """Around the private method that sends one generateContent request: its usage, for the traced call."""
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        hops = _HOPS.get()
        if hops is not None and record.enabled:
            hops.append(get(result, "usage_metadata"))
        return result

    return wrapper


def _hop_async(record: Patch) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        hops = _HOPS.get()
        if hops is None or not record.enabled:
            return wrapped(*args, **kwargs)

        async def run() -> Any:
            result = await wrapped(*args, **kwargs)
            hops.append(get(result, "usage_metadata"))
            return result

        return run()

    return wrapper


# --- the instrumentor -------------------------------------------------------------------------------------------------
_MODELS = "google.genai.models"


class GoogleGenAIInstrumentor(AutoInstrumentor):
    """Traces the ``google-genai`` client (1.x to 3.x): generate_content, generate_content_stream and
    embed_content of ``client.models`` and ``client.aio.models``, for the Gemini Developer API and Vertex AI.
    ``tracer_provider`` / ``meter_provider`` are used when ``agentkit.init()`` was not called."""

    library = LIBRARY
    requirement = REQUIREMENT

    def instrumentation_dependencies(self) -> Collection[str]:
        return (REQUIREMENT,)

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        generate, stream, embed = GenerateEndpoint(False), GenerateEndpoint(True), EmbedEndpoint()
        patches = self._apply([
            (f"{_MODELS}:Models", "generate_content", _sync_wrapper(generate)),
            (f"{_MODELS}:Models", "generate_content_stream", _sync_wrapper(stream)),
            (f"{_MODELS}:Models", "embed_content", _sync_wrapper(embed)),
            (f"{_MODELS}:AsyncModels", "generate_content", _async_wrapper(generate)),
            (f"{_MODELS}:AsyncModels", "generate_content_stream", _async_wrapper(stream)),
            (f"{_MODELS}:AsyncModels", "embed_content", _async_wrapper(embed)),
        ])
        if patches:  # each model request of a call, for its usage (present in every supported version)
            patches += self._apply([(f"{_MODELS}:Models", "_generate_content", _hop_sync),
                                    (f"{_MODELS}:AsyncModels", "_generate_content", _hop_async)])
        return patches
