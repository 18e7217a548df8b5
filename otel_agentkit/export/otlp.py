"""OTLP exporters built from the standard OTEL_EXPORTER_OTLP_* variables, wrapped with the disk spool.

The official exporters (opentelemetry-exporter-otlp-proto-http / -grpc) read endpoint, headers, timeout,
compression and certificates from the environment themselves; this module only picks the protocol
(OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL, then OTEL_EXPORTER_OTLP_PROTOCOL, default
http/protobuf), builds the matching exporter with no arguments, and wraps it so that a batch it could not
deliver goes to the spool under ``settings.home / "spool"``.

Replay sends the spooled protobuf bytes as they are, which the official exporters cannot do (they take SDK
objects), so :func:`raw_sender` resolves the same variables by the same rules (the spec's, as the Python
exporters apply them: the timeout is in seconds) and posts the bytes over http/protobuf (stdlib HTTP) or
grpc (a raw unary call on the standard service path).
"""

from __future__ import annotations

import gzip
import os
import ssl
import threading
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import urlparse

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import diagnostics
from ..config import ConfigError, parse_positive_int
from .spool import DEFAULT_MAX_BYTES, Replayer, SendResult, Spool, spool_dir

if TYPE_CHECKING:
    from ..config import Settings

ENV_SPOOL_MAX_BYTES = "AGENTKIT_SPOOL_MAX_BYTES"
PROTOCOLS = ("http/protobuf", "grpc")
_GRPC_PATHS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_INSTALL_HINT = "pip install 'otel-agentkit[otlp]'"


def _env(signal: str, key: str) -> tuple[str, str] | None:
    """(variable, value) of OTEL_EXPORTER_OTLP_<SIGNAL>_<KEY>, else OTEL_EXPORTER_OTLP_<KEY>, if set."""
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{key}", f"OTEL_EXPORTER_OTLP_{key}"):
        value = os.environ.get(name)
        if value not in (None, ""):
            return name, value.strip()
    return None


def resolve_protocol(signal: str) -> str:
    """The OTLP protocol for ``signal``; a ConfigError naming the variable for a value we cannot send."""
    got = _env(signal, "PROTOCOL")
    if got is None:
        return "http/protobuf"
    name, value = got
    if value.lower() in PROTOCOLS:
        return value.lower()
    why = "the Python OTLP exporters do not support http/json" if value.lower() == "http/json" else ""
    raise ConfigError(name, value, why or f"expected one of {', '.join(PROTOCOLS)}")


@dataclass(frozen=True)
class OtlpTarget:
    """Where and how one signal's OTLP requests go, resolved from the standard variables."""

    signal: str
    protocol: str
    endpoint: str  # full URL for http/protobuf, host:port for grpc
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str = "none"
    insecure: bool = True
    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None


def resolve_target(signal: str, protocol: str | None = None) -> OtlpTarget:
    """Resolve the endpoint, headers, timeout, compression and TLS files of ``signal`` as the spec says."""
    from opentelemetry.util.re import parse_env_headers

    protocol = protocol or resolve_protocol(signal)
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    insecure = True
    if protocol == "http/protobuf":
        endpoint = specific or f"{(base or 'http://localhost:4318').rstrip('/')}/v1/{signal}"
        insecure = urlparse(endpoint).scheme != "https"
    else:
        raw = specific or base or "http://localhost:4317"
        parsed = urlparse(raw)
        endpoint = parsed.netloc or raw
        flag = _env(signal, "INSECURE")
        insecure = flag[1].lower() == "true" if flag else parsed.scheme == "http"
        if parsed.scheme == "https":
            insecure = False
    headers_got = _env(signal, "HEADERS")
    headers = parse_env_headers(headers_got[1], liberal=True) if headers_got else {}
    timeout_s = 10.0
    if (got := _env(signal, "TIMEOUT")) is not None:
        try:
            timeout_s = float(got[1])
        except ValueError:
            raise ConfigError(got[0], got[1], "expected a number of seconds") from None
        if timeout_s <= 0:
            raise ConfigError(got[0], got[1], "expected a number of seconds above 0")
    compression = "none"
    if (got := _env(signal, "COMPRESSION")) is not None:
        compression = got[1].lower()
        allowed = ("none", "gzip", "deflate") if protocol == "http/protobuf" else ("none", "gzip")
        if compression not in allowed:
            raise ConfigError(got[0], got[1], f"expected one of {', '.join(allowed)}")
    cert = _env(signal, "CERTIFICATE")
    key = _env(signal, "CLIENT_KEY")
    client_cert = _env(signal, "CLIENT_CERTIFICATE")
    return OtlpTarget(signal, protocol, endpoint, {k.lower(): v for k, v in headers.items()}, timeout_s,
                      compression, insecure, cert[1] if cert else None, key[1] if key else None,
                      client_cert[1] if client_cert else None)


