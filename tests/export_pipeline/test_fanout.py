"""The fan-out: one processor feeds several backends; a backend that hangs, raises or fails cannot hold up
the others, is skipped while its circuit is open and is retried after a back-off.

No wall-clock thresholds: ordering and arrival are asserted, and the breaker's clock is injected where the
test needs to step through its back-off.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Sequence

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agentkit import diagnostics
from otel_agentkit.export.breaker import CircuitBreaker, State
from otel_agentkit.export.fanout import FanoutLogExporter, FanoutMetricExporter, FanoutSpanExporter
from tests.support.procs import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Blocking(SpanExporter):
    """Blocks every export until released (stands in for a backend stuck inside a call)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        self.batches.append(len(spans))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Flaky(SpanExporter):
    """Raises for its first ``failures`` calls, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.accepted: list[str] = []

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"backend down (call {self.calls})")
        self.accepted.extend(s.name for s in spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _spans(n: int, prefix: str = "s") -> list[Any]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tp.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tp.get_tracer("test")
    for i in range(n):
        with tracer.start_as_current_span(f"{prefix}{i}"):
            pass
    return list(exporter.get_finished_spans())


def _jsonl_span_count(directory: Path) -> int:
    count = 0
    for path in directory.glob("traces-*.jsonl"):
        for line in path.read_text().splitlines():
            request = json.loads(line)
            count += sum(len(ss.get("spans", [])) for rs in request.get("resourceSpans", [])
                         for ss in rs.get("scopeSpans", []))
    return count


# --- the breaker on its own ------------------------------------------------------------------------------------
def test_breaker_opens_after_threshold_and_backs_off_exponentially() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=2, base_backoff_s=1.0, max_backoff_s=4.0, clock=clock)
    assert b.allow()
    b.record_failure()
    assert b.state is State.CLOSED and b.allow()
    b.record_failure()
    assert b.state is State.OPEN and not b.allow()
    clock.now += 0.99
    assert not b.allow()
    clock.now += 0.02
    assert b.allow() and b.state is State.HALF_OPEN  # the one probe
    assert not b.allow()  # nobody else while the probe is out
    b.record_failure()  # probe failed: open again, back-off doubled
    assert b.state is State.OPEN and b.seconds_until_probe() == pytest.approx(2.0)
    clock.now += 2.0
    assert b.allow()
    b.record_failure()
    assert b.seconds_until_probe() == pytest.approx(4.0)
    clock.now += 4.0
    assert b.allow()
    b.record_failure()
    assert b.seconds_until_probe() == pytest.approx(4.0)  # capped
    clock.now += 4.0
    assert b.allow()
    b.record_success()
    assert b.state is State.CLOSED and b.allow()
    b.record_failure()
    assert b.state is State.CLOSED  # the count restarted after the success
    assert b.times_opened == 4


def test_breaker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="threshold=0"):
        CircuitBreaker(threshold=0)


# --- a hanging backend ----------------------------------------------------------------------------------------
def test_hanging_otlp_backend_does_not_delay_jsonl_or_memory(tmp_path: Path, hang_server: Any) -> None:
    """An OTLP/HTTP backend whose server accepts and never answers: the JSONL and in-memory backends get
    every batch while its first call is still hanging; what it missed is counted as dropped."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from otel_agentkit.export.jsonl import JsonlSpanExporter

    hanging = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{hang_server.port}/v1/traces", timeout=20)
    memory = InMemorySpanExporter()
    jsonl = JsonlSpanExporter(tmp_path / "telemetry")
    fan = FanoutSpanExporter([hanging, jsonl, memory], timeout_s=30)
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(fan, schedule_delay_millis=10, max_export_batch_size=20))
    tracer = tp.get_tracer("test")
    for i in range(200):
        with tracer.start_as_current_span(f"op{i}"):
            pass
    tp.force_flush()

    wait_until(lambda: len(memory.get_finished_spans()) == 200, 20, "all spans in memory")
    wait_until(lambda: _jsonl_span_count(tmp_path / "telemetry") == 200, 20, "all spans in JSONL")
    hung = fan.stats()["OTLPSpanExporter"]
    # Everything reached the other two while the OTLP call was still hanging: no result of any kind yet.
    assert hang_server.accepted >= 1
    assert hung["delivered"] == hung["failed"] == hung["timeouts"] == 0
    assert fan.stats()["InMemorySpanExporter"]["delivered"] == 200

    fan.shutdown(timeout_millis=200)  # the hanging call is abandoned, what it held is counted
    drops = diagnostics.drop_counts()
    assert sum(v for k, v in drops.items() if k.startswith("fanout.OTLPSpanExporter.")) == 200
    assert not any(k.startswith(("fanout.InMemory", "fanout.Jsonl")) for k in drops)
    tp.shutdown()


def test_call_past_timeout_counts_as_failure_and_later_batches_skip_the_stuck_backend() -> None:
    blocking = Blocking()
    memory = InMemorySpanExporter()
    fan = FanoutSpanExporter([blocking, memory], timeout_s=0.2)
    try:
        fan.export(_spans(3, "a"))
        wait_until(lambda: fan.stats()["Blocking"]["timeouts"] == 1, 10, "the call to time out")
        fan.export(_spans(2, "b"))  # the backend is still inside its first call
        assert fan.force_flush(5000) is False  # the stuck backend cannot confirm a flush
        assert len(memory.get_finished_spans()) == 5
        drops = diagnostics.drop_counts()
        assert drops == {"fanout.Blocking.timeout": 3, "fanout.Blocking.stuck": 2}
        assert any(k[0] == "fanout.Blocking" and k[1] == "TimeoutError" for k in diagnostics.error_counts())
    finally:
        blocking.release.set()
        fan.shutdown(timeout_millis=2000)


