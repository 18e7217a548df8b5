"""The deprecated MetricsCollector: it warns, and its answers are the analytics API's."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit import analytics
from otel_agentkit.analytics.output import to_jsonable
from otel_agentkit.compat import MetricsCollector

from .telemetry import CALLS, PRICES


def test_warns_and_delegates(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTKIT_PRICING_FILE", str(dataset["pricing"]))
    with pytest.warns(DeprecationWarning, match="MetricsCollector is deprecated.*otel_agentkit.analytics"):
        collector = MetricsCollector(home=dataset["home"])
    api = analytics.usage_stats(dataset["dir"], analytics.window(days=7), by="model")
    got, want = collector.get_stats(days=7, group_by="model"), json.loads(json.dumps(to_jsonable(api)))
    assert (got["total"], got["groups"], got["by"]) == (want["total"], want["groups"], "model")
    recent = collector.get_recent_calls(limit=2)
    assert [r["span_id"] for r in recent] == [
        r.span_id for r in analytics.recent_calls(dataset["dir"], analytics.window(), 2).calls]
    assert collector.get_cost_savings()["total"]["calls"] == len(CALLS)
    assert collector.get_cache_stats()["total"]["cache_read_tokens"] == 2200
    assert collector.compare_periods(1, 3)["period2"]["stats"]["calls"] == len(CALLS)
    assert collector.export(tmp_path / "out.csv") == len(CALLS)


def test_record_call_goes_through_the_sdk(tmp_path):
    with pytest.warns(DeprecationWarning):
        collector = MetricsCollector(path=tmp_path / "telemetry")
    assert agentkit.init(exporters=["jsonl"], metric_exporters="none", home=tmp_path, pricing=PRICES,
                         tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    try:
        collector.record_call(provider="acme", model="small-model", input_tokens=100, output_tokens=10,
                              duration_s=0.5, tier="cheap")
    finally:
        agentkit.shutdown()
    [call] = collector.get_recent_calls()
    assert (call["model"], call["tier"], call["input_tokens"]) == ("small-model", "cheap", 100)
    assert call["duration_s"] == pytest.approx(0.5, abs=1e-3)
    assert dt.datetime.fromisoformat(call["time"]) <= dt.datetime.now(dt.timezone.utc)