# --- raw senders (replay) ------------------------------------------------------------------------------------
class HttpSender:
    """POST one serialized Export*ServiceRequest to an OTLP/HTTP endpoint (http/protobuf)."""

    def __init__(self, target: OtlpTarget) -> None:
        self.target = target
        self._context: ssl.SSLContext | None = None
        if urlparse(target.endpoint).scheme == "https":
            self._context = ssl.create_default_context(cafile=target.certificate)
            if target.client_certificate:
                self._context.load_cert_chain(target.client_certificate, target.client_key)

    def __call__(self, payload: bytes) -> SendResult:
        t = self.target
        headers = {"content-type": "application/x-protobuf", "user-agent": "otel-agentkit-replay", **t.headers}
        if t.compression == "gzip":
            payload, headers["content-encoding"] = gzip.compress(payload), "gzip"
        elif t.compression == "deflate":
            payload, headers["content-encoding"] = zlib.compress(payload), "deflate"
        request = urllib.request.Request(t.endpoint, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=t.timeout_s, context=self._context) as response:
                response.read()
                return SendResult.ACCEPTED if 200 <= response.status < 300 else SendResult.RETRY
        except urllib.error.HTTPError as exc:
            # 401/403 may be a credential fixed tomorrow: keep the data; other 4xx will never be accepted.
            if exc.code in (401, 403, 408, 429) or exc.code >= 500:
                return SendResult.RETRY
            return SendResult.REJECTED
        except (OSError, ValueError):  # refused, reset, timed out, DNS: try later
            return SendResult.RETRY

    def close(self) -> None:
        pass


class GrpcSender:
    """Send one serialized Export*ServiceRequest with a raw unary call on the standard OTLP service path."""

    _RETRY_CODES = ("CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "OUT_OF_RANGE",
                    "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED", "PERMISSION_DENIED", "INTERNAL", "UNKNOWN")

    def __init__(self, target: OtlpTarget) -> None:
        import grpc

        self.target = target
        self._grpc = grpc
        self._lock = threading.Lock()
        self._channel: Any = None
        self._call: Any = None

    def _method(self) -> Any:
        grpc, t = self._grpc, self.target
        with self._lock:
            if self._call is None:
                compression = grpc.Compression.Gzip if t.compression == "gzip" else grpc.Compression.NoCompression
                if t.insecure:
                    self._channel = grpc.insecure_channel(t.endpoint, compression=compression)
                else:
                    def read(path: str | None) -> bytes | None:
                        if not path:
                            return None
                        with open(path, "rb") as f:
                            return f.read()

                    creds = grpc.ssl_channel_credentials(read(t.certificate), read(t.client_key),
                                                         read(t.client_certificate))
                    self._channel = grpc.secure_channel(t.endpoint, creds, compression=compression)
                # No serializers: the request is already protobuf bytes, the response is read as bytes.
                self._call = self._channel.unary_unary(_GRPC_PATHS[t.signal])
            return self._call

    def __call__(self, payload: bytes) -> SendResult:
        try:
            self._method()(payload, metadata=tuple(self.target.headers.items()), timeout=self.target.timeout_s)
            return SendResult.ACCEPTED
        except self._grpc.RpcError as exc:
            code = getattr(exc.code(), "name", "UNKNOWN") if hasattr(exc, "code") else "UNKNOWN"
            if code == "UNAVAILABLE":
                self.close()  # a fresh channel next time, not one waiting out grpc's reconnect back-off
            return SendResult.RETRY if code in self._RETRY_CODES else SendResult.REJECTED

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._call = None


