"""``init``, ``flush`` and ``shutdown``: wiring the recorder to OpenTelemetry providers.

init never replaces a provider the application already set: it adds its span processor and metric reader
to an SDK provider it finds, and creates (and owns) providers only where none was set. Only what it owns
or added is shut down by ``shutdown()``.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace

from . import diagnostics, semconv as sc
from .config import ConfigError, Settings, load_settings
from .instrument import telemetry as _state
from .instrument.context import configure_salt
from .instrument.pricing import Pricing
from .instrument.telemetry import Telemetry
from .version import __version__

_lock = threading.RLock()
_atexit_registered = False


@dataclass
class _Wiring:
    """What init created or attached, so that shutdown undoes exactly that."""

    settings: Settings
    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any = None
    span_processors: list[Any] = field(default_factory=list)
    metric_readers: list[Any] = field(default_factory=list)
    log_processors: list[Any] = field(default_factory=list)
    exporters: list[Any] = field(default_factory=list)
    extras: list[Any] = field(default_factory=list)  # objects with shutdown() (alerts, instrumentors)


_wiring: _Wiring | None = None


def _resource(settings: Settings) -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    attrs: dict[str, Any] = dict(settings.resource_attributes)
    if settings.service_name:
        attrs[SERVICE_NAME] = settings.service_name
    attrs.setdefault("telemetry.distro.name", sc.SCOPE_NAME)
    attrs.setdefault("telemetry.distro.version", __version__)
    return Resource.create(attrs)  # also reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME


def _is_sdk_tracer_provider(provider: Any) -> bool:
    return hasattr(provider, "add_span_processor")


def _is_unset(provider: Any) -> bool:
    return type(provider).__name__.startswith(("Proxy", "_Proxy", "NoOp", "_NoOp", "Default"))


def init(*, service_name: str | None = None, exporters: Any = None, metric_exporters: Any = None,
         capture_content: Any = None, content_max_length: int | None = None, legacy_metrics: bool | None = None,
         home: Any = None, pricing: Any = None, user_id_salt: str | None = None, redact: Any = None,
         resource_attributes: Any = None, metric_export_interval_ms: int | None = None,
         disabled: bool | None = None, tracer_provider: Any = None, meter_provider: Any = None,
         logger_provider: Any = None, alerts: Any = None, auto_instrument: Any = None) -> bool:
    """Start recording. Keyword arguments override the OTEL_* / AGENTKIT_* environment.

    Idempotent: a second call while active does nothing and returns False. Returns True when recording
    was switched on, False when it was already on or is disabled (OTEL_SDK_DISABLED=true). Providers passed
    explicitly, or already set globally by the application, are used as they are (our processor and
    reader are added to them); otherwise SDK providers are created and set globally. ``alerts`` turns on
    in-process alert rules: True (the rules in the data directory), a rules file, a list of rules, or a
    mapping of options (see ``otel_agentkit.alerts.setup``). ``auto_instrument`` traces LLM client
    libraries without code changes: True for every supported one installed, or a list of names
    (``"openai"``, ``"anthropic"``); shutdown() puts their original methods back.
    Raises ConfigError for a bad setting, naming it and its value.
    """
    global _wiring, _atexit_registered
    with _lock:
        if _wiring is not None:
            diagnostics.logger.debug("otel_agentkit: init() called again; already active")
            return False
        settings = load_settings(
            service_name=service_name, exporters=exporters, metric_exporters=metric_exporters,
            capture_content=capture_content, content_max_length=content_max_length,
            legacy_metrics=legacy_metrics, home=home, pricing=pricing, user_id_salt=user_id_salt, redact=redact,
            resource_attributes=resource_attributes, metric_export_interval_ms=metric_export_interval_ms,
            disabled=disabled)
        if settings.disabled:
            return False
        pricing_table = Pricing(settings.pricing)  # validate before anything is wired
        if auto_instrument and auto_instrument is not True:
            _library_names(auto_instrument)
        from .export import registry

        span_exporters = registry.build_span_exporters(settings)
        metric_exporters_ = registry.build_metric_exporters(settings)
        log_exporters = registry.build_log_exporters(settings)
        endpoints = registry.build_metric_endpoints(settings)  # last: they start serving

        wiring = _wire(settings, span_exporters, metric_exporters_, log_exporters, tracer_provider,
                       meter_provider, logger_provider, [e.reader for e in endpoints])
        wiring.extras.extend(endpoints)
        if alerts is not None and alerts is not False:
            from .alerts.setup import setup_alerts

            try:
                handle = setup_alerts(alerts, settings, wiring.tracer_provider, wiring.meter_provider)
            except Exception:
                _undo(wiring)
                raise
            if handle is not None:
                wiring.extras.append(handle)
        tracer = wiring.tracer_provider.get_tracer(sc.SCOPE_NAME, __version__, schema_url=sc.SCHEMA_URL)
        meter = wiring.meter_provider.get_meter(sc.SCOPE_NAME, __version__, schema_url=sc.SCHEMA_URL)
        logger = None
        if wiring.logger_provider is not None:
            logger = wiring.logger_provider.get_logger(sc.SCOPE_NAME, __version__, schema_url=sc.SCHEMA_URL)
        configure_salt(settings.user_id_salt, settings.home)
        _state.set_active(Telemetry(settings, tracer, meter, logger, pricing_table))
        _wiring = wiring
        if auto_instrument:
            wiring.extras.append(_AutoInstrumented(auto_instrument, wiring))
        if not _atexit_registered:
            atexit.register(shutdown)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(before=_hook_multiprocessing)
            _atexit_registered = True
        _hook_multiprocessing()
        return True


def _wire(settings: Settings, span_exporters: list[Any], metric_exporters: list[Any], log_exporters: list[Any],
          tracer_provider: Any, meter_provider: Any, logger_provider: Any, pull_readers: list[Any]) -> _Wiring:
    """Find or create the providers and attach our processors and readers to them.

    Providers are never shut down by us, only what we attached: the global provider cannot be replaced
    once set, so a later init() (after shutdown()) attaches fresh processors to the same providers.
    """
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = None
    # --- traces
    tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if tracer_provider is None and _is_unset(tp):
        resource = _resource(settings)
        tp = TracerProvider(resource=resource, shutdown_on_exit=False)  # our atexit shuts down what we added
        trace.set_tracer_provider(tp)
    processors = []
    exporters: list[Any] = []  # what flush() must force_flush after the processors (they do not pass it on)
    if span_exporters:
        if _is_sdk_tracer_provider(tp):
            exporter = _fanout("FanoutSpanExporter", span_exporters)
            processor = BatchSpanProcessor(exporter)
            tp.add_span_processor(processor)
            processors.append(processor)
            exporters.append(exporter)
        else:
            diagnostics.logger.warning("otel_agentkit: the TracerProvider %s takes no span processors; "
                                       "spans go where it sends them", type(tp).__name__)
    # --- metrics
    readers = []
    if metric_exporters:
        readers.append(_reader_class()(_fanout("FanoutMetricExporter", metric_exporters),
                                       export_interval_millis=settings.metric_export_interval_ms))
    readers.extend(pull_readers)
    mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    if meter_provider is None and _is_unset(mp):
        mp = MeterProvider(resource=resource or _resource(settings), metric_readers=readers, shutdown_on_exit=False)
        metrics.set_meter_provider(mp)
    elif readers:
        if hasattr(mp, "add_metric_reader"):
            for reader in readers:
                mp.add_metric_reader(reader)
        else:
            diagnostics.logger.warning("otel_agentkit: the MeterProvider %s cannot take more readers; "
                                       "metrics go where it sends them", type(mp).__name__)
            readers = []
    # --- logs (content events, agent events)
    lp = logger_provider
    log_processors = []
    if lp is None:
        from opentelemetry import _logs

        lp = _logs.get_logger_provider()
        if _is_unset(lp):
            if log_exporters:
                from opentelemetry.sdk._logs import LoggerProvider

                lp = LoggerProvider(resource=resource or _resource(settings), shutdown_on_exit=False)
                _logs.set_logger_provider(lp)
            else:
                lp = None
    if lp is not None and log_exporters and hasattr(lp, "add_log_record_processor"):
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        log_exporter = _fanout("FanoutLogExporter", log_exporters)
        log_processor = BatchLogRecordProcessor(log_exporter)
        lp.add_log_record_processor(log_processor)
        log_processors.append(log_processor)
        exporters.append(log_exporter)
    return _Wiring(settings, tp, mp, lp, processors, readers, log_processors, exporters=exporters)


@functools.lru_cache(maxsize=None)
def _reader_class() -> Any:
    """A periodic reader that can be shut down (last collection) and then removed from the provider:
    the SDK's remove_metric_reader shuts it down again, which must be silent."""
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    class _OnceReader(PeriodicExportingMetricReader):
        _agentkit_stopped = False

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            if self._agentkit_stopped:
                return
            self._agentkit_stopped = True
            super().shutdown(timeout_millis=timeout_millis, **kwargs)

    return _OnceReader


