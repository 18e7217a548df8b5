"""Where one signal's OTLP requests go, resolved from the standard OTEL_EXPORTER_OTLP_* variables as the
specification says (the timeout in seconds, as the Python exporters apply it): the endpoint (checked: an
endpoint no request could reach is refused), protocol, headers, timeout, compression and TLS files. A bad
protocol, timeout or compression is warned about once and its default used."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from .. import diagnostics
from ..config import ENV_OTLP_ENDPOINT, ENV_OTLP_PREFIX, ConfigError

PROTOCOLS = ("http/protobuf", "grpc")
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