def raw_sender(signal: str, target: OtlpTarget | None = None) -> HttpSender | GrpcSender:
    """A callable ``bytes -> SendResult`` for the configured endpoint of ``signal``."""
    target = target or resolve_target(signal)
    if target.protocol == "grpc":
        try:
            return GrpcSender(target)
        except ImportError:
            raise ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", f"grpcio is not installed: {_INSTALL_HINT}") \
                from None
    return HttpSender(target)


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


def count_points(data: MetricsData) -> int:
    """Data points in a metrics export: the unit a metrics drop is counted in."""
    return sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics)


class _SpoolingCore:
    """Shared by the three signal wrappers: live export, spool on failure, background replay."""

    def __init__(self, inner: Any, spool: Spool, send: Callable[[bytes], SendResult] | None,
                 encode: Callable[[Any], bytes], count: Callable[[Any], int], name: str) -> None:
        self.inner = inner
        self.spool = spool
        self.name = name
        self.send = send
        self._encode = encode
        self._count = count
        self._lock = threading.Lock()
        self._inflight: dict[int, bool] = {}  # id(batch) -> already diverted to the spool meanwhile
        self.replayer = Replayer(spool, send) if send is not None else None
        if self.replayer is not None:
            spool.listeners.append(self.replayer.start)
            if spool.maybe_pending():  # left by an earlier process: sent once the endpoint answers
                self.replayer.start()

    def export(self, batch: Any, call: Callable[[], Any], success: Any) -> bool:
        key = id(batch)
        with self._lock:
            self._inflight[key] = False
        ok = False
        try:
            ok = call() == success
        except Exception as exc:
            diagnostics.report(f"export.{self.name}", exc)
        finally:
            with self._lock:
                diverted = self._inflight.pop(key, False)
        if ok:
            if self.replayer is not None and self.spool.maybe_pending():
                self.replayer.nudge()  # the endpoint answers again: send the backlog now
            return True
        if not diverted:
            self.write(batch)
        return False

    def divert(self, batch: Any) -> None:
        """Spool ``batch`` without trying the endpoint (circuit open, call timed out, shutting down). If the
        batch is still in a live call, that call's failure will not spool it a second time."""
        with self._lock:
            if id(batch) in self._inflight:
                self._inflight[id(batch)] = True
        self.write(batch)

    def write(self, batch: Any) -> bool:
        try:
            payload = self._encode(batch)
            items = self._count(batch)
        except Exception as exc:
            diagnostics.report(f"spool.encode.{self.spool.signal}", exc)
            diagnostics.count_drop(f"spool.{self.spool.signal}.unencodable", 1)
            return False
        return self.spool.put(payload, items)

    def shutdown(self) -> None:
        if self.replayer is not None:
            self.replayer.stop()
        close = getattr(self.send, "close", None)
        if close is not None:
            close()
        try:
            self.inner.shutdown()
        except Exception as exc:
            diagnostics.report(f"export.{self.name}.shutdown", exc)


class SpoolingSpanExporter(SpanExporter):
    """A span exporter whose undelivered batches go to the spool and are replayed later.

    ``export_timeout_s`` tells a fan-out how long to wait for a call: a bit past the inner exporter's own
    deadline, so that the exporter's own FAILURE (and spooling) normally comes first.
    """

    def __init__(self, inner: SpanExporter, spool: Spool, send: Callable[[bytes], SendResult] | None,
                 timeout_s: float = 10.0, name: str = "otlp") -> None:
        self.core = _SpoolingCore(inner, spool, send, encode_spans, len, name)
        self.name = name
        self.export_timeout_s = timeout_s + 5.0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        ok = self.core.export(spans, lambda: self.core.inner.export(spans), SpanExportResult.SUCCESS)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def divert(self, spans: Sequence[Any]) -> None:
        self.core.divert(spans)

    def shutdown(self) -> None:
        self.core.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.core.inner.force_flush(timeout_millis))


