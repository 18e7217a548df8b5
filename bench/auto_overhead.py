"""What the openai auto-instrumentor adds to a chat completion call against a local server, in one process.

    python bench/auto_overhead.py [--calls N] [--repeats R]

The server (a separate process on 127.0.0.1, so its work does not share the client's interpreter) answers
``/v1/chat/completions`` with a realistic JSON body, or a short SSE stream with the usage chunk. The same
``openai.OpenAI`` client calls it with the instrumentor off (baseline) and on, in alternating rounds;
spans go through a BatchSpanProcessor to an exporter that discards, metrics to an in-memory reader.
Reported for plain and streamed calls: total time instrumented over total time not, over all rounds, for
wall time (what the caller waits; target: under 1.05) and for CPU time of this process (all its threads),
the median of the paired rounds and the best round of each side beside it, and the garbage collector's
collections and time on each side. Raw numbers are printed as JSON.
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


# --- the floor: the same telemetry written by hand -----------------------------------------------------------
def hand_written_floor(client, messages, tracer_provider, meter_provider, metrics: bool = True):
    """A chat call wrapped by hand in what the instrumentor records for it: one CLIENT span with the same
    start and end attributes, and the same metric points with the same attributes (the two current
    histograms, the two older ones, the cost counter), recorded on the caller's thread; or the span alone.
    What the OTel SDK itself costs for this telemetry, whoever writes it."""
    from opentelemetry.trace import SpanKind

    tracer = tracer_provider.get_tracer("hand-written")
    meter = meter_provider.get_meter("hand-written")
    d = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
    t = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
    duration = meter.create_histogram("hw.inference.duration", unit="s", explicit_bucket_boundaries_advisory=d)
    legacy_duration = meter.create_histogram("hw.operation.duration", unit="s", explicit_bucket_boundaries_advisory=d)
    input_tokens = meter.create_histogram("hw.input_tokens", unit="{token}", explicit_bucket_boundaries_advisory=t)
    output_tokens = meter.create_histogram("hw.output_tokens", unit="{token}", explicit_bucket_boundaries_advisory=t)
    token_usage = meter.create_histogram("hw.token.usage", unit="{token}", explicit_bucket_boundaries_advisory=t)
    cost = meter.create_counter("hw.cost", unit="USD")
    url = client.base_url

    def call() -> None:
        start = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": "gpt-4o-mini", "server.address": url.host, "server.port": url.port,
                 "gen_ai.request.temperature": 0.0}
        t0 = time.perf_counter()
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=start) as span:
            r = client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0.0)
            u = r.usage
            usd = (u.prompt_tokens * 0.15 + u.completion_tokens * 0.6) / 1e6
            span.set_attributes({
                "gen_ai.response.model": r.model, "gen_ai.response.id": r.id,
                "gen_ai.response.finish_reasons": [c.finish_reason for c in r.choices],
                "gen_ai.usage.input_tokens": u.prompt_tokens, "gen_ai.usage.output_tokens": u.completion_tokens,
                "gen_ai.usage.cache_read.input_tokens": u.prompt_tokens_details.cached_tokens,
                "gen_ai.usage.reasoning.output_tokens": u.completion_tokens_details.reasoning_tokens,
                "agentkit.cost.usd": usd, "openai.response.service_tier": r.service_tier})
        if not metrics:
            return
        elapsed = time.perf_counter() - t0
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": "gpt-4o-mini", "server.address": url.host, "server.port": url.port,
                 "gen_ai.response.model": r.model}
        duration.record(elapsed, attrs)
        legacy_duration.record(elapsed, attrs)
        input_tokens.record(u.prompt_tokens, attrs)
        output_tokens.record(u.completion_tokens, attrs)
        token_usage.record(u.prompt_tokens, {**attrs, "gen_ai.token.type": "input"})
        token_usage.record(u.completion_tokens, {**attrs, "gen_ai.token.type": "output"})
        cost.add(usd, {"provider": "openai", "model": r.model})

    return call


# --- the client side --------------------------------------------------------------------------------------------
def _round(fn, calls: int) -> tuple[float, float]:
    """(wall, CPU of this process) microseconds per call over ``calls`` calls."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - w0) / calls * 1e6, (time.process_time() - c0) / calls * 1e6


class GCTimer:
    """Collections the cyclic garbage collector ran, and the time they took, while ``active``."""

    def __init__(self) -> None:
        self.active = None
        self.counts: dict[str, list[int]] = {}
        self.seconds: dict[str, float] = {}
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if self.active is None:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        self.counts.setdefault(self.active, [0, 0, 0])[info["generation"]] += 1
        self.seconds[self.active] = self.seconds.get(self.active, 0.0) + time.perf_counter() - self._t0


