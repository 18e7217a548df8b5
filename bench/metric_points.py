"""Metric points per operation, and the whole-process CPU of ours against a floor that records the same.

    python bench/metric_points.py [--calls N] [--rounds R]

For each case (an LLM call; a streamed call of 10 and of 500 chunks; a tool call; an agent run that makes
one LLM call and one tool call), ours runs once in a counting pass: every record()/add() that reaches the
OTel SDK's instruments is captured (instrument, value, attributes), and so are the spans' names, kinds and
attributes. The floor is hand-written OTel code that makes those same spans with the same attributes and
replays those same instrument calls, inline. Both sides use one TracerProvider (BatchSpanProcessor to an
exporter that discards) and one MeterProvider (in-memory reader).

The figure is CPU seconds of the whole process (time.process_time: every thread, so our metrics worker is
counted) per call, ours over the floor, rounds interleaved (floor, ours, floor, ...), median and range
of the per-round ratios. Ours drains its metric queue inside the timed region.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import time
from typing import Any, Callable

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal import instrument as sdk_instrument
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_agentkit as agentkit
from otel_agentkit.instrument import telemetry as _state


class Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Capture(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


# --- the cases: what an application does ----------------------------------------------------------------------
def _chunks(n: int) -> Callable[[], Any]:
    @agentkit.llm(provider="openai", model="gpt-4o")
    def streamed():
        for i in range(n):
            yield {"choices": [{"delta": {"content": "x"}}]} if i < n - 1 else {
                "choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": n}}

    def run() -> None:
        for _ in streamed():
            pass

    return run


@agentkit.llm(provider="openai", model="gpt-4o")
def _llm() -> None:
    agentkit.current_call().record(input_tokens=120, output_tokens=40, response_model="gpt-4o",
                                   response_id="chatcmpl-1")


@agentkit.tool(name="lookup")
def _tool() -> int:
    return 1


@agentkit.agent(name="planner")
def _agent() -> None:
    _llm()
    _tool()


CASES: dict[str, Callable[[], Any]] = {
    "llm": _llm, "stream_10": _chunks(10), "stream_500": _chunks(500), "tool": _tool, "agent_run": _agent,
}


# --- capture what ours sends to the SDK -------------------------------------------------------------------------
@contextlib.contextmanager
def capturing(calls: list[tuple[str, str, Any, dict[str, Any]]]):
    """Every Histogram.record / Counter.add that reaches the SDK, as (method, instrument name, value, attrs)."""
    originals = {}
    for cls, method in ((sdk_instrument._Histogram, "record"), (sdk_instrument._Counter, "add")):
        original = getattr(cls, method)
        originals[(cls, method)] = original

        def wrapper(self: Any, amount: Any, attributes: Any = None, *args: Any, _o=original, _m=method, **kw: Any):
            calls.append((_m, self.name, amount, dict(attributes or {})))
            return _o(self, amount, attributes, *args, **kw)

        setattr(cls, method, wrapper)
    try:
        yield
    finally:
        for (cls, method), original in originals.items():
            setattr(cls, method, original)


def observe(case: Callable[[], Any]) -> tuple[list[ReadableSpan], list[tuple[str, str, Any, dict[str, Any]]]]:
    """One call of ``case`` under its own providers: the spans it made and the instrument calls it sent."""
    capture = Capture()
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(capture))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    agentkit.init(tracer_provider=tp, meter_provider=mp, exporters="none", metric_exporters="none",
                  home="/tmp/agentkit-bench")
    calls: list[tuple[str, str, Any, dict[str, Any]]] = []
    with capturing(calls):
        case()
        _state.get_active().metrics.drain()
        agentkit.flush(5)
    agentkit.shutdown()
    tp.force_flush()
    return capture.spans, calls


def floor_of(spans: list[ReadableSpan], calls: list[tuple[str, str, Any, dict[str, Any]]], tracer: Any,
             meter: Any) -> Callable[[], None]:
    """Hand-written OTel code making the same spans (nested as they were) and the same instrument calls."""
    instruments: dict[str, Any] = {}
    for method, name, _, _ in calls:
        if name not in instruments:
            instruments[name] = (meter.create_histogram(name) if method == "record" else meter.create_counter(name))
    ops = [(getattr(instruments[name], method), value, attrs) for method, name, value, attrs in calls]
    ids = {s.context.span_id for s in spans}
    children: dict[Any, list[tuple[str, Any, dict[str, Any], int]]] = {}
    for s in sorted(spans, key=lambda s: s.start_time or 0):
        parent = s.parent.span_id if s.parent is not None and s.parent.span_id in ids else None
        children.setdefault(parent, []).append((s.name, s.kind, dict(s.attributes or {}), s.context.span_id))

    def make(parent: Any) -> None:
        for name, kind, attrs, span_id in children.get(parent, ()):
            with tracer.start_as_current_span(name, kind=kind, attributes=attrs):
                make(span_id)

    def floor() -> None:
        make(None)
        for op, value, attrs in ops:
            op(value, attrs)

    return floor


def cpu_per_call(fn: Callable[[], Any], calls: int, after: Callable[[], Any] | None = None) -> float:
    gc.collect()
    t0 = time.process_time()
    for _ in range(calls):
        fn()
    if after is not None:
        after()
    return (time.process_time() - t0) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    load = os.getloadavg()
    results: dict[str, Any] = {}
    for name, case in CASES.items():
        spans, calls = observe(case)
        points = len(calls)
        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=1 << 20, max_export_batch_size=4096))
        mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
        floor = floor_of(spans, calls, tp.get_tracer("floor"), mp.get_meter("floor"))
        agentkit.init(tracer_provider=tp, meter_provider=mp, exporters="none", metric_exporters="none",
                      home="/tmp/agentkit-bench")
        metrics = _state.get_active().metrics
        metrics.interval_s = 3600.0  # the drain is ours to call, inside the timed region
        metrics.wake_at = 1 << 30
        n = max(20, a.calls // max(1, points // 8))
        for _ in range(200):
            floor()
            case()
        metrics.drain()
        ratios, floors, ours = [], [], []
        for _ in range(a.rounds):
            f = cpu_per_call(floor, n)
            o = cpu_per_call(case, n, metrics.drain)
            floors.append(f)
            ours.append(o)
            ratios.append(o / f)
        agentkit.shutdown()
        tp.shutdown()
        results[name] = {"spans": len(spans), "metric_points": points, "calls_per_round": n,
                         "floor_us": statistics.median(floors), "ours_us": statistics.median(ours),
                         "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                         "ratio_max": max(ratios)}
    print(f"python {platform.python_version()}, {platform.machine()}, rounds={a.rounds}, "
          f"load before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'case':12} {'spans':>5} {'points':>6} {'floor us':>9} {'ours us':>9} {'ours/floor':>10} {'range':>13}")
    for name, r in results.items():
        print(f"{name:12} {r['spans']:5d} {r['metric_points']:6d} {r['floor_us']:9.1f} {r['ours_us']:9.1f} "
              f"{r['ratio_median']:9.2f}x {r['ratio_min']:5.2f}-{r['ratio_max']:.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
