"""What every peer runner shares: the baseline variants, the interleaved timing, memory, and the JSON it writes.

A runner (run_<peer>.py) builds its peer's decorated functions and hands them to :func:`main`, which adds, in
the same process, the bare function, the hand-written OTel floor and our decorators, then measures them all
side by side. Why one process per comparison: the machine is shared and noisy, so only numbers taken in the
same run, interleaved round by round, can be compared; each ratio is taken inside a round (paired) and the
median over rounds is reported. Every exporter here discards in-process; the runner must not touch the
network (an audit hook refuses any non-loopback connection and records the attempt).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata as md
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

CASES = ("workflow_sync", "workflow_async", "tool_sync", "llm_sync", "llm_async")
MEMORY_CASES = ("workflow_sync", "llm_sync")
BASE_VARIANTS = ("bare", "floor", "ours", "ours_total")
# Where a peer that insists on a URL is pointed: a port on loopback that nothing listens on (the driver checks).
CLOSED_PORT = int(os.environ.get("AGENTKIT_BENCH_CLOSED_PORT", "9"))
CLOSED_URL = f"http://127.0.0.1:{CLOSED_PORT}"

# The LLM-like payload every side records: the request, the response model and id, and two token counts.
LLM = {"provider": "openai", "model": "gpt-4o", "response_id": "chatcmpl-1", "input_tokens": 120,
       "output_tokens": 40}


class CountingDiscard(SpanExporter):
    """An exporter that drops what it is given and counts it, so every side is shown to have exported."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def new_provider() -> tuple[TracerProvider, CountingDiscard]:
    """A TracerProvider exporting through a BatchSpanProcessor (defaults, as our init builds it) to a discard."""
    exporter = CountingDiscard()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


@dataclass
class PeerSetup:
    """What a runner hands over: its decorated functions per case, and how to flush and count its spans."""

    name: str
    packages: list[str]
    cases: dict[str, Callable[..., Any]]
    flush: Callable[[], Any]
    exported: Callable[[], int]
    how: dict[str, str]  # case -> the peer API used, in words
    config: list[str]  # how the peer was configured (exporter, phone-home, content capture)
    metrics_in_decorator: str  # what the peer's decorator does about metrics, from reading its code


# --- network guard -------------------------------------------------------------------------------------------
_network_attempts: list[str] = []
_LOOPBACK = ("127.", "::1", "localhost", "0:0:0:0:0:0:0:1")


def _is_loopback(host: Any) -> bool:
    return host is None or (isinstance(host, (str, bytes)) and (
        (host.decode() if isinstance(host, bytes) else host).startswith(_LOOPBACK)))


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        addr = args[1]
        host = addr[0] if isinstance(addr, tuple) else None  # AF_UNIX paths are local
        if not _is_loopback(host):
            _network_attempts.append(f"connect {addr!r}")
            raise ConnectionRefusedError("benchmark: network access is switched off")
        _network_attempts.append(f"connect (loopback) {addr!r}")
    elif event == "socket.getaddrinfo":
        if not _is_loopback(args[0]):
            _network_attempts.append(f"getaddrinfo {args[0]!r}")
            raise socket.gaierror("benchmark: network access is switched off")


def guard_network() -> None:
    """Refuse (and record) any connection or name lookup that would leave the machine."""
    sys.addaudithook(_audit)


