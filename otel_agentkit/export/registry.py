"""Exporter names (``init(exporters=...)``, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER) to exporter objects.

Imports are lazy so that ``import otel_agentkit`` stays light: only the exporters actually named load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..config import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter

    from ..config import Settings


def _jsonl_spans(settings: Settings) -> SpanExporter:
    from .jsonl import JsonlSpanExporter

    return JsonlSpanExporter(settings.home / "telemetry")


def _jsonl_metrics(settings: Settings) -> MetricExporter:
    from .jsonl import JsonlMetricExporter

    return JsonlMetricExporter(settings.home / "telemetry")


def _console_spans(settings: Settings) -> SpanExporter:
    from .console import ConsoleSpanExporter

    return ConsoleSpanExporter()


def _otlp_spans(settings: Settings) -> SpanExporter:
    from .otlp import otlp_span_exporter

    return otlp_span_exporter(settings)


def _otlp_metrics(settings: Settings) -> MetricExporter:
    from .otlp import otlp_metric_exporter

    return otlp_metric_exporter(settings)


SPAN_EXPORTERS: dict[str, Callable[[Settings], SpanExporter]] = {
    "jsonl": _jsonl_spans,
    "agentkit_jsonl": _jsonl_spans,
    "console": _console_spans,
    "otlp": _otlp_spans,
}
METRIC_EXPORTERS: dict[str, Callable[[Settings], MetricExporter]] = {
    "jsonl": _jsonl_metrics,
    "agentkit_jsonl": _jsonl_metrics,
    "otlp": _otlp_metrics,
}


def check_names(setting: str, names: tuple[Any, ...], table: dict[str, Any]) -> None:
    """Fail at init on a name no exporter answers to ('none' is allowed and means no exporter)."""
    for name in names:
        if isinstance(name, str) and name != "none" and name not in table:
            known = ", ".join(sorted(set(table) | {"none"}))
            raise ConfigError(setting, name, f"unknown exporter; known: {known}")


def build_span_exporters(settings: Settings) -> list[SpanExporter]:
    check_names("exporters", settings.exporters, SPAN_EXPORTERS)
    out: list[SpanExporter] = []
    for item in settings.exporters:
        if item == "none":
            continue
        out.append(SPAN_EXPORTERS[item](settings) if isinstance(item, str) else item)
    return out


def build_metric_exporters(settings: Settings) -> list[MetricExporter]:
    names = tuple(n for n in settings.metric_exporters if not isinstance(n, str) or n in METRIC_EXPORTERS or n == "none"
                  or n not in SPAN_EXPORTERS)
    check_names("metric_exporters", names, METRIC_EXPORTERS)
    out: list[MetricExporter] = []
    for item in names:
        if item == "none":
            continue
        if isinstance(item, str):
            out.append(METRIC_EXPORTERS[item](settings))
        elif hasattr(item, "export") and hasattr(item, "_preferred_temporality"):
            out.append(item)
    return out
