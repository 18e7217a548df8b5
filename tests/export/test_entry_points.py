"""Plain `opentelemetry-instrument` (the distro's configurator, no agentkit.init) finds our JSONL exporter
under the standard entry-point name, next to the official OTLP exporter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from otel_agentkit.export.reader import iter_spans
from tests.support.procs import free_port, require_binary


def test_opentelemetry_instrument_with_otlp_and_agentkit_jsonl(tmp_path):
    instrument = require_binary("opentelemetry-instrument")
    env = {**os.environ, "AGENTKIT_HOME": str(tmp_path), "OTEL_TRACES_EXPORTER": "otlp,agentkit_jsonl",
           "OTEL_METRICS_EXPORTER": "agentkit_jsonl", "OTEL_LOGS_EXPORTER": "none",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # down: must not matter here
           "OTEL_EXPORTER_OTLP_TIMEOUT": "1", "OTEL_SERVICE_NAME": "plain-instrumented"}
    code = ("from opentelemetry import trace, metrics\n"
            "with trace.get_tracer('app').start_as_current_span('hello'):\n"
            "    metrics.get_meter('app').create_counter('hits').add(1)\n")
    proc = subprocess.run([instrument, sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    spans = list(iter_spans(Path(tmp_path) / "telemetry"))
    assert [s.name for s in spans] == ["hello"]
    assert spans[0].resource["service.name"] == "plain-instrumented"
    assert any(p.name.startswith("metrics-") for p in (Path(tmp_path) / "telemetry").iterdir())
