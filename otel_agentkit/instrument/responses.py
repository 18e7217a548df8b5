"""Reading usage, ids, models and finish reasons out of provider responses (objects or dicts).

Handles OpenAI chat completions (and their stream chunks), the OpenAI Responses API, OpenAI embeddings, and
Anthropic messages (and stream events), without importing either client library. ``input_tokens`` is
normalised to include cached tokens, as gen_ai.usage.input_tokens requires (Anthropic reports them apart).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .content import to_message


_MISSING = object()


def get_field(obj: Any, name: str) -> Any:
    """A field of a response object, or a key of a dict shaped like one; None when it has none.

    Read from the instance's ``__dict__`` first: that is where pydantic models (both client libraries'
    responses) keep their fields, and asking a pydantic model for a name it lacks raises inside its
    ``__getattr__``, which costs more than reading every field it has."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is not None:
        value = fields.get(name, _MISSING)
        if value is not _MISSING:
            return value
        extra = getattr(obj, "__pydantic_extra__", _MISSING)  # a slot on pydantic models, never __getattr__
        if extra is None:
            return None
        if type(extra) is dict:
            return extra.get(name)
    return getattr(obj, name, None)


_get = get_field


class _Attributes:
    """``.get`` over an object's attributes, for objects that are neither dicts nor pydantic models."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def get(self, name: str) -> Any:
        return getattr(self.obj, name, None)


_NONE: dict[str, Any] = {}


def fields_of(obj: Any) -> Any:
    """Something with ``.get(name)`` over the fields of a response, a part of one, or a dict shaped like
    one: for pydantic models their field dict itself, so that reading many fields costs one dict lookup
    each."""
    if obj is None:
        return _NONE
    if isinstance(obj, dict):
        return obj
    fields = getattr(obj, "__dict__", None)
    if fields is not None:
        extra = getattr(obj, "__pydantic_extra__", _MISSING)
        if extra is None:
            return fields
        if type(extra) is dict:
            return {**fields, **extra} if extra else fields
    return _Attributes(obj)


def _int(value: Any) -> int | float | None:
    """A count from a response: an int, a whole float as an int; any other number as it is, for the
    recorder's bounds to refuse by name (a NaN or a fraction is a broken response, not a count to round)."""
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(slots=True)
class Parsed:
    """What a response told us; None means 'not in this response'."""

    response_id: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reasons: list[str] | None = None
    output_messages: list[dict[str, Any]] | None = None
    embedding_dimensions: int | None = None

    def as_record(self) -> dict[str, Any]:
        """Keyword arguments for ``Invocation.record`` (only what is known)."""
        return {k: v for k in _PARSED_FIELDS if (v := getattr(self, k)) is not None}


_PARSED_FIELDS = tuple(f.name for f in fields(Parsed))
_USAGE_EVENTS = ("message_start", "message_delta", "response.completed")  # usage not at the top level


def has_usage(obj: Any) -> bool:
    """Cheap test used on every decorated return value and stream chunk."""
    return get_field(obj, "usage") is not None or get_field(obj, "type") in _USAGE_EVENTS