class SpoolingMetricExporter(MetricExporter):
    """A metric exporter whose undelivered exports go to the spool and are replayed later."""

    def __init__(self, inner: MetricExporter, spool: Spool, send: Callable[[bytes], SendResult] | None,
                 timeout_s: float = 10.0, name: str = "otlp") -> None:
        super().__init__(preferred_temporality=getattr(inner, "_preferred_temporality", None),
                         preferred_aggregation=getattr(inner, "_preferred_aggregation", None))
        self.core = _SpoolingCore(inner, spool, send, encode_metrics, count_points, name)
        self.name = name
        self.export_timeout_s = timeout_s + 5.0

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        ok = self.core.export(metrics_data,
                              lambda: self.core.inner.export(metrics_data, timeout_millis=timeout_millis),
                              MetricExportResult.SUCCESS)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def divert(self, metrics_data: MetricsData) -> None:
        self.core.divert(metrics_data)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.core.inner.force_flush(timeout_millis=timeout_millis))

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.core.shutdown()


class SpoolingLogExporter(LogRecordExporter):
    """A log record exporter whose undelivered batches go to the spool and are replayed later."""

    def __init__(self, inner: LogRecordExporter, spool: Spool, send: Callable[[bytes], SendResult] | None,
                 timeout_s: float = 10.0, name: str = "otlp") -> None:
        self.core = _SpoolingCore(inner, spool, send, encode_logs, len, name)
        self.name = name
        self.export_timeout_s = timeout_s + 5.0

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        ok = self.core.export(batch, lambda: self.core.inner.export(batch), LogRecordExportResult.SUCCESS)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def divert(self, batch: Sequence[Any]) -> None:
        self.core.divert(batch)

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


def official_exporter(signal: str, protocol: str) -> Any:
    """The official OTLP exporter for ``signal`` over ``protocol``, configured from the environment."""
    import importlib

    module_name, class_name = _OFFICIAL[(signal, protocol)]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        raise ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL", protocol,
                          f"{_PACKAGES[protocol]} is not installed: {_INSTALL_HINT}") from None
    return cls()


def spool_max_bytes(settings: Settings | None = None) -> int:
    """The spool bound: ``settings.spool_max_bytes`` if the settings carry it, else $AGENTKIT_SPOOL_MAX_BYTES,
    else 256 MiB (per signal)."""
    value = getattr(settings, "spool_max_bytes", None)
    if value is not None:
        return parse_positive_int("spool_max_bytes", value)
    env = os.environ.get(ENV_SPOOL_MAX_BYTES)
    if env not in (None, ""):
        return parse_positive_int(ENV_SPOOL_MAX_BYTES, env)
    return DEFAULT_MAX_BYTES


def _build(settings: Settings, signal: str, wrapper: type) -> Any:
    try:
        target = resolve_target(signal)
        inner = official_exporter(signal, target.protocol)
    except ValueError as exc:  # e.g. an endpoint urlparse refuses ("http://[::1")
        if isinstance(exc, ConfigError):
            raise
        got = _env(signal, "ENDPOINT") or ("OTEL_EXPORTER_OTLP_ENDPOINT", os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        raise ConfigError(got[0], got[1], f"not a usable OTLP endpoint: {exc}") from None
    spool = Spool(spool_dir(settings.home, signal), signal, spool_max_bytes(settings))
    name = "otlp-grpc" if target.protocol == "grpc" else "otlp-http"
    return wrapper(inner, spool, raw_sender(signal, target), timeout_s=target.timeout_s, name=name)


def otlp_span_exporter(settings: Settings) -> SpoolingSpanExporter:
    """The official OTLP span exporter (protocol from the environment) with the spool behind it."""
    return _build(settings, "traces", SpoolingSpanExporter)


def otlp_metric_exporter(settings: Settings) -> SpoolingMetricExporter:
    """The official OTLP metric exporter (protocol from the environment) with the spool behind it."""
    return _build(settings, "metrics", SpoolingMetricExporter)


def otlp_log_exporter(settings: Settings) -> SpoolingLogExporter:
    """The official OTLP log record exporter (protocol from the environment) with the spool behind it."""
    return _build(settings, "logs", SpoolingLogExporter)
