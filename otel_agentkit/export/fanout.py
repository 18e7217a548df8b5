"""Fan-out exporters: one batch span processor (metric reader, log processor) feeds several backends at once.

Each backend gets its own bounded queue, a dispatcher thread and a caller thread, so a backend that raises,
hangs or times out cannot slow the others or the processor that feeds the fan-out: ``export`` only queues
the batch and returns. Per backend:

- a timeout per call (the exporter's ``export_timeout_s`` hint if it has one, else the fan-out's): a call
  past it counts as a failure and its batch is handled as lost, while the stuck call is left to finish;
- a :class:`~otel_agentkit.export.breaker.CircuitBreaker`: after N consecutive failures the backend is
  skipped, and probed again with one batch after an exponential back-off;
- what a backend does not get (queue full, breaker open, timed out, shut down) goes to its ``divert``
  method when it has one (the OTLP exporters spool it to disk), and is otherwise counted with
  ``diagnostics.count_drop("fanout.<backend>.<reason>", items)``.

A queue-full batch for a backend with ``divert`` is spooled on the feeding thread (a bounded local-disk
write) rather than dropped. ``force_flush`` and ``shutdown`` reach every backend in parallel under one
deadline; past it, what is still queued is diverted or counted, never waited for. A backend with
``begin_close`` (the spooling OTLP exporters) is told at shutdown to stop retrying, and gets at most
``CLOSE_GRACE_S``: exit does not wait for an endpoint that is down, the spool keeps its batches.
``force_flush`` is False when a backend did not finish in time; ``flush_problems`` says which, and which
dropped anything since the last flush (what ``agentkit.flush()`` reports).
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from typing import Any, Callable, Sequence

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import diagnostics
from .breaker import CircuitBreaker, State

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_QUEUE_SIZE = 16  # batches per backend (16 x 512 spans by default)
CLOSE_GRACE_S = 1.0  # at shutdown, how long a backend that can spool gets before the rest is spooled


class _Job:
    __slots__ = ("batch", "control", "deadline", "done", "exc", "fn", "result")

    def __init__(self, fn: Callable[[], Any], deadline: float, batch: Any = None,
                 control: _Control | None = None) -> None:
        self.fn = fn
        self.deadline = deadline
        self.batch = batch
        self.control = control
        self.done = False
        self.result: Any = None
        self.exc: BaseException | None = None


class _Control:
    """A flush or stop request, queued behind the batches it must follow."""

    def __init__(self, kind: str, deadline: float) -> None:
        self.kind = kind
        self.deadline = deadline
        self._event = threading.Event()
        self.ok = False

    def finish(self, ok: bool) -> None:
        self.ok = ok
        self._event.set()

    @property
    def finished(self) -> bool:
        return self._event.is_set()

    def wait(self) -> bool:
        self._event.wait(max(0.0, self.deadline - time.monotonic()))
        return self._event.is_set() and self.ok


class Backend:
    """One exporter behind the fan-out: its queue, threads, timeout, breaker and counters."""

    def __init__(self, exporter: Any, name: str, call: Callable[[Any, Any, float], bool],
                 count: Callable[[Any], int], timeout_s: float, queue_size: int, breaker: CircuitBreaker) -> None:
        self.exporter = exporter
        self.name = name
        self.timeout_s = timeout_s
        self.queue_size = queue_size
        self.breaker = breaker
        self._call = call
        self._count = count
        self._divert = getattr(exporter, "divert", None)
        self._counts_own = bool(getattr(exporter, "counts_own_drops", False))  # e.g. JSONL: no double count
        self.stats = {"delivered": 0, "failed": 0, "timeouts": 0, "skipped": 0, "diverted": 0, "dropped": 0}
        self.dropped_at_flush = 0  # stats["dropped"] when the last force_flush looked
        self.last_loss = ""  # why items were last dropped, for flush's one line
        self._reset()

    def _reset(self) -> None:
        self._cv = threading.Condition()
        self._queue: list[Any] = []
        self._active: _Job | None = None  # the call the dispatcher waits for
        self._slot: _Job | None = None  # handed to the caller thread, not yet picked up
        self._running: _Job | None = None  # what the caller thread runs now (may be abandoned)
        self._stopped = False
        self._abandoned = False
        self._exited = False
        self._threads: tuple[threading.Thread, threading.Thread] | None = None

    # --- feeding side --------------------------------------------------------------------------------------
    def submit(self, batch: Any) -> None:
        reason = ""
        with self._cv:
            if self._stopped or self._abandoned:
                reason = "shutdown"
            elif sum(1 for q in self._queue if not isinstance(q, _Control)) >= self.queue_size:
                reason = "queue_full"
            else:
                self._queue.append(batch)
                self._cv.notify_all()
        if reason:
            self._lost(batch, reason)
        else:
            self._start()

    def request(self, kind: str, deadline: float) -> _Control:
        control = _Control(kind, deadline)
        with self._cv:
            if self._abandoned or (self._stopped and kind == "flush"):
                control.finish(False)
                return control
            if kind == "stop":
                self._stopped = True
            self._queue.append(control)
            self._cv.notify_all()
        self._start()
        return control

    def abandon(self) -> None:
        """Past the shutdown deadline: divert or count what is still queued or in a call, and let go."""
        with self._cv:
            leftover = [q for q in self._queue if not isinstance(q, _Control)]
            controls = [q for q in self._queue if isinstance(q, _Control)]
            self._queue.clear()
            active = self._active
            if active is not None and active.batch is not None and not active.done:
                leftover.insert(0, active.batch)
            self._abandoned = True
            self._cv.notify_all()
        for control in controls:
            control.finish(False)
        for batch in leftover:
            self._lost(batch, "shutdown")

    def _start(self) -> None:
        with self._cv:
            if self._threads is not None:
                return
            dispatcher = threading.Thread(target=self._dispatch_loop, name=f"agentkit-fanout-{self.name}",
                                          daemon=True)
            caller = threading.Thread(target=self._caller_loop, name=f"agentkit-fanout-{self.name}-call",
                                      daemon=True)
            self._threads = (dispatcher, caller)
        dispatcher.start()
        caller.start()

    # --- the two threads -----------------------------------------------------------------------------------
    def _caller_loop(self) -> None:
        while True:
            with self._cv:
                while self._slot is None and not (self._abandoned or self._exited):
                    self._cv.wait()
                job = self._slot
                if job is None:
                    return
                self._slot = None
                self._running = job
            try:
                job.result = job.fn()
            except BaseException as exc:  # a backend's error, whatever it is, must not end this thread
                job.exc = exc
            with self._cv:
                job.done = True
                self._running = None
                self._cv.notify_all()

    def _dispatch_loop(self) -> None:
        try:
            while True:
                with self._cv:
                    action = self._next_action()
                    while action is None:
                        self._cv.wait(self._wait_time())
                        action = self._next_action()
                kind, obj, reason = action
                if kind == "exit":
                    return
                if kind == "skip":
                    self.stats["skipped"] += 1
                    self._lost(obj, reason)
                elif kind == "done":
                    self._finished(obj)
                elif kind == "timeout":
                    self._timed_out(obj)
                elif kind == "control":
                    self._control(obj)
        finally:
            with self._cv:
                self._exited = True
                self._cv.notify_all()

    def _busy(self) -> bool:
        return self._running is not None or self._slot is not None

    def _wait_time(self) -> float | None:
        if self._active is not None:
            return max(0.001, self._active.deadline - time.monotonic())
        return None

    def _hand(self, job: _Job) -> None:
        self._active = job
        self._slot = job
        self._cv.notify_all()

    def _next_action(self) -> tuple[str, Any, str] | None:
        """What the dispatcher does next (called with the lock held); None means wait."""
        now = time.monotonic()
        job = self._active
        if job is not None:
            if job.done:
                self._active = None
                return ("done", job, "")
            if now >= job.deadline:
                self._active = None
                return ("timeout", job, "")
        if self._abandoned:
            return ("exit", None, "")
        if not self._queue:
            return None
        head = self._queue[0]
        if isinstance(head, _Control):
            if job is not None:
                return None  # a flush or stop follows the batch in flight
            self._queue.pop(0)
            return ("control", head, "")
        if job is not None:
            if self.breaker.state is State.CLOSED:
                return None  # a healthy backend working through a backlog: keep the order, wait
            self._queue.pop(0)
            return ("skip", head, "breaker_open")  # a half-open probe is in flight
        self._queue.pop(0)
        if self._busy():
            return ("skip", head, "stuck")  # an earlier call is still hanging past its timeout
        if self.breaker.allow():
            self._hand(_Job(functools.partial(self._call, self.exporter, head, self.timeout_s),
                            now + self.timeout_s, batch=head))
            return None  # wait for the call just started (or for the next item to decide on)
        return ("skip", head, "breaker_open")

    def _finished(self, job: _Job) -> None:
        if job.control is not None:
            self._control_done(job.control, job.exc is None and job.result is not False)
            return
        n = self._count_safe(job.batch)
        if job.exc is not None:
            if isinstance(job.exc, Exception):
                diagnostics.report(f"fanout.{self.name}", job.exc)
            self.breaker.record_failure()
            self.stats["failed"] += 1
            self._lost(job.batch, f"failed: {type(job.exc).__name__}: {job.exc}"[:200])
        elif job.result:
            self.breaker.record_success()
            self.stats["delivered"] += n
        else:
            self.breaker.record_failure()
            self.stats["failed"] += 1
            if self._divert is None:  # a backend with divert has spooled its own failure
                self.stats["dropped"] += n
                self.last_loss = "export failed"
                if not self._counts_own:
                    diagnostics.count_drop(f"fanout.{self.name}.failed", n)

    def _timed_out(self, job: _Job) -> None:
        if job.control is not None:
            self._control_done(job.control, False)
            return
        self.stats["timeouts"] += 1
        diagnostics.report(f"fanout.{self.name}", TimeoutError(f"export took longer than {self.timeout_s}s"))
        self.breaker.record_failure()
        self._lost(job.batch, "timeout")

    def _control(self, control: _Control) -> None:
        now = time.monotonic()
        if now >= control.deadline or self._busy():
            self._control_done(control, False)
            return
        remaining_ms = (control.deadline - now) * 1000
        if control.kind == "flush":
            fn: Callable[[], Any] = lambda: self.exporter.force_flush(int(remaining_ms))
        else:
            fn = self.exporter.shutdown
        with self._cv:
            self._hand(_Job(fn, control.deadline, control=control))

    def _control_done(self, control: _Control, ok: bool) -> None:
        if control.kind == "stop":
            with self._cv:
                self._abandoned = True  # makes both threads exit
                self._cv.notify_all()
        control.finish(ok)

    def _count_safe(self, batch: Any) -> int:
        try:
            return self._count(batch)
        except Exception:
            return 1

    def _lost(self, batch: Any, reason: str) -> None:
        """``batch`` will not reach this backend live: spool it if the backend can, else count it.
        ``reason`` is the drop counter's last part ("queue_full"), with details after a colon."""
        n = self._count_safe(batch)
        if self._divert is not None:
            try:
                self._divert(batch)
                self.stats["diverted"] += n
                return
            except Exception as exc:
                diagnostics.report(f"fanout.{self.name}.divert", exc)
        self.stats["dropped"] += n
        self.last_loss = reason
        diagnostics.count_drop(f"fanout.{self.name}.{reason.split(':')[0]}", n)