# --- baselines: bare, hand-written OTel, ours -------------------------------------------------------------
class Baselines:
    """The bare functions, the hand-written floor and our decorated functions, each on its own provider."""

    def __init__(self) -> None:
        import otel_agentkit as agentkit
        from otel_agentkit import semconv as sc
        from otel_agentkit.instrument import telemetry as _state

        self.sc = sc
        self.floor_tp, self.floor_exporter = new_provider()
        self.ours_tp, self.ours_exporter = new_provider()
        floor_mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
        ours_mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.home = tempfile.mkdtemp(prefix="agentkit-bench-peers-")
        agentkit.init(tracer_provider=self.ours_tp, meter_provider=ours_mp, exporters="none",
                      metric_exporters="none", home=self.home, service_name="bench")
        self.tel = _state.get_active()
        self.agentkit = agentkit

        tracer = self.floor_tp.get_tracer("handwritten")
        meter = floor_mp.get_meter("handwritten")
        h_dur = meter.create_histogram(sc.METRIC_INFERENCE_DURATION, unit="s",
                                       explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS))
        h_tok = meter.create_histogram(sc.METRIC_LEGACY_TOKEN_USAGE, unit="{token}",
                                       explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS))
        metric_attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: LLM["provider"],
                        sc.GEN_AI_REQUEST_MODEL: LLM["model"]}
        wf_name = sc.span_name(sc.OP_INVOKE_WORKFLOW, "noop")
        wf_attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "noop"}
        tool_name = sc.span_name(sc.OP_EXECUTE_TOOL, "noop")
        tool_attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: "noop",
                      sc.GEN_AI_TOOL_TYPE: "function"}
        internal, client = trace.SpanKind.INTERNAL, trace.SpanKind.CLIENT
        llm_name = sc.span_name(sc.OP_CHAT, LLM["model"])

        def bare() -> None:
            return None

        async def abare() -> None:
            return None

        # The floor: what a careful hand-written OTel integration does for the same span.
        def floor_wf() -> None:
            with tracer.start_as_current_span(wf_name, kind=internal, attributes=wf_attrs):
                return None

        async def afloor_wf() -> None:
            with tracer.start_as_current_span(wf_name, kind=internal, attributes=wf_attrs):
                return None

        def floor_tool() -> None:
            with tracer.start_as_current_span(tool_name, kind=internal, attributes=tool_attrs):
                return None

        def floor_llm() -> None:  # as bench/overhead.py: the span, its attributes and two histogram records
            t0 = time.perf_counter()
            with tracer.start_as_current_span(llm_name, kind=client) as span:
                span.set_attribute(sc.GEN_AI_OPERATION_NAME, sc.OP_CHAT)
                span.set_attribute(sc.GEN_AI_PROVIDER_NAME, LLM["provider"])
                span.set_attribute(sc.GEN_AI_REQUEST_MODEL, LLM["model"])
                span.set_attribute(sc.GEN_AI_RESPONSE_MODEL, LLM["model"])
                span.set_attribute(sc.GEN_AI_RESPONSE_ID, LLM["response_id"])
                span.set_attribute(sc.GEN_AI_USAGE_INPUT_TOKENS, LLM["input_tokens"])
                span.set_attribute(sc.GEN_AI_USAGE_OUTPUT_TOKENS, LLM["output_tokens"])
                span.set_attribute(sc.AGENTKIT_COST_USD, 0.0007)
            h_dur.record(time.perf_counter() - t0, metric_attrs)
            h_tok.record(LLM["input_tokens"], metric_attrs)

        async def afloor_llm() -> None:
            floor_llm()

        # Ours, as a user writes it.
        @agentkit.workflow(name="noop")
        def ours_wf() -> None:
            return None

        @agentkit.workflow(name="noop")
        async def aours_wf() -> None:
            return None

        @agentkit.tool(name="noop")
        def ours_tool() -> None:
            return None

        @agentkit.llm(provider=LLM["provider"], model=LLM["model"])
        def ours_llm() -> None:
            agentkit.current_call().record(input_tokens=LLM["input_tokens"], output_tokens=LLM["output_tokens"],
                                           response_model=LLM["model"], response_id=LLM["response_id"])

        @agentkit.llm(provider=LLM["provider"], model=LLM["model"])
        async def aours_llm() -> None:
            agentkit.current_call().record(input_tokens=LLM["input_tokens"], output_tokens=LLM["output_tokens"],
                                           response_model=LLM["model"], response_id=LLM["response_id"])

        self.cases: dict[str, dict[str, Callable[..., Any]]] = {
            "workflow_sync": {"bare": bare, "floor": floor_wf, "ours": ours_wf},
            "workflow_async": {"bare": abare, "floor": afloor_wf, "ours": aours_wf},
            "tool_sync": {"bare": bare, "floor": floor_tool, "ours": ours_tool},
            "llm_sync": {"bare": bare, "floor": floor_llm, "ours": ours_llm},
            "llm_async": {"bare": abare, "floor": afloor_llm, "ours": aours_llm},
        }

    def hold_metrics_worker(self) -> None:
        """Keep our metrics worker idle during timed loops: it is drained between them (see bench/overhead.py)."""
        self.tel.metrics.interval_s = 3600.0
        self.tel.metrics.wake_at = 1 << 30

    def drain(self) -> None:
        self.tel.metrics.drain()

    def flush(self) -> None:
        self.drain()
        self.floor_tp.force_flush()
        self.ours_tp.force_flush()

    def shutdown(self) -> None:
        self.agentkit.shutdown()
        self.floor_tp.shutdown()
        self.ours_tp.shutdown()


