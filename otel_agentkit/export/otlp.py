"""OTLP exporters built from the standard OTEL_EXPORTER_OTLP_* variables, wrapped with the disk spool.

The official exporters (opentelemetry-exporter-otlp-proto-http / -grpc) read endpoint, headers, timeout,
compression and certificates from the environment themselves; this module only picks the protocol
(OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL, then OTEL_EXPORTER_OTLP_PROTOCOL, default
http/protobuf), builds the matching exporter with no arguments, and wraps it so that a batch it could not
deliver goes to the spool under ``settings.home / "spool"``.

Replay sends the spooled protobuf bytes as they are, which the official exporters cannot do (they take SDK
objects): :func:`raw_sender` (otlp_send.py) posts them to the target that otlp_target.py resolves from the
same variables by the same rules.

While the endpoint is down the official exporters' per-retry log lines are kept back (the batch is not
lost: it is spooled) and the SDK logs one line per outage. At shutdown, :meth:`begin_close` puts the
exporters on a close path: one attempt per batch with the raw sender, no retries, none at all once the
endpoint failed, all within one close deadline (about a second); what is not accepted is spooled and
:func:`report_spooled` says so in one line. A malformed endpoint variable leaves OTLP out with one warning
(no batch waits in the spool for an endpoint that cannot exist).
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import urlparse

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import diagnostics
from ..config import ENV_OTLP_ENDPOINT, ENV_SPOOL_MAX_BYTES, ConfigError, MissingExtra, parse_positive_int
from .fanout import count_points
from .otlp_send import GrpcSender, HttpSender, raw_sender
from .otlp_target import (PROTOCOLS, OtlpTarget, _endpoint_variable, _env, _ignored, check_endpoint, resolve_protocol,
                          resolve_target)
from .spool import DEFAULT_MAX_BYTES, Replayer, SendResult, Spool, spool_dir

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["PROTOCOLS", "GrpcSender", "HttpSender", "OtlpTarget", "SpoolingLogExporter", "SpoolingMetricExporter",
           "SpoolingSpanExporter", "check_endpoint", "official_exporter", "otlp_log_exporter", "otlp_metric_exporter",
           "otlp_span_exporter", "raw_sender", "report_spooled", "resolve_protocol", "resolve_target",
           "spool_max_bytes"]
logger = logging.getLogger("otel_agentkit")
# --- spooling wrappers ---------------------------------------------------------------------------------------
def encode_spans(batch: Sequence[Any]) -> bytes:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as enc

    return enc(batch).SerializeToString()


def encode_metrics(data: MetricsData) -> bytes:
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics as enc

    return enc(data).SerializeToString()


def encode_logs(batch: Sequence[Any]) -> bytes:
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as enc

    return enc(batch).SerializeToString()


# --- one line per outage, not one per retry ------------------------------------------------------------------
_calling = threading.local()  # .reasons: a list while one of our cores is inside the official exporter


class _QuietRetries(logging.Filter):
    """Keeps the official exporters' per-attempt lines ("Transient error ... retrying in 1.2s", "Failed to
    export ...") out of the log while one of our cores is calling them: the batch is not lost (it goes to the
    spool), and the SDK says so in one line per outage and one at exit instead of one per retry. The
    messages are kept as the reason for that line. The application's own exporters log as before."""

    def filter(self, record: logging.LogRecord) -> bool:
        reasons = getattr(_calling, "reasons", None)
        if reasons is None:
            return True
        if len(reasons) < 4:
            try:
                reasons.append(record.getMessage())
            except Exception:  # a record whose arguments do not format: still not printed
                pass
        return False


_QUIET = _QuietRetries()


def _quiet(inner: Any) -> None:
    """Attach the filter to the loggers the official exporter (and its base classes) log with."""
    names = {cls.__module__ for cls in type(inner).__mro__ if cls.__module__.startswith("opentelemetry.exporter")}
    names.add("opentelemetry.exporter.otlp.common.http")
    for name in names:
        log = logging.getLogger(name)
        if _QUIET not in log.filters:
            log.addFilter(_QUIET)


