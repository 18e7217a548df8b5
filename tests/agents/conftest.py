"""Fixtures for the multi-agent tests: the SAME tests run against SQLite and a real redis-server.

Redis is the Debian redis-server binary (scripts/provision/redis.sh), started once per session on a free
127.0.0.1 port without persistence and stopped by PID; each test starts from an empty database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit.agents.store import open_store
from otel_agentkit.agents.telemetry import Telemetry
from tests.support.procs import Server, free_port, port_open, require_binary, start_server

ROOT = Path(__file__).resolve().parents[2]
STORES = ["sqlite", "redis"]


def start_redis(port: int, log_dir: Path) -> Server:
    binary = require_binary("redis-server")
    cmd = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
           "--dir", str(log_dir)]
    return start_server(cmd, log_dir / f"redis-{port}.log", lambda: port_open(port), timeout=20,
                        what=f"redis-server on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    log_dir = tmp_path_factory.mktemp("redis")
    port = free_port()
    server = start_redis(port, log_dir)
    try:
        yield server, port
    finally:
        server.stop()


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/agents.db"
    _, port = request.getfixturevalue("redis_server")
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@dataclass
class Captured:
    """In-memory OTel pipelines for one test, and a Telemetry bound to them."""

    telemetry: Telemetry
    spans: Any
    metrics: Any
    logs: Any
    tracer: Any

    def finished_spans(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def log_records(self) -> list[Any]:
        return [item.log_record for item in self.logs.get_finished_logs()]

    def points(self, name: str) -> list[Any]:
        """Data points of metric ``name`` (all scopes, all resource metrics)."""
        data = self.metrics.get_metrics_data()
        found = []
        for rm in (data.resource_metrics if data else []):
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def captured() -> Iterator[Captured]:
    from tests.support.otel import in_memory_providers

    p = in_memory_providers()
    tel = Telemetry(tracer_provider=p.tracer_provider, meter_provider=p.meter_provider,
                    logger_provider=p.logger_provider)
    try:
        yield Captured(tel, p.spans, p.reader, p.logs, p.tracer_provider.get_tracer("test"))
    finally:
        p.shutdown()


def run_cli(*args: str, home: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m otel_agentkit.cli.main ARGS`` in a real subprocess."""
    env = dict(os.environ)
    env.pop("AGENTKIT_AGENT_STORE", None)
    cmd = [sys.executable, "-m", "otel_agentkit.cli.main", *args]
    if home is not None:
        cmd += ["--home", str(home)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def spawn(*args: str) -> subprocess.Popen:
    """A worker process (tests/agents/worker.py) with its output captured."""
    env = dict(os.environ)
    env.pop("AGENTKIT_AGENT_STORE", None)
    return subprocess.Popen([sys.executable, "-m", "tests.agents.worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
