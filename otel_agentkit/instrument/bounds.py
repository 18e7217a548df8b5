"""Bounds on what a span records: counts and costs inside any real range, attribute values within a length.

Counts (tokens, embedding dimensions) are whole numbers from 0 to ``MAX_COUNT`` = 10**9 per call. The
largest context windows offered are around 10**7 tokens, so a billion leaves a hundredfold margin while
anything above it is a bug (a sum over many calls, a byte count, a unit mix-up), not a call; it also keeps
every figure far inside OTLP's int64 and exact in a float. Costs are finite, non-negative and at most
``MAX_COST_USD`` = $10**6 per call: a billion tokens at $1,000 per million, above any price list. A value
outside is refused: reported through ``diagnostics.report`` (naming the field and the value, counted in
``agentkit.sdk.errors``) and left out; the call is recorded without it.

Attribute values the recorder sets are cut to a length limit: OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, else
OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (the standard variables), else ``DEFAULT_VALUE_LENGTH`` characters or
the content length setting if larger. The OTel SDK's own default is unlimited; one 10 MB value would then
make a whole OTLP batch fail (4 MiB is the usual gRPC message limit) and fill the local files. 16 KiB is
the content length default (one bound for a captured conversation and any other value) and far above any
legitimate id, model name, error message or list of finish reasons. Strings are cut with a marker that
keeps the value within the limit; JSON content attributes are bounded by the content policy instead, so
that they stay valid JSON. Each cut is counted (``agentkit.sdk.truncated_attributes``, by attribute).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any, Mapping

from .. import diagnostics

MAX_COUNT = 10**9
MAX_COST_USD = 1e6
DEFAULT_VALUE_LENGTH = 16384


def count(field: str, value: Any, where: str) -> int | None:
    """``value`` as an int when it is a whole number from 0 to MAX_COUNT; else None, reported."""
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= MAX_COUNT:
        return int(value)  # 12.0 from a JSON gateway is 12
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return int(value)
    diagnostics.report(where, ValueError(
        f"{field} must be a whole number from 0 to {MAX_COUNT:_}, got {_shown(value)}; left out"))
    return None


def cost(field: str, value: Any, where: str) -> float | None:
    """``value`` as a float when it is a finite number of USD from 0 to MAX_COST_USD; else None, reported."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= MAX_COST_USD):
        return float(value)
    diagnostics.report(where, ValueError(
        f"{field} must be a number of USD from 0 to {MAX_COST_USD:,.0f}, got {_shown(value)}; left out"))
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


# --- attribute value length --------------------------------------------------------------------------------
_lock = threading.Lock()
_truncated: Counter[str] = Counter()


def value_length_limit(configured: int | None, content_max_length: int) -> int:
    """The limit for this package's span attributes (see the module docstring)."""
    return configured if configured is not None else max(DEFAULT_VALUE_LENGTH, content_max_length)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked when there is room for the marker."""
    if len(text) <= limit:
        return text
    marker = f"...[truncated {len(text)} chars]"  # the dropped count is at most this many digits
    keep = limit - len(marker)
    if keep <= 0:
        return text[:limit]
    return text[:keep] + f"...[truncated {len(text) - keep} chars]"


def bounded(attributes: Mapping[str, Any], limit: int) -> Mapping[str, Any]:
    """``attributes`` with every string (and every string in a sequence) within ``limit``; the same
    mapping when nothing is too long (the common case costs one pass of length checks)."""
    out: dict[str, Any] | None = None
    for key, value in attributes.items():
        if type(value) is str:
            if len(value) <= limit:
                continue
            cut: Any = clip(value, limit)
        elif isinstance(value, (list, tuple)) and any(type(v) is str and len(v) > limit for v in value):
            cut = [clip(v, limit) if type(v) is str else v for v in value]
        else:
            continue
        if out is None:
            out = dict(attributes)
        out[key] = cut
        note_truncated(key)
    return attributes if out is None else out


def note_truncated(attribute: str) -> None:
    with _lock:
        _truncated[attribute] += 1


def truncation_counts() -> dict[str, int]:
    """Attribute values cut to the length limit so far, by attribute name."""
    with _lock:
        return dict(_truncated)


def reset() -> None:
    """Forget the counts (tests)."""
    with _lock:
        _truncated.clear()
