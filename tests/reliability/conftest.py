"""Fixtures of the reliability suite: figures recorded per test (rendered into docs/reliability.md), a real
collector (rotel) in front of an OTLP receiver that keeps the span tree, and a clean SDK state per test.

The receiver and rotel are the export pipeline tests' own (tests/export_pipeline/conftest.py), reused by
import; :class:`TreeSink` only adds what these tests need on top: parent ids, trace ids and the raw bytes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

import otel_agentkit as agentkit
from otel_agentkit import diagnostics
from tests.export_pipeline.conftest import OtlpSink, Rotel
from tests.reliability.results import ENV_DOC, Results, default_path, write_doc
from tests.support.procs import require_binary

_RESULTS = pytest.StashKey[Results]()
_SECTION_OF = {"test_soak": "soak", "test_properties": "properties", "test_processes": "processes",
               "test_pool_workers": "processes", "test_secrets": "secrets", "test_ledger": "ledger"}
# Variables that would change what these tests measure if the developer's shell had them set.
_ENV_PREFIXES = ("OTEL_EXPORTER_OTLP_", "OTEL_BSP_", "OTEL_BLRP_", "OTEL_METRIC_EXPORT_")
_ENV_NAMES = ("AGENTKIT_SPOOL_MAX_BYTES", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "OTEL_TRACES_EXPORTER",
              "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER", "AGENTKIT_EXPORTERS", "OTEL_SDK_DISABLED",
              "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "AGENTKIT_CONTENT_MAX_LENGTH")


# --- figures ---------------------------------------------------------------------------------------------------
def _results(config: pytest.Config) -> Results:
    results = config.stash.get(_RESULTS, None)
    if results is None:
        results = config.stash[_RESULTS] = Results(Path("reliability-results.json"))
    return results


def _section(item: pytest.Item) -> str:
    return _SECTION_OF.get(Path(str(item.fspath)).stem, "other")


@pytest.fixture(scope="session", autouse=True)
def _reliability_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Results:
    results = _results(request.config)
    results.path = default_path(tmp_path_factory.getbasetemp())
    return results


class Figures:
    """What one test measured; ``add`` counts inside loops (hypothesis examples), ``record`` sets values."""

    def __init__(self, results: Results, test_id: str, section: str) -> None:
        self._results = results
        self._id = test_id
        self._section = section
        self._lock = threading.Lock()
        self.values: dict[str, Any] = {}

    def record(self, **values: Any) -> None:
        with self._lock:
            self.values.update(values)
        self._results.record(self._id, self._section, **values)

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.values[key] = self.values.get(key, 0) + n
            value = self.values[key]
        self._results.record(self._id, self._section, **{key: value})


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    item = request.node
    return Figures(_results(request.config), item.nodeid, _section(item))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or report.failed:
        results = _results(item.config)
        results.outcome(item.nodeid, _section(item),
                        report.outcome if report.when == "call" else f"{report.when} {report.outcome}")
        crash = getattr(report.longrepr, "reprcrash", None)
        if report.failed and crash is not None:  # the first line of the assertion, for the document
            results.record(item.nodeid, _section(item), failure=crash.message.strip().splitlines()[0][:300])


def pytest_sessionfinish(session: pytest.Session) -> None:
    results = session.config.stash.get(_RESULTS, None)
    if results is None or not results.tests:
        return
    path = results.save()
    doc_path = os.environ.get(ENV_DOC)
    if doc_path:
        write_doc(results.document(), Path(doc_path))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"reliability figures: {path}" + (f"; rendered into {doc_path}" if doc_path else ""))


# --- clean state ------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _clean_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Counts start at zero; the SDK is off before and after; settings come only from what the test sets."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name)
    agentkit.shutdown()
    diagnostics.reset()
    yield
    agentkit.shutdown()
    diagnostics.reset()


# --- a collector and a receiver that keeps the tree ------------------------------------------------------------
@dataclass(frozen=True)
class SeenSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str


class TreeSink(OtlpSink):
    """The export pipeline tests' receiver, also keeping trace and parent ids, and (on request) raw bodies."""

    def __init__(self, keep_raw: bool = False) -> None:
        self.seen: list[SeenSpan] = []
        self.raw: list[bytes] = []
        self.raw_traces: list[bytes] = []
        self.keep_raw = keep_raw
        super().__init__()

    def record(self, path: str, body: bytes) -> None:
        super().record(path, body)
        found = []
        if path.endswith("/v1/traces"):
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

            for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        found.append(SeenSpan(s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex() or None,
                                              s.name))
        with self.lock:
            self.seen.extend(found)
            if self.keep_raw:
                self.raw.append(body)
                if path.endswith("/v1/traces"):
                    self.raw_traces.append(body)

    def tree(self) -> list[SeenSpan]:
        with self.lock:
            return list(self.seen)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return list(self.raw)

    def trace_bodies(self) -> list[bytes]:
        with self.lock:
            return list(self.raw_traces)


@pytest.fixture
def tree_sink() -> Iterator[TreeSink]:
    sink = TreeSink(keep_raw=True)
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def collector(tmp_path: Path, tree_sink: TreeSink) -> Iterator[Rotel]:
    """rotel on free loopback ports, forwarding to ``tree_sink``; a missing rotel fails the test."""
    proc = Rotel(require_binary("rotel-agent"), tmp_path / "rotel", tree_sink.endpoint)
    (tmp_path / "rotel").mkdir()
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