def _fanout(kind: str, exporters: list[Any]) -> Any:
    """Exporters behind the fan-out (own queue, timeout and breaker each), even a single one: the batch
    processor then never waits in an exporter's retries, and what a backend cannot take is spooled or
    counted instead of overflowing the processor's queue uncounted."""
    from .export import fanout

    return getattr(fanout, kind)(exporters)


def flush(timeout: float = 10.0) -> bool:
    """Export everything recorded so far, waiting at most ``timeout`` seconds; True if all went out.

    For short-lived processes (serverless handlers) that cannot wait for exit.
    """
    wiring, tel = _wiring, _state._active
    if wiring is None or tel is None:
        return True
    millis = int(timeout * 1000)
    ok = True
    try:
        tel.metrics.drain()
        targets = [*wiring.span_processors, *wiring.metric_readers, *wiring.log_processors,
                   *(e for e in wiring.exporters if hasattr(e, "force_flush"))]
        if not wiring.span_processors and hasattr(wiring.tracer_provider, "force_flush"):
            targets.append(wiring.tracer_provider)
        for target in targets:
            ok = bool(target.force_flush(millis)) and ok
        for extra in wiring.extras:  # alerts, instrumentors: they take seconds
            if hasattr(extra, "force_flush"):
                ok = bool(extra.force_flush(timeout)) and ok
    except Exception as exc:
        diagnostics.report("flush", exc)
        return False
    return ok


