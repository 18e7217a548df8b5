"""Reading usage, ids, models and finish reasons out of provider responses (objects or dicts).

Handles OpenAI chat completions (and their stream chunks), the OpenAI Responses API, OpenAI embeddings, and
Anthropic messages (and stream events), without importing either client library. ``input_tokens`` is
normalised to include cached tokens, as gen_ai.usage.input_tokens requires (Anthropic reports them apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .content import to_message


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
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
    fields: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """Keyword arguments for ``Invocation.record`` (only what is known)."""
        out = {k: v for k, v in self.__dict__.items() if v is not None and k != "fields"}
        return out


_USAGE_EVENTS = ("message_start", "message_delta")


def has_usage(obj: Any) -> bool:
    """Cheap test used on every decorated return value and stream chunk."""
    if isinstance(obj, dict):
        return obj.get("usage") is not None or obj.get("type") in _USAGE_EVENTS
    if getattr(obj, "usage", None) is not None:
        return True
    fields = getattr(obj, "__dict__", None)  # pydantic models keep fields here; a missing getattr is slow
    kind = fields.get("type") if fields is not None else getattr(obj, "type", None)
    return kind in _USAGE_EVENTS


def parse(obj: Any, want_content: bool = False) -> Parsed:
    """Parse a response, a stream chunk or a stream event; unknown shapes give an empty result."""
    out = Parsed()
    kind = _get(obj, "type")
    if kind in ("message_start", "message_delta"):  # Anthropic stream events
        message = _get(obj, "message")
        if message is not None:
            return parse(message, want_content)
        usage = _get(obj, "usage")
        _anthropic_usage(usage, out)
        reason = _get(_get(obj, "delta"), "stop_reason")
        if reason:
            out.finish_reasons = [str(reason)]
        return out
    if kind == "response.completed":  # OpenAI Responses API stream event
        return parse(_get(obj, "response"), want_content)

    out.response_id = _get(obj, "id")
    out.response_model = _get(obj, "model")
    usage = _get(obj, "usage")
    obj_type = _get(obj, "object")
    if kind == "message":  # Anthropic Message
        _anthropic_usage(usage, out)
        reason = _get(obj, "stop_reason")
        out.finish_reasons = [str(reason)] if reason else None
        if want_content:
            msg = to_message({"role": "assistant", "content": _get(obj, "content") or []})
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
        status = _get(obj, "status")
        out.finish_reasons = [str(status)] if status else None
        if want_content:
            out.output_messages = _responses_output(_get(obj, "output") or [])
    elif obj_type == "list" and _get(obj, "data") is not None:  # OpenAI embeddings
        out.response_id = None
        out.input_tokens = _int(_get(usage, "prompt_tokens"))
        data = _get(obj, "data") or []
        if data:
            vector = _get(data[0], "embedding")
            out.embedding_dimensions = len(vector) if isinstance(vector, (list, tuple)) else None
    else:  # OpenAI chat completion or chunk (or anything shaped like one)
        out.input_tokens = _int(_get(usage, "prompt_tokens"))
        out.output_tokens = _int(_get(usage, "completion_tokens"))
        if out.input_tokens is None:  # dicts shaped like the newer usage blocks
            out.input_tokens = _int(_get(usage, "input_tokens"))
            out.output_tokens = _int(_get(usage, "output_tokens"))
        details = _get(usage, "prompt_tokens_details")
        out.cache_read_tokens = _int(_get(details, "cached_tokens"))
        out.cache_write_tokens = _int(_get(details, "cache_write_tokens")) or None  # newer OpenAI models
        out.reasoning_tokens = _int(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens"))
        choices = _get(obj, "choices") or []
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
