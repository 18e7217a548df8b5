"""Memory during a collector outage: RSS growth while 1M spans are produced with the collector down.

    python bench/outage_memory.py [--quick] [--rate SPANS_PER_S] [--protocol http/protobuf|grpc]

The full pipeline as init() wires it: TracerProvider -> BatchSpanProcessor -> FanoutSpanExporter ->
SpoolingSpanExporter(official OTLP exporter), pointed at a loopback port where nothing listens (connection
refused: the collector is down). The application thread ends GenAI spans at a steady rate (a real app does
not produce faster than it works; a producer faster than the pipeline makes the batch processor drop, which
is reported). Undelivered batches go to the on-disk spool, so memory must stay flat however long the
outage: RSS is sampled every 50 ms and the growth over the baseline (measured after warm-up, with the
pipeline already failing) is compared to the stated bound.

Bound: RSS growth under 64 MiB for 1M spans (the in-memory buffers are fixed in size: the batch
processor's queue of 8192 spans and the fan-out's queue of 16 batches of 512; everything else is on disk).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

BOUND_MIB = 64


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k spans instead of 1M")
    parser.add_argument("--rate", type=int, default=8_000, help="spans per second the app produces")
    parser.add_argument("--protocol", default="http/protobuf", choices=["http/protobuf", "grpc"])
    args = parser.parse_args()
    total = 100_000 if args.quick else 1_000_000

    work = Path(tempfile.mkdtemp(prefix="agentkit-bench-outage-"))
    os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = args.protocol
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    os.environ["AGENTKIT_SPOOL_MAX_BYTES"] = str(4 * 1024**3)  # measure memory, not the spool bound

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    from otel_agentkit import diagnostics
    from otel_agentkit import semconv as sc
    from otel_agentkit.config import Settings
    from otel_agentkit.export.fanout import FanoutSpanExporter
    from otel_agentkit.export.otlp import otlp_span_exporter
    from otel_agentkit.export.spool import Spool, spool_dir

    otlp = otlp_span_exporter(Settings(home=work))
    otlp.core.replayer.stop()  # the collector stays down: no point probing it during the measurement
    fan = FanoutSpanExporter([otlp])
    bsp = BatchSpanProcessor(fan, max_queue_size=8192, max_export_batch_size=512, schedule_delay_millis=200)
    tp = TracerProvider()
    tp.add_span_processor(bsp)
    tracer = tp.get_tracer(sc.SCOPE_NAME)

    def produce(n: int) -> None:
        start = time.perf_counter()
        for i in range(n):
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
                span.set_attributes({
                    sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_RESPONSE_ID: f"chatcmpl-{i}",
                    sc.GEN_AI_USAGE_INPUT_TOKENS: 812, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 164,
                    sc.AGENTKIT_COST_USD: 0.00367,
                })
            if i % 100 == 99:  # pace the app at --rate spans per second
                ahead = (i + 1) / args.rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)

    warmup = 20_000
    produce(warmup)
    tp.force_flush()
    fan.force_flush(60_000)
    baseline = rss_mib()
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mib())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    produce(total)
    tp.force_flush()
    fan.force_flush(120_000)
    elapsed = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak = max(peak, rss_mib())

    spool = Spool(spool_dir(work, "traces"), "traces")
    spooled = sum((spool.read(p).items if spool.read(p) else 0) for p in spool.pending())
    disk = sum(p.stat().st_size for p in spool.pending())
    drops = diagnostics.drop_counts()
    stats = fan.stats()
    tp.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    produced = warmup + total
    growth = peak - baseline
    print(f"outage: {args.protocol} endpoint refusing connections; {total} spans at {args.rate}/s "
          f"in {elapsed:.1f}s (after {warmup} warm-up spans)")
    print(f"spooled on disk: {spooled} spans in {disk / 1024**2:.1f} MiB; "
          f"counted drops: {drops or 'none'}; not accounted (batch processor queue drops): "
          f"{produced - spooled - sum(drops.values())}")
    print(f"RSS baseline {baseline:.1f} MiB, peak {peak:.1f} MiB, growth {growth:.1f} MiB "
          f"(bound {BOUND_MIB} MiB): {'OK' if growth < BOUND_MIB else 'OVER'}")
    print(f"fan-out stats: {stats}")


if __name__ == "__main__":
    main()
