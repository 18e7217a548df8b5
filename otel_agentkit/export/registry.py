"""Exporter names (``init(exporters=...)``, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER) to exporter objects.

Imports are lazy so that ``import otel_agentkit`` stays light: only the exporters actually named load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .. import diagnostics
from ..config import ConfigError, MissingExtra

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


def _jsonl_logs(settings: Settings) -> Any:
    from .jsonl import JsonlLogExporter

    return JsonlLogExporter(settings.home / "telemetry")


def _otlp_logs(settings: Settings) -> Any:
    from .otlp import otlp_log_exporter

    return otlp_log_exporter(settings)


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
LOG_EXPORTERS: dict[str, Callable[[Settings], Any]] = {
    "jsonl": _jsonl_logs,
    "agentkit_jsonl": _jsonl_logs,
    "otlp": _otlp_logs,
}


def _prometheus(settings: Settings) -> Any:
    from .prometheus import PrometheusEndpoint

    return PrometheusEndpoint()


# Pull backends: a metric reader with its own endpoint instead of an exporter behind the fan-out.
METRIC_READERS: dict[str, Callable[[Settings], Any]] = {"prometheus": _prometheus}


def _refuse(settings: Settings, setting: str, exc: ConfigError) -> None:
    """A name that cannot be used: from a keyword, init() fails (raise); from the environment, one warning
    and the name is left out (an environment variable must not stop the application)."""
    if not settings.from_environment(setting):
        raise exc
    variable = settings.origins[setting]
    why = exc.args[0].split(": ", 1)[-1] if not isinstance(exc, MissingExtra) else \
        f"needs {exc.what}: pip install 'otel-agentkit[{exc.extra}]'"
    diagnostics.warn_once(("exporter", variable, str(exc.value)), "otel_agentkit: ignoring %r in %s (%s); the "
                          "other exporters go on", exc.value, variable, why)


def _build(setting: str, items: tuple[Any, ...], table: dict[str, Callable[[Settings], Any]],
           settings: Settings, skip_other_signals: bool) -> list[Any]:
    """Exporter objects for ``items``: names are looked up (a name that no signal knows fails init with
    the setting and the value); objects are used as given. With ``skip_other_signals`` a name that only
    exists for another signal (console has no metrics) is skipped instead of refused. Every name is checked
    before any exporter is built."""
    known = set(SPAN_EXPORTERS) | set(METRIC_EXPORTERS) | set(LOG_EXPORTERS) | set(METRIC_READERS) | {"none"}
    usable = []
    for item in items:
        if not isinstance(item, str) and not callable(getattr(item, "export", None)):
            raise ConfigError(setting, item, "expected an exporter name or an exporter object with export()")
        if isinstance(item, str) and (item not in known or (
                item not in table and item != "none" and not skip_other_signals)):
            choices = ", ".join(sorted(set(table) | {"none"}))
            _refuse(settings, setting, ConfigError(setting, item, f"unknown exporter; known: {choices}"))
            continue
        usable.append(item)
    built = []
    for item in usable:
        if not isinstance(item, str):
            built.append(item)
        elif item in table:
            try:
                built.append(table[item](settings))
            except MissingExtra as exc:
                _refuse(settings, setting, MissingExtra(setting, item, exc.extra, exc.what))
    return [e for e in built if e is not None]  # None: left out with a warning (a malformed OTLP endpoint)
def build_span_exporters(settings: Settings) -> list[SpanExporter]:
    return _build("exporters", settings.exporters, SPAN_EXPORTERS, settings, True)


def build_metric_exporters(settings: Settings) -> list[MetricExporter]:
    names = tuple(n for n in settings.metric_exporters if n not in METRIC_READERS)
    return _build("metric_exporters", names, METRIC_EXPORTERS, settings, True)


def build_metric_endpoints(settings: Settings) -> list[Any]:
    """Pull endpoints named in metric_exporters (or exporters): objects with ``reader`` and ``shutdown()``."""
    names = dict.fromkeys((n, setting) for setting in ("metric_exporters", "exporters")
                          for n in getattr(settings, setting) if isinstance(n, str) and n in METRIC_READERS)
    endpoints, seen = [], set()
    for name, setting in names:
        if name in seen:
            continue
        seen.add(name)
        try:
            endpoints.append(METRIC_READERS[name](settings))
        except MissingExtra as exc:
            _refuse(settings, setting, MissingExtra(setting, name, exc.extra, exc.what))
        except ConfigError as exc:  # a port that cannot be served: from the environment, warned, left out
            _refuse(settings, setting, ConfigError(setting, name, str(exc)))
    return endpoints


def build_log_exporters(settings: Settings) -> list[Any]:
    names = tuple(e for e in settings.log_exporters if isinstance(e, str))
    return _build("log_exporters", names, LOG_EXPORTERS, settings, True)
