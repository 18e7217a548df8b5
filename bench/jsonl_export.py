"""JSONL export and read-back benchmark: our exporter against the official OTLP JSON file path, same spans.

    python bench/jsonl_export.py [--quick]

1. Export: the same GenAI spans (made by a real TracerProvider) in batches of 512 (BatchSpanProcessor's
   default) and of 1 (SimpleSpanProcessor), through
     - ours: JsonlSpanExporter (our encoder, orjson when installed, locked O_APPEND writes, rotation checks),
     - ours with the standard json module instead of orjson,
     - the official path: opentelemetry-exporter-otlp-json-file's FileSpanExporter when installed, else its
       exact recipe (opentelemetry-exporter-otlp-json-common's encode_spans().to_dict(), json.dumps, write).
   Best of several interleaved rounds; spans per second and the ratio ours / official in the same run.
   Both outputs are parsed as protobuf ExportTraceServiceRequest and compared, to show they say the same.
2. Read-back: a file of 1M spans (100k with --quick) is written directly (one real encoded line repeated),
   then streamed with iter_spans in a fresh process; its peak RSS is printed beside the peak of a process
   that reads 1% of it, to show memory does not grow with the file (VmHWM, the process's own peak, and
   getrusage's ru_maxrss, which on Linux also counts the launching process's peak).

Needs: pip install opentelemetry-exporter-otlp-json-common (and, optionally, with --no-deps because it pins
an older opentelemetry-exporter-otlp-common, opentelemetry-exporter-otlp-json-file).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agentkit import semconv as sc
from otel_agentkit.export import otlp_json
from otel_agentkit.export.jsonl import JsonlSpanExporter


def make_spans(n: int) -> list[Any]:
    """Realistic GenAI spans: an agent span, then chat and tool spans with the usual attributes."""
    memory = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "bench-app", "deployment.environment": "prod"}))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tp.get_tracer(sc.SCOPE_NAME, "0.1.0", schema_url=sc.SCHEMA_URL)
    made = 0
    while made < n:
        with tracer.start_as_current_span("invoke_agent planner") as agent:
            agent.set_attributes({sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: "planner",
                                  sc.GEN_AI_CONVERSATION_ID: "conv-1234"})
            for i in range(3):
                with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
                    chat.set_attributes({
                        sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
                        sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
                        sc.GEN_AI_REQUEST_TEMPERATURE: 0.2, sc.GEN_AI_REQUEST_MAX_TOKENS: 1024,
                        sc.GEN_AI_RESPONSE_ID: f"chatcmpl-{made}-{i}", sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
                        sc.GEN_AI_USAGE_INPUT_TOKENS: 1200 + i, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 340,
                        sc.SERVER_ADDRESS: "api.openai.com", sc.SERVER_PORT: 443, sc.AGENTKIT_COST_USD: 0.00421,
                    })
                with tracer.start_as_current_span("execute_tool search") as tool:
                    tool.set_attributes({sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: "search",
                                         sc.GEN_AI_TOOL_CALL_ID: f"call_{made}_{i}", sc.GEN_AI_TOOL_TYPE: "function"})
                    if i == 2:
                        tool.set_attribute(sc.ERROR_TYPE, "TimeoutError")
                        tool.set_status(Status(StatusCode.ERROR, "timed out"))
                        tool.add_event("exception", {"exception.type": "TimeoutError", "exception.message": "x"})
            made += 7
    tp.shutdown()
    return list(memory.get_finished_spans())[:n]


def official_exporter(path: Path) -> tuple[Callable[[Sequence[Any]], Any], Callable[[], None], str]:
    try:
        from opentelemetry.exporter.otlp.json.file import FileSpanExporter

        exporter = FileSpanExporter(path)
        return exporter.export, exporter.shutdown, "opentelemetry-exporter-otlp-json-file FileSpanExporter"
    except ImportError:
        from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans

        stream = open(path, "a", encoding="utf-8")

        def export(spans: Sequence[Any]) -> None:
            stream.write(json.dumps(encode_spans(spans).to_dict(), separators=(",", ":")) + "\n")
            stream.flush()

        return export, stream.close, "opentelemetry-exporter-otlp-json-common encode_spans + json + write"


def run_export(export: Callable[[Sequence[Any]], Any], batches: list[Sequence[Any]]) -> float:
    gc.collect()
    start = time.perf_counter()
    for batch in batches:
        export(batch)
    return time.perf_counter() - start


def same_content(ours: Path, theirs: Path) -> bool:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    def ids_b64(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId")
                    else ids_b64(v) for k, v in o.items()}
        return [ids_b64(v) for v in o] if isinstance(o, list) else o

    def first(p: Path) -> Any:
        with open(p, "rb") as f:
            line = f.readline()
        return json_format.Parse(json.dumps(ids_b64(json.loads(line))), ExportTraceServiceRequest())

    return first(ours) == first(theirs)


def bench_export(n_spans: int, batch_size: int, rounds: int) -> None:
    spans = make_spans(n_spans)
    batches = [spans[i:i + batch_size] for i in range(0, len(spans), batch_size)]
    best: dict[str, float] = {}
    label = ""
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            d = Path(tmp) / f"r{r}"
            ours = JsonlSpanExporter(d / "ours", retention_days=None)
            ours_json = JsonlSpanExporter(d / "ours-json", retention_days=None)
            theirs_export, theirs_close, label = official_exporter(Path(tmp) / f"official-{r}.jsonl")

            def with_json(batch: Sequence[Any]) -> Any:
                saved, otlp_json.dumps = otlp_json.dumps, otlp_json.dumps_json
                try:
                    return ours_json.export(batch)
                finally:
                    otlp_json.dumps = saved

            for name, fn in (("official", theirs_export), ("ours", ours.export), ("ours+json", with_json)):
                elapsed = run_export(fn, batches)
                best[name] = min(best.get(name, float("inf")), elapsed)
            ours.shutdown()
            ours_json.shutdown()
            theirs_close()
        ours_file = next((Path(tmp) / "r0" / "ours").iterdir())
        same = same_content(ours_file, Path(tmp) / "official-0.jsonl")
    print(f"\nexport, {len(spans)} spans in batches of {batch_size} (best of {rounds} rounds)")
    print(f"  official = {label}")
    for name in ("official", "ours", "ours+json"):
        print(f"  {name:10s} {len(spans) / best[name]:>12,.0f} spans/s  ({best[name] * 1e6 / len(spans):.1f} us/span)")
    print(f"  ratio ours/official throughput: {best['official'] / best['ours']:.2f}x "
          f"(stdlib json only: {best['official'] / best['ours+json']:.2f}x)")
    print(f"  same content as the official encoding (protobuf-equal first line): {same}")


_READER = """
import resource, sys, time
from otel_agentkit.export.reader import iter_spans

