"""The alert engine in the SDK pipeline: a SpanProcessor over ended spans, a MetricReader over metric points.

Nothing runs on the caller's thread but one ``deque.append`` in ``on_end``: a worker thread turns spans into
facts, evaluates the rules every ``interval`` seconds and hands firings to the notifier. The metric reader
collects on its own thread (delta temporality, so windows are sums of deltas) and queues the points too.
Rules are re-read from the store when they change (the CLI may edit them while the app runs).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Iterable

from opentelemetry.sdk.metrics import (
    Counter, Histogram, ObservableCounter, ObservableGauge, ObservableUpDownCounter, UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality, ExponentialHistogram, Gauge, Histogram as HistogramData, MetricReader, MetricsData, Sum,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

from .. import diagnostics
from .db import AlertStore
from .engine import Dims, Evaluation, Evaluator, Stats, metric_dims, point_targets, wanted_with_aliases
from .netguard import Guard
from .notify import Notifier

MAX_QUEUE = 200_000  # spans waiting for the worker; beyond this they are counted and dropped
WAKE_AT = 512  # wake the worker early when this many spans wait (queued spans are live objects: keep few)
Point = tuple[float, str, Dims, Stats]
_ERROR = StatusCode.ERROR


class BadSpan(ValueError):
    """Something that is not a ReadableSpan reached the alert queue."""


class AlertRuntime:
    """The worker shared by the span processor and the metric reader of one process."""

    def __init__(self, store: AlertStore, guard: Guard | None = None, *, interval: float = 1.0,
                 reload_interval: float = 2.0, clock: Callable[[], float] = time.time,
                 notifier: Notifier | None = None, max_queue: int = MAX_QUEUE) -> None:
        self.store = store
        self.guard = guard or Guard.from_env()
        self.notifier = notifier or Notifier(store, self.guard)
        self.interval = interval
        self.reload_interval = reload_interval
        self.clock = clock
        self.max_queue = max_queue
        self.spans: deque[ReadableSpan] = deque()
        self._points: deque[list[Point]] = deque()
        self.evaluator = Evaluator()
        self.last: list[Evaluation] = []
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._ticks_requested = 0
        self._ticks_done = 0
        self._stopping = False
        self._rules_version: int | None = None
        self._next_reload = 0.0
        self._next_eval = 0.0
        self._reload_rules()
        self._thread = threading.Thread(target=self._run, name="agentkit-alerts", daemon=True)
        self._thread.start()

    # -- producers (any thread) -------------------------------------------------------------------------
    def submit_span(self, span: ReadableSpan) -> None:
        q = self.spans
        if len(q) >= self.max_queue:
            diagnostics.count_drop("alerts.spans")
            return
        q.append(span)
        if len(q) == WAKE_AT:
            self._wake.set()

    def submit_points(self, points: list[Point]) -> None:
        if points:
            self._points.append(points)
            self._wake.set()

    @property
    def point_names(self) -> frozenset[str]:
        return self.evaluator.point_names

    # -- worker -----------------------------------------------------------------------------------------
    def _reload_rules(self) -> None:
        version = self.store.rules_version()
        if version != self._rules_version:
            self.evaluator.set_rules(self.store.rules(enabled_only=True))
            self.notifier.forget_cooldowns()
            self._rules_version = version

    def _drain(self) -> None:
        try:
            failed = self.evaluator.add_sdk_spans(self.spans, _ERROR)
            if failed:
                diagnostics.report("alerts.span", BadSpan(f"{failed} queued item(s) were not readable spans"))
        except Exception as exc:
            diagnostics.report("alerts.span", exc)
        points = self._points
        while points:
            for time_s, name, dims, stats in points.popleft():
                self.evaluator.add_point(time_s, name, dims, stats)

    def _tick(self, force: bool) -> None:
        now = self.clock()
        if force or now >= self._next_reload:
            self._next_reload = now + self.reload_interval
            try:
                self._reload_rules()
            except Exception as exc:  # a locked or broken database must not stop evaluation
                diagnostics.report("alerts.reload", exc)
        self._drain()
        if force or now >= self._next_eval:
            self._next_eval = now + self.interval
            self.last = self.evaluator.evaluate(now)
            for result in self.last:
                if result.breached:
                    try:
                        self.notifier.fire(result.rule, result.value, now)  # type: ignore[arg-type]
                    except Exception as exc:
                        diagnostics.report("alerts.fire", exc)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                target = self._ticks_requested
                stopping = self._stopping
            try:
                self._tick(force=target > self._ticks_done or stopping)
            except Exception as exc:
                diagnostics.report("alerts.tick", exc)
            with self._lock:
                self._ticks_done = max(self._ticks_done, target)
                self._done.notify_all()
            if stopping:
                return

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Evaluate everything queued so far now, and wait for the resulting deliveries."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._thread.is_alive():
                return self.notifier.wait_idle(max(0.0, deadline - time.monotonic()))
            self._ticks_requested += 1
            target = self._ticks_requested
            self._wake.set()
            while self._ticks_done < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._done.wait(min(left, 0.5))
        return self.notifier.wait_idle(max(0.0, deadline - time.monotonic()))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Process what is queued, evaluate once more, wait for deliveries (bounded), stop."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        self.notifier.shutdown(max(0.0, deadline - time.monotonic()))


class AlertSpanProcessor(SpanProcessor):
    """Queues ended spans for the alert worker; never evaluates on the caller's thread."""

    def __init__(self, runtime: AlertRuntime, *, owns_runtime: bool = True) -> None:
        self.runtime = runtime
        self._owns = owns_runtime
        self._queue = runtime.spans
        self._max = runtime.max_queue
        self._wake = runtime._wake

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        q = self._queue
        n = len(q)
        if n >= self._max:
            diagnostics.count_drop("alerts.spans")
            return
        q.append(span)
        if n == WAKE_AT:
            self._wake.set()

    def shutdown(self) -> None:
        if self._owns:
            self.runtime.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.runtime.force_flush(timeout_millis / 1000)


_DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA,
          ObservableCounter: AggregationTemporality.DELTA,
          UpDownCounter: AggregationTemporality.CUMULATIVE,
          ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
          ObservableGauge: AggregationTemporality.CUMULATIVE}


def points_from_metrics(data: MetricsData, wanted: Iterable[str]) -> list[Point]:
    """The data points of the wanted metrics, each summarised as Stats (deltas for counters/histograms).
    A rule on a pre-release metric name also reads its v0.1.0 alias and the other way round
    (engine.METRIC_ALIASES), unless this collection carries both."""
    wanted = frozenset(wanted)
    names = wanted_with_aliases(wanted)
    out: list[Point] = []
    if not names:
        return out
    for rm in data.resource_metrics:
        present = {(m.name, None) for sm in rm.scope_metrics for m in sm.metrics if m.name in names}
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name not in names:
                    continue
                targets = point_targets(metric.name, wanted, present, None)
                d = metric.data
                for p in d.data_points:
                    t = p.time_unix_nano / 1e9
                    stats = Stats()
                    if isinstance(d, HistogramData):
                        stats.add_histogram(p.count, p.sum, p.min, p.max, p.explicit_bounds, p.bucket_counts, t)
                    elif isinstance(d, ExponentialHistogram):
                        stats.count, stats.total = p.count, p.sum
                        stats.lo, stats.hi = p.min, p.max
                        if p.count:
                            stats.last_t, stats.last_v = t, p.sum / p.count
                    elif isinstance(d, (Sum, Gauge)):
                        stats.add(float(p.value), t)
                    else:
                        continue
                    dims = metric_dims(p.attributes or {})
                    for i, name in enumerate(targets):
                        if i:  # a copy per further name: the engine merges into what it keeps
                            copy = Stats()
                            copy.merge(stats)
                            stats = copy
                        out.append((t, name, dims, stats))
    return out


class AlertMetricReader(MetricReader):
    """Collects metric points every ``interval`` seconds on its own thread for the metric rules.

    Register it with ``MeterProvider(metric_readers=[...])`` or ``meter_provider.add_metric_reader(reader)``;
    it collects nothing while no rule reads metric points."""

    def __init__(self, runtime: AlertRuntime, interval: float = 10.0) -> None:
        super().__init__(preferred_temporality=_DELTA)
        self.runtime = runtime
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentkit-alerts-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if getattr(self, "_collect", None) is None or not self.runtime.point_names:
                continue  # not registered on a provider yet, or no rule reads metric points
            try:
                self.collect()
            except Exception as exc:
                diagnostics.report("alerts.metrics.collect", exc)

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        try:
            self.runtime.submit_points(points_from_metrics(metrics_data, self.runtime.point_names))
        except Exception as exc:
            diagnostics.report("alerts.metrics", exc)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        if getattr(self, "_collect", None) is not None:
            super().force_flush(timeout_millis)
        return self.runtime.force_flush(timeout_millis / 1000)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._stop.set()
