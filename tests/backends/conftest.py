"""Real backends for the end-to-end tests: Arize Phoenix (tracing), Prometheus (metrics), rotel (a gateway).

Phoenix runs from its own virtual environment (scripts/provision/phoenix.sh puts it at .venvs/phoenix, or
$AGENTKIT_PHOENIX_VENV) with an in-memory SQLite database; it takes tens of seconds to start, so one server
serves the whole session and each test writes to a project of its own (the resource attribute
``openinference.project.name``). Prometheus (Debian's server binary) and rotel start per test: they are up
in a second. Every server binds 127.0.0.1 on a free port and is stopped by PID; a missing one fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from otel_agentkit import diagnostics
from tests.support.procs import Server, free_port, port_open, require_binary, start_server, wait_until

REPO = Path(__file__).resolve().parents[2]
PHOENIX_VENV_ENV = "AGENTKIT_PHOENIX_VENV"
PHOENIX_PROJECT_ATTR = "openinference.project.name"  # Phoenix files spans under this resource attribute
PHOENIX_START_TIMEOUT_S = 180  # cold start on a busy 2-core machine; usually under 20 s
_CLEARED_ENV_PREFIXES = ("OTEL_", "PHOENIX_", "AGENTKIT_EXPORTERS")


def _get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _clean_env() -> dict[str, str]:
    """The environment for a server we start: none of the test process's OTel/Phoenix settings leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_ENV_PREFIXES)}


# --- Phoenix -----------------------------------------------------------------------------------------------

def phoenix_binary() -> Path:
    venv = Path(os.environ.get(PHOENIX_VENV_ENV) or REPO / ".venvs" / "phoenix")
    binary = venv / "bin" / "phoenix"
    assert binary.exists(), (f"Arize Phoenix is not installed at {venv}; scripts/provision/phoenix.sh installs it "
                             f"(a missing part is a failure)")
    return binary


@dataclass
class Phoenix:
    server: Server
    http_port: int
    grpc_port: int

    @property
    def http_endpoint(self) -> str:
        """OTLP/HTTP (``/v1/traces``) and the REST API share this port."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def spans(self, project: str) -> list[dict[str, Any]]:
        """Every span of ``project`` from the REST API (``GET /v1/projects/{name}/spans``); [] before the
        project exists (Phoenix creates it with the first span)."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            url = (f"{self.http_endpoint}/v1/projects/{urllib.parse.quote(project, safe='')}/spans?"
                   f"{urllib.parse.urlencode(query)}")
            try:
                page = _get_json(url)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return []
                raise
            out.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def wait_for_spans(self, project: str, count: int, timeout: float = 60) -> dict[str, dict[str, Any]]:
        """Span name -> span once ``count`` spans of ``project`` are stored (names are unique in our traces)."""
        got: list[dict[str, Any]] = []

        def arrived() -> bool:
            got[:] = self.spans(project)
            return len(got) >= count

        try:
            wait_until(arrived, timeout, f"{count} spans in Phoenix project {project}", interval=0.25)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; got {[s['name'] for s in got]}; Phoenix log:\n"
                                 f"{self.server.log()[-3000:]}") from None
        return {s["name"]: s for s in got}


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """One Phoenix server for the session (in-memory database, telemetry and outside requests off)."""
    binary = phoenix_binary()
    workdir = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = free_port(), free_port()
    env = _clean_env()
    env.update({
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_SQL_DATABASE_URL": "sqlite:///:memory:",
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",  # no fonts or downloads from the internet
    })
    server = start_server(
        [str(binary), "serve"], workdir / "phoenix.log",
        ready=lambda: _status(f"http://127.0.0.1:{http_port}/healthz") == 200 and port_open(grpc_port),
        timeout=PHOENIX_START_TIMEOUT_S, env=env, what="phoenix serve")
    try:
        yield Phoenix(server, http_port, grpc_port)
    finally:
        server.stop(timeout=20)


@pytest.fixture
def project() -> str:
    """A Phoenix project of this test's own."""
    return f"agentkit-e2e-{uuid.uuid4().hex[:12]}"


# --- rotel (the gateway) -----------------------------------------------------------------------------------

@contextlib.contextmanager
def rotel_forwarding_to(downstream_grpc: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """A rotel-agent receiving OTLP (grpc, http) on free ports and forwarding over grpc to
    ``downstream_grpc``; yields its (grpc, http) endpoints."""
    binary = require_binary("rotel-agent")
    grpc_port, http_port = free_port(), free_port()
    cmd = [
        binary, "start",
        "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
        "--otlp-http-endpoint", f"127.0.0.1:{http_port}",
        "--exporter", "otlp",
        "--otlp-exporter-protocol", "grpc",
        "--otlp-exporter-endpoint", downstream_grpc,
        "--batch-timeout", "50ms",
        "--pid-file", str(workdir / "rotel.pid"),
        "--log-file", str(workdir / "rotel.log"),
    ]
    server = start_server(cmd, workdir / "rotel.out", ready=lambda: port_open(grpc_port) and port_open(http_port),
                          timeout=30, env=_clean_env(), what="rotel-agent")
    try:
        yield f"http://127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}"
    finally:
        server.stop()


# --- Prometheus --------------------------------------------------------------------------------------------

@dataclass
class Prometheus:
    server: Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result vector of an instant query (``GET /api/v1/query``); an AssertionError for a bad query."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            body = _get_json(url)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"query {expr!r} failed: {exc.code} {exc.read()[:500]!r}") from None
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` (None while it has no sample)."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, f"{expr!r} gave {len(result)} series: {result}"
        return float(result[0]["value"][1])


def write_prometheus_config(path: Path, targets: list[str], interval: str = "1s") -> Path:
    path.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: agentkit\n"
        f"    scrape_interval: {interval}\n"
        f"    scrape_timeout: {interval}\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(targets)}\n")
    return path


@contextlib.contextmanager
def prometheus_scraping(targets: list[str], workdir: Path) -> Iterator[Prometheus]:
    """A Prometheus server scraping ``targets`` every second, with its own data directory."""
    binary = require_binary("prometheus")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_prometheus_config(workdir / "prometheus.yml", targets)
    cmd = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    server = start_server(cmd, workdir / "prometheus.log",
                          ready=lambda: _status(f"http://127.0.0.1:{port}/-/ready") == 200,
                          timeout=60, env=_clean_env(), what="prometheus")
    try:
        yield Prometheus(server, port)
    finally:
        server.stop()


# --- isolation ---------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Exporter settings come only from what the test sets; SDK counts start at zero."""
    for name in list(os.environ):
        if name.startswith(("OTEL_EXPORTER_", "OTEL_TRACES_", "OTEL_METRICS_", "OTEL_LOGS_")) or \
                name in ("AGENTKIT_EXPORTERS", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
            monkeypatch.delenv(name)
    diagnostics.reset()
    yield
    diagnostics.reset()