def measure(name: str, fn, calls: int, repeats: int, on, off, gct: GCTimer, fn_on=None) -> dict[str, object]:
    """Pairs of rounds, off and on, in ABBA order (so drift and a busy machine hit both sides alike).

    Wall time is what a caller waits; CPU time of this process (all its threads: the span and metric
    workers too) is the instrumentor's own cost. The headline ratio is total time instrumented over total
    time not, over all the interleaved rounds: it counts what comes now and then (the garbage collector's
    full collections, the exporter's batches), which the median of the per-pair ratios (printed beside it,
    with the best-round ratio) leaves out. The collector runs as it would in an application: no forced
    collections between rounds."""
    off()
    for _ in range(calls):  # warm up: connection pool, caches, the SDK's lazy parts
        fn()
    fn_on = fn_on or fn
    on()
    for _ in range(calls):
        fn_on()
    pairs = []
    for i in range(repeats):
        order = (off, on) if i % 2 == 0 else (on, off)
        got = {}
        for switch in order:
            switch()
            gct.active = "on" if switch is on else "off"
            got[switch] = _round(fn_on if switch is on else fn, calls)
            gct.active = None
        pairs.append((got[off], got[on]))
    off()
    base_w, traced_w = min(b[0] for b, _ in pairs), min(t[0] for _, t in pairs)
    base_c, traced_c = min(b[1] for b, _ in pairs), min(t[1] for _, t in pairs)
    wall_med = statistics.median(t[0] / b[0] for b, t in pairs)
    cpu_med = statistics.median(t[1] / b[1] for b, t in pairs)
    wall_total = sum(t[0] for _, t in pairs) / sum(b[0] for b, _ in pairs)
    cpu_total = sum(t[1] for _, t in pairs) / sum(b[1] for b, _ in pairs)
    n = calls * repeats
    gc_us = {side: gct.seconds.get(side, 0.0) / n * 1e6 for side in ("off", "on")}
    gc_counts = {side: gct.counts.get(side, [0, 0, 0]) for side in ("off", "on")}
    gct.counts, gct.seconds = {}, {}
    print(f"{name:<18} wall: ratio {wall_total:5.3f} (all rounds; median of {repeats} pairs {wall_med:5.3f}; best "
          f"rounds {base_w:7.1f} -> {traced_w:7.1f} us/call, {traced_w / base_w:5.3f})   cpu: ratio {cpu_total:5.3f} "
          f"(median {cpu_med:5.3f}; best rounds {base_c:7.1f} -> {traced_c:7.1f}, {traced_c / base_c:5.3f})   "
          f"garbage collector: "
          f"{gc_us['off']:.1f} -> {gc_us['on']:.1f} us/call, collections by generation {gc_counts['off']} -> "
          f"{gc_counts['on']} over {n} calls")
    return {"wall_ratio": wall_total, "cpu_ratio": cpu_total, "wall_ratio_median_of_pairs": wall_med,
            "cpu_ratio_median_of_pairs": cpu_med, "wall_ratio_best_rounds": traced_w / base_w,
            "cpu_ratio_best_rounds": traced_c / base_c, "baseline_wall_us": base_w, "instrumented_wall_us": traced_w,
            "baseline_cpu_us": base_c, "instrumented_cpu_us": traced_c, "gc_us_per_call": gc_us,
            "gc_collections": gc_counts, "pairs": [{"off": b, "on": t} for b, t in pairs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=60)
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

        handwritten = hand_written_floor(client, messages, tp, mp)
        span_only = hand_written_floor(client, messages, tp, mp, metrics=False)
        gct = GCTimer()
        results = {
            "chat.completions.create": measure("chat.completions", plain, args.calls, args.repeats, on, off, gct),
            "stream=True": measure("chat stream=True", streamed, args.calls, args.repeats, on, off, gct),
            "hand-written floor": measure("hand-written OTel", plain, args.calls, args.repeats,
                                          lambda: auto.uninstrument("openai"), off, gct, fn_on=handwritten),
            "hand-written span only": measure("hand-written span", plain, args.calls, args.repeats,
                                              lambda: auto.uninstrument("openai"), off, gct, fn_on=span_only),
        }
        agentkit.shutdown()
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    ours = {k: v for k, v in results.items() if not k.startswith("hand-written")}
    worst = max(r["wall_ratio"] for r in ours.values())
    worst_cpu = max(r["cpu_ratio"] for r in ours.values())
    floor = results["hand-written floor"]["wall_ratio"]
    print(f"the same span and metric points written by hand with the OTel API, recorded on the caller's thread: "
          f"wall ratio {floor:.3f} (the span alone {results['hand-written span only']['wall_ratio']:.3f}); the "
          f"instrumentor against that floor: {results['chat.completions.create']['wall_ratio'] / floor:.3f}")
    print(f"instrumentor overhead (all rounds): worst wall ratio {worst:.3f}, worst cpu ratio {worst_cpu:.3f} "
          f"(target: wall < 1.05): {'OK' if worst < 1.05 else 'OVER'}")
    print(json.dumps({"python": platform.python_version(), "openai": openai.__version__, "calls": args.calls,
                      "repeats": args.repeats, "results": results}, indent=1))


if __name__ == "__main__":
    main()