def status_kb(field):  # this process's own figures (getrusage's maxrss carries the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))

before = status_kb("VmRSS")
start = time.perf_counter()
stream = iter_spans(sys.argv[1])
count = sum(1 for _ in stream)
elapsed = time.perf_counter() - start
print(count, stream.stats.corrupt, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      status_kb("VmHWM"), before)
"""


def bench_read(n_spans: int) -> None:
    spans = make_spans(100)
    line = otlp_json.dumps(otlp_json.encode_spans(spans)) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "traces-big.jsonl", Path(tmp) / "traces-small.jsonl"
        with open(big, "wb") as f:
            chunk = line * 100
            for _ in range(n_spans // 10_000):
                f.write(chunk)
        small.write_bytes(line * max(1, n_spans // 10_000))
        results = {}
        for name, path in (("1%", small), ("all", big)):
            out = subprocess.run([sys.executable, "-c", _READER, str(path)], capture_output=True, text=True,
                                 check=True).stdout.split()
            results[name] = (int(out[0]), int(out[1]), float(out[2]), int(out[3]), int(out[4]), int(out[5]))
        size_mb = big.stat().st_size / 1e6
    count, corrupt, elapsed, maxrss, hwm, before = results["all"]
    s_count, _, _, s_maxrss, s_hwm, s_before = results["1%"]
    print(f"\nread-back, streaming iter_spans over one {size_mb:,.0f} MB file in a fresh process")
    print(f"  {count:,} spans ({corrupt} corrupt) in {elapsed:.1f} s = {count / elapsed:,.0f} spans/s")
    print(f"  peak RSS (VmHWM) {hwm / 1024:.1f} MB for {count:,} spans vs {s_hwm / 1024:.1f} MB for {s_count:,} "
          f"spans (ratio {hwm / s_hwm:.2f}x); growth while reading {(hwm - before) / 1024:.1f} MB vs "
          f"{(s_hwm - s_before) / 1024:.1f} MB: bounded, not growing with the file")
    print(f"  getrusage ru_maxrss {maxrss / 1024:.1f} MB vs {s_maxrss / 1024:.1f} MB (Linux carries the launching "
          f"process's peak over exec, so the first figure is the one to read)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer spans, fewer rounds)")
    args = parser.parse_args()
    print(f"encoder serialisation: {otlp_json.ENCODER_NAME}; python {sys.version.split()[0]}; pid {os.getpid()}")
    if args.quick:  # read first: the reader processes start while this one is still small
        bench_read(100_000)
        bench_export(5_000, 512, 3)
        bench_export(1_000, 1, 3)
    else:
        bench_read(1_000_000)
        bench_export(20_000, 512, 5)
        bench_export(5_000, 1, 5)


if __name__ == "__main__":
    main()