# --- a raising backend ----------------------------------------------------------------------------------------
def test_raising_backend_is_skipped_while_open_and_retried_after_backoff() -> None:
    flaky = Flaky(failures=3)
    memory = InMemorySpanExporter()
    fan = FanoutSpanExporter([flaky, memory], timeout_s=10, breaker_threshold=2, backoff_s=1.0)
    clock = FakeClock()
    fan.backends[0].breaker = CircuitBreaker(2, 1.0, 60.0, clock=clock)

    def send(tag: str) -> None:
        fan.export(_spans(1, tag))
        assert fan.force_flush(10_000) or tag in {"b1", "b2", "b4"}

    try:
        send("b1")  # raises (1)
        send("b2")  # raises (2): opens
        assert fan.backends[0].breaker.state is State.OPEN
        send("b3")  # skipped: the backend is not called
        assert flaky.calls == 2
        clock.now += 1.0
        send("b4")  # half-open probe: raises (3), opens again for 2 s
        assert flaky.calls == 3 and fan.backends[0].breaker.state is State.OPEN
        clock.now += 1.0
        send("b5")  # still inside the doubled back-off: skipped
        assert flaky.calls == 3
        clock.now += 1.0
        send("b6")  # probe succeeds: closed again
        send("b7")
        assert flaky.calls == 5
        assert flaky.accepted == ["b60", "b70"]
        assert fan.backends[0].breaker.state is State.CLOSED
        assert [s.name for s in memory.get_finished_spans()] == [f"b{i}0" for i in range(1, 8)]
        assert diagnostics.drop_counts() == {"fanout.Flaky.failed": 3, "fanout.Flaky.breaker_open": 2}
        assert diagnostics.error_counts() == {("fanout.Flaky", "ConnectionError"): 3}
    finally:
        fan.shutdown(timeout_millis=2000)


def test_full_queue_is_counted_not_blocking() -> None:
    blocking = Blocking()
    fan = FanoutSpanExporter([blocking], timeout_s=30, queue_size=2)
    try:
        fan.export(_spans(1))
        assert blocking.entered.wait(10)
        for _ in range(4):  # two wait in the queue, two find it full; none of these calls blocks
            fan.export(_spans(3))
        assert diagnostics.drop_counts() == {"fanout.Blocking.queue_full": 6}
        blocking.release.set()
        assert fan.force_flush(10_000)
        assert blocking.batches == [1, 3, 3]
    finally:
        blocking.release.set()
        fan.shutdown(timeout_millis=2000)


def test_shutdown_propagates_and_keeps_its_deadline_with_a_hanging_backend() -> None:
    blocking = Blocking()
    memory = InMemorySpanExporter()
    fan = FanoutSpanExporter([blocking, memory], timeout_s=60)
    fan.export(_spans(2))
    assert blocking.entered.wait(10)
    fan.export(_spans(3))
    fan.shutdown(timeout_millis=2000)  # returns although the blocking backend never finishes its call
    assert len(memory.get_finished_spans()) == 5
    assert diagnostics.drop_counts() == {"fanout.Blocking.shutdown": 5}
    assert fan.export(_spans(1)) is SpanExportResult.FAILURE  # after shutdown
    blocking.release.set()


def test_user_exception_in_export_never_reaches_the_caller() -> None:
    class Broken(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            raise KeyError("oops")

        def shutdown(self) -> None:
            raise RuntimeError("bad shutdown")

    fan = FanoutSpanExporter([Broken()], timeout_s=5)
    assert fan.export(_spans(2)) is SpanExportResult.SUCCESS
    fan.force_flush(5000)
    fan.shutdown(timeout_millis=2000)
    assert ("fanout.Broken", "KeyError") in diagnostics.error_counts()


# --- metrics and logs -----------------------------------------------------------------------------------------
class CollectingMetrics(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.names.extend(m.name for rm in metrics_data.resource_metrics for sm in rm.scope_metrics
                          for m in sm.metrics)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


class RaisingMetrics(CollectingMetrics):
    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        raise OSError("metrics backend down")


def test_metrics_fan_out_with_one_failing_backend() -> None:
    good = CollectingMetrics()
    fan = FanoutMetricExporter([good, RaisingMetrics()], timeout_s=5)
    reader = PeriodicExportingMetricReader(fan, export_interval_millis=10**9)
    mp = MeterProvider(metric_readers=[reader])
    mp.get_meter("t").create_counter("agentkit.test.counter").add(3)
    mp.force_flush()  # the reader collects and then force_flushes the fan-out
    assert good.names == ["agentkit.test.counter"]
    assert diagnostics.drop_counts() == {"fanout.RaisingMetrics.failed": 1}
    mp.shutdown()


class RaisingLogs(LogRecordExporter):
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        raise OSError("logs backend down")

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_logs_fan_out_with_one_failing_backend() -> None:
    memory = InMemoryLogRecordExporter()
    fan = FanoutLogExporter([RaisingLogs(), memory], timeout_s=5)
    lp = LoggerProvider()
    lp.add_log_record_processor(BatchLogRecordProcessor(fan, schedule_delay_millis=10))
    logger = lp.get_logger("t")
    for i in range(5):
        logger.emit(body=f"event {i}")
    lp.force_flush()
    assert fan.force_flush(5000) is True
    assert sorted(r.log_record.body for r in memory.get_finished_logs()) == [f"event {i}" for i in range(5)]
    assert sum(v for k, v in diagnostics.drop_counts().items() if k.startswith("fanout.RaisingLogs.")) == 5
    lp.shutdown()
