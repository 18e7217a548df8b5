"""Real parts for the export pipeline tests: rotel (a real OTLP collector) and the receivers behind it.

How arrival is counted: rotel forwards everything it receives (``--exporter otlp`` over http/protobuf) to
:class:`OtlpSink`, a small OTLP/HTTP receiver in the test process that decodes each request with the
official protobuf classes and records span ids, metric names and log bodies. That gives exact counts by
span id (rotel's debug log only gives text to scrape, and is written asynchronously).
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from otel_agentkit import diagnostics
from tests.support.procs import Server, free_port, port_open, require_binary, start_server, wait_until


class OtlpSink:
    """An OTLP/HTTP receiver that records what arrives: span ids, metric names, log bodies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.span_ids: list[str] = []
        self.span_names: list[str] = []
        self.metric_names: list[str] = []
        self.log_bodies: list[str] = []
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                encoding = (self.headers.get("content-encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                try:
                    sink.record(self.path, body)
                except Exception:
                    self.send_response(400)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="otlp-sink", daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, path: str, body: bytes) -> None:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        with self.lock:
            self.requests += 1
            if path.endswith("/v1/traces"):
                req = ExportTraceServiceRequest.FromString(body)
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            self.span_ids.append(span.span_id.hex())
                            self.span_names.append(span.name)
            elif path.endswith("/v1/metrics"):
                req = ExportMetricsServiceRequest.FromString(body)
                for rm in req.resource_metrics:
                    for sm in rm.scope_metrics:
                        self.metric_names.extend(m.name for m in sm.metrics)
            elif path.endswith("/v1/logs"):
                req = ExportLogsServiceRequest.FromString(body)
                for rl in req.resource_logs:
                    for sl in rl.scope_logs:
                        self.log_bodies.extend(r.body.string_value for r in sl.log_records)
            else:
                raise ValueError(path)

    def spans(self) -> list[str]:
        with self.lock:
            return list(self.span_ids)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Rotel:
    """A rotel-agent process forwarding to an :class:`OtlpSink`; kill() and start() keep the same ports."""

    binary: str
    workdir: Path
    downstream: str
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    server: Server | None = None
    starts: int = 0

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        self.starts += 1
        cmd = [
            self.binary, "start",
            "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc_port}",
            "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
            "--exporter", "otlp",
            "--otlp-exporter-protocol", "http",
            "--otlp-exporter-endpoint", self.downstream,
            "--batch-timeout", "50ms",
            "--pid-file", str(self.workdir / f"rotel-{self.starts}.pid"),
            "--log-file", str(self.workdir / f"rotel-{self.starts}.log"),
        ]
        self.server = start_server(
            cmd, self.workdir / f"rotel-{self.starts}.out",
            ready=lambda: port_open(self.grpc_port) and port_open(self.http_port), timeout=30, what="rotel-agent")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        assert self.server is not None
        self.server.kill()
        wait_until(lambda: not port_open(self.http_port) and not port_open(self.grpc_port), 10, "rotel gone")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def otlp_sink() -> Iterator[OtlpSink]:
    sink = OtlpSink()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def rotel(tmp_path: Path, otlp_sink: OtlpSink) -> Iterator[Rotel]:
    """A running rotel collector on free loopback ports, forwarding to ``otlp_sink``."""
    proc = Rotel(require_binary("rotel-agent"), tmp_path, otlp_sink.endpoint)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


class HangServer:
    """A TCP server that accepts connections and reads requests but never answers (a hung backend)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hang-server", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(conn)  # kept open, never answered

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def hang_server() -> Iterator[HangServer]:
    server = HangServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def _fresh_diagnostics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Counts start at zero per test; OTLP settings come only from what the test sets."""
    for name in list(os.environ):
        if name.startswith("OTEL_EXPORTER_OTLP_") or name == "AGENTKIT_SPOOL_MAX_BYTES":
            monkeypatch.delenv(name)
    diagnostics.reset()
    yield
    diagnostics.reset()