def _abort_retries(inner: Any) -> None:
    """Cut short the back-off of a retry loop the official exporter is in: its batch then fails now and is
    spooled. The events are private attributes of the official exporters (http client, grpc mixin); where
    they are missing the retries run out on their own and the fan-out's close deadline diverts the batch."""
    for owner, attr in ((getattr(inner, "_client", None), "_shutdown_event"), (inner, "_shutdown_in_progress")):
        event = getattr(owner, attr, None) if owner is not None else None
        if isinstance(event, threading.Event):
            event.set()


def _short_reason(messages: Sequence[str]) -> str:
    """The cause in the official exporter's messages, short: "Connection refused", "StatusCode.UNAVAILABLE"."""
    text = next((m for m in messages if m.startswith("Transient error")), messages[0] if messages else "")
    text = text.removeprefix("Transient error ").split(" encountered while exporting")[0]
    if found := re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text):
        return found.group(1).strip()
    if "timed out" in text.lower():
        return "no answer in time"
    return text if len(text) <= 120 else text[:117] + "..."


class _Endpoint:
    """What this process knows of one OTLP endpoint (scheme, host and port), shared by the three signals:
    whether it failed last, why, and whether that outage was already reported."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.down = False
        self.reason = ""
        self.logged = False


_endpoints: dict[str, _Endpoint] = {}
_endpoints_lock = threading.Lock()
_cores: weakref.WeakSet[_SpoolingCore] = weakref.WeakSet()


def _endpoint_of(target: OtlpTarget | None) -> _Endpoint:
    key = "?"
    if target is not None:
        parsed = urlparse(target.endpoint if "://" in target.endpoint else "//" + target.endpoint)
        key = f"{parsed.scheme or ('http' if target.insecure else 'https')}://{parsed.netloc}"
    with _endpoints_lock:
        return _endpoints.setdefault(key, _Endpoint(key))


_IN_CALL, _DIVERTED, _CLAIMED = 0, 1, 2  # a batch inside export(): sending; spooled by divert; export decides


class _SpoolingCore:
    """Shared by the three signal wrappers: live export, spool on failure, background replay, and the close
    path: once shutdown has begun, a batch gets one attempt without retries (or none when the endpoint just
    failed) and is spooled if that does not succeed before the close deadline."""

    def __init__(self, inner: Any, spool: Spool, send: Callable[..., SendResult] | None,
                 encode: Callable[[Any], bytes], count: Callable[[Any], int], name: str,
                 target: OtlpTarget | None = None) -> None:
        self.inner = inner
        self.spool = spool
        self.name = name
        self.send = send
        self.target = target
        self.endpoint = _endpoint_of(target)
        self._encode = encode
        self._count = count
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # id(batch) -> _IN_CALL, _DIVERTED or _CLAIMED
        self._done = threading.Condition(self._lock)
        self._settled: collections.deque[Any] = collections.deque(maxlen=8)  # batches export() just finished
        self.closing = False
        self.close_deadline = float("inf")  # time.monotonic() by which the close path spools, not sends
        self.spooled = 0  # batches this core put in the spool since the last exit report
        self.replayer = Replayer(spool, send) if send is not None else None
        _quiet(inner)
        _cores.add(self)
        if self.replayer is not None:
            spool.listeners.append(self._spooled)
            if spool.maybe_pending():  # left by an earlier process: sent once the endpoint answers
                self.replayer.start()

    def _spooled(self) -> None:
        if self.replayer is not None and not self.closing:
            self.replayer.start()

    def export(self, batch: Any, call: Callable[[], Any], success: Any) -> bool:
        key = id(batch)
        with self._lock:
            self._inflight[key] = _IN_CALL
        ok = False
        reasons: list[str] = []
        try:
            if self.closing:
                ok = self._send_once(batch)
            else:
                _calling.reasons = reasons
                try:
                    ok = call() == success
                finally:
                    _calling.reasons = None
        except Exception as exc:
            diagnostics.report(f"export.{self.name}", exc)
        with self._lock:
            diverted = self._inflight[key] == _DIVERTED
            self._inflight[key] = _CLAIMED  # a divert from now on (a fan-out giving up) waits for this, no copy
        try:
            if ok:
                self._up()
                if self.replayer is not None and self.spool.maybe_pending() and not self.closing:
                    self.replayer.nudge()  # the endpoint answers again: send the backlog now
                return True
            if reasons or not self.closing:
                self._down(_short_reason(reasons) or "export failed")
            if not diverted:
                self.write(batch)
            return False
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                self._settled.append(batch)  # held (so its id is not reused) until 8 more batches passed
                self._done.notify_all()

    def _send_once(self, batch: Any) -> bool:
        """The close path: one attempt within what is left of the close deadline; no attempt at all when
        the endpoint failed last (a second signal, after the first found it down)."""
        remaining = self.close_deadline - time.monotonic()
        if self.send is None or self.endpoint.down or remaining < 0.05:
            return False
        if self.target is None:  # a sender given by the caller: it keeps its own timeout
            timeout, outcome = remaining, self.send(self._encode(batch))
        else:
            timeout = min(self.target.timeout_s, remaining)
            outcome = self.send(self._encode(batch), timeout_s=timeout)
        if outcome is SendResult.ACCEPTED:
            return True
        self._down(getattr(self.send, "last_error", "") or f"no answer within {timeout:.1f}s")
        return False

    def _up(self) -> None:
        ep = self.endpoint
        if ep.down:
            ep.down = False
            if ep.logged:
                ep.logged = False
                logger.info("otel_agentkit: OTLP endpoint %s answers again; replaying the spool", ep.key)

    def _down(self, reason: str) -> None:
        ep = self.endpoint
        with _endpoints_lock:
            ep.down = True
            ep.reason = reason or ep.reason
            first = not ep.logged and not self.closing  # while closing, the exit report says it all
            if first:
                ep.logged = True
        if first:
            logger.warning("otel_agentkit: OTLP export to %s failed (%s): batches are spooled to %s and sent when "
                           "it answers again (further failures are not logged until then)",
                           ep.key, ep.reason, self.spool.dir.parent)

    def divert(self, batch: Any) -> None:
        """Spool ``batch`` without trying the endpoint (circuit open, call timed out, shutting down). If the
        batch is still in a live call, that call's failure will not spool it a second time."""
        key = id(batch)
        with self._lock:
            state = self._inflight.get(key)
            if state == _CLAIMED:  # export() is spooling it now: return once it is on disk (a local write)
                self._done.wait_for(lambda: key not in self._inflight, timeout=5.0)
                return
            if state == _DIVERTED or any(b is batch for b in self._settled):
                return  # already spooled, or delivered
            if state == _IN_CALL:
                self._inflight[key] = _DIVERTED  # the call's failure will not spool it again
        self.write(batch)

    def write(self, batch: Any) -> bool:
        try:
            payload = self._encode(batch)
            items = self._count(batch)
        except Exception as exc:
            diagnostics.report(f"spool.encode.{self.spool.signal}", exc)
            diagnostics.count_drop(f"spool.{self.spool.signal}.unencodable", 1)
            return False
        written = self.spool.put(payload, items)
        if written:
            with self._lock:
                self.spooled += 1
        return written

    def begin_close(self, deadline: float) -> float:
        """Shutdown has begun: from now on a batch gets one attempt, no retries, until ``deadline``
        (time.monotonic()), and is spooled otherwise; a retry loop in progress is cut short. Returns the
        deadline in force (the earliest one given)."""
        self.close_deadline = min(self.close_deadline, deadline)
        self.closing = True
        _abort_retries(self.inner)
        return self.close_deadline

    def shutdown(self) -> None:
        if self.replayer is not None:  # a send in progress is not waited for: its file stays until accepted
            self.replayer.stop(timeout_s=max(0.0, min(1.0, self.close_deadline - time.monotonic())))
        close = getattr(self.send, "close", None)
        if close is not None:
            close()
        try:
            self.inner.shutdown()
        except Exception as exc:
            diagnostics.report(f"export.{self.name}.shutdown", exc)


