"""Message content: conversion to the GenAI message schema, redaction, secret masking, truncation.

Content is opt-in (``ContentCapture``); secrets are masked whatever the setting, because an API key pasted
into a prompt or an error message must not reach a backend either way. Truncation shortens strings inside
the structure and re-serialises it, so the attribute is always valid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable

from .. import diagnostics
from .bounds import note_truncated

MASK = "[REDACTED]"

_SECRET_PATTERNS = [
    r"sk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_\-]{20,}",   # OpenAI / Anthropic keys
    r"AKIA[0-9A-Z]{16}",                                  # AWS access key ids
    r"gh[pousr]_[A-Za-z0-9]{30,}",                        # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",                    # Slack tokens
    r"AIza[0-9A-Za-z\-_]{35}",                            # Google API keys
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
]
_SECRETS = re.compile("|".join(_SECRET_PATTERNS))
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_KEY_VALUE = re.compile(
    r"(?i)\b((?:x-)?api[_-]?key|(?:access|auth|refresh|id)?[_-]?token|(?:client[_-]?)?secret(?:[_-]?key)?|passw(?:or)?d)"
    r"(\"?'?\s*[:=]\s*\"?'?)([^\s\"',;&]{6,})"
)
# Cheap pre-check so that clean text (the common case) costs one scan, not three.
_MAYBE = re.compile(r"(?i)sk-|AKIA|gh[pousr]_|github_pat_|xox|AIza|eyJ|bearer|basic|key|token|secret|password")


def mask_secrets(text: str) -> str:
    """Replace values that look like API keys, bearer tokens or passwords with ``[REDACTED]``."""
    if not _MAYBE.search(text):
        return text
    text = _SECRETS.sub(MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


# Keys whose value is a secret whatever it looks like ({"api_key": "abc"}, {"X-Api-Key": ...}).
_SECRET_KEY = re.compile(
    r"(?i)^(?:x-)?(?:api[_-]?key|apikey|(?:access|auth|refresh|id|session|bearer)[_-]?token|token|secret|"
    r"client[_-]?secret|secret[_-]?key|passw(?:or)?d|authorization|proxy[_-]authorization|private[_-]?key|"
    r"credentials?|cookie)$")


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _SECRET_KEY.match(key) is not None


def mask_tree(value: Any) -> Any:
    """``mask_secrets`` over every string in a JSON-like value, and the values of secret-named keys."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else mask_tree(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_tree(v) for v in value]
    return value


