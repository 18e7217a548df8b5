"""What the google-genai, bedrock, mistralai and cohere auto-instrumentors add to one chat call, against bare
and against the same telemetry written by hand (the floor).

    .venv/bin/python bench/providers_overhead.py [--calls N] [--rounds R] [--warmup W] [--providers a,b]

A local stdlib HTTP server in its own process (127.0.0.1) answers with the providers' real payloads, the ones
tests/auto/ serve (imported from there: Gemini's generateContent JSON and SSE, Bedrock's converse JSON and
AWS event-stream frames, the mistral and cohere fixtures). The real clients call it: google-genai
``models.generate_content``, boto3 bedrock-runtime ``converse``, mistralai ``chat.complete``, cohere
``ClientV2.chat``, each also streamed (``generate_content_stream``, ``converse_stream``, ``chat.stream``,
``chat_stream``). Three variants per case, in interleaved rounds as bench/auto_peers.py runs them (order rotated
and reversed round to round; each timed block ends by flushing the span pipelines and our metric queue inside
the timed region): ``bare`` (uninstrumented), ``floor`` and ``instr`` (our instrumentor on).

The floor is hand-written OTel code: ours runs the case once in a counting pass (bench/metric_points.py's
``capturing``) that records the span it made (name, kind, attributes) and every instrument call it sent to the
SDK; the floor makes that span with those attributes around the same call and then makes those instrument
calls, the durations (unit ``s``) measured, the other values as captured. It sets the attribute values ours
found as constants rather than reading them from the response: a slightly lower floor than code that would.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE), str(HERE / "peers")]

import auto_overhead  # noqa: E402  (free port, wait for the server)
import auto_peers  # noqa: E402  (summarize: paired ratios and quartiles)

FIXTURES = ROOT / "tests" / "auto" / "fixtures"
PROVIDERS = ("google-genai", "bedrock", "mistralai", "cohere")
VARIANTS = auto_peers.VARIANTS  # bare, floor, instr
GEMINI, CLAUDE, MISTRAL, COMMAND = "gemini-2.5-flash", "anthropic.claude-haiku-4-5-20251001-v1:0", \
    "mistral-small-latest", "command-a-03-2025"
QUESTION = "What is the capital of France?"


# --- the server process: the tests' payloads, whole bodies with Content-Length ------------------------------
def _routes() -> dict[tuple[str, bool], tuple[bytes, str]]:
    """(path, streamed) -> (body, content type)."""
    from tests.auto import test_bedrock as tb, test_google_genai as tg

    sse = "text/event-stream"
    gemini_sse = b"".join(b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\r\n\r\n"
                          for c in tg.STREAM_CHUNKS)
    return {
        (f"/v1beta/models/{GEMINI}:generateContent", False): (json.dumps(tg.ANSWER).encode(), "application/json"),
        (f"/v1beta/models/{GEMINI}:streamGenerateContent", True): (gemini_sse, sse),
        (f"/model/{CLAUDE}/converse", False): (json.dumps(tb.CONVERSE).encode(), "application/json"),
        (f"/model/{CLAUDE}/converse-stream", True): (b"".join(tb.CONVERSE_STREAM),
                                                     "application/vnd.amazon.eventstream"),
        ("/v1/chat/completions", False): ((FIXTURES / "mistral/chat_completion.json").read_bytes(), "application/json"),
        ("/v1/chat/completions", True): ((FIXTURES / "mistral/chat_stream.sse").read_bytes(), sse),
        ("/v2/chat", False): ((FIXTURES / "cohere/chat.json").read_bytes(), "application/json"),
        ("/v2/chat", True): ((FIXTURES / "cohere/chat_stream.sse").read_bytes(), sse),
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    routes: dict[tuple[str, bool], tuple[bytes, str]] = {}

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0].replace("%3A", ":")
        streamed = path.endswith((":streamGenerateContent", "-stream")) or b'"stream":true' in body or b'"stream": true' in body
        found = self.routes.get((path, streamed)) or self.routes.get((path, False))
        if found is None:
            self.send_error(404)
            return
        data, kind = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "a3c1f2e4-7b9d-4c6e-8f10-2d3b4c5e6f70")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int) -> None:
    _Handler.routes = _routes()
    ThreadingHTTPServer(("127.0.0.1", port), _Handler).serve_forever()


# --- the clients and their calls ------------------------------------------------------------------------------
class Provider:
    """One provider's client, its plain and streamed calls, and how to switch our instrumentor on and off.

    ``client()`` is the client a variant uses: cohere's ClientV2 binds ``chat`` when it is made, so the
    instrumented variant uses a client made after ``instrument()`` and the others one made before it."""

    def __init__(self, name: str, make: Callable[[], Any], plain: Callable[[Any], Any],
                 streamed: Callable[[Any], Any]) -> None:
        from otel_agentkit import auto

        self.name, self._make, self._plain, self._streamed, self._auto = name, make, plain, streamed, auto
        self._bare = make()
        self._on: Any = None
        self.instrumented = False

    def on(self) -> None:
        if not self.instrumented:
            assert self._auto.instrument(self.name), f"{self.name} was not instrumented"
            self.instrumented = True
            self._on = self._make() if self.name == "cohere" else self._bare

    def off(self) -> None:
        if self.instrumented:
            self._auto.uninstrument(self.name)
            self.instrumented = False

    def call(self, streamed: bool) -> Callable[[], Any]:
        fn = self._streamed if streamed else self._plain
        return lambda: fn(self._on if self.instrumented else self._bare)


def _drain(iterable: Any) -> None:
    for _ in iterable:
        pass


def providers(url: str) -> dict[str, Provider]:
    import boto3
    import cohere
    from botocore.config import Config
    from google import genai
    from google.genai import types
    from mistralai.client import Mistral

    user = [{"role": "user", "content": QUESTION}]
    config = types.GenerateContentConfig(temperature=0.3, max_output_tokens=64)
    bedrock_user = [{"role": "user", "content": [{"text": QUESTION}]}]
    inference = {"maxTokens": 64, "temperature": 0.3}

    def bedrock_client() -> Any:
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                                        region_name="us-east-1")
        return session.client("bedrock-runtime", endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))

    return {
        "google-genai": Provider(
            "google-genai",
            lambda: genai.Client(api_key="test", http_options=types.HttpOptions(base_url=url, api_version="v1beta")),
            lambda c: c.models.generate_content(model=GEMINI, contents=QUESTION, config=config),
            lambda c: _drain(c.models.generate_content_stream(model=GEMINI, contents=QUESTION, config=config))),
        "bedrock": Provider(
            "bedrock", bedrock_client,
            lambda c: c.converse(modelId=CLAUDE, messages=bedrock_user, inferenceConfig=inference),
            lambda c: _drain(c.converse_stream(modelId=CLAUDE, messages=bedrock_user,
                                               inferenceConfig=inference)["stream"])),
        "mistralai": Provider(
            "mistralai", lambda: Mistral(api_key="bench-mistral-key", server_url=url),
            lambda c: c.chat.complete(model=MISTRAL, messages=user, temperature=0.3, max_tokens=64),
            lambda c: _drain(c.chat.stream(model=MISTRAL, messages=user, temperature=0.3, max_tokens=64))),
        "cohere": Provider(
            "cohere", lambda: cohere.ClientV2(api_key="bench-cohere-key", base_url=url),
            lambda c: c.chat(model=COMMAND, messages=user, temperature=0.3, max_tokens=64),
            lambda c: _drain(c.chat_stream(model=COMMAND, messages=user, temperature=0.3, max_tokens=64))),
    }


# --- the floor: what ours recorded, written by hand ----------------------------------------------------------
def observe(p: Provider, streamed: bool) -> tuple[Any, list[tuple[str, str, Any, dict[str, Any]]]]:
    """One instrumented call under its own providers: our span for it, and the instrument calls ours sent."""
    import metric_points

    def case() -> None:
        p.on()
        try:
            p.call(streamed)()
        finally:
            p.off()

    spans, calls = metric_points.observe(case)
    ours = [s for s in spans if s.instrumentation_scope and s.instrumentation_scope.name.startswith("otel_agentkit")]
    assert len(ours) == 1, f"{p.name}: expected one span of ours, got {[s.name for s in spans]}"
    return ours[0], calls


def hand_written(span: Any, calls: list[tuple[str, str, Any, dict[str, Any]]], fn: Callable[[], Any],
                 tracer: Any, meter: Any) -> Callable[[], None]:
    """``fn`` inside one span with ``span``'s name, kind and attributes, then the same instrument calls
    (values in seconds are this call's duration)."""
    instruments: dict[str, Any] = {}
    for method, name, _, _ in calls:
        if name not in instruments:
            instruments[name] = meter.create_histogram(name) if method == "record" else meter.create_counter(name)
    timed = {name for _, name, value, _ in calls if isinstance(value, float) and name.endswith("duration")}
    ops = [(getattr(instruments[name], method), name in timed, value, attrs) for method, name, value, attrs in calls]
    name, kind, attrs = span.name, span.kind, dict(span.attributes or {})

    def call() -> None:
        t0 = time.perf_counter()
        with tracer.start_as_current_span(name, kind=kind, attributes=attrs):
            fn()
        elapsed = time.perf_counter() - t0
        for op, is_time, value, point_attrs in ops:
            op(elapsed if is_time else value, point_attrs)

    return call


# --- the runner -------------------------------------------------------------------------------------------------
def measure(url: str, names: list[str], calls: int, rounds: int, warmup: int) -> dict[str, Any]:
    import harness
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    import otel_agentkit as agentkit
    from otel_agentkit.instrument import telemetry

    harness.guard_network()
    provs = providers(url)
    cases = [(n, s) for n in names for s in (False, True)]
    observed = {case: observe(provs[case[0]], case[1]) for case in cases}  # before init: each under its own SDK

    tp, exporter = harness.new_provider()
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    agentkit.init(tracer_provider=tp, meter_provider=mp, exporters="none", metric_exporters="none",
                  home=tempfile.mkdtemp(prefix="agentkit-bench-providers-"), service_name="bench")
    metrics = telemetry.get_active().metrics
    floor_tp, _ = harness.new_provider()
    floor_mp = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def flush() -> None:
        metrics.drain()
        tp.force_flush()
        floor_tp.force_flush()

    results: dict[str, Any] = {}
    for name, streamed in cases:
        p = provs[name]
        span, points = observed[(name, streamed)]
        fns = {"bare": p.call(streamed), "instr": p.call(streamed),
               "floor": hand_written(span, points, p.call(streamed), floor_tp.get_tracer("hand-written"),
                                     floor_mp.get_meter("hand-written"))}

        def block(variant: str, n: int) -> tuple[float, float]:
            (p.on if variant == "instr" else p.off)()
            fn = fns[variant]
            gc.collect()
            flush()
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                fn()
            flush()  # inside the timed region: the block pays for the span and metric work it caused
            return (time.perf_counter() - w0) / n * 1e6, (time.process_time() - c0) / n * 1e6

        for v in VARIANTS:
            block(v, warmup)
        runs: dict[str, dict[str, list[float]]] = {v: {"wall_us": [], "cpu_us": []} for v in VARIANTS}
        for r in range(rounds):
            order = list(VARIANTS[r % 3:] + VARIANTS[:r % 3])
            if r % 2:
                order.reverse()
            for v in order:
                wall, cpu = block(v, calls)
                runs[v]["wall_us"].append(wall)
                runs[v]["cpu_us"].append(cpu)
        p.off()
        key = f"{name} {'stream' if streamed else 'plain'}"
        results[key] = auto_peers.summarize(runs)
        results[key]["span"] = span.name
        results[key]["span_attributes"] = len(span.attributes or {})
        results[key]["metric_points"] = [n for _, n, _, _ in points]
        c = results[key]["cpu_us"]
        print(f"[{key}] cpu +{c['instr_overhead_us']['median']:.0f} us over bare (floor "
              f"+{c['floor_overhead_us']['median']:.0f}), {len(points)} metric points", flush=True)
    agentkit.shutdown()
    return results


def table(results: dict[str, Any], metric: str) -> str:
    rows = ["| call | bare us | floor us | instrumented us | overhead us (p25-p75) | floor's overhead us (p25-p75) "
            "| / bare (p25-p75) | our overhead / floor's overhead (p25-p75) |", "|---|---|---|---|---|---|---|---|"]
    for key, r in results.items():
        m = r[metric]
        med, ov, fo = m["median"], m["instr_overhead_us"], m["floor_overhead_us"]
        ratio = ov["median"] / fo["median"] if fo["median"] > 0 else float("nan")
        rq = m["overhead_vs_floor_overhead"]
        rows.append(f"| {key} | {med['bare']:.0f} | {med['floor']:.0f} | {med['instr']:.0f} | {ov['median']:.0f} "
                    f"({ov['p25']:.0f}-{ov['p75']:.0f}) | {fo['median']:.0f} ({fo['p25']:.0f}-{fo['p75']:.0f}) | "
                    f"{m['instr_vs_bare']['median']:.2f}x ({m['instr_vs_bare']['p25']:.2f}-"
                    f"{m['instr_vs_bare']['p75']:.2f}) | {ratio:.2f}x ({rq['p25']:.2f}-{rq['p75']:.2f}) |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--providers", default=",".join(PROVIDERS))
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve)
        return
    names = [n for n in a.providers.split(",") if n]
    unknown = sorted(set(names) - set(PROVIDERS))
    if unknown:
        raise SystemExit(f"--providers: unknown {unknown}; known: {', '.join(PROVIDERS)}")
    port = auto_overhead._free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(port)])
    load0 = os.getloadavg()
    t0 = time.monotonic()
    try:
        auto_overhead._wait_open(port)
        results = measure(f"http://127.0.0.1:{port}", names, a.calls, a.rounds, a.warmup)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    load1 = os.getloadavg()
    print(f"\nPython {platform.python_version()} {platform.machine()}, {os.cpu_count()} cores, {a.rounds} rounds of "
          f"{a.calls} calls per variant after {a.warmup} warm-up calls, {time.monotonic() - t0:.0f} s; load average "
          f"(1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, after "
          f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}")
    for metric, title in (("cpu_us", "CPU per call"), ("wall_us", "wall per call")):
        print(f"\n### {title}\n\n{table(results, metric)}")
    if a.json:
        Path(a.json).write_text(json.dumps({"load_before": load0, "load_after": load1, "results": results}, indent=1))


if __name__ == "__main__":
    main()