def shutdown(timeout: float = 10.0) -> None:
    """Flush and stop; recording is off afterwards (until init again). Registered at exit."""
    global _wiring
    with _lock:
        wiring, tel = _wiring, _state._active
        if wiring is None:
            return
        _state.set_active(None)
        _wiring = None
        millis = int(timeout * 1000)
        for step in (*wiring.extras, tel):
            _safely("shutdown", lambda: step.shutdown() if step is not None else None)
        for processor in (*wiring.span_processors, *wiring.log_processors):
            _safely("shutdown.processor", processor.shutdown)
        for reader in wiring.metric_readers:
            if isinstance(reader, _reader_class()):  # push: a last collection while still registered
                _safely("shutdown.reader", lambda: reader.shutdown(timeout_millis=millis))
            if hasattr(wiring.meter_provider, "remove_metric_reader"):  # which shuts the reader down
                _safely("shutdown.reader", lambda: wiring.meter_provider.remove_metric_reader(reader))
            else:
                _safely("shutdown.reader", lambda: reader.shutdown(timeout_millis=millis))


class _ExitHook:
    """A weak-referenceable key for multiprocessing's after-fork registry."""


_EXIT_HOOK = _ExitHook()
_mp_hooked = False


def _hook_multiprocessing() -> None:
    """Flush at the end of multiprocessing workers, which leave through os._exit (atexit never runs).

    multiprocessing clears its finalizers in each new child and then runs its after-fork callbacks, so
    the finalizer is registered from there; in a spawned child, init() itself registers it. Only when
    multiprocessing is already imported: the core import stays light.
    """
    global _mp_hooked
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None:
        return
    if not _mp_hooked:
        _mp_hooked = True
        mp_util.register_after_fork(_EXIT_HOOK, lambda _hook: _finalize_at_exit(mp_util))
    _finalize_at_exit(mp_util)


def _finalize_at_exit(mp_util: Any) -> None:
    if _wiring is not None:
        mp_util.Finalize(None, shutdown, exitpriority=100)


def _library_names(which: Any) -> list[str]:
    """auto_instrument's names, checked (at init, before anything is wired)."""
    from .auto import LIBRARIES

    names = [which] if isinstance(which, str) else list(which)
    for name in names:
        if name not in LIBRARIES:
            raise ConfigError("auto_instrument", name, f"unknown library; known: {', '.join(LIBRARIES)}")
    return names


class _AutoInstrumented:
    """The client libraries init() instrumented; shutdown() un-patches exactly those."""

    def __init__(self, which: Any, wiring: _Wiring) -> None:
        from . import auto

        kwargs = {"tracer_provider": wiring.tracer_provider, "meter_provider": wiring.meter_provider}
        if which is True:
            self.names = auto.instrument_all(**kwargs)
        else:
            self.names = [name for name in _library_names(which) if auto.instrument(name, **kwargs)]

    def shutdown(self) -> None:
        from . import auto

        for name in self.names:
            auto.uninstrument(name)


def _undo(wiring: _Wiring) -> None:
    """Detach what _wire attached (init failed after wiring)."""
    for processor in (*wiring.span_processors, *wiring.log_processors):
        _safely("init.undo", processor.shutdown)
    for reader in wiring.metric_readers:
        if hasattr(wiring.meter_provider, "remove_metric_reader"):
            _safely("init.undo", lambda: wiring.meter_provider.remove_metric_reader(reader))


def _safely(where: str, fn: Any) -> None:
    try:
        fn()
    except Exception as exc:
        diagnostics.report(where, exc)


def is_active() -> bool:
    return _state._active is not None


__all__ = ["init", "flush", "shutdown", "is_active", "ConfigError"]