def report_spooled() -> None:
    """One warning per endpoint for what this process left in the spool since the last report: how many
    batches wait, where, and why; then forget. Called at shutdown (and so at exit)."""
    groups: dict[str, list[_SpoolingCore]] = {}
    for core in list(_cores):
        if core.spooled:
            groups.setdefault(core.endpoint.key, []).append(core)
    for key, cores in groups.items():
        counts: dict[str, int] = {}
        for core in cores:
            core.spooled = 0
            waiting = len(core.spool.pending())
            if waiting:
                counts[core.spool.signal] = counts.get(core.spool.signal, 0) + waiting
        if not counts:
            continue  # replayed meanwhile
        ep = cores[0].endpoint
        why = ep.reason if ep.down else "no answer before the close deadline"
        detail = ", ".join(f"{signal} {n}" for signal, n in counts.items())
        logger.warning("otel_agentkit: OTLP endpoint %s unreachable (%s): %d batch(es) (%s) spooled to %s for "
                       "replay by the next process or `agentkit replay`", key, why, sum(counts.values()), detail,
                       cores[0].spool.dir.parent)


class SpoolingSpanExporter(SpanExporter):
    """A span exporter whose undelivered batches go to the spool and are replayed later.

    ``export_timeout_s`` tells a fan-out how long to wait for a call: a bit past the inner exporter's own
    deadline, so that the exporter's own FAILURE (and spooling) normally comes first.
    """

    def __init__(self, inner: SpanExporter, spool: Spool, send: Callable[..., SendResult] | None,
                 timeout_s: float = 10.0, name: str = "otlp", target: OtlpTarget | None = None) -> None:
        self.core = _SpoolingCore(inner, spool, send, encode_spans, len, name, target)
        self.name = name
        self.export_timeout_s = timeout_s + 5.0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        ok = self.core.export(spans, lambda: self.core.inner.export(spans), SpanExportResult.SUCCESS)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def divert(self, spans: Sequence[Any]) -> None:
        self.core.divert(spans)

    def begin_close(self, deadline: float) -> float:
        return self.core.begin_close(deadline)

    def shutdown(self) -> None:
        self.core.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.core.inner.force_flush(timeout_millis))


