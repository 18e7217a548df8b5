"""The alert engine inside the SDK pipeline: AlertSpanProcessor and AlertMetricReader on real providers."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from otel_agentkit import diagnostics, semconv as sc
from otel_agentkit.alerts.db import AlertStore
from otel_agentkit.alerts.netguard import Guard
from otel_agentkit.alerts.notify import Notifier
from otel_agentkit.alerts.processor import AlertMetricReader, AlertRuntime, AlertSpanProcessor
from otel_agentkit.alerts.rules import Channel, Rule, RuleError
from otel_agentkit.alerts.setup import setup_alerts
from otel_agentkit.config import ConfigError, Settings
from tests.support.procs import free_port

from .conftest import NOW, SpanMaker


class RecordingNotifier(Notifier):
    """The real notifier, noting which thread each firing ran on."""

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.threads: list[str] = []

    def fire(self, rule, value, now=None):  # noqa: ANN001, ANN201
        self.threads.append(threading.current_thread().name)
        return super().fire(rule, value, now)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "alerts.jsonl"


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def runtime_for(store: AlertStore, clock: Clock, **kw: object) -> tuple[AlertRuntime, RecordingNotifier]:
    notifier = RecordingNotifier(store, Guard(["127.0.0.1"]))
    rt = AlertRuntime(store, Guard(["127.0.0.1"]), interval=3600, clock=clock, notifier=notifier, **kw)  # type: ignore[arg-type]
    return rt, notifier


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    tp = TracerProvider()
    yield tp
    tp.shutdown()


def test_on_end_only_enqueues_and_evaluation_runs_on_the_worker(store: AlertStore, spans: SpanMaker, out: Path,
                                                                 provider: TracerProvider) -> None:
    store.add(Rule(metric="error_rate", threshold=50, name="errors", channels=(Channel("file", path=str(out)),)))
    rt, notifier = runtime_for(store, Clock())
    processor = AlertSpanProcessor(rt)
    span = spans.llm(end=NOW - 1, error=True)
    processor.on_end(span)
    assert list(rt.spans) == [span] and not lines(out)  # queued, nothing evaluated on this thread
    assert processor.force_flush()
    assert not rt.spans
    assert notifier.threads == ["agentkit-alerts"]
    (line,) = lines(out)
    assert (line["rule_name"], line["value"]) == ("errors", 100.0)
    processor.shutdown()


def test_fires_once_per_cooldown_and_records_history(store: AlertStore, spans: SpanMaker, out: Path) -> None:
    rule = store.add(Rule(metric="daily_cost", threshold=1, cooldown="10m", name="spend",
                          channels=(Channel("file", path=str(out)),)))
    clock = Clock()
    rt, _ = runtime_for(store, clock)
    processor = AlertSpanProcessor(rt)
    for i in range(3):
        processor.on_end(spans.llm(end=NOW - i, cost=0.5))
    processor.force_flush()
    processor.on_end(spans.llm(end=NOW, cost=5))
    clock.now = NOW + 300  # still cooling down
    processor.force_flush()
    assert len(lines(out)) == 1
    clock.now = NOW + 601
    processor.on_end(spans.llm(end=NOW + 600, cost=1))
    processor.force_flush()
    history = store.history(rule.id)
    assert [round(h.value, 6) for h in history] == [7.5, 1.5]
    assert all(h.delivered for h in history)
    assert history[0].deliveries[0]["target"] == f"file {out}"
    processor.shutdown()


def test_cooldown_survives_a_restart(tmp_path: Path, spans: SpanMaker, out: Path) -> None:
    AlertStore(tmp_path).add(Rule(metric="error_rate", threshold=10, name="errors",
                                  channels=(Channel("file", path=str(out)),)))
    clock = Clock()
    rt, _ = runtime_for(AlertStore(tmp_path), clock)
    AlertSpanProcessor(rt).on_end(spans.llm(end=NOW - 1, error=True))
    rt.force_flush()
    rt.shutdown()
    assert len(lines(out)) == 1
    # a new process: fresh runtime and store objects, the same data directory
    clock.now = NOW + 1800
    rt2, _ = runtime_for(AlertStore(tmp_path), clock)
    p2 = AlertSpanProcessor(rt2)
    p2.on_end(spans.llm(end=NOW + 1799, error=True))
    rt2.force_flush()
    assert len(lines(out)) == 1  # the cooldown from before the restart still holds
    assert rt2.last[0].breached
    clock.now = NOW + 3601
    p2.on_end(spans.llm(end=NOW + 3600, error=True))
    rt2.force_flush()
    assert len(lines(out)) == 2
    rt2.shutdown()


def test_rule_changes_are_picked_up_while_running(store: AlertStore, spans: SpanMaker, out: Path) -> None:
    rt, _ = runtime_for(store, Clock())
    assert rt.evaluator.rules == []
    rule = store.add(Rule(metric="error_rate", threshold=10, name="e", channels=(Channel("file", path=str(out)),)))
    rt.spans.append(spans.llm(end=NOW - 1, error=True))
    rt.force_flush()
    assert [r.name for r in rt.evaluator.rules] == ["e"] and len(lines(out)) == 1
    store.set_enabled(rule.id, False)
    rt.force_flush()
    assert rt.evaluator.rules == []
    rt.shutdown()


def test_failing_channel_is_recorded_and_evaluation_goes_on(store: AlertStore, spans: SpanMaker, out: Path) -> None:
    dead = Channel("webhook", url=f"http://127.0.0.1:{free_port()}/hook", retries=0)
    store.add(Rule(metric="error_rate", threshold=10, name="a", channels=(dead, Channel("file", path=str(out)))))
    store.add(Rule(metric="token_usage", threshold=1, name="b", channels=(Channel("file", path=str(out)),)))
    rt, _ = runtime_for(store, Clock())
    rt.submit_span(spans.llm(end=NOW - 1, error=True))
    rt.force_flush()
    by_rule = {h.rule_name: h for h in store.history()}
    assert set(by_rule) == {"a", "b"}
    assert [(d["channel"], d["delivered"]) for d in by_rule["a"].deliveries] == [("webhook", False), ("file", True)]
    assert "ConnectionRefusedError" in by_rule["a"].deliveries[0]["error"]
    assert len(lines(out)) == 2
    rt.shutdown()


def test_sdk_errors_are_contained(store: AlertStore, spans: SpanMaker, out: Path) -> None:
    store.add(Rule(metric="error_rate", threshold=10, name="e", channels=(Channel("file", path=str(out)),)))
    rt, _ = runtime_for(store, Clock())
    processor = AlertSpanProcessor(rt)
    diagnostics.reset()
    processor.on_end(object())  # type: ignore[arg-type]  # not a span: the worker must survive it
    processor.on_end(spans.llm(end=NOW - 1, error=True))
    assert processor.force_flush()
    assert diagnostics.error_counts() == {("alerts.span", "BadSpan"): 1}
    assert len(lines(out)) == 1
    processor.shutdown()


def test_user_exceptions_pass_through_unchanged(store: AlertStore, provider: TracerProvider) -> None:
    rt, _ = runtime_for(store, Clock())
    provider.add_span_processor(AlertSpanProcessor(rt))
    tracer = provider.get_tracer("app")
    boom = ValueError("user error")
    with pytest.raises(ValueError) as info:
        with tracer.start_as_current_span("chat gpt-4o", attributes={sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT}):
            raise boom
    assert info.value is boom
    assert len(rt.spans) == 1


def test_queue_is_bounded(store: AlertStore, spans: SpanMaker) -> None:
    rt, _ = runtime_for(store, Clock(), max_queue=5)
    processor = AlertSpanProcessor(rt)
    diagnostics.reset()
    span = spans.llm()
    for _ in range(8):
        processor.on_end(span)
    assert len(rt.spans) == 5 and diagnostics.drop_counts() == {"alerts.spans": 3}
    processor.shutdown()


def test_metric_reader_rules_over_metric_points(store: AlertStore, out: Path) -> None:
    sink = (Channel("file", path=str(out)),)
    store.add(Rule(metric=sc.METRIC_INFERENCE_DURATION, aggregation="p95", threshold=3, name="slow", channels=sink))
    store.add(Rule(metric=sc.METRIC_COST, aggregation="sum", threshold=6, name="spend", channels=sink,
                   filters={"model": "gpt-4o"}))
    rt = AlertRuntime(store, Guard(), interval=3600)
    reader = AlertMetricReader(rt, interval=3600)
    meters = MeterProvider(metric_readers=[reader])
    meter = meters.get_meter("app")
    duration = meter.create_histogram(sc.METRIC_INFERENCE_DURATION, unit="s",
                                      explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS))
    cost = meter.create_counter(sc.METRIC_COST, unit="USD")
    attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: "openai",
             sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}
    for _ in range(19):
        duration.record(0.5, attrs)
    cost.add(3, {sc.COST_ATTR_MODEL: "gpt-4o", sc.COST_ATTR_PROVIDER: "openai"})
    cost.add(100, {sc.COST_ATTR_MODEL: "other"})
    assert reader.force_flush()
    values = {r.rule.name: r.value for r in rt.last}
    assert values["spend"] == 3 and values["slow"] == pytest.approx(0.5, rel=0.05)
    assert not lines(out)
    duration.record(8.0, attrs)
    duration.record(9.0, attrs)
    cost.add(4, {sc.COST_ATTR_MODEL: "gpt-4o"})
    assert reader.force_flush()
    values = {r.rule.name: r.value for r in rt.last}
    assert values["spend"] == 7  # delta temporality: 3 + 4, not 3 + (3 + 4)
    assert values["slow"] > 3
    assert sorted(line["rule_name"] for line in lines(out)) == ["slow", "spend"]
    meters.shutdown()
    rt.shutdown()


def settings_for(home: Path) -> Settings:
    return Settings(home=home)


def test_setup_alerts_from_a_file(tmp_path: Path, spans: SpanMaker, provider: TracerProvider) -> None:
    out = tmp_path / "fired.jsonl"
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"- name: errors\n  metric: error_rate\n  threshold: 10\n  channels: ['file:{out}']\n")
    handle = setup_alerts(str(rules), settings_for(tmp_path), provider, None)
    assert handle is not None and handle.span_processor_attached
    assert [r.name for r in handle.rules] == ["errors"] and handle.rules[0].id == 1
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("chat gpt-4o", attributes={sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT}) as span:
        span.set_status(Status(StatusCode.ERROR))
    handle.force_flush()
    assert [x["rule_name"] for x in lines(out)] == ["errors"]
    handle.shutdown()
    # the same file again (a restart): same id, so the cooldown carries over
    again = setup_alerts(str(rules), settings_for(tmp_path), TracerProvider(), None)
    assert again is not None and again.rules[0].id == 1
    again.shutdown()


def test_setup_alerts_attaches_the_metric_reader(tmp_path: Path) -> None:
    out = tmp_path / "fired.jsonl"
    meters = MeterProvider()
    handle = setup_alerts([{"metric": sc.METRIC_COST, "aggregation": "sum", "threshold": 1, "name": "spend",
                            "channels": [f"file:{out}"]}], settings_for(tmp_path), TracerProvider(), meters)
    assert handle is not None and handle.metric_reader_attached
    meters.get_meter("app").create_counter(sc.METRIC_COST, unit="USD").add(2.5, {sc.COST_ATTR_MODEL: "gpt-4o"})
    assert handle.metric_reader.force_flush()
    assert [(x["rule_name"], x["value"]) for x in lines(out)] == [("spend", 2.5)]
    handle.shutdown()
    meters.shutdown()


def test_setup_alerts_values(tmp_path: Path) -> None:
    assert setup_alerts(False, settings_for(tmp_path), None, None) is None
    handle = setup_alerts([{"metric": "daily_cost", "threshold": 5, "name": "spend"},
                           Rule(metric="token_usage", threshold=10**6, name="tokens")], settings_for(tmp_path))
    assert [r.name for r in handle.store.rules()] == ["spend", "tokens"]
    handle.shutdown()
    handle = setup_alerts(True, settings_for(tmp_path))
    assert [r.name for r in handle.runtime.evaluator.rules] == ["spend", "tokens"]
    handle.shutdown()
    handle = setup_alerts({"rules": [{"metric": "error_rate", "threshold": 1, "name": "hook",
                                      "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/x"}]}],
                           "webhook_allowlist": ["127.0.0.1"], "interval": 0.5}, settings_for(tmp_path))
    assert handle.runtime.interval == 0.5
    handle.shutdown()


@pytest.mark.parametrize("value, match", [
    ([{"metric": "error_rate", "threshold": "x"}], "invalid alerts[0].threshold='x'"),
    ({"metric": "latency", "threshold": 1}, "invalid alerts[0].aggregation=None"),
    ({"rules": [], "colour": 1}, "invalid alerts.colour=1: unknown option"),
    ({"rules": [], "interval": 0}, "invalid alerts.interval=0"),
    (42, "invalid alerts=42"),
    ([{"metric": "error_rate", "threshold": 1, "name": "h",
       "channels": [{"type": "webhook", "url": "http://169.254.169.254/latest"}]}],
     "invalid h: channels[0].url='http://169.254.169.254/latest': refused: cloud metadata address"),
])
def test_setup_alerts_refuses_bad_input(tmp_path: Path, value: object, match: str) -> None:
    with pytest.raises(ConfigError) as info:
        setup_alerts(value, settings_for(tmp_path))
    assert match in str(info.value)
    assert isinstance(info.value, (RuleError, ConfigError))
