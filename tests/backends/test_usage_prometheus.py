"""``agentkit usage stats --prometheus URL``: the figures read from a real Prometheus server that scraped the
SDK's endpoint equal the figures the same command reads from the SDK's own span files.

One app process (this one) runs ``agentkit.init`` with the jsonl span exporter and the Prometheus metric
endpoint; a real Prometheus server scrapes it every second. The workload has several models and providers
(a request model whose response model is a snapshot, and the snapshot requested directly, so that
agentkit.cost's response-model label has to be matched back to request models), a failing call, cache
tokens, a model without a price, two workflows and calls outside any. The command runs as the real CLI
(``python -m otel_agentkit.cli``) for both sources; calls, errors, tokens, cost and unpriced calls must be
equal, the latency percentiles in the same histogram bucket. A second batch after a chosen instant checks a
window that starts mid-stream: the series then hold the first batch's values, which must not be counted.

The error cases run against real local servers that are not Prometheus (an HTML page, JSON of another
shape, a redirect, a raw TCP service, one that never answers) and against Prometheus under a wrong path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.alerts.promrules import prometheus_name
from otel_agentkit.export.prometheus import ENV_HOST, ENV_PORT
from tests.backends.conftest import Prometheus, prometheus_scraping
from tests.support.procs import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
CALLS = prometheus_name(sc.METRIC_INFERENCE_DURATION, sc.UNIT_SECONDS, "histogram") + "_count"
COST = prometheus_name(sc.METRIC_COST, sc.UNIT_USD, "counter")
EXACT_FIELDS = ("key", "calls", "errors", "error_rate", "input_tokens", "output_tokens", "cache_read_tokens",
                "cache_write_tokens", "reasoning_tokens", "total_tokens", "cost_usd", "unpriced_calls",
                "cache_hit_rate")


class Refused(Exception):
    """The provider's error, raised by one call."""


# --- the app -----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def app_with_files_and_metrics(port: int, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """agentkit.init writing spans to <home>/telemetry (jsonl) and serving metrics on 127.0.0.1:``port``;
    providers of the test's own, so nothing an earlier test recorded is on the endpoint."""
    monkeypatch.setenv(ENV_HOST, "127.0.0.1")
    monkeypatch.setenv(ENV_PORT, str(port))
    resource = Resource.create({"service.name": "usage-prometheus"})
    assert agentkit.init(exporters="jsonl", metric_exporters=["prometheus"], home=home,
                         tracer_provider=TracerProvider(resource=resource),
                         meter_provider=MeterProvider(resource=resource))
    try:
        yield
    finally:
        agentkit.shutdown()


def llm(provider: str, model: str, response_model: str | None) -> Callable[..., None]:
    """An instrumented LLM call taking ``seconds`` and reporting the given usage."""

    @agentkit.llm(provider=provider, model=model)
    def call(seconds: float, input_tokens: int | None = None, output_tokens: int | None = None,
             cache_read: int | None = None, cache_write: int | None = None, fail: bool = False) -> None:
        time.sleep(seconds)
        if fail:
            raise Refused("overloaded")
        agentkit.current_call().record(response_model=response_model, input_tokens=input_tokens,
                                       output_tokens=output_tokens, cache_read_tokens=cache_read,
                                       cache_write_tokens=cache_write)

    return call


# Sleeps sit mid-bucket (buckets 0.01, 0.02, 0.04, 0.08, 0.16, 0.32 s ...), so that a span's and a metric's
# measure of one call fall in the same bucket.
mini = llm(sc.PROVIDER_OPENAI, "gpt-4o-mini", "gpt-4o-mini-2024-07-18")
haiku = llm(sc.PROVIDER_ANTHROPIC, "claude-3-5-haiku-latest", "claude-3-5-haiku-20241022")
gpt4o = llm(sc.PROVIDER_OPENAI, "gpt-4o", "gpt-4o-2024-08-06")
gpt4o_snapshot = llm(sc.PROVIDER_OPENAI, "gpt-4o-2024-08-06", "gpt-4o-2024-08-06")
house = llm("house", "house-model", None)  # not in the pricing table


@agentkit.agent(name="triager")
def triage() -> None:
    mini(0.03, 1000, 100)
    mini(0.06, 2000, 100)
    haiku(0.24, 3000, 200, cache_read=1000, cache_write=500)
    haiku(0.03, 1500, 50)


@agentkit.workflow(name="support")
def support() -> None:
    triage()
    mini(0.12, 4000, 100)