# --- conversion to the GenAI message schema ---------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _plain(obj: Any) -> Any:
    """Pydantic models and other objects to plain data, best effort."""
    if obj is None or isinstance(obj, (str, int, float, bool, dict, list)):
        return obj
    for attr in ("model_dump", "to_dict", "dict"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                return fn()
            except Exception:
                continue
    return str(obj)


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return _plain(value)


def _part(block: Any) -> dict[str, Any] | None:
    block = _plain(block)
    if isinstance(block, str):
        return {"type": "text", "content": block}
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text"):
        return {"type": "text", "content": block.get("text", block.get("content", ""))}
    if kind in ("tool_use", "tool_call", "function_call"):
        args = block.get("input", block.get("arguments"))
        return {"type": "tool_call", "id": block.get("id") or block.get("call_id"), "name": block.get("name"),
                "arguments": _json_or_text(args)}
    if kind in ("tool_result", "tool_call_response", "function_call_output"):
        return {"type": "tool_call_response", "id": block.get("tool_use_id") or block.get("id")
                or block.get("call_id"), "response": _plain(block.get("content", block.get("output",
                                                                                         block.get("response"))))}
    if kind in ("thinking", "reasoning"):
        return {"type": "reasoning", "content": block.get("thinking", block.get("content", ""))}
    if kind in ("image_url",):
        url = _get(block.get("image_url"), "url", block.get("image_url"))
        return {"type": "uri", "modality": "image", "uri": url}
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") == "base64":
            return {"type": "blob", "modality": "image", "mime_type": source.get("media_type"),
                    "content": source.get("data")}
        return {"type": "uri", "modality": "image", "uri": source.get("url")}
    if kind == "refusal":
        return {"type": "text", "content": block.get("refusal", "")}
    return {"type": str(kind or "unknown"), **{k: v for k, v in block.items() if k != "type"}}


def to_message(msg: Any) -> dict[str, Any]:
    """One OpenAI-, Anthropic- or spec-shaped message as ``{"role", "parts", ["name"]}``."""
    msg = _plain(msg)
    if isinstance(msg, str):
        return {"role": "user", "parts": [{"type": "text", "content": msg}]}
    if not isinstance(msg, dict):
        return {"role": "user", "parts": [{"type": "text", "content": str(msg)}]}
    if "parts" in msg:
        return msg
    role = msg.get("role", "user")
    content = msg.get("content")
    parts: list[dict[str, Any]] = []
    if role == "tool" and "tool_call_id" in msg:
        parts.append({"type": "tool_call_response", "id": msg["tool_call_id"], "response": _plain(content)})
    elif isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        parts.extend(p for p in map(_part, content) if p is not None)
    if msg.get("refusal"):
        parts.append({"type": "text", "content": msg["refusal"]})
    for call in msg.get("tool_calls") or ():
        call = _plain(call)
        fn = call.get("function") or {}
        parts.append({"type": "tool_call", "id": call.get("id"), "name": fn.get("name"),
                      "arguments": _json_or_text(fn.get("arguments"))})
    out: dict[str, Any] = {"role": role, "parts": parts}
    if msg.get("name"):
        out["name"] = msg["name"]
    if msg.get("finish_reason"):
        out["finish_reason"] = msg["finish_reason"]
    return out


def to_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        return []
    if isinstance(messages, (str, dict)) or not isinstance(messages, Iterable):
        messages = [messages]
    return [to_message(m) for m in messages]


def system_instructions(value: Any) -> list[dict[str, Any]]:
    """System instructions as a list of parts (a string, or Anthropic-style blocks)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "text", "content": value}]
    return [p for p in map(_part, value) if p is not None]


# --- truncation that keeps JSON valid ---------------------------------------------------------------------
def _cap_strings(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        if len(value) <= cap:
            return value
        return value[:cap] + f"...[truncated {len(value) - cap} chars]"
    if isinstance(value, dict):
        return {k: _cap_strings(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_cap_strings(v, cap) for v in value]
    return value


def dumps_bounded(value: Any, max_length: int, attribute: str | None = None) -> str:
    """JSON of ``value`` in at most ``max_length`` characters, shortening strings, then dropping items;
    a cut is counted under ``attribute`` when it is given."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= max_length:
        return text
    if attribute is not None:
        note_truncated(attribute)
    lo, hi, best = 0, max(len(text), 1), None
    while lo <= hi:  # the largest per-string cap that fits
        mid = (lo + hi) // 2
        candidate = json.dumps(_cap_strings(value, mid), ensure_ascii=False, default=str)
        if len(candidate) <= max_length:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    if isinstance(value, list):  # structure alone is too big: keep the leading items that fit
        kept = [_cap_strings(v, 0) for v in value]
        while kept:
            kept.pop()
            candidate = json.dumps(kept + [{"truncated": True}], ensure_ascii=False, default=str)
            if len(candidate) <= max_length:
                return candidate
    return "[]" if max_length >= 2 else ""


class ContentPolicy:
    """Prepares content for a span or event: redaction hook, secret masking, bounded JSON (``max_length``:
    the content length setting, or the attribute value length limit when that is lower)."""

    def __init__(self, max_length: int, redact: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None):
        self.max_length = max_length
        self.redact = redact

    def render(self, messages: list[dict[str, Any]], attribute: str | None = None) -> str | None:
        """JSON for the attribute, or None when the redaction hook failed (then nothing is recorded)."""
        if self.redact is not None:
            try:
                messages = self.redact(messages)
            except Exception as exc:
                diagnostics.report("content.redact_hook", exc)
                return None
        return dumps_bounded(mask_tree(messages), self.max_length, attribute)
