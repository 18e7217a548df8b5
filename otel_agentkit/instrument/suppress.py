"""OpenTelemetry's "suppress instrumentation" switch, as every agentkit span maker reads it.

``opentelemetry.instrumentation.utils.suppress_instrumentation()`` sets two context keys: the API's
``_SUPPRESS_INSTRUMENTATION_KEY`` and, for older instrumentations, the plain string
``"suppress_instrumentation"``; some code sets only one of them. Either one set means no span and no metric
point: the user's code runs exactly as it would without agentkit. The check is one dict lookup or two on a
context the caller already read.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context

try:
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_KEY
except ImportError:  # pragma: no cover - every supported opentelemetry-api defines it
    SUPPRESS_KEY = "suppress_instrumentation"
SUPPRESS_KEY_PLAIN = "suppress_instrumentation"  # what opentelemetry-instrumentation also sets, for old readers


def suppressed(ctx: Any) -> bool:
    """Whether instrumentation is suppressed in ``ctx`` (an OTel Context, a mapping)."""
    return bool(ctx.get(SUPPRESS_KEY) or ctx.get(SUPPRESS_KEY_PLAIN))


def suppressed_now() -> bool:
    """Whether instrumentation is suppressed in the current context."""
    return suppressed(otel_context.get_current())
