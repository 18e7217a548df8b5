"""The openai auto-instrumentor against the peers' openai instrumentors: one chat call, per-call CPU and wall.

    bash scripts/bench-peers.sh auto                  # make the venvs, measure everything, write the report
    bash scripts/bench-peers.sh auto --rounds 9 --calls 50 --peers ours,openai-v2
    bash scripts/bench-peers.sh auto --report-only    # re-render docs/benchmarks.md from bench/results/

The driver (this file, run by the project's venv) starts the local server of bench/auto_overhead.py in its own
process, then one runner process per instrumentor (this file again, ``--runner NAME``), each in the venv that
holds it: ours in the project's venv, openlit in .bench-venvs/peers (it needs openai<3), the rest in
.bench-venvs/auto-peers (openai, httpx and the OTel SDK pinned to the project's). In a runner, three variants of
the same ``client.chat.completions.create`` call run in interleaved rounds (order rotated and reversed round to
round): uninstrumented (``bare``), the same telemetry written by hand with the OTel API (``floor``: one span
with the attributes ours sets and the metric points ours records), and instrumented. Each timed block ends by
flushing every span pipeline (and our metric queue) inside the timed region, so the block pays for all the
work its calls caused, on every thread: CPU is ``time.process_time`` of the runner. Ratios are paired (taken
inside a round) and the median over rounds is reported, with the quartiles.

Instrumentors are switched off for ``bare``/``floor`` by their own uninstrument where they have one, otherwise
by putting back the openai attributes they replaced (see ``PatchSwap``). Exporters discard in-process; an
audit hook (bench/peers/harness.py) refuses any connection that is not loopback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(HERE / "peers")]

import auto_overhead  # noqa: E402  (the server, its payloads and the hand-written floor)

RESULTS = ROOT / "bench" / "results"
REPORT = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- auto-peers: begin (written by bench/auto_peers.py) -->", "<!-- auto-peers: end -->"
PEERS = ("ours", "openai-v2", "openinference", "openlit", "langfuse", "logfire", "traceloop")
CASES = ("plain", "stream", "stream_usage")
VARIANTS = ("bare", "floor", "instr")
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
MODEL = "gpt-4o-mini"


# --- the server: bench/auto_overhead.py's, with the usage chunk only when the request asks for it ----------
def _events(body: bytes) -> list[bytes]:
    return [e + b"\n\n" for e in body.split(b"\n\n") if e]


class _Handler(auto_overhead._Handler):
    """As the real API: a stream carries the usage-only chunk only when ``stream_options.include_usage``."""

    streamed_no_usage = b"".join(e for e in _events(auto_overhead._Handler.streamed) if b'"choices":[]' not in e)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        compact = body.replace(b" ", b"")
        stream = b'"stream":true' in compact
        data = (self.streamed if b'"include_usage":true' in compact else self.streamed_no_usage) if stream \
            else self.plain
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(port: int) -> None:
    from http.server import ThreadingHTTPServer
    ThreadingHTTPServer(("127.0.0.1", port), _Handler).serve_forever()


# --- the floor for a streamed call (the plain one is auto_overhead.hand_written_floor) ----------------------
def hand_written_stream_floor(client: Any, tracer_provider: Any, meter_provider: Any) -> Callable[[], None]:
    """A streamed chat call wrapped by hand in what ours records for it: the span with the same start and end
    attributes and the same metric points, asking for the usage chunk (as ours does) and reading usage from it,
    but handing the caller every chunk (hiding the extra one is ours' cost, not the SDK's)."""
    from opentelemetry.trace import SpanKind

    tracer = tracer_provider.get_tracer("hand-written-stream")
    meter = meter_provider.get_meter("hand-written-stream")
    d = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
    t = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
    duration = meter.create_histogram("hws.inference.duration", unit="s", explicit_bucket_boundaries_advisory=d)
    legacy_duration = meter.create_histogram("hws.operation.duration", unit="s",
                                             explicit_bucket_boundaries_advisory=d)
    ttfc = meter.create_histogram("hws.time_to_first_chunk", unit="s", explicit_bucket_boundaries_advisory=d)
    input_tokens = meter.create_histogram("hws.input_tokens", unit="{token}", explicit_bucket_boundaries_advisory=t)
    output_tokens = meter.create_histogram("hws.output_tokens", unit="{token}",
                                           explicit_bucket_boundaries_advisory=t)
    token_usage = meter.create_histogram("hws.token.usage", unit="{token}", explicit_bucket_boundaries_advisory=t)
    cost = meter.create_counter("hws.cost", unit="USD")
    url = client.base_url

    def call() -> None:
        start = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL,
                 "server.address": url.host, "server.port": url.port, "gen_ai.request.stream": True}
        t0 = time.perf_counter()
        first = None
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=start) as span:
            model = rid = tier = None
            finish: list[str] = []
            u = None
            for chunk in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                        stream_options={"include_usage": True}):
                if first is None:
                    first = time.perf_counter() - t0
                model, rid, tier = chunk.model, chunk.id, chunk.service_tier
                for c in chunk.choices:
                    if c.finish_reason:
                        finish.append(c.finish_reason)
                if chunk.usage is not None:
                    u = chunk.usage
            usd = (u.prompt_tokens * 0.15 + u.completion_tokens * 0.6) / 1e6
            span.set_attributes({
                "gen_ai.response.model": model, "gen_ai.response.id": rid, "gen_ai.response.finish_reasons": finish,
                "gen_ai.usage.input_tokens": u.prompt_tokens, "gen_ai.usage.output_tokens": u.completion_tokens,
                "gen_ai.usage.cache_read.input_tokens": u.prompt_tokens_details.cached_tokens,
                "gen_ai.usage.reasoning.output_tokens": u.completion_tokens_details.reasoning_tokens,
                "agentkit.cost.usd": usd, "openai.response.service_tier": tier})
        elapsed = time.perf_counter() - t0
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL,
                 "server.address": url.host, "server.port": url.port, "gen_ai.response.model": model}
        duration.record(elapsed, attrs)
        legacy_duration.record(elapsed, attrs)
        ttfc.record(first, attrs)
        input_tokens.record(u.prompt_tokens, attrs)
        output_tokens.record(u.completion_tokens, attrs)
        token_usage.record(u.prompt_tokens, {**attrs, "gen_ai.token.type": "input"})
        token_usage.record(u.completion_tokens, {**attrs, "gen_ai.token.type": "output"})
        cost.add(usd, {"provider": "openai", "model": model})

    return call


# --- switching an instrumentor off and on ------------------------------------------------------------------
_ABSENT = object()  # an attribute the owner did not have (an instrumentor added it, e.g. OpenAI.request)

class PatchSwap:
    """What an instrumentor changed in the openai package (class and module attributes), captured by comparing
    the package before and after it instrumented, so that it can be put back (``off``) and re-applied (``on``)
    for instrumentors that cannot uninstrument (langfuse patches at import) or whose uninstrument is partial."""

    def __init__(self) -> None:
        self.before = self._snapshot()
        self.after: dict[tuple[Any, str], Any] = {}

    @staticmethod
    def _owners() -> list[Any]:
        out = []
        for name, mod in list(sys.modules.items()):
            if mod is None or not (name == "openai" or name.startswith("openai.")):
                continue
            out.append(mod)
            out.extend(v for v in vars(mod).values()
                       if isinstance(v, type) and getattr(v, "__module__", "") == name)
        return out

    def _snapshot(self) -> dict[tuple[Any, str], Any]:
        return {(o, k): v for o in self._owners() for k, v in list(vars(o).items())}

    def capture(self) -> list[str]:
        """Call once the instrumentor has patched; returns what it changed, as ``owner.attribute``."""
        now = self._snapshot()
        owners = {id(o) for o, _ in self.before}  # classes of modules imported since are not switched
        self.after = {key: v for key, v in now.items()
                      if id(key[0]) in owners and self.before.get(key, _ABSENT) is not v}
        return sorted(f"{getattr(o, '__qualname__', getattr(o, '__name__', o))}.{k}" for o, k in self.after)

    def _set(self, values: dict[tuple[Any, str], Any]) -> None:
        for (owner, name), value in values.items():
            if value is _ABSENT:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, value)

    def on(self) -> None:
        self._set(self.after)

    def off(self) -> None:
        self._set({key: self.before.get(key, _ABSENT) for key in self.after})


def _import_openai_resources() -> None:
    """Import every openai resource module before the "before" snapshot: the classes a client uses live in
    submodules that the package imports lazily, and ``PatchSwap`` only switches classes it saw before."""
    import importlib
    import pkgutil

    import openai
    import openai.resources

    for mod in pkgutil.walk_packages(openai.resources.__path__, "openai.resources."):
        try:
            importlib.import_module(mod.name)
        except Exception:  # noqa: BLE001  (an optional extra's module; not one the chat call uses)
            pass
    client = openai.OpenAI(api_key="sk-bench", base_url="http://127.0.0.1:9/v1")
    _ = client.chat.completions, client.embeddings, client.responses, client.completions


# --- the instrumentors, as a user switches each on --------------------------------------------------------
class Setup:
    """One instrumentor: ``on``/``off`` switch it; ``flush`` empties its pipelines; ``counts`` says what it made."""

    def __init__(self, name: str, packages: list[str], how: str, config: list[str]) -> None:
        self.name, self.packages, self.how, self.config = name, packages, how, config
        self.on: Callable[[], None] = lambda: None
        self.off: Callable[[], None] = lambda: None
        self.flush: Callable[[], None] = lambda: None
        self.exporter: Any = None
        self.reader: Any = None
        self.patched: list[str] = []


def _providers() -> tuple[Any, Any, Any, Any]:
    import harness
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    tp, exporter = harness.new_provider()
    reader = InMemoryMetricReader()
    return tp, exporter, MeterProvider(metric_readers=[reader]), reader


def setup_ours() -> Setup:
    import otel_agentkit as agentkit
    from otel_agentkit import auto
    from otel_agentkit.instrument import telemetry

    s = Setup("ours", ["otel-agentkit"], "agentkit.init(...); otel_agentkit.auto.instrument(\"openai\") "
              "(OpenAIInstrumentor)",
              ["agentkit.init(tracer_provider=<BatchSpanProcessor over a discarding exporter>, meter_provider="
               "<in-memory reader>, exporters=\"none\", metric_exporters=\"none\"); defaults otherwise: legacy "
               "metrics on (the full metric set), no content capture, include_usage injected into streams"])
    tp, s.exporter, mp, s.reader = _providers()
    agentkit.init(tracer_provider=tp, meter_provider=mp, exporters="none", metric_exporters="none",
                  legacy_metrics=True, home=tempfile.mkdtemp(prefix="agentkit-bench-auto-"), service_name="bench")
    tel = telemetry.get_active()
    s.on, s.off = (lambda: auto.instrument("openai")), (lambda: auto.uninstrument("openai"))

    def flush() -> None:
        tel.metrics.drain()
        tp.force_flush()
    s.flush = flush
    return s


def _otel_instrumentor(s: Setup, instrumentor: Any, **kwargs: Any) -> Setup:
    tp, s.exporter, mp, s.reader = _providers()
    swap = PatchSwap()
    instrumentor.instrument(tracer_provider=tp, meter_provider=mp, **kwargs)
    s.patched = swap.capture()
    s.on, s.off, s.flush = swap.on, swap.off, tp.force_flush
    return s


def setup_openai_v2() -> Setup:
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "false"
    _import_openai_resources()
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    s = Setup("openai-v2", ["opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai"],
              "OpenAIInstrumentor().instrument(tracer_provider=..., meter_provider=...) "
              "(opentelemetry.instrumentation.openai_v2)",
              ["tracer_provider: BatchSpanProcessor over a discarding exporter; meter_provider: in-memory reader",
               "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false (its default: no content)"])
    return _otel_instrumentor(s, OpenAIInstrumentor())


def setup_openinference() -> Setup:
    _import_openai_resources()
    from openinference.instrumentation import TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor

    s = Setup("openinference", ["openinference-instrumentation-openai", "openinference-instrumentation"],
              "OpenAIInstrumentor().instrument(tracer_provider=..., config=TraceConfig(hide_inputs=True, "
              "hide_outputs=True)) (openinference.instrumentation.openai)",
              ["tracer_provider: BatchSpanProcessor over a discarding exporter (it takes no meter provider)",
               "TraceConfig(hide_inputs=True, hide_outputs=True): no messages on the span (its default records "
               "them); its default otherwise"])
    return _otel_instrumentor(s, OpenAIInstrumentor(), config=TraceConfig(hide_inputs=True, hide_outputs=True))


def setup_traceloop() -> Setup:
    os.environ["TRACELOOP_TRACE_CONTENT"] = "false"
    os.environ["TRACELOOP_METRICS_ENABLED"] = "true"
    os.environ["TRACELOOP_TELEMETRY"] = "false"
    _import_openai_resources()
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    s = Setup("traceloop", ["opentelemetry-instrumentation-openai"],
              "OpenAIInstrumentor().instrument(tracer_provider=..., meter_provider=...) "
              "(opentelemetry-instrumentation-openai, OpenLLMetry; without traceloop-sdk)",
              ["tracer_provider: BatchSpanProcessor over a discarding exporter; meter_provider: in-memory reader",
               "TRACELOOP_TRACE_CONTENT=false (no prompts/completions; its default records them), "
               "TRACELOOP_METRICS_ENABLED=true (its default)"])
    return _otel_instrumentor(s, OpenAIInstrumentor())


def setup_openlit() -> Setup:
    import harness
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.sdk._logs import LoggerProvider

    _import_openai_resources()
    s = Setup("openlit", ["openlit"], "openlit.init(...) with every instrumentor but openai disabled",
              ["global TracerProvider (BatchSpanProcessor over a discarding exporter), MeterProvider (in-memory "
               "reader) and LoggerProvider set before openlit.init, which reuses them",
               "openlit.init(disable_batch=False, capture_message_content=False, collect_gpu_stats=False, "
               "disabled_instrumentors=<all but openai>, pricing_json=<local file with gpt-4o-mini prices>); "
               "no otlp_endpoint"])
    tp, s.exporter, mp, s.reader = _providers()
    trace.set_tracer_provider(tp)
    metrics.set_meter_provider(mp)
    _logs.set_logger_provider(LoggerProvider())
    import openlit
    from openlit._instrumentors import MODULE_NAME_MAP

    pricing = os.path.join(tempfile.mkdtemp(prefix="bench-openlit-"), "pricing.json")
    with open(pricing, "w") as f:  # its default downloads the price table at init
        json.dump({"chat": {MODEL: {"promptPrice": 0.00015, "completionPrice": 0.0006}}}, f)
    swap = PatchSwap()
    openlit.init(service_name="bench", environment="bench", disable_batch=False, capture_message_content=False,
                 disabled_instrumentors=[k for k in MODULE_NAME_MAP if k != "openai"], collect_gpu_stats=False,
                 pricing_json=pricing)
    s.patched = swap.capture()
    s.on, s.off, s.flush = swap.on, swap.off, tp.force_flush
    return s


def setup_langfuse() -> Setup:
    import harness
    _import_openai_resources()
    from langfuse import Langfuse

    s = Setup("langfuse", ["langfuse"], "from langfuse.openai import OpenAI (its drop-in client; it patches the "
              "openai classes at import, so the benchmark's client is traced the same way)",
              ["Langfuse(public_key/secret_key=dummy, base_url=closed loopback port, span_exporter=<discarding "
               "exporter>): its LangfuseSpanProcessor (a BatchSpanProcessor) wraps the exporter",
               "input and output are recorded on the span (the integration has no switch for it)"])
    s.exporter = harness.CountingDiscard()
    client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=harness.CLOSED_URL,
                      span_exporter=s.exporter, tracing_enabled=True)
    swap = PatchSwap()
    import langfuse.openai  # noqa: F401  (patches on import)
    s.patched = swap.capture()
    s.on, s.off, s.flush = swap.on, swap.off, client.flush
    return s


def setup_logfire() -> Setup:
    import harness
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _import_openai_resources()
    import logfire

    s = Setup("logfire", ["logfire"], "logfire.configure(...); logfire.instrument_openai()",
              ["logfire.configure(send_to_logfire=False, console=False, additional_span_processors="
               "[BatchSpanProcessor(<discarding exporter>)], metrics=MetricsOptions(additional_readers="
               "[<in-memory reader>])); everything else default (scrubbing on; messages recorded, no switch)"])
    s.exporter = harness.CountingDiscard()
    s.reader = InMemoryMetricReader()
    logfire.configure(send_to_logfire=False, console=False, service_name="bench",
                      additional_span_processors=[BatchSpanProcessor(s.exporter)],
                      metrics=logfire.MetricsOptions(additional_readers=[s.reader]))
    swap = PatchSwap()
    logfire.instrument_openai()
    s.patched = swap.capture()
    s.on, s.off, s.flush = swap.on, swap.off, logfire.force_flush
    return s


SETUPS: dict[str, Callable[[], Setup]] = {
    "ours": setup_ours, "openai-v2": setup_openai_v2, "openinference": setup_openinference,
    "openlit": setup_openlit, "langfuse": setup_langfuse, "logfire": setup_logfire, "traceloop": setup_traceloop}


# --- a runner ----------------------------------------------------------------------------------------------
def _metric_points(reader: Any) -> dict[str, int]:
    """Metric name -> data points collected (sums over histograms' points' counts where they have one)."""
    if reader is None:
        return {}
    out: dict[str, int] = {}
    data = reader.get_metrics_data()
    for rm in (data.resource_metrics if data else []):
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n = sum(getattr(p, "count", 1) for p in m.data.data_points)
                out[m.name] = out.get(m.name, 0) + n
    return out


def run(peer: str, port: int, calls: int, rounds: int, warmup: int, cases: list[str]) -> dict[str, Any]:
    import harness

    harness.guard_network()
    s = SETUPS[peer]()
    s.off()
    import openai
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    floor_tp, floor_exporter = harness.new_provider()
    floor_mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)

    def plain() -> None:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.0)

    def stream() -> None:
        for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            pass

    def stream_usage() -> None:
        for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}):
            pass

    floors = {"plain": auto_overhead.hand_written_floor(client, MESSAGES, floor_tp, floor_mp),
              "stream": hand_written_stream_floor(client, floor_tp, floor_mp)}
    floors["stream_usage"] = floors["stream"]
    calls_fn = {"plain": plain, "stream": stream, "stream_usage": stream_usage}

    def flush_all() -> None:
        s.flush()
        floor_tp.force_flush()

    def block(case: str, variant: str, n: int) -> tuple[float, float]:
        (s.on if variant == "instr" else s.off)()
        fn = floors[case] if variant == "floor" else calls_fn[case]
        gc.collect()
        flush_all()
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        flush_all()  # inside the timed region: the block pays for the export and metric work it caused
        return (time.perf_counter() - w0) / n * 1e6, (time.process_time() - c0) / n * 1e6

    made = {"instr": 0, "floor": 0}
    exported0 = s.exporter.count if s.exporter is not None else 0
    result: dict[str, Any] = {"peer": peer, "how": s.how, "config": s.config, "patched": s.patched,
                              "params": {"calls": calls, "rounds": rounds, "warmup": warmup}, "cases": {}}
    for case in cases:
        for v in VARIANTS:
            block(case, v, warmup)
        made["instr"] += warmup
        made["floor"] += warmup
        runs: dict[str, dict[str, list[float]]] = {v: {"wall_us": [], "cpu_us": []} for v in VARIANTS}
        names = list(VARIANTS)
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            if r % 2:
                order.reverse()
            for v in order:
                wall, cpu = block(case, v, calls)
                runs[v]["wall_us"].append(wall)
                runs[v]["cpu_us"].append(cpu)
        made["instr"] += calls * rounds
        made["floor"] += calls * rounds
        result["cases"][case] = summarize(runs)
    s.off()
    flush_all()
    result["spans"] = {"instrumented_calls": made["instr"],
                       "exported_by_instrumentor": (s.exporter.count - exported0) if s.exporter else None,
                       "floor_calls": made["floor"], "exported_by_floor": floor_exporter.count}
    result["metric_points"] = _metric_points(s.reader)
    result["versions"] = harness.versions(["openai", "httpx", *s.packages])
    result["machine"] = harness.machine()
    result["network_attempts"] = [a for a in harness._network_attempts if "loopback" not in a]
    return result


def _q(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": float("nan"), "p25": float("nan"), "p75": float("nan")}
    if len(values) < 2:
        return {"median": values[0], "p25": values[0], "p75": values[0]}
    q = statistics.quantiles(values, n=4)
    return {"median": statistics.median(values), "p25": q[0], "p75": q[2]}


def summarize(runs: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Per metric (wall, cpu): medians per variant, and paired ratios and overheads (median and quartiles)."""
    out: dict[str, Any] = {"runs": runs}
    for m in ("wall_us", "cpu_us"):
        b, f, i = (runs[v][m] for v in VARIANTS)
        n = len(b)
        out[m] = {
            "median": {v: statistics.median(runs[v][m]) for v in VARIANTS},
            "instr_vs_bare": _q([i[k] / b[k] for k in range(n)]),
            "floor_vs_bare": _q([f[k] / b[k] for k in range(n)]),
            "instr_vs_floor": _q([i[k] / f[k] for k in range(n)]),
            "instr_overhead_us": _q([i[k] - b[k] for k in range(n)]),
            "floor_overhead_us": _q([f[k] - b[k] for k in range(n)]),
            # what the instrumentor adds over what the hand-written telemetry adds, in the same round
            "overhead_vs_floor_overhead": _q([(i[k] - b[k]) / (f[k] - b[k]) for k in range(n)
                                              if f[k] - b[k] > 0]),
        }
    return out


