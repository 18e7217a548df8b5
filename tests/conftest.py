"""Shared fixtures: an initialised SDK wired to in-memory exporters and readers of the real OTel SDK."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentkit as agentkit
from otel_agentkit import diagnostics
from tests.support.otel import in_memory_providers

# Tests never read or write the developer's real data directory.
os.environ.setdefault("AGENTKIT_HOME", "/tmp/agentkit-tests-home")


@dataclass
class Harness:
    spans_exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs_exporter: InMemoryLogRecordExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def metrics(self) -> dict[str, Any]:
        """Metric name -> Metric, after draining the recorder's queue (what a collection does)."""
        agentkit.flush()
        data = self.reader.get_metrics_data()
        out: dict[str, Any] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out[metric.name] = metric
        return out

    def points(self, name: str) -> list[Any]:
        metric = self.metrics().get(name)
        return list(metric.data.data_points) if metric is not None else []

    def logs(self) -> list[Any]:
        return list(self.logs_exporter.get_finished_logs())


@pytest.fixture
def make_sdk(tmp_path) -> Iterator[Callable[..., Harness]]:
    """Init the SDK with explicit providers (no global state); keyword arguments go to init()."""
    def make(**kwargs: Any) -> Harness:
        p = in_memory_providers()
        kwargs.setdefault("exporters", "none")
        kwargs.setdefault("metric_exporters", "none")
        kwargs.setdefault("home", tmp_path / "home")
        assert agentkit.init(tracer_provider=p.tracer_provider, meter_provider=p.meter_provider,
                             logger_provider=p.logger_provider, **kwargs)
        return Harness(p.spans, p.reader, p.logs)

    diagnostics.reset()
    yield make
    agentkit.shutdown()


@pytest.fixture
def sdk(make_sdk) -> Harness:
    return make_sdk()