@agentkit.workflow(name="digest")
def digest() -> None:
    gpt4o(0.06, 500, 40)
    gpt4o(0.03, 500, 40)
    with contextlib.suppress(Refused):
        gpt4o(0.06, fail=True)
    gpt4o_snapshot(0.12, 800, 80)
    house(0.03, 100, 10)


def first_batch() -> None:
    support()
    digest()
    mini(0.03, 700, 70)  # outside any workflow


def second_batch() -> None:
    """An existing series (gpt-4o-mini, house-model) and a new one (claude-sonnet-4-5, born in the window)."""
    mini(0.06, 900, 90)
    llm(sc.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", None)(0.12, 2000, 300)
    house(0.03, 50, 5)
    with contextlib.suppress(Refused):
        mini(0.03, fail=True)


# --- the command -------------------------------------------------------------------------------------------

def agentkit_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTKIT_PRICING_FILE" and not k.startswith("OTEL_")}
    return subprocess.run([sys.executable, "-m", "otel_agentkit.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def stats_json(*args: str) -> dict[str, Any]:
    proc = agentkit_cli("usage", "stats", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def from_files(home: Path, *args: str) -> dict[str, Any]:
    return stats_json("--home", str(home), *args)


def from_prometheus(prom: Prometheus, *args: str) -> dict[str, Any]:
    return stats_json("--prometheus", prom.url, *args)


def bucket(seconds: float | None) -> int:
    """The index of the duration histogram bucket holding ``seconds``: (bounds[i-1], bounds[i]]."""
    assert seconds is not None
    return next((i for i, bound in enumerate(sc.DURATION_BUCKETS) if seconds <= bound), len(sc.DURATION_BUCKETS))


def assert_same_figures(files: dict[str, Any], prom: dict[str, Any]) -> None:
    """Every count, token sum, cost and rate equal; p50/p95 in the same bucket (they are bucket estimates)."""
    assert prom["source"] == "prometheus" and prom["by"] == files["by"]
    pairs = [(files["total"], prom["total"])]
    assert [g["key"] for g in prom["groups"]] == [g["key"] for g in files["groups"]]
    pairs += list(zip(files["groups"], prom["groups"]))
    for f, p in pairs:
        assert {k: p[k] for k in EXACT_FIELDS} == {k: f[k] for k in EXACT_FIELDS}, f["key"]
        for q in ("latency_p50_s", "latency_p95_s"):
            assert bucket(p[q]) == bucket(f[q]), (f["key"], q, f[q], p[q])
        assert p["estimated"] is False


def wait_until_scraped(prom: Prometheus, files: dict[str, Any], since: str = "") -> None:
    """Until Prometheus holds every call and cent the files hold (metrics are drained at each scrape)."""
    total = files["total"]
    calls_expr, cost_expr = f"sum({CALLS})", f"sum({COST})"
    seen: list[Any] = []

    def arrived() -> bool:
        seen[:] = [prom.value(calls_expr), prom.value(cost_expr)]
        return seen[0] == total["calls"] and seen[1] is not None and abs(seen[1] - total["cost_usd"]) < 1e-12

    try:
        wait_until(arrived, 60, f"Prometheus to scrape {total['calls']} calls{since}", interval=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: calls, cost = {seen} (want {total['calls']}, {total['cost_usd']})") from None


# --- the tests ---------------------------------------------------------------------------------------------

def test_prometheus_figures_equal_the_span_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, home = free_port(), tmp_path / "home"
    with app_with_files_and_metrics(port, home, monkeypatch), \
            prometheus_scraping([f"127.0.0.1:{port}"], tmp_path / "prometheus") as prom:
        wait_until(lambda: prom.value('up{job="agentkit"}') == 1.0, 60, "Prometheus to scrape the app")
        first_batch()
        assert agentkit.flush()
        files = from_files(home, "--days", "1", "--by", "model")
        assert files["total"]["calls"] == 11 and files["total"]["errors"] == 1
        assert files["total"]["unpriced_calls"] == 1 and files["total"]["cache_read_tokens"] == 1000
        assert len(files["groups"]) == 5  # gpt-4o-mini, claude-3-5-haiku-latest, gpt-4o, its snapshot, house
        wait_until_scraped(prom, files)

        by_model = from_prometheus(prom, "--days", "1", "--by", "model")
        assert_same_figures(files, by_model)
        assert by_model["read"]["split_costs"] == ["gpt-4o-2024-08-06"]  # two request models, one cost model
        all_time = from_prometheus(prom, "--by", "model")  # no window: as far back as the server keeps samples
        assert_same_figures(from_files(home, "--by", "model"), all_time)
        assert all_time["read"]["open_start"] == "the server's retention"  # 15d by default, and a fifth more
        assert all_time["read"]["range_s"] == 15 * 86400 * 1.2
        for by in ("provider", None):
            extra = ("--by", by) if by else ()
            assert_same_figures(from_files(home, "--days", "1", *extra), from_prometheus(prom, "--days", "1", *extra))

        # By workflow only agentkit.cost has the label: the cost per group, the rest in the total.
        files_wf = from_files(home, "--days", "1", "--by", "workflow")
        prom_wf = from_prometheus(prom, "--days", "1", "--by", "workflow")
        assert {g["key"]: g["cost_usd"] for g in prom_wf["groups"]} == \
            {g["key"]: g["cost_usd"] for g in files_wf["groups"] if g["cost_usd"]}
        assert all(g["calls"] is None and g["latency_p50_s"] is None for g in prom_wf["groups"])
        assert prom_wf["read"]["cost_only_groups"] is True
        assert {k: prom_wf["total"][k] for k in EXACT_FIELDS if k != "key"} == \
            {k: files_wf["total"][k] for k in EXACT_FIELDS if k != "key"}

        # The table: the same renderer, saying where the figures came from and what is estimated.
        table = agentkit_cli("usage", "stats", "--prometheus", prom.url, "--by", "model")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].startswith("Usage, ")
        assert "from Prometheus; p50/p95 ESTIMATED from histogram buckets" in lines[0]
        assert lines[1].split()[:4] == ["model", "calls", "errors", "error"]
        assert any(line.startswith("gpt-4o-mini ") and " 4 " in line for line in lines)
        assert f"source: Prometheus at {prom.url}" in table.stdout

        # A window that starts after the first batch: the series then hold its values, which do not count.
        time.sleep(0.5)
        since = dt.datetime.now(dt.timezone.utc)
        wait_until(lambda: prom.value(f"max(timestamp({CALLS}))") > since.timestamp() + 1, 30,
                   "two scrapes after the window's start")
        second_batch()
        assert agentkit.flush()
        window = ("--since", since.isoformat())
        files_late = from_files(home, *window, "--by", "model")
        assert files_late["total"]["calls"] == 4 and {g["key"] for g in files_late["groups"]} == \
            {"gpt-4o-mini", "claude-sonnet-4-5", "house-model"}
        wait_until_scraped(prom, from_files(home, "--days", "1"), " after the second batch")
        prom_late = from_prometheus(prom, *window, "--by", "model")
        assert_same_figures(files_late, prom_late)
        assert prom_late["period"] == files_late["period"]
        assert_same_figures(from_files(home, "--days", "1", "--by", "provider"),
                            from_prometheus(prom, "--days", "1", "--by", "provider"))

        # Prometheus itself, asked under a path it does not serve: one line, exit 2.
        wrong = agentkit_cli("usage", "stats", "--prometheus", prom.url + "/grafana")
        assert_one_error_line(wrong, "did not answer as a Prometheus server (HTTP 404")
        tier = agentkit_cli("usage", "stats", "--prometheus", prom.url, "--by", "tier")
        assert_one_error_line(tier, "the metrics carry no tier label")


def restarted_batch() -> None:
    """After a restart: less per series than the first life (so that each series drops), and new series."""
    mini(0.06, 500, 50)  # the first life's call outside any workflow had 700 / 70 tokens
    llm(sc.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", None)(0.12, 2000, 300)
    with contextlib.suppress(Refused):
        mini(0.03, fail=True)


def test_an_app_restarted_inside_the_window_counts_both_lives(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The app stops and starts again on the same endpoint: its series start again from 0 and Prometheus
    sees them drop. Both lives count, each one's first value included (increase() would miss those)."""
    port, home = free_port(), tmp_path / "home"
    window = ("--since", (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat())
    with prometheus_scraping([f"127.0.0.1:{port}"], tmp_path / "prometheus") as prom:
        with app_with_files_and_metrics(port, home, monkeypatch):
            wait_until(lambda: prom.value('up{job="agentkit"}') == 1.0, 60, "Prometheus to scrape the app")
            first_batch()
            assert agentkit.flush()
            wait_until_scraped(prom, from_files(home, *window), " before the restart")
        wait_until(lambda: prom.value('up{job="agentkit"}') == 0.0, 30, "a failed scrape while the app is down")
        between = dt.datetime.now(dt.timezone.utc).isoformat()
        with app_with_files_and_metrics(port, home, monkeypatch):
            restarted_batch()
            assert agentkit.flush()
            wait_until_scraped(prom, from_files(home, "--since", between), " after the restart")  # the new lives
        files = from_files(home, *window, "--by", "model")
        assert files["total"]["calls"] == 14
        prom_stats = from_prometheus(prom, *window, "--by", "model")
    assert_same_figures(files, prom_stats)
    # summed a second at a time (a window of a minute or so): each life's samples fall in steps of their own
    assert prom_stats["read"]["restarted_series"] >= 1 and prom_stats["read"]["step_s"] == 1.0


# --- errors: one line, exit 2 ------------------------------------------------------------------------------

def assert_one_error_line(proc: subprocess.CompletedProcess[str], fragment: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("agentkit: error: "), proc.stderr
    assert fragment in proc.stderr, proc.stderr
    return proc.stderr


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's ``answer``: (status, content type, body, extra headers)."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        status, ctype, body, headers = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_answering(status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.answer = (status, ctype, body, headers or {})  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def tcp_service(greeting: bytes | None) -> Iterator[str]:
    """A TCP port that sends ``greeting`` and closes (not HTTP), or, for None, accepts and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            if greeting is None:
                held.append(conn)
            else:
                _read_request(conn)  # then answer, so that the client's request is not cut off mid-send
                conn.sendall(greeting)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def _read_request(conn: socket.socket) -> None:
    """An HTTP request's head and body (by its Content-Length), within a few seconds."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


NOT_PROMETHEUS = [  # (status, content type, body, headers, fragment of the message)
    (200, "text/html", b"<html><body>Grafana login</body></html>", {},
     "did not answer as a Prometheus server (HTTP 200, and the answer to /api/v1/query is not JSON)"),
    (200, "application/json", b'{"hello": "world"}', {}, "JSON without a query status"),
    (200, "application/json", b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', {},
     "the result is not an instant vector"),
    (200, "application/json", b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": 1}]}}',
     {}, "a sample is not labels and a [time, value] pair"),
    (400, "application/json", b'{"status": "error", "errorType": "bad_data", "error": "parse error\\n\\u001b[31m"}',
     {}, "refused the query: parse error\\n\\x1b[31m"),
    (302, "text/html", b"", {"Location": "http://127.0.0.1:1/login"}, "redirected the query to"),
]


@pytest.mark.parametrize("status, ctype, body, headers, fragment", NOT_PROMETHEUS,
                         ids=["html", "other-json", "matrix", "bad-sample", "query-error", "redirect"])
def test_an_answer_that_is_not_prometheus_is_one_error_line(status: int, ctype: str, body: bytes,
                                                            headers: dict[str, str], fragment: str) -> None:
    with http_answering(status, ctype, body, headers) as url:
        assert_one_error_line(agentkit_cli("usage", "stats", "--prometheus", url, "--days", "1"), fragment)
        proc = agentkit_cli("usage", "stats", "--prometheus", url, "--json")
        assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
        message = json.loads(proc.stderr)["error"]
        assert url in message and "\x1b" not in proc.stderr


def test_a_bad_url_or_server_is_one_error_line() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    cases = [
        (["--prometheus", "ftp://127.0.0.1/"], "expected an http:// or https:// URL"),
        (["--prometheus", "http://user:secret@127.0.0.1:9090"], "credentials in the URL are not supported"),
        (["--prometheus", "http://127.0.0.1:9090/\x1b[2J\r\nok"], "invalid --prometheus='http://127.0.0.1:9090/\\x1b"),
        (["--prometheus", "http://127.0.0.1:99999"], "invalid --prometheus="),
        (["--prometheus", "http://127.0.0.1:9090/?x=1"], "without ?query"),
        (["--prometheus", dead], f"cannot reach Prometheus at {dead}"),
        (["--prometheus", dead, "--path", "/tmp"], "--path and --prometheus are two sources"),
        (["--prometheus", dead, "--timeout", "0"], "invalid --timeout=0.0"),
        (["--timeout", "3"], "invalid --timeout=3.0: applies only with --prometheus"),
    ]
    for args, fragment in cases:
        line = assert_one_error_line(agentkit_cli("usage", "stats", *args), fragment)
        assert "secret" not in line
    with tcp_service(b"SSH-2.0-OpenSSH_9.2\r\n") as url:
        assert_one_error_line(agentkit_cli("usage", "stats", "--prometheus", url),
                              f"cannot read from Prometheus at {url}")
    with tcp_service(None) as url:
        started = time.monotonic()
        proc = agentkit_cli("usage", "stats", "--prometheus", url, "--timeout", "1")
        assert_one_error_line(proc, f"Prometheus at {url} did not answer within 1 s")
        assert time.monotonic() - started < 30