class SpoolingMetricExporter(MetricExporter):
    """A metric exporter whose undelivered exports go to the spool and are replayed later."""

    def __init__(self, inner: MetricExporter, spool: Spool, send: Callable[..., SendResult] | None,
                 timeout_s: float = 10.0, name: str = "otlp", target: OtlpTarget | None = None) -> None:
        super().__init__(preferred_temporality=getattr(inner, "_preferred_temporality", None),
                         preferred_aggregation=getattr(inner, "_preferred_aggregation", None))
        self.core = _SpoolingCore(inner, spool, send, encode_metrics, count_points, name, target)
        self.name = name
        self.export_timeout_s = timeout_s + 5.0

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        ok = self.core.export(metrics_data,
                              lambda: self.core.inner.export(metrics_data, timeout_millis=timeout_millis),
                              MetricExportResult.SUCCESS)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def divert(self, metrics_data: MetricsData) -> None:
        self.core.divert(metrics_data)

    def begin_close(self, deadline: float) -> float:
        return self.core.begin_close(deadline)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.core.inner.force_flush(timeout_millis=timeout_millis))

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.core.shutdown()


class SpoolingLogExporter(LogRecordExporter):
    """A log record exporter whose undelivered batches go to the spool and are replayed later."""

    def __init__(self, inner: LogRecordExporter, spool: Spool, send: Callable[..., SendResult] | None,
                 timeout_s: float = 10.0, name: str = "otlp", target: OtlpTarget | None = None) -> None:
        self.core = _SpoolingCore(inner, spool, send, encode_logs, len, name, target)
        self.name = name
        self.export_timeout_s = timeout_s + 5.0

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        ok = self.core.export(batch, lambda: self.core.inner.export(batch), LogRecordExportResult.SUCCESS)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def divert(self, batch: Sequence[Any]) -> None:
        self.core.divert(batch)

    def begin_close(self, deadline: float) -> float:
        return self.core.begin_close(deadline)

    def shutdown(self) -> None:
        self.core.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.core.inner.force_flush(timeout_millis))