def _shutdown_quietly(backend: Backend) -> None:
    try:
        backend.exporter.shutdown()
    except Exception as exc:
        diagnostics.report(f"fanout.{backend.name}.shutdown", exc)


def _names(exporters: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for exp in exporters:
        base = getattr(exp, "name", None)
        base = base if isinstance(base, str) and base else type(exp).__name__
        name, i = base, 2
        while name in out:
            name, i = f"{base}#{i}", i + 1
        out.append(name)
    return out


class _Fanout:
    """The signal-independent part: backends, export (queue only), flush and shutdown with a deadline."""

    def __init__(self, exporters: Sequence[Any], call: Callable[[Any, Any, float], bool],
                 count: Callable[[Any], int], timeout_s: float | None, queue_size: int, breaker_threshold: int,
                 backoff_s: float, max_backoff_s: float) -> None:
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"invalid timeout_s={timeout_s!r}: expected seconds above 0")
        if queue_size < 1:
            raise ValueError(f"invalid queue_size={queue_size!r}: expected 1 or more")
        self.backends = [
            Backend(exp, name, call, count,
                    timeout_s if timeout_s is not None else float(getattr(exp, "export_timeout_s", 0) or
                                                                  DEFAULT_TIMEOUT_S),
                    queue_size, CircuitBreaker(breaker_threshold, backoff_s, max_backoff_s))
            for exp, name in zip(exporters, _names(exporters))
        ]
        self._shutdown = False
        self.flush_problems: list[str] = []
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork() -> None:  # threads do not survive a fork: start afresh in the child
                me = ref()
                if me is not None:
                    for b in me.backends:
                        b._reset()

            os.register_at_fork(after_in_child=_after_fork)

    def export(self, batch: Any) -> bool:
        if self._shutdown:
            return False
        for backend in self.backends:
            try:
                backend.submit(batch)
            except Exception as exc:  # never let one backend's bookkeeping stop the others
                diagnostics.report(f"fanout.{backend.name}.submit", exc)
        return True

    def force_flush(self, timeout_millis: float) -> bool:
        """True when every backend finished what was queued before this call in time (the OTel meaning).
        ``flush_problems`` also lists what a backend dropped since the last flush: ``agentkit.flush()``
        returns False for those too."""
        deadline = time.monotonic() + timeout_millis / 1000
        controls = [b.request("flush", deadline) for b in self.backends]
        done = [c.wait() for c in controls]  # a list: wait on every backend, no short-circuit
        problems = []
        for backend, ok in zip(self.backends, done):
            if not ok:
                problems.append(f"{backend.name}: did not finish within {timeout_millis / 1000:g}s")
            dropped = backend.stats["dropped"]
            if dropped > backend.dropped_at_flush:
                problems.append(f"{backend.name}: {dropped - backend.dropped_at_flush} item(s) dropped "
                                f"({backend.last_loss})")
                backend.dropped_at_flush = dropped
        self.flush_problems = problems
        return all(done)

    def begin_close(self, deadline: float) -> None:
        """Shutdown is coming: backends that can spool go on their close path (one attempt, no retries)."""
        for backend in self.backends:
            begin = getattr(backend.exporter, "begin_close", None)
            if callable(begin):
                try:
                    begin(deadline)
                except Exception as exc:
                    diagnostics.report(f"fanout.{backend.name}.begin_close", exc)

    def shutdown(self, timeout_millis: float) -> None:
        """Stop every backend under one deadline; a backend that can spool gets at most CLOSE_GRACE_S
        (or the close deadline it was given), then what it still holds is spooled rather than waited for."""
        if self._shutdown:
            return
        self._shutdown = True
        now = time.monotonic()
        deadline = now + timeout_millis / 1000
        deadlines = []
        for backend in self.backends:
            begin = getattr(backend.exporter, "begin_close", None)
            own = deadline
            if callable(begin):
                try:
                    own = min(deadline, float(begin(now + CLOSE_GRACE_S)))
                except Exception as exc:
                    diagnostics.report(f"fanout.{backend.name}.begin_close", exc)
            deadlines.append(own)
        controls = [b.request("stop", d) for b, d in zip(self.backends, deadlines)]
        for control in controls:
            control.wait()
        for backend, control in zip(self.backends, controls):
            if not control.finished:
                backend.abandon()
                if callable(getattr(backend.exporter, "begin_close", None)):  # ours: release it off this thread
                    threading.Thread(target=_shutdown_quietly, args=(backend,), daemon=True,
                                     name=f"agentkit-fanout-{backend.name}-close").start()

    def stats(self) -> dict[str, dict[str, Any]]:
        return {b.name: {**b.stats, "breaker": b.breaker.state.value, "opened": b.breaker.times_opened}
                for b in self.backends}


