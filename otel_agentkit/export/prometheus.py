"""The ``prometheus`` metrics backend: a PrometheusMetricReader with its own scrape endpoint.

A pull backend, so it is a metric reader beside the push exporters rather than one of the fan-out's
backends. The endpoint honours the standard OTEL_EXPORTER_PROMETHEUS_HOST / _PORT (default
localhost:9464) and serves a registry of its own, so starting and stopping agentkit twice in one process
never registers the same collector twice.
"""

from __future__ import annotations

import os
from .. import diagnostics
from ..config import ENV_PROMETHEUS_HOST, ENV_PROMETHEUS_PORT, ConfigError, MissingExtra, parse_positive_int

ENV_HOST, ENV_PORT = ENV_PROMETHEUS_HOST, ENV_PROMETHEUS_PORT


class PrometheusEndpoint:
    """The reader (to add to the MeterProvider) and the HTTP server that exposes it."""

    def __init__(self, host: str | None = None, port: int | None = None) -> None:
        try:
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError:
            raise MissingExtra("exporters", "prometheus", "prometheus", "the Prometheus exporter") from None
        self.host = host or os.environ.get(ENV_HOST) or "localhost"
        if port is None:
            port = 9464
            if os.environ.get(ENV_PORT):
                try:
                    port = parse_positive_int(ENV_PORT, os.environ[ENV_PORT])
                except ConfigError as exc:  # a bad variable: one warning, the default (as the OTel SDK does)
                    diagnostics.warn_once(("prometheus-port", os.environ[ENV_PORT]), "otel_agentkit: ignoring "
                                          "%s; using 9464", str(exc).replace("invalid ", "", 1))
        self.port = port
        self.registry = CollectorRegistry(auto_describe=True)
        self.reader = PrometheusMetricReader(registry=self.registry)
        try:
            self._server, self._thread = start_http_server(self.port, addr=self.host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(ENV_PORT, self.port, f"cannot serve metrics on {self.host}:{self.port}: "
                                                   f"{exc.strerror or exc}") from None

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
