"""init() wiring of the export pipeline: jsonl + otlp behind one fan-out, spool while the endpoint is
down, `agentkit replay` (a real CLI process) delivering the spool, flush reaching through the fan-out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import otel_agentkit as agentkit
from otel_agentkit.export.reader import iter_spans
from tests.support.procs import free_port


def _produce(n: int) -> None:
    @agentkit.tool
    def step(i):
        return i

    with agentkit.workflow(name="pipeline"):
        for i in range(n):
            step(i)


def test_outage_spools_and_replay_cli_delivers(tmp_path, monkeypatch, otlp_sink):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    dead = free_port()  # nothing listens here: connection refused
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    home = tmp_path / "home"
    agentkit.init(exporters=["jsonl", "otlp"], metric_exporters="none", home=home,
                  tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    try:
        _produce(20)
        agentkit.flush(timeout=15)  # through the fan-out: jsonl written, otlp failed -> spooled
    finally:
        agentkit.shutdown()
    local = list(iter_spans(home / "telemetry"))
    assert len(local) == 21  # the JSONL backend was not held up by the dead one
    assert any((home / "spool").rglob("*")), "the failed OTLP batch should be on disk"
    assert otlp_sink.spans() == []

    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_sink.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL":
           "http/protobuf"}
    proc = subprocess.run([sys.executable, "-m", "otel_agentkit.cli", "--home", str(home), "replay", "--json"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["remaining_batches"] == 0 and result["sent_items"] == 21
    assert sorted(otlp_sink.spans()) == sorted(s.span_id for s in local)  # the same spans, once each


def test_replay_with_nothing_spooled_and_bad_flag(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "otel_agentkit.cli", "--home", str(tmp_path), *a],
                                    capture_output=True, text=True, timeout=60)
    ok = run("replay")
    assert ok.returncode == 0 and "sent 0 batch(es)" in ok.stdout
    bad = run("replay", "--max-batches", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "agentkit: error: --max-batches=0: expected a whole number above 0"
