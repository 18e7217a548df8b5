"""A console exporter that prints one readable line per span, for watching an app run, not for machines.

Example::

    agentkit chat gpt-4o  812.4 ms  model=gpt-4o-2024-08-06  tokens in=1200 out=340  cost=$0.004210  OK
    agentkit execute_tool search  3.1 ms  ERROR error.type=TimeoutError

Lines go to stderr by default so that an app whose stdout is its output (a CLI, a pipe) stays clean.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import diagnostics
from .. import semconv as sc

_PREFIX = "agentkit"


def _clean(value: Any) -> str:
    """Keep it one line whatever the app put in a name."""
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_span(span: ReadableSpan) -> str:
    """One line: name, duration, model, tokens in/out, cost, status (and error.type)."""
    attrs = span.attributes or {}
    fields = []
    if span.start_time is not None and span.end_time is not None:
        fields.append(f"{(span.end_time - span.start_time) / 1e6:.1f} ms")
    model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL)
    if model:
        fields.append(f"model={_clean(model)}")
    tokens_in = attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    tokens_out = attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
    if tokens_in is not None or tokens_out is not None:
        fields.append(f"tokens in={_number(tokens_in) if tokens_in is not None else '-'}"
                      f" out={_number(tokens_out) if tokens_out is not None else '-'}")
    cost = attrs.get(sc.AGENTKIT_COST_USD)
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        fields.append(f"cost=${cost:.6f}")
    # UNSET is OTel's status of a span that did not fail: shown as "ok" (ERROR stays ERROR, with its type)
    code = span.status.status_code.name if span.status is not None else "UNSET"
    status = "ok" if code in ("UNSET", "OK") else code
    error_type = attrs.get(sc.ERROR_TYPE)
    fields.append(f"{status} error.type={_clean(error_type)}" if error_type else status)
    return f"{_PREFIX} {_clean(span.name)}  " + "  ".join(fields)


class ConsoleSpanExporter(SpanExporter):
    """Prints one line per span to ``stream`` (stderr when None, looked up at each export)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            lines = []
            for span in spans:
                try:
                    lines.append(format_span(span))
                except Exception as exc:  # one odd span must not hide the others
                    diagnostics.report("export.console.format", exc)
                    lines.append(f"{_PREFIX} {getattr(span, 'name', '?')}")
            if not lines:
                return SpanExportResult.SUCCESS
            stream = self._stream if self._stream is not None else sys.stderr
            with self._lock:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
            return SpanExportResult.SUCCESS
        except Exception as exc:  # a closed or broken stream must not reach the app
            diagnostics.report("export.console", exc)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        self._shutdown = True