# --- the driver ----------------------------------------------------------------------------------------------
def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def profile_ours(port: int, calls: int, out: str) -> None:
    """cProfile of the instrumented calls (plain and stream) of ours, top functions by own time."""
    import cProfile
    import pstats

    import harness
    harness.guard_network()
    s = setup_ours()
    import openai
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)
    fns = {"plain": lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.0),
           "stream": lambda: [_ for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                                        stream=True)]}
    result: dict[str, Any] = {"calls": calls}
    for case, fn in fns.items():
        per: dict[str, Any] = {}
        for side in ("off", "on"):
            (s.on if side == "on" else s.off)()
            for _ in range(200):
                fn()
            s.flush()
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(calls):
                fn()
            s.flush()
            prof.disable()
            per[side] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        # own time per function, instrumented minus not: where the instrumented call's extra time goes
        rows = []
        total_on = sum(v[2] for v in per["on"].values())
        total_off = sum(v[2] for v in per["off"].values())
        for key, (_cc, nc, tt, _ct, _callers) in per["on"].items():
            base = per["off"].get(key, (0, 0, 0.0, 0, {}))
            rows.append((tt - base[2], nc - base[1], key))
        rows.sort(key=lambda r: r[0], reverse=True)
        label = lambda k: f"{'/'.join(k[0].split(os.sep)[-2:])}:{k[1]}({k[2]})"  # noqa: E731
        by_pkg: dict[str, float] = {}
        for extra, _n, key in rows:
            pkg = ("otel_agentkit" if "otel_agentkit" in key[0] else
                   "opentelemetry" if "opentelemetry" in key[0] else
                   "openai" if f"{os.sep}openai{os.sep}" in key[0] else "other")
            by_pkg[pkg] = by_pkg.get(pkg, 0.0) + extra
        result[case] = {"profiled_us_per_call": {"off": total_off / calls * 1e6, "on": total_on / calls * 1e6},
                        "extra_us_per_call_by_package": {k: v / calls * 1e6 for k, v in by_pkg.items()},
                        "top": [{"function": label(k), "extra_calls_per_call": n / calls,
                                 "extra_own_us_per_call": t / calls * 1e6} for t, n, k in rows[:15]]}
    s.off()
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--calls", type=int, default=100, help="calls per timed block")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ours-python", default=sys.executable)
    ap.add_argument("--venv", action="append", default=[], help="PEER=python (or default=python) for the peers")
    ap.add_argument("--profile-calls", type=int, default=1000, help="0: no profile of ours")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--runner", help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve)
        return
    if a.profile:
        profile_ours(a.port, a.profile_calls, a.out)
        return
    if a.runner:
        result = run(a.runner, a.port, a.calls, a.rounds, a.warmup, a.cases.split(","))
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
        return
    if not a.report_only:
        measure_all(a)
    write_report()


