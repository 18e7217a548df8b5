"""What one metric point costs in the OpenTelemetry Python SDK, against the span it belongs to, and what the
SDK's own options change: the floor under the decorators' "ours total" (bench/peers) and the reason it
cannot go below a peer that records no metric.

    python bench/sdk_point.py [--n 50000] [--rounds 5]

Each round, in one process and interleaved (order rotated), per call:
  span          start_as_current_span + end on a TracerProvider with a BatchSpanProcessor over a discarding
                exporter (the floor of bench/peers: a bare OTel span)
  point:K       Histogram.record(value, attributes) with K attributes (1, 3: a workflow's / tool's
                duration point, 6), MeterProvider with an in-memory reader
  point:3/view  the same with a View keeping only 1 of the 3 attributes (fewer attributes, by the SDK)
  point:3/noex  the same with exemplars off (ExemplarFilter AlwaysOff)
  point:3/same  the same attribute dict object every call (what batching per attribute set could save at
                most: the SDK still cleans and hashes it per record, there is no record-many in its API)
  counter:3     Counter.add with 3 attributes
Prints per-call microseconds (median over rounds) and each as a ratio to `span` (paired per round).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal.exemplar import AlwaysOffExemplarFilter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

ATTRS = {1: {"gen_ai.operation.name": "execute_tool"},
         3: {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "noop", "gen_ai.provider.name": "x"},
         6: {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "m",
             "gen_ai.response.model": "m-1", "server.address": "127.0.0.1", "server.port": 8000}}


class _Discard(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _histogram(name: str, views: list[View] | None = None, exemplars_off: bool = False) -> Callable[..., None]:
    kw = {"exemplar_filter": AlwaysOffExemplarFilter()} if exemplars_off else {}
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()], views=views or [], **kw)
    return mp.get_meter("bench").create_histogram(name, unit="s").record


def cases() -> dict[str, Callable[[int], None]]:
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=1 << 18))
    tracer = tp.get_tracer("bench")
    out: dict[str, Callable[[int], None]] = {}

    def span(n: int) -> None:
        for _ in range(n):
            with tracer.start_as_current_span("invoke_agent noop"):
                pass
    out["span"] = span

    def point(record: Callable[..., None], attrs: dict, copy: bool) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(n):
                record(0.001, dict(attrs) if copy else attrs)
        return run

    for k, attrs in ATTRS.items():
        out[f"point:{k}"] = point(_histogram(f"h{k}"), attrs, True)
    out["point:3/view"] = point(_histogram("hv", [View(instrument_name="hv", attribute_keys={
        "gen_ai.operation.name"})]), ATTRS[3], True)
    out["point:3/noex"] = point(_histogram("hn", exemplars_off=True), ATTRS[3], True)
    out["point:3/same"] = point(_histogram("hs"), ATTRS[3], False)
    add = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("bench").create_counter("c").add
    out["counter:3"] = point(add, ATTRS[3], True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs = cases()
    names = list(runs)
    for fn in runs.values():
        fn(2000)  # warm-up
    us: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in (order if r % 2 == 0 else order[::-1]):
            c = time.process_time()
            runs[name](args.n)
            us[name].append((time.process_time() - c) / args.n * 1e6)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"per call, median of {args.rounds} rounds of {args.n:,}; load average {' '.join(load)}")
    summary = {}
    for name in names:
        ratios = [a / b for a, b in zip(us[name], us["span"])]
        summary[name] = {"us": round(statistics.median(us[name]), 2),
                         "x_span": round(statistics.median(ratios), 3),
                         "x_span_range": [round(min(ratios), 3), round(max(ratios), 3)]}
        print(f"  {name:14} {summary[name]['us']:7.2f} us   {summary[name]['x_span']:.2f}x span "
              f"({summary[name]['x_span_range'][0]:.2f}-{summary[name]['x_span_range'][1]:.2f})")
    print(json.dumps({"load": load, "cases": summary}))


if __name__ == "__main__":
    main()
