"""What the openai auto-instrumentor adds to a chat completion call against a local server, in one process.

    python bench/auto_overhead.py [--calls N] [--repeats R]

The server (a separate process on 127.0.0.1, so its work does not share the client's interpreter) answers
``/v1/chat/completions`` with a realistic JSON body, or a short SSE stream with the usage chunk. The same
``openai.OpenAI`` client calls it with the instrumentor off (baseline) and on, in alternating rounds;
spans go through a BatchSpanProcessor to an exporter that discards, metrics to an in-memory reader.
Reported for plain and streamed calls: microseconds per call for each side (best round), wall and CPU time
of this process, their ratio (target: under 1.05), and the median ratio of paired rounds. Raw numbers are
printed as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMPLETION = {
    "id": "chatcmpl-BdhN3tE5sNJ6V1dQeQxg3lm6kU0bQ", "object": "chat.completion", "created": 1748898113,
    "model": "gpt-4o-mini-2024-07-18", "service_tier": "default", "system_fingerprint": "fp_34a54ae93c",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "The capital of France is Paris.",
                                         "refusal": None, "annotations": []}, "logprobs": None,
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 24, "completion_tokens": 8, "total_tokens": 32,
              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
}


def _stream_body() -> bytes:
    head = {k: COMPLETION[k] for k in ("id", "created", "model", "service_tier", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"
    deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in ("Paris", " it", " is", ".")] + [{}]
    events = [dict(head, choices=[{"index": 0, "delta": d, "logprobs": None,
                                   "finish_reason": "stop" if i == len(deltas) - 1 else None}], usage=None)
              for i, d in enumerate(deltas)]
    events.append(dict(head, choices=[], usage=COMPLETION["usage"]))
    return b"".join(b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events) + \
        b"data: [DONE]\n\n"


# --- the server process ----------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    plain = json.dumps(COMPLETION).encode()
    streamed = _stream_body()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stream = b'"stream":true' in body or b'"stream": true' in body
        data = self.streamed if stream else self.plain
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Handler).serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_open(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"the local server did not start on port {port}")


# --- the client side --------------------------------------------------------------------------------------------
def _round(fn, calls: int) -> tuple[float, float]:
    """(wall, CPU of this process) microseconds per call over ``calls`` calls."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - w0) / calls * 1e6, (time.process_time() - c0) / calls * 1e6


def measure(name: str, fn, calls: int, repeats: int, on, off) -> dict[str, object]:
    """Pairs of rounds, off and on, in ABBA order (so drift and a busy machine hit both sides alike).

    Wall time is what a caller waits; CPU time of this process (all its threads: the span and metric
    workers too) is the instrumentor's own cost. The headline ratio compares the best (minimum) round of
    each side, the figure least disturbed by other work on the machine (as timeit advises); the median of
    the per-pair ratios is reported beside it."""
    off()
    for _ in range(calls):  # warm up: connection pool, caches, the SDK's lazy parts
        fn()
    on()
    for _ in range(calls):
        fn()
    pairs = []
    for i in range(repeats):
        order = (off, on) if i % 2 == 0 else (on, off)
        got = {}
        for switch in order:
            switch()
            got[switch] = _round(fn, calls)
        pairs.append((got[off], got[on]))
    off()
    base_w, traced_w = min(b[0] for b, _ in pairs), min(t[0] for _, t in pairs)
    base_c, traced_c = min(b[1] for b, _ in pairs), min(t[1] for _, t in pairs)
    wall_med = statistics.median(t[0] / b[0] for b, t in pairs)
    cpu_med = statistics.median(t[1] / b[1] for b, t in pairs)
    print(f"{name:<18} wall (best round): {base_w:7.1f} -> {traced_w:7.1f} us/call, ratio {traced_w / base_w:5.3f} "
          f"(median of pairs {wall_med:5.3f})   cpu: {base_c:7.1f} -> {traced_c:7.1f} us/call, "
          f"ratio {traced_c / base_c:5.3f} (median {cpu_med:5.3f})")
    return {"wall_ratio": traced_w / base_w, "cpu_ratio": traced_c / base_c, "wall_ratio_median_of_pairs": wall_med,
            "cpu_ratio_median_of_pairs": cpu_med, "baseline_wall_us": base_w, "instrumented_wall_us": traced_w,
            "baseline_cpu_us": base_c, "instrumented_cpu_us": traced_c,
            "pairs": [{"off": b, "on": t} for b, t in pairs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    import openai
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    import otel_agentkit as agentkit
    from otel_agentkit import auto

    class Discard(SpanExporter):
        def export(self, spans):  # noqa: D102
            return SpanExportResult.SUCCESS

    port = _free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(port)])
    try:
        _wait_open(port)
        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(Discard()))
        mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
        agentkit.init(tracer_provider=tp, meter_provider=mp, exporters="none", metric_exporters="none",
                      home=os.environ.get("AGENTKIT_HOME", "/tmp/agentkit-bench-home"))
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)
        messages = [{"role": "user", "content": "What is the capital of France?"}]

        def plain() -> None:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0.0)

        def streamed() -> None:
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True,
                                                    stream_options={"include_usage": True}):
                pass

        def on() -> None:
            auto.instrument("openai")

        def off() -> None:
            auto.uninstrument("openai")

        results = {
            "chat.completions.create": measure("chat.completions", plain, args.calls, args.repeats, on, off),
            "stream=True": measure("chat stream=True", streamed, args.calls, args.repeats, on, off),
        }
        agentkit.shutdown()
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    worst = max(r["wall_ratio"] for r in results.values())
    worst_cpu = max(r["cpu_ratio"] for r in results.values())
    print(f"instrumentor overhead (best rounds): worst wall ratio {worst:.3f}, worst cpu ratio {worst_cpu:.3f} "
          f"(target < 1.05): {'OK' if worst < 1.05 else 'OVER'}")
    print(json.dumps({"python": platform.python_version(), "openai": openai.__version__, "calls": args.calls,
                      "repeats": args.repeats, "results": results}, indent=1))


if __name__ == "__main__":
    main()