# --- factories (called by registry.py) -----------------------------------------------------------------------
_OFFICIAL = {
    ("traces", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter"),
    ("traces", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter"),
    ("metrics", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "OTLPMetricExporter"),
    ("metrics", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", "OTLPMetricExporter"),
    ("logs", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
    ("logs", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
}
_PACKAGES = {"http/protobuf": "opentelemetry-exporter-otlp-proto-http",
             "grpc": "opentelemetry-exporter-otlp-proto-grpc"}


def official_exporter(signal: str, protocol: str, target: OtlpTarget | None = None) -> Any:
    """The official OTLP exporter for ``signal`` over ``protocol``, configured from the environment; the
    timeout and compression resolved in ``target`` are passed explicitly, so that a bad variable (already
    warned about) is not read a second time and refused by the exporter."""
    import importlib

    module_name, class_name = _OFFICIAL[(signal, protocol)]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        kwargs: dict[str, Any] = {}
        if target is not None:
            kwargs["timeout"] = target.timeout_s
            if protocol == "grpc":
                import grpc

                kwargs["compression"] = grpc.Compression.Gzip if target.compression == "gzip" \
                    else grpc.Compression.NoCompression
            else:
                from opentelemetry.exporter.otlp.proto.http import Compression

                kwargs["compression"] = {"gzip": Compression.Gzip, "deflate": Compression.Deflate}.get(
                    target.compression, Compression.NoCompression)
    except ImportError:
        raise MissingExtra("exporters", "otlp", "otlp", f"the OTLP exporter over {protocol} "
                           f"({_PACKAGES[protocol]})") from None
    return cls(**kwargs)


def spool_max_bytes(settings: Settings | None = None) -> int:
    """The spool bound: ``settings.spool_max_bytes`` if the settings carry it, else $AGENTKIT_SPOOL_MAX_BYTES,
    else 256 MiB (per signal)."""
    value = getattr(settings, "spool_max_bytes", None)
    if value is not None:
        return parse_positive_int("spool_max_bytes", value)
    env = os.environ.get(ENV_SPOOL_MAX_BYTES)
    if env not in (None, ""):
        try:
            return parse_positive_int(ENV_SPOOL_MAX_BYTES, env)
        except ConfigError as exc:
            _ignored(ENV_SPOOL_MAX_BYTES, env, str(exc).split(": ", 1)[-1], DEFAULT_MAX_BYTES)
    return DEFAULT_MAX_BYTES


def _build(settings: Settings, signal: str, wrapper: type) -> Any:
    """The spooling exporter for ``signal``; None (and one warning) when the endpoint variable is malformed:
    an environment variable must not stop the application, and batches for an endpoint that cannot exist
    must not pile up in the spool. Other bad variables raise ConfigError."""
    try:
        target = resolve_target(signal)
        inner = official_exporter(signal, target.protocol, target)
    except ValueError as exc:  # e.g. an endpoint urlparse refuses ("http://[::1")
        if not isinstance(exc, ConfigError):
            got = _env(signal, "ENDPOINT") or (ENV_OTLP_ENDPOINT,
                                                os.environ.get(ENV_OTLP_ENDPOINT, ""))
            exc = ConfigError(got[0], got[1], f"not a usable OTLP endpoint: {exc}")
        if not _endpoint_variable(exc):
            raise exc from None
        diagnostics.warn_once(("otlp.endpoint", str(exc.setting), str(exc.value)),
                              "otel_agentkit: %s; OTLP export is off until it is fixed (local files and other "
                              "exporters go on)", exc)
        return None
    spool = Spool(spool_dir(settings.home, signal), signal, spool_max_bytes(settings))
    name = "otlp-grpc" if target.protocol == "grpc" else "otlp-http"
    return wrapper(inner, spool, raw_sender(signal, target), timeout_s=target.timeout_s, name=name, target=target)


def otlp_span_exporter(settings: Settings) -> SpoolingSpanExporter | None:
    """The official OTLP span exporter (protocol from the environment) with the spool behind it;
    None when the endpoint variable is malformed (warned once)."""
    return _build(settings, "traces", SpoolingSpanExporter)


def otlp_metric_exporter(settings: Settings) -> SpoolingMetricExporter | None:
    """The official OTLP metric exporter (protocol from the environment) with the spool behind it;
    None when the endpoint variable is malformed (warned once)."""
    return _build(settings, "metrics", SpoolingMetricExporter)


def otlp_log_exporter(settings: Settings) -> SpoolingLogExporter | None:
    """The official OTLP log record exporter (protocol from the environment) with the spool behind it;
    None when the endpoint variable is malformed (warned once)."""
    return _build(settings, "logs", SpoolingLogExporter)