# --- timing ----------------------------------------------------------------------------------------------
def _time_sync(fn: Callable[[], Any], calls: int, after: Callable[[], Any] | None) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    if after is not None:
        after()
    return (time.perf_counter() - t0) / calls * 1e6


async def _time_async(fn: Callable[[], Any], calls: int, after: Callable[[], Any] | None) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        await fn()
    if after is not None:
        after()
    return (time.perf_counter() - t0) / calls * 1e6


def measure_case(case: str, variants: dict[str, Callable[..., Any]], base: Baselines, peer: PeerSetup,
                 loop: asyncio.AbstractEventLoop, calls: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Interleaved rounds: in each, every variant runs ``calls`` calls (order rotated round to round), with all
    pipelines flushed and our metric queue drained, untimed, before each block."""
    is_async = case.endswith("_async")
    names = list(variants)
    after = {name: (base.drain if name == "ours_total" else None) for name in names}

    def settle() -> None:
        base.flush()
        peer.flush()
        gc.collect()

    def run(name: str, n: int) -> float:
        fn = variants[name]
        if is_async:
            return loop.run_until_complete(_time_async(fn, n, after[name]))
        return _time_sync(fn, n, after[name])

    for name in names:
        run(name, warmup)
    runs: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order.reverse()
        for name in order:
            settle()
            runs[name].append(run(name, calls))
    settle()
    return summarize(runs)


def summarize(runs: dict[str, list[float]]) -> dict[str, Any]:
    """Medians, and per-round (paired) ratios against the floor and overheads over the bare function."""
    rounds = len(runs["floor"])
    out: dict[str, Any] = {"runs_us": runs, "median_us": {k: statistics.median(v) for k, v in runs.items()}}
    ratio, overhead, overhead_ratio = {}, {}, {}
    for name, values in runs.items():
        ratio[name] = [values[i] / runs["floor"][i] for i in range(rounds)]
        overhead[name] = [values[i] - runs["bare"][i] for i in range(rounds)]
        overhead_ratio[name] = [(values[i] - runs["bare"][i]) / (runs["floor"][i] - runs["bare"][i])
                                for i in range(rounds)]
    out["ratio_vs_floor"] = {k: statistics.median(v) for k, v in ratio.items()}
    out["overhead_us"] = {k: statistics.median(v) for k, v in overhead.items()}
    out["overhead_ratio_vs_floor"] = {k: statistics.median(v) for k, v in overhead_ratio.items()}
    if "peer" in runs:
        out["ours_vs_peer"] = {k: statistics.median([runs[k][i] / runs["peer"][i] for i in range(rounds)])
                               for k in ("ours", "ours_total") if k in runs}
    return out


# --- memory ----------------------------------------------------------------------------------------------
def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_memory(fn: Callable[[], Any], calls: int, base: Baselines, peer: PeerSetup) -> dict[str, Any]:
    """RSS growth over two batches of ``calls`` decorated calls, exporters discarding, every pipeline flushed
    and gc run before each reading. Our metrics worker runs as in production (not held). The first batch
    shows the high-water mark of whatever backs up (kept by the allocator after it is freed); the second
    reuses that memory, so growth there is what stays per batch (a leak would show)."""
    for _ in range(2000):
        fn()
    queue = base.tel.metrics._queue  # our pending metric tuples: how far the worker falls behind
    readings = []
    peak = 0

    def settle() -> None:
        for _ in range(2):
            base.flush()
            peer.flush()
            time.sleep(0.1)  # let worker threads finish what the flush handed them
        gc.collect()
        readings.append(rss_kib())

    settle()
    for _ in range(2):
        done = 0
        while done < calls:
            n = min(10_000, calls - done)
            for _ in range(n):
                fn()
            done += n
            peak = max(peak, len(queue))
        settle()
    return {"calls": calls, "rss_kib": readings, "growth_kib": readings[1] - readings[0],
            "growth_second_kib": readings[2] - readings[1], "ours_pending_peak": peak}


def profile_ours(calls: int = 20_000) -> dict[str, Any]:
    """cProfile of our llm_sync call on the caller's thread and of the metric drain it leaves, split into our
    code, the OpenTelemetry SDK/API and the rest (by file), with the top functions by own time."""
    import cProfile
    import pstats

    base = Baselines()
    base.hold_metrics_worker()
    fn = base.cases["llm_sync"]["ours"]
    for _ in range(2000):
        fn()
    base.flush()
    out: dict[str, Any] = {"calls": calls}
    for part, work in (("caller", lambda: [fn() for _ in range(calls)]), ("drain", base.drain)):
        prof = cProfile.Profile()
        prof.enable()
        work()
        prof.disable()
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        shares = {"otel_agentkit": 0.0, "opentelemetry": 0.0, "other": 0.0}
        rows = []
        for (filename, line, func), (_cc, ncalls, tottime, _cum, _callers) in stats.items():
            where = ("otel_agentkit" if "otel_agentkit" in filename else
                     "opentelemetry" if "opentelemetry" in filename else "other")
            shares[where] += tottime
            label = "/".join(filename.split(os.sep)[-2:])
            rows.append((tottime, ncalls, f"{label}:{line}({func})"))
        total = sum(shares.values())
        rows.sort(reverse=True)
        out[part] = {"total_s": total, "share": {k: v / total for k, v in shares.items()},
                     "top": [{"function": f, "calls": n, "tottime_s": t} for t, n, f in rows[:10]]}
    base.shutdown()
    return out


# --- the run ---------------------------------------------------------------------------------------------
def versions(packages: list[str]) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ["otel-agentkit", "opentelemetry-api", "opentelemetry-sdk", "wrapt", *packages]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}"}


def main(build: Callable[[], PeerSetup]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("time", "memory", "profile"), default="time")
    ap.add_argument("--calls", type=int, default=4000, help="calls per timed block")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--memory-case", default="workflow_sync")
    ap.add_argument("--memory-variant", default="peer")
    ap.add_argument("--memory-calls", type=int, default=100_000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    guard_network()
    if a.mode == "profile":
        with open(a.out, "w") as f:
            json.dump({"profile": profile_ours(), "versions": versions([]), "machine": machine(),
                       "network_attempts": list(_network_attempts)}, f, indent=1)
        return
    peer = build()  # the peer first: it may set the global providers; ours and the floor get their own
    base = Baselines()
    result: dict[str, Any] = {"peer": peer.name, "mode": a.mode, "versions": versions(peer.packages),
                              "machine": machine(), "how": peer.how, "config": peer.config,
                              "metrics_in_decorator": peer.metrics_in_decorator}
    if a.mode == "time":
        base.hold_metrics_worker()
        loop = asyncio.new_event_loop()
        result["params"] = {"calls": a.calls, "rounds": a.rounds, "warmup": a.warmup}
        result["cases"] = {}
        calls_made: dict[str, int] = {"floor": 0, "ours": 0, "peer": 0}
        for case in a.cases.split(","):
            variants = dict(base.cases[case])
            variants["ours_total"] = variants["ours"]
            variants["peer"] = peer.cases[case]
            result["cases"][case] = measure_case(case, variants, base, peer, loop, a.calls, a.rounds, a.warmup)
            per_variant = a.warmup + a.calls * a.rounds
            calls_made["floor"] += per_variant
            calls_made["ours"] += 2 * per_variant  # ours and ours_total
            calls_made["peer"] += per_variant
        loop.close()
        base.flush()
        peer.flush()
        result["spans"] = {"made": calls_made, "exported": {
            "floor": base.floor_exporter.count, "ours": base.ours_exporter.count, "peer": peer.exported()}}
    else:
        variants = dict(base.cases[a.memory_case])
        variants["peer"] = peer.cases[a.memory_case]
        if a.memory_variant not in variants:
            raise SystemExit(f"--memory-variant: unknown variant {a.memory_variant!r}")
        fn = variants[a.memory_variant]
        result["memory"] = {"case": a.memory_case, "variant": a.memory_variant,
                            **measure_memory(fn, a.memory_calls, base, peer)}
    result["network_attempts"] = list(_network_attempts)
    result["threads"] = sorted(t.name for t in threading.enumerate())
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    base.shutdown()


def _no_peer() -> PeerSetup:
    raise SystemExit("harness.py runs alone only with --mode profile; use a run_<peer>.py for the rest")


if __name__ == "__main__":
    main(_no_peer)