def measure_all(a: argparse.Namespace) -> None:
    from driver import closed_port, runner_env  # bench/peers/driver.py: the scrubbed, no-network environment

    pythons = dict(v.split("=", 1) for v in a.venv)
    pythons["ours"] = a.ours_python
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = auto_overhead._free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__)), "--serve", str(port)])
    env = runner_env(closed_port())
    env.pop("OTEL_BSP_MAX_QUEUE_SIZE", None)  # each block is flushed at its end: the default queue suffices
    try:
        auto_overhead._wait_open(port)
        for peer in a.peers.split(","):
            if peer not in SETUPS:
                raise SystemExit(f"--peers: unknown {peer!r}; known: {', '.join(PEERS)}")
            python = pythons.get(peer) or pythons.get("default") or sys.executable
            load = uptime()
            print(f"[{peer}] {a.rounds} rounds x {a.calls} calls per variant and case ({python}); {load}",
                  flush=True)
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
                out = f.name
            cmd = [python, str(Path(__file__)), "--runner", peer, "--port", str(port), "--calls", str(a.calls),
                   "--rounds", str(a.rounds), "--warmup", str(a.warmup), "--cases", a.cases, "--out", out]
            t0 = time.monotonic()
            proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=3600)
            if proc.returncode != 0:
                raise SystemExit(f"{peer} runner failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
            with open(out) as f:
                result = json.load(f)
            os.unlink(out)
            result["python_executable"] = python
            result["measured_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            result["load"] = {"before": load, "after": uptime()}
            result["seconds"] = round(time.monotonic() - t0, 1)
            with open(RESULTS / f"auto-peers-{peer}.json", "w") as f:
                json.dump(result, f, indent=1)
                f.write("\n")
            print(line_for(peer, result), flush=True)
        if a.profile_calls and "ours" in a.peers.split(","):
            print(f"[ours] cProfile, {a.profile_calls} calls per side", flush=True)
            out = str(RESULTS / "auto-peers-profile.json")
            subprocess.run([pythons["ours"], str(Path(__file__)), "--profile", "--port", str(port),
                            "--profile-calls", str(a.profile_calls), "--out", out], env=env, cwd=ROOT, check=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- the report ----------------------------------------------------------------------------------------------
def _x(q: dict[str, float]) -> str:
    return f"{q['median']:.2f}x"


def _us(q: dict[str, float]) -> str:
    return f"{q['median']:.0f}"


def _spread(q: dict[str, float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(q['p25'])}-{fmt.format(q['p75'])}"


def _ovh(c: dict[str, Any]) -> str:
    """Median paired overhead over the floor's median paired overhead (steadier than a median of per-round
    ratios, whose denominators are small differences of noisy numbers)."""
    return f"{c['instr_overhead_us']['median'] / c['floor_overhead_us']['median']:.2f}x"


def line_for(peer: str, r: dict[str, Any]) -> str:
    parts = []
    for case, c in r["cases"].items():
        cpu = c["cpu_us"]
        parts.append(f"{case}: +{_us(cpu['instr_overhead_us'])} us CPU ({_x(cpu['instr_vs_bare'])} bare, "
                     f"{_x(cpu['instr_vs_floor'])} floor, overhead {_x(cpu['overhead_vs_floor_overhead'])} the "
                     f"floor's)")
    return f"[{peer}] " + "; ".join(parts)


def load_results() -> dict[str, dict[str, Any]]:
    out = {}
    for peer in PEERS:
        path = RESULTS / f"auto-peers-{peer}.json"
        if path.exists():
            out[peer] = json.loads(path.read_text())
    return out


def _metrics_word(r: dict[str, Any]) -> str:
    points = r.get("metric_points") or {}
    if not points:
        return "none"
    return ", ".join(f"{k} ({v})" for k, v in sorted(points.items()))


def render(results: dict[str, dict[str, Any]]) -> str:
    L: list[str] = []
    w = L.append
    w("## openai auto-instrumentors against the peers")
    w("")
    w("Regenerate (makes the venvs under .bench-venvs/, measures, rewrites this section and "
      "bench/results/auto-peers-*.json): `bash scripts/bench-peers.sh auto`; re-render only: "
      "`bash scripts/bench-peers.sh auto --report-only`.")
    w("")
    any_r = next(iter(results.values()))
    p, m = any_r["params"], any_r["machine"]
    w("**What:** the same `client.chat.completions.create` call of the real openai client against a local server "
      "in its own process (bench/auto_overhead.py's, stdlib HTTP on 127.0.0.1, the API's real JSON and SSE "
      "shapes), in three cases: `plain`; `stream` (`stream=True`, no `stream_options`: the server sends the "
      "usage chunk only if the request asks for it, so an instrumentor that injects `include_usage` pays for "
      "that chunk, one that does not records no tokens); `stream_usage` (the caller asks for "
      "`include_usage`, so every instrumentor can record tokens). Three variants, interleaved: **bare** "
      "(uninstrumented), **floor** (the same call wrapped by hand with the OTel API in what ours records: one "
      "CLIENT span with the same attributes and the same 7 metric points, 8 when streamed (time to first chunk); "
      "bench/auto_overhead.py's `hand_written_floor` and its streamed twin here; the streamed floor always asks "
      "for the usage chunk, as ours does) and **instrumented**.")
    w("")
    w(f"**How:** one process per instrumentor, in its own venv (below); in it, {p['rounds']} rounds of "
      f"{p['calls']} calls per variant and case after {p['warmup']} warm-up calls, the variants' order rotated "
      "and reversed round to round. Each timed block ends by flushing every span pipeline and our metric queue "
      "inside the timed region, so it pays for all the work its calls caused. CPU = `time.process_time()` of "
      "the caller's process (all its threads: exporters, metric workers), wall = what the caller waits, both "
      "per call. Ratios are paired (inside a round) and given as median with the quartiles (p25-p75) over "
      "rounds. **Overhead** = instrumented minus bare in the same round. Each instrumentor's figures come from "
      "its own process, so compare them through the ratios (to bare and to the floor, both taken in that "
      "process) more than through microseconds. Exporters discard in-process (BatchSpanProcessor), metrics go "
      "to an in-memory reader; an audit hook refuses any non-loopback connection.")
    w("")
    w(f"**Machine:** {m['cores']} cores ({m['cpu'] or '?'}), {m['platform']}, {m['python']}; shared with "
      "other engineers' test runs (load per run below).")
    w("")
    for metric, label in (("cpu_us", "CPU"), ("wall_us", "wall")):
        for case in CASES:
            if not any(case in r["cases"] for r in results.values()):
                continue
            w(f"### {case}: {label} per call")
            w("")
            w("| instrumentor | bare us | floor us | instrumented us | overhead us (p25-p75) | / bare | / floor "
              "(p25-p75) | overhead / floor's overhead |")
            w("|---|---|---|---|---|---|---|---|")
            rows = sorted(((peer, r["cases"][case][metric]) for peer, r in results.items() if case in r["cases"]),
                          key=lambda pr: pr[1]["instr_vs_floor"]["median"])
            for peer, c in rows:
                med = c["median"]
                name = f"**{peer}**" if peer == "ours" else peer
                w(f"| {name} | {med['bare']:.0f} | {med['floor']:.0f} | {med['instr']:.0f} | "
                  f"{_us(c['instr_overhead_us'])} ({_spread(c['instr_overhead_us'], '{:.0f}')}) | {_x(c['instr_vs_bare'])} | {_x(c['instr_vs_floor'])} "
                  f"({_spread(c['instr_vs_floor'])}) | {_ovh(c)} |")
            floor_over = statistics.median(r["cases"][case][metric]["floor_overhead_us"]["median"]
                                           for r in results.values() if case in r["cases"])
            w("")
            w(f"The floor itself adds {floor_over:.0f} us of {label} per call over bare (median over the runs).")
            w("")
    w("### Target: the lowest cost of every peer, and at most 1.2x the hand-written floor")
    w("")
    if "ours" in results:
        for case in CASES:
            if case not in results["ours"]["cases"]:
                continue
            ours = results["ours"]["cases"][case]["cpu_us"]
            ranked = sorted(results, key=lambda q: results[q]["cases"][case]["cpu_us"]["instr_vs_floor"]["median"]
                            if case in results[q]["cases"] else 1e9)
            place = ranked.index("ours") + 1
            by_ovh = sorted((results[q]["cases"][case]["cpu_us"]["instr_overhead_us"]["median"], q)
                            for q in results if case in results[q]["cases"])
            w(f"- {case} (CPU): ours {_x(ours['instr_vs_floor'])} the floor per call, its overhead "
              f"{_ovh(ours)} the floor's; by overhead in us: "
              + ", ".join(f"{q} {v:.0f}" for v, q in by_ovh) + f"; place {place} of {len(ranked)} by ratio to "
              f"the floor{'' if place == 1 else ' (ahead: ' + ', '.join(ranked[:place - 1]) + ')'}; per-call "
              f"ratio {'within' if ours['instr_vs_floor']['median'] <= 1.2 else 'over'} 1.2x.")
        w("")
    w("### What each records, and how it was set up")
    w("")
    w("| instrumentor | how switched on | metric points recorded over the run (name: count) | spans exported / "
      "instrumented calls |")
    w("|---|---|---|---|")
    for peer, r in results.items():
        sp = r["spans"]
        w(f"| {peer} | {r['how']} | {_metrics_word(r)} | {sp['exported_by_instrumentor']} / "
          f"{sp['instrumented_calls']} |")
    w("")
    for peer, r in results.items():
        v = r["versions"]
        pkgs = ", ".join(f"{k} {v[k]}" for k in v if k not in ("python",))
        w(f"- **{peer}** ({r['measured_at']}, {r['seconds']} s; load before: `{r['load']['before'].split('load')[-1]}`"
          f", after: `{r['load']['after'].split('load')[-1]}`): {pkgs}; venv `{_venv_name(r['python_executable'])}`. "
          + "; ".join(r["config"]) + ("; non-loopback connection attempts: " + "; ".join(r["network_attempts"])
                                      if r["network_attempts"] else "") + ".")
    w("")
    prof = RESULTS / "auto-peers-profile.json"
    if prof.exists():
        pr = json.loads(prof.read_text())
        w(f"### Where ours spends (cProfile, {pr['calls']} calls per side, own time instrumented minus not)")
        w("")
        for case in ("plain", "stream"):
            c = pr[case]
            by = ", ".join(f"{k} {v:.0f}" for k, v in sorted(c["extra_us_per_call_by_package"].items(),
                                                            key=lambda kv: -kv[1]))
            w(f"{case}: profiled {c['profiled_us_per_call']['off']:.0f} -> {c['profiled_us_per_call']['on']:.0f} "
              f"us per call (cProfile inflates both); extra by package, us per call: {by}.")
            w("")
            w("| function | extra calls per call | extra own us per call |")
            w("|---|---|---|")
            for row in c["top"][:10]:
                w(f"| `{row['function']}` | {row['extra_calls_per_call']:.1f} | {row['extra_own_us_per_call']:.1f} |")
            w("")
    return "\n".join(L).rstrip() + "\n"


def _venv_name(python: str) -> str:
    parts = Path(python).parts
    return "/".join(parts[-4:-2]) if ".bench-venvs" in parts else str(Path(python).parent.parent.name)


def write_report() -> None:
    results = load_results()
    if not results:
        raise SystemExit("no bench/results/auto-peers-*.json to report on; run the benchmark first")
    block = f"{BEGIN}\n{render(results)}{END}\n"
    text = REPORT.read_text() if REPORT.exists() else ""
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block if text else block
    REPORT.write_text(text)
    print(f"wrote {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
