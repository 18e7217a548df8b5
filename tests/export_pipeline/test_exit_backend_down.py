"""Exit with the OTLP backend down: a one-call script (a real process) ends within about a second of its
work, prints one line (how many batches were spooled, where, why) instead of one per retry, and the spool
holds the batch; the next run, with a real collector (rotel) up, replays it.

Two ways down, both real sockets on 127.0.0.1: a closed port (connection refused) and a server that
accepts and never answers (``hang_server``). The time bound is a generous behaviour check (before, the
exit took ~15 s with the port closed, ~25 s with the hanging server, and printed ~10 lines).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit.export.reader import iter_spans
from otel_agentkit.export.spool import Spool, spool_dir
from tests.support.procs import free_port, wait_until

SCRIPT = textwrap.dedent("""
    import otel_agentkit as agentkit
    agentkit.init(exporters=["jsonl", "otlp"])
    with agentkit.llm(provider="openai", model="gpt-4o") as call:
        call.record(input_tokens=3, output_tokens=1)
""")


def _run(home: Path, protocol: str, endpoint: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTKIT_"))}
    env.update(AGENTKIT_HOME=str(home), OTEL_EXPORTER_OTLP_PROTOCOL=protocol, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    return time.monotonic() - started, proc


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("down", ["closed_port", "never_answers"])
def test_exit_with_the_backend_down_is_quick_says_one_line_and_the_next_run_replays(
        protocol: str, down: str, tmp_path: Path, hang_server: Any, rotel: Any, otlp_sink: Any) -> None:
    home = tmp_path / "home"
    port = free_port() if down == "closed_port" else hang_server.port
    elapsed, proc = _run(home, protocol, f"http://127.0.0.1:{port}")

    assert proc.returncode == 0, proc.stderr
    assert elapsed < 4.0, f"exit took {elapsed:.1f}s with the backend down"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "unreachable" in lines[0] and f"127.0.0.1:{port}" in lines[0] and str(home / "spool") in lines[0]
    traces = Spool(spool_dir(home, "traces"), "traces")
    assert len(traces.pending()) == 1  # the one batch of the one call, spooled once
    assert not list(traces.dir.glob(".tmp-*"))  # written whole before the process ended
    first_run = {s.span_id for s in iter_spans(home / "telemetry")}
    assert len(first_run) == 1

    endpoint = rotel.grpc_endpoint if protocol == "grpc" else rotel.http_endpoint
    _, later = _run(home, protocol, endpoint)  # the collector is up now
    assert later.returncode == 0 and later.stderr == "", later.stderr
    every_span = {s.span_id for s in iter_spans(home / "telemetry")}
    assert len(every_span) == 2
    wait_until(lambda: set(otlp_sink.spans()) == every_span, 30, "both runs' spans downstream of rotel")
    assert sorted(otlp_sink.spans()) == sorted(every_span)  # the replayed one once, the live one once
    assert traces.pending() == []
