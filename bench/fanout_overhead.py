"""Fan-out overhead: OTLP export through the fan-out against the plain official OTLP exporter alone.

    python bench/fanout_overhead.py [--quick] [--protocol http/protobuf|grpc]

Both sides send the same GenAI spans, in batches of 512 (BatchSpanProcessor's default), to the same rotel
collector (started here on free loopback ports, exporter blackhole):

- plain:  the official OTLPSpanExporter, export(batch) called batch after batch;
- fan-out: FanoutSpanExporter([SpoolingSpanExporter(the same kind of official exporter)]): export(batch)
  only queues, so the clock stops after force_flush confirms every batch was delivered. Its queue is sized
  to hold the whole run (a burst larger than the queue would be spooled, which is not what is measured).

Rounds run in pairs, plain then fan-out or the other way round (alternating, so neither always goes
first); each pair gives a ratio fan-out / plain time, and the median of those ratios is the figure (target:
at most 1.1). Pairing keeps the drift of a shared, busy machine out of the ratio; best times are shown too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_agentkit import semconv as sc
from otel_agentkit.config import Settings
from otel_agentkit.export.fanout import FanoutSpanExporter
from otel_agentkit.export.otlp import official_exporter, otlp_span_exporter


def make_spans(n: int) -> list[Any]:
    memory = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "bench-app"}))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tp.get_tracer(sc.SCOPE_NAME, "0.1.0", schema_url=sc.SCHEMA_URL)
    for i in range(n):
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
            span.set_attributes({
                sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
                sc.GEN_AI_RESPONSE_ID: f"chatcmpl-{i}", sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
                sc.GEN_AI_USAGE_INPUT_TOKENS: 812, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 164,
                sc.SERVER_ADDRESS: "api.openai.com", sc.SERVER_PORT: 443, sc.AGENTKIT_COST_USD: 0.00367,
            })
    return list(memory.get_finished_spans())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rotel_binary() -> str:
    beside = Path(sys.executable).parent / "rotel-agent"
    found = str(beside) if beside.exists() else shutil.which("rotel-agent")
    if not found:
        sys.exit("rotel-agent not found: run scripts/provision/rotel.sh <venv>")
    return found


def start_rotel(workdir: Path) -> tuple[subprocess.Popen, int, int]:
    grpc_port, http_port = free_port(), free_port()
    cmd = [rotel_binary(), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
           "--otlp-http-endpoint", f"127.0.0.1:{http_port}", "--exporter", "blackhole",
           "--pid-file", str(workdir / "rotel.pid"), "--log-file", str(workdir / "rotel.log")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ok = 0
        for port in (grpc_port, http_port):
            with socket.socket() as s:
                ok += s.connect_ex(("127.0.0.1", port)) == 0
        if ok == 2:
            return proc, grpc_port, http_port
        time.sleep(0.05)
    proc.kill()
    sys.exit("rotel did not start")


def run_plain(exporter: Any, batches: list[list[Any]]) -> float:
    t0 = time.perf_counter()
    for batch in batches:
        if exporter.export(batch) is not SpanExportResult.SUCCESS:
            raise SystemExit("plain export failed")
    return time.perf_counter() - t0


def run_fanout(fan: FanoutSpanExporter, batches: list[list[Any]]) -> float:
    t0 = time.perf_counter()
    for batch in batches:
        fan.export(batch)
    if not fan.force_flush(120_000):
        raise SystemExit("fan-out flush failed")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer spans and rounds")
    parser.add_argument("--protocol", default="http/protobuf", choices=["http/protobuf", "grpc"])
    args = parser.parse_args()
    n_spans, rounds = (10_240, 5) if args.quick else (51_200, 9)

    work = Path(tempfile.mkdtemp(prefix="agentkit-bench-fanout-"))
    proc, grpc_port, http_port = start_rotel(work)
    try:
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = args.protocol
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = (f"http://127.0.0.1:{grpc_port}" if args.protocol == "grpc"
                                                     else f"http://127.0.0.1:{http_port}")
        spans = make_spans(n_spans)
        batches = [spans[i:i + 512] for i in range(0, len(spans), 512)]
        plain = official_exporter("traces", args.protocol)
        # The queue holds the whole run, as the plain side has no queue either: this measures the hand-off
        # and the spool wrapper, not what happens when a burst outgrows the queue (it would be spooled).
        fan = FanoutSpanExporter([otlp_span_exporter(Settings(home=work / "home"))], queue_size=len(batches) + 1)
        run_plain(plain, batches[:4])  # warm both paths (connections, imports)
        run_fanout(fan, batches[:4])
        plain_times, fan_times, ratios = [], [], []
        for r in range(rounds):
            if r % 2:
                fan_times.append(run_fanout(fan, batches))
                plain_times.append(run_plain(plain, batches))
            else:
                plain_times.append(run_plain(plain, batches))
                fan_times.append(run_fanout(fan, batches))
            ratios.append(fan_times[-1] / plain_times[-1])
        best_plain, best_fan = min(plain_times), min(fan_times)
        median = sorted(ratios)[len(ratios) // 2]
        stats = fan.stats()
        fan.shutdown()
        plain.shutdown()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    print(f"protocol {args.protocol}, {n_spans} spans in batches of 512, {rounds} paired rounds")
    print(f"plain OTLP exporter : {n_spans / best_plain:10.0f} spans/s  (best {best_plain * 1000:.0f} ms)")
    print(f"through the fan-out : {n_spans / best_fan:10.0f} spans/s  (best {best_fan * 1000:.0f} ms)")
    print(f"ratio fan-out / plain (time), median of pairs: {median:.3f}  (target <= 1.1); "
          f"pairs: {' '.join(f'{r:.2f}' for r in ratios)}; ratio of best times: {best_fan / best_plain:.3f}")
    print(f"fan-out backend stats: {stats}")


if __name__ == "__main__":
    main()