def parse(obj: Any, want_content: bool = False) -> Parsed:
    """Parse a response, a stream chunk or a stream event; unknown shapes give an empty result."""
    out = Parsed()
    o = fields_of(obj)
    kind = o.get("type")
    if kind in ("message_start", "message_delta"):  # Anthropic stream events
        message = o.get("message")
        if message is not None:
            return parse(message, want_content)
        usage = o.get("usage")
        _anthropic_usage(usage, out)
        reason = _get(o.get("delta"), "stop_reason")
        if reason:
            out.finish_reasons = [str(reason)]
        return out
    if kind == "response.completed":  # OpenAI Responses API stream event
        return parse(o.get("response"), want_content)

    out.response_id = o.get("id")
    out.response_model = o.get("model")
    usage = o.get("usage")
    obj_type = o.get("object")
    if kind == "message":  # Anthropic Message
        _anthropic_usage(usage, out)
        reason = o.get("stop_reason")
        out.finish_reasons = [str(reason)] if reason else None
        if want_content:
            msg = to_message({"role": "assistant", "content": o.get("content") or []})
            if reason:
                msg["finish_reason"] = str(reason)
            out.output_messages = [msg]
    elif obj_type == "response":  # OpenAI Responses API
        out.input_tokens = _int(_get(usage, "input_tokens"))
        out.output_tokens = _int(_get(usage, "output_tokens"))
        details = _get(usage, "input_tokens_details")
        out.cache_read_tokens = _int(_get(details, "cached_tokens"))
        out.cache_write_tokens = _int(_get(details, "cache_write_tokens")) or None
        out.reasoning_tokens = _int(_get(_get(usage, "output_tokens_details"), "reasoning_tokens"))
        status = o.get("status")
        out.finish_reasons = [str(status)] if status else None
        if want_content:
            out.output_messages = _responses_output(o.get("output") or [])
    elif obj_type == "list" and o.get("data") is not None:  # OpenAI embeddings
        out.response_id = None
        out.input_tokens = _int(_get(usage, "prompt_tokens"))
        data = o.get("data") or []
        if data:
            vector = _get(data[0], "embedding")
            out.embedding_dimensions = len(vector) if isinstance(vector, (list, tuple)) else None
    else:  # OpenAI chat completion or chunk (or anything shaped like one)
        u = fields_of(usage)
        out.input_tokens = _int(u.get("prompt_tokens"))
        out.output_tokens = _int(u.get("completion_tokens"))
        if out.input_tokens is None:  # dicts shaped like the newer usage blocks
            out.input_tokens = _int(u.get("input_tokens"))
            out.output_tokens = _int(u.get("output_tokens"))
        details = fields_of(u.get("prompt_tokens_details"))
        out.cache_read_tokens = _int(details.get("cached_tokens"))
        out.cache_write_tokens = _int(details.get("cache_write_tokens")) or None  # newer OpenAI models
        out.reasoning_tokens = _int(fields_of(u.get("completion_tokens_details")).get("reasoning_tokens"))
        choices = o.get("choices") or []
        reasons = [str(r) for r in (_get(c, "finish_reason") for c in choices) if r]
        out.finish_reasons = reasons or None
        if want_content and choices and obj_type != "chat.completion.chunk":
            messages = []
            for choice in choices:
                msg = to_message(_get(choice, "message") or {"role": "assistant", "content": ""})
                if _get(choice, "finish_reason"):
                    msg["finish_reason"] = str(_get(choice, "finish_reason"))
                messages.append(msg)
            out.output_messages = messages
    return out


def _anthropic_usage(usage: Any, out: Parsed) -> None:
    if usage is None:
        return
    uncached = _int(_get(usage, "input_tokens"))
    read = _int(_get(usage, "cache_read_input_tokens"))
    write = _int(_get(usage, "cache_creation_input_tokens"))
    out.output_tokens = _int(_get(usage, "output_tokens"))
    out.cache_read_tokens = read
    out.cache_write_tokens = write
    if uncached is not None or read is not None or write is not None:
        out.input_tokens = (uncached or 0) + (read or 0) + (write or 0)


def _responses_output(items: list[Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in items:
        kind = _get(item, "type")
        if kind == "message":
            for block in _get(item, "content") or []:
                text = _get(block, "text") or _get(block, "refusal")
                if text is not None:
                    parts.append({"type": "text", "content": text})
        elif kind == "function_call":
            msg = to_message({"role": "assistant", "content": [
                {"type": "function_call", "call_id": _get(item, "call_id"), "name": _get(item, "name"),
                 "arguments": _get(item, "arguments")}]})
            parts.extend(msg["parts"])
        elif kind == "reasoning":
            for summary in _get(item, "summary") or []:
                parts.append({"type": "reasoning", "content": _get(summary, "text")})
    return [{"role": "assistant", "parts": parts}]
