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

While the endpoint is down the official exporters' per-retry log lines are kept back (the batch is not
lost: it is spooled) and the SDK logs one line per outage. At shutdown, :meth:`begin_close` puts the
exporters on a close path: one attempt per batch with the raw sender, no retries, none at all once the
endpoint failed, all within one close deadline (about a second); what is not accepted is spooled and
:func:`report_spooled` says so in one line. A malformed endpoint variable leaves OTLP out with one warning
(no batch waits in the spool for an endpoint that cannot exist).
"""

from __future__ import annotations

import collections
import gzip
import logging
import math
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
import weakref
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import urlparse

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import diagnostics
from ..config import (ENV_OTLP_ENDPOINT, ENV_OTLP_PREFIX, ENV_SPOOL_MAX_BYTES, ConfigError, MissingExtra,
                      parse_positive_int)
from .spool import DEFAULT_MAX_BYTES, Replayer, SendResult, Spool, spool_dir

if TYPE_CHECKING:
    from ..config import Settings

logger = logging.getLogger("otel_agentkit")
PROTOCOLS = ("http/protobuf", "grpc")
_GRPC_PATHS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


def _env(signal: str, key: str) -> tuple[str, str] | None:
    """(variable, value) of OTEL_EXPORTER_OTLP_<SIGNAL>_<KEY>, else OTEL_EXPORTER_OTLP_<KEY>, if set."""
    for name in (f"{ENV_OTLP_PREFIX}{signal.upper()}_{key}", f"{ENV_OTLP_PREFIX}{key}"):
        value = os.environ.get(name)
        if value not in (None, ""):
            return name, value.strip()
    return None


def _ignored(name: str, value: str, why: str, default: object) -> None:
    """A bad variable: one warning naming it and its value, and the default is used (as the OTel SDK does:
    a typo in the environment must not take the application down)."""
    diagnostics.warn_once(("otlp-env", name, value), "otel_agentkit: ignoring %s=%r (%s); using %s", name, value,
                          why, default)


def resolve_protocol(signal: str) -> str:
    """The OTLP protocol for ``signal``; a value we cannot send is warned about and http/protobuf used."""
    got = _env(signal, "PROTOCOL")
    if got is None:
        return "http/protobuf"
    name, value = got
    if value.lower() in PROTOCOLS:
        return value.lower()
    why = "the Python OTLP exporters do not support http/json" if value.lower() == "http/json" else ""
    _ignored(name, value, why or f"expected one of {', '.join(PROTOCOLS)}", "http/protobuf")
    return "http/protobuf"


_HOST = re.compile(r"^[A-Za-z0-9._~%:-]+$")  # a name, an IPv4 address, or an IPv6 one (brackets removed)


def check_endpoint(setting: str, value: str, protocol: str) -> None:
    """A ConfigError naming ``setting`` unless ``value`` is an endpoint a request could ever reach: for
    http/protobuf an http(s) URL with a host; for grpc the same, or ``host:port``, or ``unix:``. Anything
    else would only fill the spool with batches that no replay can deliver."""
    text = value.strip()
    if protocol == "grpc" and text.startswith("unix:"):
        return
    if protocol == "grpc" and "://" not in text:
        text = "//" + text  # host:port, the form the grpc exporter also takes
    try:
        parsed = urlparse(text)
        host, _port = parsed.hostname, parsed.port  # .port refuses a port out of range or not a number
    except ValueError as exc:
        raise ConfigError(setting, value, f"not a usable OTLP endpoint: {exc}") from None
    schemes = ("http", "https", "") if protocol == "grpc" else ("http", "https")
    if parsed.scheme.lower() not in schemes or not host or not _HOST.match(host) or any(c.isspace() for c in text):
        example = "http://host:4317 or host:4317" if protocol == "grpc" else "http://host:4318"
        raise ConfigError(setting, value, f"not a usable OTLP endpoint: expected a URL like {example}")


def _endpoint_variable(exc: ConfigError) -> bool:
    return isinstance(exc.setting, str) and exc.setting.startswith(ENV_OTLP_PREFIX) \
        and exc.setting.endswith("_ENDPOINT")


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
    specific = os.environ.get(f"{ENV_OTLP_PREFIX}{signal.upper()}_ENDPOINT")
    base = os.environ.get(ENV_OTLP_ENDPOINT)
    for name, value in ((f"{ENV_OTLP_PREFIX}{signal.upper()}_ENDPOINT", specific),
                        (ENV_OTLP_ENDPOINT, base)):
        if value:
            check_endpoint(name, value, protocol)
            break  # the signal's own variable wins; the base one is then not used for this signal
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
            value = float(got[1])
        except ValueError:
            value = math.nan
        if value > 0 and math.isfinite(value):
            timeout_s = value
        else:
            _ignored(got[0], got[1], "expected a number of seconds above 0", timeout_s)
    compression = "none"
    if (got := _env(signal, "COMPRESSION")) is not None:
        allowed = ("none", "gzip", "deflate") if protocol == "http/protobuf" else ("none", "gzip")
        if got[1].lower() in allowed:
            compression = got[1].lower()
        else:
            _ignored(got[0], got[1], f"expected one of {', '.join(allowed)}", compression)
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
        self.last_error = ""  # why the last send was not accepted, for the one line the SDK logs
        self._context: ssl.SSLContext | None = None
        if urlparse(target.endpoint).scheme == "https":
            self._context = ssl.create_default_context(cafile=target.certificate)
            if target.client_certificate:
                self._context.load_cert_chain(target.client_certificate, target.client_key)

    def __call__(self, payload: bytes, timeout_s: float | None = None) -> SendResult:
        """One attempt, no retries: what is not ACCEPTED stays spooled for the next round."""
        t = self.target
        headers = {"content-type": "application/x-protobuf", "user-agent": "otel-agentkit-replay", **t.headers}
        if t.compression == "gzip":
            payload, headers["content-encoding"] = gzip.compress(payload), "gzip"
        elif t.compression == "deflate":
            payload, headers["content-encoding"] = zlib.compress(payload), "deflate"
        request = urllib.request.Request(t.endpoint, data=payload, headers=headers, method="POST")
        timeout = timeout_s or t.timeout_s
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context) as response:
                response.read()
                if 200 <= response.status < 300:
                    return SendResult.ACCEPTED
                self.last_error = f"HTTP {response.status}"
                return SendResult.RETRY
        except urllib.error.HTTPError as exc:
            self.last_error = f"HTTP {exc.code}"
            # 401/403 may be a credential fixed tomorrow: keep the data; other 4xx will never be accepted.
            if exc.code in (401, 403, 408, 429) or exc.code >= 500:
                return SendResult.RETRY
            return SendResult.REJECTED
        except (OSError, ValueError) as exc:  # refused, reset, timed out, DNS: try later
            why = getattr(exc, "reason", exc)
            self.last_error = f"no answer within {timeout:.1f}s" if isinstance(why, TimeoutError) else \
                str(getattr(why, "strerror", None) or why)
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
        self.last_error = ""
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

    def __call__(self, payload: bytes, timeout_s: float | None = None) -> SendResult:
        """One attempt, no retries: what is not ACCEPTED stays spooled for the next round."""
        try:
            self._method()(payload, metadata=tuple(self.target.headers.items()),
                           timeout=timeout_s or self.target.timeout_s)
            return SendResult.ACCEPTED
        except self._grpc.RpcError as exc:
            code = getattr(exc.code(), "name", "UNKNOWN") if hasattr(exc, "code") else "UNKNOWN"
            self.last_error = "no answer in time" if code == "DEADLINE_EXCEEDED" else code
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
            raise MissingExtra("exporters", "otlp", "otlp", "the OTLP exporter over grpc (grpcio)") from None
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
