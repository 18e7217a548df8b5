"""Raw OTLP senders for replay: the spooled protobuf bytes posted as they are (the official exporters take
SDK objects), over http/protobuf (stdlib HTTP) or grpc (a raw unary call on the standard service path),
to the target resolved by otlp_target.py."""

from __future__ import annotations

import gzip
import ssl
import threading
import urllib.error
import urllib.request
import zlib
from typing import Any
from urllib.parse import urlparse

from ..config import MissingExtra
from .otlp_target import OtlpTarget, resolve_target
from .spool import SendResult

_GRPC_PATHS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


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
