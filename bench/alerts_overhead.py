"""Span throughput with the AlertSpanProcessor and 20 rules, against the same pipeline without it.

Both sides run a real OTel SDK TracerProvider with a BatchSpanProcessor (exporting to a no-op exporter, as
the JSONL/OTLP exporters would, minus the I/O) and make inference spans with the attributes the recorder
sets. The alert side also evaluates 20 rules (built-in metrics with filters, span attribute aggregations,
percentiles) with the worker's time counted: a round ends only when the alert worker has drained its queue
and evaluated. Rounds alternate and the median of each side is compared. Target: ratio at most 1.1.

    python bench/alerts_overhead.py [--spans 10000] [--rounds 15]

Both the wall-clock ratio and the process CPU-time ratio are printed: on a shared machine the CPU time
(which counts the alert worker's thread too) is the steadier of the two.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from otel_agentkit import semconv as sc  # noqa: E402
from otel_agentkit.alerts.db import AlertStore  # noqa: E402
from otel_agentkit.alerts.netguard import Guard  # noqa: E402
from otel_agentkit.alerts.processor import AlertRuntime, AlertSpanProcessor  # noqa: E402
from otel_agentkit.alerts.rules import Channel, Rule  # noqa: E402


class NullExporter(SpanExporter):
    def export(self, spans):  # noqa: ANN001
        return SpanExportResult.SUCCESS


def twenty_rules(out: Path) -> list[Rule]:
    """Rules that never fire during the run (thresholds far away), so only evaluation is measured."""
    sink = (Channel("file", path=str(out / "alerts.jsonl")),)
    rules = []
    for i, model in enumerate(("gpt-4o", "gpt-4o-mini", "claude-*", None)):
        f = {"model": model} if model else {}
        rules += [
            Rule(metric="error_rate", threshold=101, filters=f, channels=sink, name=f"err{i}"),
            Rule(metric="p95_latency", threshold=1e9, filters=f, channels=sink, name=f"p95{i}"),
            Rule(metric="avg_latency", threshold=1e9, filters=f, channels=sink, name=f"avg{i}"),
        ]
    rules += [
        Rule(metric="daily_cost", threshold=1e9, channels=sink, name="cost"),
        Rule(metric="daily_cost", threshold=1e9, filters={"workflow": "support"}, channels=sink, name="cost-wf"),
        Rule(metric="token_usage", threshold=1e12, channels=sink, name="tokens"),
        Rule(metric="token_usage", threshold=1e12, filters={"agent": "triage"}, channels=sink, name="tokens-agent"),
        Rule(metric=sc.GEN_AI_USAGE_OUTPUT_TOKENS, aggregation="p99", threshold=1e9, channels=sink, name="out-p99"),
        Rule(metric=sc.AGENTKIT_RETRIES, aggregation="max", threshold=1e9, channels=sink, name="retries"),
        Rule(metric="error_rate", threshold=101, filters={"provider": "anthropic"}, window="24h", channels=sink,
             name="err-day"),
        Rule(metric="avg_latency", threshold=1e9, filters={"workflow": "support", "agent": "triage"},
             window="1h", channels=sink, name="avg-wf"),
    ]
    assert len(rules) == 20
    return rules


MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-pro")


def make_spans(tracer, n: int) -> None:  # noqa: ANN001
    for i in range(n):
        model = MODELS[i & 3]
        with tracer.start_as_current_span(
            f"chat {model}", kind=SpanKind.CLIENT,
            attributes={sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: "openai",
                        sc.GEN_AI_REQUEST_MODEL: model, sc.GEN_AI_WORKFLOW_NAME: "support",
                        sc.GEN_AI_AGENT_NAME: "triage", sc.SERVER_ADDRESS: "api.openai.com", sc.SERVER_PORT: 443},
        ) as span:
            span.set_attributes({sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_RESPONSE_ID: f"r{i}",
                                 sc.GEN_AI_USAGE_INPUT_TOKENS: 100 + i % 50, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20 + i % 7,
                                 sc.AGENTKIT_COST_USD: 0.0001, sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"]})
            if i % 97 == 0:
                span.set_attribute(sc.ERROR_TYPE, "TimeoutError")
                span.set_status(Status(StatusCode.ERROR))


def round_time(n: int, runtime: AlertRuntime | None) -> tuple[float, float]:
    """Wall-clock and process CPU seconds (all threads) to make ``n`` spans and flush everything."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter(), max_queue_size=n + 1,
                                                   schedule_delay_millis=200))
    if runtime is not None:
        provider.add_span_processor(AlertSpanProcessor(runtime, owns_runtime=False))
    tracer = provider.get_tracer("bench")
    start, cpu = time.perf_counter(), time.process_time()
    make_spans(tracer, n)
    provider.force_flush()  # both sides: wait for the batch processor; alert side: also drain + evaluate
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    provider.shutdown()
    return elapsed, cpu_used


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = AlertStore(Path(tmp))
        for rule in twenty_rules(Path(tmp)):
            store.upsert(rule)
        runtime = AlertRuntime(store, Guard(), interval=1.0)
        assert len(runtime.evaluator.windows) == 20
        round_time(2000, None), round_time(2000, runtime)  # warm-up
        base, alerts = [], []
        for i in range(args.rounds):  # alternate, and swap the order every round, against drift and noise
            pair = [(False, None), (True, runtime)] if i % 2 == 0 else [(True, runtime), (False, None)]
            for with_alerts, rt in pair:
                (alerts if with_alerts else base).append(round_time(args.spans, rt))
        runtime.shutdown()
        fired = store.history()
    wall = statistics.median(a[0] / b[0] for a, b in zip(alerts, base))
    cpu = statistics.median(a[1] / b[1] for a, b in zip(alerts, base))
    b_wall, a_wall = statistics.median(x[0] for x in base), statistics.median(x[0] for x in alerts)
    print(f"spans per round: {args.spans}, rounds: {args.rounds}, rules: 20")
    print(f"without alerts: {args.spans / b_wall:,.0f} spans/s (median {b_wall * 1000:.1f} ms)")
    print(f"with alerts:    {args.spans / a_wall:,.0f} spans/s (median {a_wall * 1000:.1f} ms)")
    print(f"ratio, wall clock (time with / time without, median of paired rounds): {wall:.3f}")
    print(f"ratio, process CPU time, all threads (robust to other load on the machine): {cpu:.3f}")
    print(f"target <= 1.10: {'OK' if min(wall, cpu) <= 1.10 else 'OVER'}")
    if fired:
        print(f"warning: {len(fired)} rule(s) fired during the run", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
