"""The spans, span events, metrics and log records that multi-agent operations emit.

Everything goes through the OTel API, so it lands in the same traces as the LLM calls: the global providers
by default (``agentkit.init()`` sets them; until then the API's proxies forward once they are set), or
providers passed explicitly (tests, apps with their own pipeline). Emitting telemetry never raises: a
failure here is contained by :func:`otel_agentkit.diagnostics.report`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from .. import diagnostics, semconv
from ..instrument.content import mask_secrets, mask_tree

Attributes = Mapping[str, Any]


class Telemetry:
    """Instruments for one set of providers (None: the global ones)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, logger_provider: Any = None) -> None:
        from opentelemetry import _logs, metrics

        self.tracer = trace.get_tracer(semconv.SCOPE_NAME, tracer_provider=tracer_provider,
                                       schema_url=semconv.SCHEMA_URL)
        meter = metrics.get_meter(semconv.SCOPE_NAME, meter_provider=meter_provider, schema_url=semconv.SCHEMA_URL)
        self.logger = _logs.get_logger(semconv.SCOPE_NAME, logger_provider=logger_provider,
                                       schema_url=semconv.SCHEMA_URL)
        self.active_agents = meter.create_up_down_counter(
            semconv.METRIC_AGENTS_ACTIVE, unit="{agent}", description="Agents started and not yet stopped")
        self.progress = meter.create_gauge(
            semconv.METRIC_AGENT_PROGRESS, unit=semconv.UNIT_RATIO, description="Progress of each agent, 0..1")
        self.signals = meter.create_counter(
            semconv.METRIC_AGENT_SIGNALS, unit="{signal}", description="Coordination signals by outcome")
        self.feedback_score = meter.create_histogram(
            semconv.METRIC_FEEDBACK_SCORE, unit=semconv.UNIT_RATIO, description="Feedback scores, 0..1",
            explicit_bucket_boundaries_advisory=list(semconv.FEEDBACK_SCORE_BUCKETS))
        self.approval_wait = meter.create_histogram(
            semconv.METRIC_APPROVAL_WAIT, unit=semconv.UNIT_SECONDS, description="Time spent at approval gates",
            explicit_bucket_boundaries_advisory=list(semconv.APPROVAL_WAIT_BUCKETS))
        self.store_errors = meter.create_counter(
            semconv.METRIC_AGENT_STORE_ERRORS, unit="{error}",
            description="State-store failures contained in the hot path (heartbeats, events)")

    # --- helpers that never raise -----------------------------------------------------------------------
    def add(self, instrument: Any, amount: float, attributes: Attributes) -> None:
        try:
            instrument.add(amount, attributes)
        except Exception as exc:
            diagnostics.report("agents.telemetry.metric", exc)

    def record(self, instrument: Any, value: float, attributes: Attributes) -> None:
        try:
            instrument.record(value, attributes)
        except Exception as exc:
            diagnostics.report("agents.telemetry.metric", exc)

    def set(self, gauge: Any, value: float, attributes: Attributes) -> None:
        try:
            gauge.set(value, attributes)
        except Exception as exc:
            diagnostics.report("agents.telemetry.metric", exc)

    @staticmethod
    def recording_span() -> Any:
        """The caller's current span if it records, else None (to skip building attributes for nothing)."""
        span = trace.get_current_span()
        return span if span.is_recording() else None

    def span_event(self, name: str, attributes: Attributes, span: Any = None) -> None:
        """An event on ``span`` or the caller's current span, when there is one that records."""
        try:
            span = span if span is not None else self.recording_span()
            if span is not None:
                span.add_event(name, _masked(attributes))
        except Exception as exc:
            diagnostics.report("agents.telemetry.span_event", exc)

    def log_event(self, event_name: str, attributes: Attributes, body: Any = None,
                  context: Context | None = None) -> None:
        """An OTel log record with an event name, tied to ``context``'s span (default: the current one)."""
        try:
            from opentelemetry._logs import LogRecord, SeverityNumber

            self.logger.emit(LogRecord(timestamp=time.time_ns(), context=context, severity_number=SeverityNumber.INFO,
                                       body=mask_tree(body), attributes=_masked(attributes), event_name=event_name))
        except Exception as exc:
            diagnostics.report("agents.telemetry.log", exc)

    def contained(self, where: str, exc: BaseException, store: str) -> None:
        """A hot-path store failure: logged once, counted (SDK self-metric and this subsystem's counter)."""
        diagnostics.report(where, exc)
        self.add(self.store_errors, 1, {semconv.AGENTKIT_OPERATION: where, semconv.AGENTKIT_STORE: store})

    @contextmanager
    def span(self, name: str, attributes: Attributes) -> Iterator[Any]:
        """An INTERNAL span around a wait; a user exception passes through unchanged (recorded, status ERROR)."""
        with self.tracer.start_as_current_span(name, kind=trace.SpanKind.INTERNAL, attributes=_masked(attributes),
                                               record_exception=False, set_status_on_exception=False) as span:
            try:
                yield span
            except BaseException as exc:
                try:
                    span.set_attribute(semconv.ERROR_TYPE, _qualname(exc))
                    message = mask_secrets(str(exc))
                    span.record_exception(exc, attributes={"exception.message": message, "exception.stacktrace":
                                                           mask_secrets("".join(traceback.format_exception(exc)))})
                    span.set_status(Status(StatusCode.ERROR, message[:200]))
                except Exception as inner:
                    diagnostics.report("agents.telemetry.span", inner)
                raise


def _masked(attributes: Attributes) -> dict[str, Any]:
    """Agent telemetry carries what agents say (tasks, reasons, payloads): secrets are masked, as in content."""
    return mask_tree(dict(attributes or {}))


_default: Telemetry | None = None


def default() -> Telemetry:
    """Instruments on the global providers (created once; the API proxies bind when init() sets them)."""
    global _default
    if _default is None:
        _default = Telemetry()
    return _default


def current_ids() -> tuple[str | None, str | None]:
    """The current span's trace and span ids as hex, to store beside shared state for later linking."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)


def context_for(trace_id: str, span_id: str | None = None) -> Context:
    """A context whose (remote, non-recording) span carries ``trace_id``/``span_id``: log records emitted with
    it belong to that trace even after its spans ended, or in another process."""
    try:
        tid = int(trace_id, 16)
        sid = int(span_id, 16) if span_id else 0
    except (TypeError, ValueError):
        raise ValueError(f"trace_id={trace_id!r} span_id={span_id!r}: expected 32 and 16 hex digits") from None
    if not 0 < tid < 2 ** 128 or not 0 <= sid < 2 ** 64:
        raise ValueError(f"trace_id={trace_id!r} span_id={span_id!r}: expected 32 and 16 hex digits")
    span_ctx = SpanContext(tid, sid, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(span_ctx))


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
