"""``record_llm_call``: an LLM call that already happened, for code that learns the numbers afterwards.

It goes through the same Invocation as the decorators, with the given start and end times.
"""

from __future__ import annotations

from typing import Any, Iterable

from opentelemetry.trace import SpanKind

from .. import diagnostics, semconv as sc
from ..timeunits import TimeValue, to_ns
from . import telemetry as _state
from .invocation import Invocation
from .kinds import INFERENCE
from .suppress import suppressed_now


def record_llm_call(*, provider: str, model: str, start_time: TimeValue,
                    end_time: TimeValue, operation: str = sc.OP_CHAT,
                    input_tokens: int | None = None, output_tokens: int | None = None,
                    cache_read_tokens: int | None = None, cache_write_tokens: int | None = None,
                    reasoning_tokens: int | None = None, response_model: str | None = None,
                    response_id: str | None = None, finish_reasons: Iterable[str] | None = None,
                    error: BaseException | str | None = None, server_address: str | None = None,
                    server_port: int | None = None, time_to_first_chunk: float | None = None,
                    **attributes: Any) -> None:
    """Record a finished LLM call as a span (parented to the current span) with metrics and cost.

    ``start_time`` and ``end_time`` follow the SDK's one rule for times (``otel_agentkit.timeunits``): a
    datetime (naive means UTC) or seconds since the epoch as ``time.time()`` gives; a number that cannot
    be seconds (nanoseconds, milliseconds, negative) is reported and the call is not recorded, never read
    in another unit. ``error`` is the exception the call raised, or an error type name. Never raises for
    bad telemetry values; a start after the end is reported and the call is recorded with zero duration.
    Under OTel's ``suppress_instrumentation()`` nothing is recorded.
    """
    tel = _state.active
    if tel is None or suppressed_now():  # OTel's suppress_instrumentation(): nothing recorded
        return
    try:
        start_ns, end_ns = to_ns(start_time, "start_time"), to_ns(end_time, "end_time")
        if end_ns < start_ns:
            diagnostics.report("record_llm_call", ValueError(f"end_time {end_time!r} is before start_time"))
            end_ns = start_ns
        attrs = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
                 sc.GEN_AI_REQUEST_MODEL: model}
        if server_address:
            attrs[sc.SERVER_ADDRESS] = server_address
        if server_port:
            attrs[sc.SERVER_PORT] = server_port
        inv = Invocation(tel, INFERENCE, operation, sc.span_name(operation, model), SpanKind.CLIENT, attrs)
        inv.start(start_time_ns=start_ns)
        inv.record(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read_tokens,
                   cache_write_tokens=cache_write_tokens, reasoning_tokens=reasoning_tokens,
                   response_model=response_model, response_id=response_id, finish_reasons=finish_reasons,
                   **attributes)
        if time_to_first_chunk is not None:
            inv.set_time_to_first_chunk(float(time_to_first_chunk))
        exc: BaseException | None
        if isinstance(error, str):
            exc = None
            inv.set_error_type(error)
        else:
            exc = error
        inv.end(exc, end_time_ns=end_ns, duration_s=(end_ns - start_ns) / 1e9)
    except Exception as sdk_exc:
        diagnostics.report("record_llm_call", sdk_exc)