def _ok(result: Any, success: Any) -> bool:
    return result == success


class _FanoutFacade:
    """What the three signal exporters share: they differ only in how one backend is called."""

    _fanout: _Fanout

    @property
    def backends(self) -> list[Backend]:
        return self._fanout.backends

    @property
    def flush_problems(self) -> list[str]:
        """After force_flush: the backends that did not finish in time or dropped items since the last one."""
        return self._fanout.flush_problems

    def force_flush(self, timeout_millis: float = 30000) -> bool:
        return self._fanout.force_flush(timeout_millis)

    def begin_close(self, deadline: float) -> None:
        self._fanout.begin_close(deadline)

    def shutdown(self, timeout_millis: float = 30000, **kwargs: Any) -> None:
        self._fanout.shutdown(timeout_millis)

    def stats(self) -> dict[str, dict[str, Any]]:
        return self._fanout.stats()


class FanoutSpanExporter(_FanoutFacade, SpanExporter):
    """Hands each span batch to every exporter in ``exporters``; see the module doc for the guarantees."""

    def __init__(self, exporters: Sequence[SpanExporter], timeout_s: float | None = None, *,
                 queue_size: int = DEFAULT_QUEUE_SIZE, breaker_threshold: int = 3, backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0) -> None:
        self._fanout = _Fanout(
            exporters, lambda exp, batch, _t: _ok(exp.export(batch), SpanExportResult.SUCCESS), len,
            timeout_s, queue_size, breaker_threshold, backoff_s, max_backoff_s)

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS if self._fanout.export(spans) else SpanExportResult.FAILURE


