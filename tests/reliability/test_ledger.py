"""The ledger: what the application did equals what ``agentkit usage stats --json`` reports, exactly.

A seeded workload makes LLM calls every way the SDK offers (a decorated function returning an OpenAI-shaped
response, a decorated Anthropic stream, a context manager with ``record()``, an async decorated function, a
backfilled ``record_llm_call`` from yesterday, calls that fail after their usage is known) from threads and
asyncio tasks, and keeps its own ground truth per model: calls, input/output/cache tokens, and cost computed
here from the bundled pricing table's per-million prices (not through the SDK's Pricing class).

The data goes to the local JSONL files and over OTLP through a real collector (rotel) to a receiver, while
the collector is SIGKILLed and restarted: the outage's batches are spooled and replayed. The receiver's
requests are then written out as a Collector file exporter would (OTLP/JSON lines, hex ids), and the CLI is
run as a subprocess over the local folder, over the collector's folder, and over both at once (every span is
then in two places: it must be counted once). Each must equal the ground truth: counts and tokens exactly,
cost to the nano-dollar the report rounds to.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit import diagnostics
from otel_agentkit.export.spool import Spool, spool_dir
from tests.support.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261202
PRICES = json.loads((ROOT / "otel_agentkit" / "instrument" / "pricing.json").read_text())["models"]
JOBS_PER_PHASE = (120, 120, 120)  # up, collector down (spooled), collector back (replayed)


class Truth:
    """What the application knows it recorded, per model."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_model: dict[str, dict[str, float]] = defaultdict(
            lambda: {"calls": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0,
                     "cost_usd": 0.0})

    def add(self, model: str, input_tokens: int, output_tokens: int, cache_read: int, failed: bool = False) -> None:
        """``input_tokens`` includes the cached ones, as gen_ai.usage.input_tokens does."""
        p = PRICES[model]
        cache_price = p["cache_read"] if p["cache_read"] is not None else p["input"]
        cost = ((input_tokens - cache_read) * p["input"] + cache_read * cache_price + output_tokens * p["output"]) / 1e6
        with self.lock:
            row = self.by_model[model]
            row["calls"] += 1
            row["errors"] += int(failed)
            row["input_tokens"] += input_tokens
            row["output_tokens"] += output_tokens
            row["cache_read_tokens"] += cache_read
            row["cost_usd"] += cost

    def total(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for row in self.by_model.values():
            for k, v in row.items():
                out[k] += v
        return out


TRUTH = Truth()


class Planned(Exception):
    """The application's own failure after the model answered."""


@dataclass
class Job:
    n: int
    rng: random.Random

    def tokens(self) -> tuple[int, int, int]:
        inp = self.rng.randint(10, 5000)
        return inp, self.rng.randint(1, 800), self.rng.choice((0, 0, inp // 2))


# --- the application: every way to record a call -----------------------------------------------------------------
@agentkit.llm(provider="openai", model="gpt-4o-mini")
def ask_openai(inp: int, out: int, cached: int) -> dict[str, Any]:
    return {"id": "chatcmpl-ledger", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
                      "prompt_tokens_details": {"cached_tokens": cached}}}


@agentkit.llm(provider="anthropic", model="claude-haiku-4-5", stream=True)
def stream_anthropic(inp: int, out: int, cached: int):
    # Anthropic counts input without the cached part; the convention's input_tokens includes it.
    yield {"type": "message_start", "message": {"id": "msg_ledger", "type": "message", "role": "assistant",
                                                "model": "claude-haiku-4-5", "content": [],
                                                "usage": {"input_tokens": inp - cached, "output_tokens": 1,
                                                          "cache_read_input_tokens": cached}}}
    yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}
    yield {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": out}}
    yield {"type": "message_stop"}


@agentkit.llm(provider="anthropic", model="claude-sonnet-4-5")
async def ask_anthropic_async(inp: int, out: int) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"id": "msg_ledger_async", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": inp, "output_tokens": out}}


def sync_job(job: Job) -> None:
    inp, out, cached = job.tokens()
    ask_openai(inp, out, cached)
    TRUTH.add("gpt-4o-mini", inp, out, cached)

    inp, out, cached = job.tokens()
    for _ in stream_anthropic(inp, out, cached):
        pass
    TRUTH.add("claude-haiku-4-5", inp, out, cached)

    inp, out, cached = job.tokens()
    fail = job.rng.random() < 0.15
    try:
        with agentkit.llm(provider="openai", model="gpt-4o") as call:
            call.record(input_tokens=inp, output_tokens=out, cache_read_tokens=cached, finish_reasons=["stop"])
            if fail:
                raise Planned(job.n)
    except Planned:
        pass
    TRUTH.add("gpt-4o", inp, out, cached, failed=fail)

    if job.n % 10 == 0:  # a call that happened yesterday, recorded now
        inp, out, _ = job.tokens()
        end = time.time() - 86_400
        agentkit.record_llm_call(provider="openai", model="gpt-4o-mini", start_time=end - 1.5, end_time=end,
                                 input_tokens=inp, output_tokens=out)
        TRUTH.add("gpt-4o-mini", inp, out, 0)


async def async_job(job: Job) -> None:
    inp, out, _ = job.tokens()
    await ask_anthropic_async(inp, out)
    TRUTH.add("claude-sonnet-4-5", inp, out, 0)


def run_jobs(jobs: list[Job]) -> None:
    """Half the jobs on three threads, the other half as asyncio tasks on a fourth."""
    sync_jobs, async_jobs = jobs[::2], jobs[1::2]
    threads = [threading.Thread(target=lambda part=sync_jobs[i::3]: [sync_job(j) for j in part]) for i in range(3)]

    async def main() -> None:
        await asyncio.gather(*(async_job(j) for j in async_jobs))

    threads.append(threading.Thread(target=lambda: asyncio.run(main())))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


# --- the collector's folder, as its file exporter writes it ----------------------------------------------------
def _hex_ids(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _hex_ids(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hex_ids(v) for v in obj]
    return obj


def write_collector_file(bodies: list[bytes], path: Path) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for body in bodies:
            message = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body))
            f.write(json.dumps(_hex_ids(message), separators=(",", ":")) + "\n")


def usage_stats(*paths: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "otel_agentkit.cli.main", "usage", "stats", "--by", "model", "--json"]
    for p in paths:
        cmd += ["--path", str(p)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_balances(report: dict[str, Any], where: str) -> None:
    got = {g["key"]: g for g in report["groups"]}
    assert sorted(got) == sorted(TRUTH.by_model), where
    for model, want in TRUTH.by_model.items():
        row = got[model]
        for key in ("calls", "errors", "input_tokens", "output_tokens", "cache_read_tokens"):
            assert row[key] == want[key], f"{where}: {model} {key}: report {row[key]}, app {want[key]}"
        assert row["cost_usd"] == pytest.approx(want["cost_usd"], abs=1e-8), f"{where}: {model} cost"
    total = TRUTH.total()
    for key in ("calls", "input_tokens", "output_tokens"):
        assert report["total"][key] == total[key], f"{where}: total {key}"
    assert report["total"]["cost_usd"] == pytest.approx(total["cost_usd"], abs=1e-7), f"{where}: total cost"


def test_the_usage_report_equals_what_the_application_did(
        collector: Any, tree_sink: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Any) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.http_endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128")
    home = tmp_path / "home"
    spool = Spool(spool_dir(home, "traces"), "traces")
    rng = random.Random(SEED)
    jobs = [Job(n, random.Random(rng.random())) for n in range(sum(JOBS_PER_PHASE))]
    phases = [jobs[:JOBS_PER_PHASE[0]], jobs[JOBS_PER_PHASE[0]:-JOBS_PER_PHASE[2]], jobs[-JOBS_PER_PHASE[2]:]]

    assert agentkit.init(service_name="ledger", exporters=["otlp", "jsonl"], home=home,
                         tracer_provider=TracerProvider(), meter_provider=MeterProvider(),
                         logger_provider=LoggerProvider())
    run_jobs(phases[0])
    assert agentkit.flush(10)
    wait_until(lambda: len(tree_sink.tree()) >= TRUTH.total()["calls"], 60, "phase 1 at the receiver")
    collector.kill()
    run_jobs(phases[1])
    agentkit.flush(10)
    wait_until(lambda: spool.pending(), 60, "the outage's batches to be spooled")
    spooled = len(spool.pending())
    collector.start()
    run_jobs(phases[2])
    agentkit.flush(10)
    wait_until(lambda: not spool.pending(), 90, "the spool to be replayed")
    wait_until(lambda: len({s.span_id for s in tree_sink.tree()}) >= TRUTH.total()["calls"], 60,
               "every call at the receiver")
    agentkit.shutdown()

    collector_dir = tmp_path / "collector"
    write_collector_file(tree_sink.trace_bodies(), collector_dir / "traces.jsonl")
    local = usage_stats(home / "telemetry")
    remote = usage_stats(collector_dir)
    both = usage_stats(home / "telemetry", collector_dir)
    figures.record(calls=TRUTH.total()["calls"], models=len(TRUTH.by_model), batches_spooled=spooled,
                   spans_at_receiver=len(tree_sink.tree()),
                   unique_spans_at_receiver=len({s.span_id for s in tree_sink.tree()}),
                   drops=diagnostics.drop_counts())
    assert_balances(local, "local JSONL")
    assert_balances(remote, "collector files")
    assert_balances(both, "local and collector files together")
    assert spooled >= 1 and diagnostics.drop_counts() == {}
