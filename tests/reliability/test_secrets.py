"""Secrets: the example flows run with planted API keys and bearer tokens, content capture on (SPAN_AND_EVENT),
exporting to JSONL and through rotel to the receiver; no planted secret may appear in anything the SDK wrote or
sent.

Scanned: every file under the data directory (telemetry, spool, alert history, salt), every byte the receiver
got from the collector, and the flow's stdout and stderr (the SDK's log lines). Not scanned: the agent state
store (``agents.db``), which holds the payloads the application itself asked it to keep. The collector's own
credential goes in OTEL_EXPORTER_OTLP_HEADERS, the channel meant for it, and must not appear in the data either.

A marker planted next to the secrets must appear in the output: it shows the content was captured, so that
finding no secret means something. A leak is a bug in the SDK: the assertion lists where each secret showed up.
"""

from __future__ import annotations

import json
import os
import secrets as rnd
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit.export.reader import ReadStats, iter_spans
from tests.support.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
NOT_SCANNED = {"agents.db", "agents.db-wal", "agents.db-shm", "agents.db-journal"}


def _token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def planted() -> dict[str, str]:
    """Fresh secrets per run, each in the shape of the real thing."""
    return {
        "openai": "sk-proj-" + _token(48),
        "anthropic": "sk-ant-api03-" + _token(40),
        "bearer": _token(36),
        "jwt": f"eyJ{_token(20)}.eyJ{_token(30)}.{_token(24)}",
        "github": "ghp_" + _token(36),
        "aws": "AKIA" + _token(16, string.ascii_uppercase + string.digits),
        "password": "Pw" + _token(14),
        "opaque": _token(32, string.ascii_lowercase + string.digits),  # a vendor key with no telltale prefix
        "collector": _token(40),  # the collector's credential, sent as an OTLP header
    }


def _hits(data: bytes, found_in: str, secrets: dict[str, str]) -> list[str]:
    return [f"{kind} in {found_in}" for kind, value in secrets.items() if value.encode() in data]


@pytest.mark.parametrize("flow", ["support", "openai", "multi-agent"])
def test_no_planted_secret_reaches_any_output(flow: str, collector: Any, tree_sink: Any, tmp_path: Path,
                                              figures: Any) -> None:
    home = tmp_path / "home"
    secrets = planted()
    marker = "marker-" + _token(12)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGENTKIT_HOME": str(home),
           "RELIABILITY_SECRETS": json.dumps(secrets), "RELIABILITY_MARKER": marker,
           "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "5",
           "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {secrets['collector']}",
           "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT"}
    proc = subprocess.run([sys.executable, "-m", "tests.reliability.secret_flows", flow], capture_output=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    stats = ReadStats()
    written = {s.span_id for s in iter_spans(home / "telemetry", stats=stats)}
    wait_until(lambda: written <= set(tree_sink.spans()), 30, "the flow's spans at the receiver")

    leaks: list[str] = []
    scanned_files = scanned_bytes = 0
    output = b""
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name in NOT_SCANNED:
            continue
        scanned_files += 1
        scanned_bytes += len(data)
        output += data
        leaks += _hits(data, str(path.relative_to(home)), secrets)
    received = b"".join(tree_sink.bodies())
    leaks += _hits(received, "what the collector forwarded", secrets)
    leaks += _hits(proc.stdout, "stdout", secrets) + _hits(proc.stderr, "stderr (SDK log)", secrets)
    figures.record(secrets_planted=len(secrets), spans_produced=len(written), spans_exported=len(written &
                   set(tree_sink.spans())), files_scanned=scanned_files, bytes_scanned=scanned_bytes + len(received)
                   + len(proc.stdout) + len(proc.stderr), leaks=sorted(set(leaks)))
    assert written and stats.corrupt == 0
    assert marker.encode() in output and marker.encode() in received, "content capture did not reach the output"
    assert sorted(set(leaks)) == [], "planted secrets found: " + "; ".join(sorted(set(leaks)))