def count_points(data: MetricsData) -> int:
    """Data points in a metrics export: the unit a metrics drop is counted in (here and in otlp.py)."""
    return sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics)


class FanoutMetricExporter(_FanoutFacade, MetricExporter):
    """Hands each metrics export to every exporter; temporality and aggregation are the first exporter's
    preferences (every backend then gets the same points)."""

    def __init__(self, exporters: Sequence[MetricExporter], timeout_s: float | None = None, *,
                 queue_size: int = DEFAULT_QUEUE_SIZE, breaker_threshold: int = 3, backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0) -> None:
        first = exporters[0] if exporters else None
        super().__init__(preferred_temporality=getattr(first, "_preferred_temporality", None),
                         preferred_aggregation=getattr(first, "_preferred_aggregation", None))
        self._fanout = _Fanout(
            exporters,
            lambda exp, data, t: _ok(exp.export(data, timeout_millis=t * 1000), MetricExportResult.SUCCESS),
            count_points, timeout_s, queue_size, breaker_threshold, backoff_s, max_backoff_s)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS if self._fanout.export(metrics_data) else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._fanout.force_flush(timeout_millis)


class FanoutLogExporter(_FanoutFacade, LogRecordExporter):
    """Hands each log record batch to every exporter; see the module doc for the guarantees."""

    def __init__(self, exporters: Sequence[LogRecordExporter], timeout_s: float | None = None, *,
                 queue_size: int = DEFAULT_QUEUE_SIZE, breaker_threshold: int = 3, backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0) -> None:
        self._fanout = _Fanout(
            exporters, lambda exp, batch, _t: _ok(exp.export(batch), LogRecordExportResult.SUCCESS), len,
            timeout_s, queue_size, breaker_threshold, backoff_s, max_backoff_s)

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS if self._fanout.export(batch) else LogRecordExportResult.FAILURE
