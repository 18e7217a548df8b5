"""``init``, ``flush`` and ``shutdown``: wiring the recorder to OpenTelemetry providers.

init never replaces a provider the application already set: it adds its span processor and metric reader
to an SDK provider it finds, and creates (and owns) providers only where none was set. Only what it owns
or added is shut down by ``shutdown()``.
"""

from __future__ import annotations

import atexit
import difflib
import functools
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace

from . import diagnostics, semconv as sc
from .config import SETTING_NAMES, ConfigError, Settings, load_settings
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
_configured: _Wiring | None = None  # providers made for opentelemetry-instrument (configure_from_environment)


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


@functools.lru_cache(maxsize=None)
def _unset_types() -> tuple[type, ...]:
    """The API's stand-ins for a provider nobody set: its proxies (what get_*_provider() returns before a
    set_*_provider()) and its no-op providers. The metrics and logs proxies are classes of the API's
    _internal modules, looked up once by attribute: a rename leaves them out (then init() attaches to the
    proxy and warns that it takes no processors) rather than failing."""
    from opentelemetry import _logs
    from opentelemetry._logs import _internal as logs_internal
    from opentelemetry.metrics import _internal as metrics_internal

    proxies = (getattr(metrics_internal, "_ProxyMeterProvider", None), getattr(logs_internal, "ProxyLoggerProvider",
                                                                                None))
    return (trace.ProxyTracerProvider, trace.NoOpTracerProvider, metrics.NoOpMeterProvider, _logs.NoOpLoggerProvider,
            *(t for t in proxies if isinstance(t, type)))


def _is_unset(provider: Any) -> bool:
    return isinstance(provider, _unset_types())


def init(*, service_name: str | None = None, exporters: Any = None, metric_exporters: Any = None,
         log_exporters: Any = None, capture_content: Any = None, content_max_length: int | None = None,
         legacy_metrics: bool | None = None, home: Any = None, pricing: Any = None,
         user_id_salt: str | None = None, redact: Any = None, resource_attributes: Any = None,
         metric_export_interval_ms: int | None = None, attribute_value_length_limit: int | None = None,
         disabled: bool | None = None, tracer_provider: Any = None, meter_provider: Any = None,
         logger_provider: Any = None, alerts: Any = None, auto_instrument: Any = None,
         semconv: str | None = None, **unknown: Any) -> bool:
    """Start recording. Keyword arguments override the OTEL_* / AGENTKIT_* environment.

    Returns True when recording was switched on, False when it was already on or is disabled
    (OTEL_SDK_DISABLED=true). A second call while active changes nothing (with one warning if its arguments
    differ: call shutdown() first). Providers passed explicitly, or already set globally by the application,
    are used as they are (our processor and reader are added to them); otherwise SDK providers are created
    and set globally. ``alerts`` turns on in-process alert rules: True (the rules in the data directory), a
    rules file, a list of rules, or a mapping of options (see ``otel_agentkit.alerts.setup``).
    ``auto_instrument`` traces LLM client libraries without code changes: True for every supported one
    installed, or a list of names (``"openai"``, ``"anthropic"``); shutdown() puts their original methods
    back. ``semconv`` picks the GenAI names emitted: ``"v0.1.0"`` (default), ``"pre-release"`` (the names
    emitted before it) or ``"both"`` (also from AGENTKIT_SEMCONV or
    OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental[/dup]).

    Everything is checked before anything global is touched: a wrong keyword argument raises ConfigError
    naming it and its value, and leaves nothing set up; a wrong environment value logs one warning naming
    the variable and the value and its default is used.
    """
    global _wiring
    given = {k: v for k, v in locals().items() if k not in ("unknown",) and v is not None}
    with _lock:
        if unknown:
            name, known = sorted(unknown)[0], [*SETTING_NAMES, *_WIRING_ARGS]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(known)
            raise ConfigError(name, unknown[name], f"unknown init() argument; {hint}")
        if _wiring is not None:
            _warn_if_different(_wiring, given)
            return False
        settings = load_settings(**{k: v for k, v in given.items() if k in SETTING_NAMES})
        if settings.disabled:
            return False
        # --- checked before anything is wired: a failure here leaves nothing behind
        pricing_table = Pricing(settings.pricing)
        if auto_instrument and auto_instrument is not True:
            _library_names(auto_instrument)
        prepared_alerts = None
        if alerts is not None and alerts is not False:
            from .alerts.setup import prepare_alerts

            prepared_alerts = prepare_alerts(alerts)
        from .export import registry

        span_exporters = registry.build_span_exporters(settings)
        metric_exporters_ = registry.build_metric_exporters(settings)
        log_exporters = registry.build_log_exporters(settings)
        endpoints = registry.build_metric_endpoints(settings)  # last: they start serving

        wiring = _wire(settings, span_exporters, metric_exporters_, log_exporters, tracer_provider,
                       meter_provider, logger_provider, [e.reader for e in endpoints])
        wiring.extras.extend(endpoints)
        if prepared_alerts is not None:
            from .alerts.setup import start_alerts

            try:
                wiring.extras.append(start_alerts(prepared_alerts, settings, wiring.tracer_provider,
                                                  wiring.meter_provider))
            except Exception:
                _undo(wiring)
                raise
        schema = sc.schema_url(settings.semconv)
        tracer = wiring.tracer_provider.get_tracer(sc.SCOPE_NAME, __version__, schema_url=schema)
        meter = wiring.meter_provider.get_meter(sc.SCOPE_NAME, __version__, schema_url=schema)
        logger = None
        if wiring.logger_provider is not None:
            logger = wiring.logger_provider.get_logger(sc.SCOPE_NAME, __version__, schema_url=schema)
        configure_salt(settings.user_id_salt, settings.home)
        tel = Telemetry(settings, tracer, meter, logger, pricing_table)
        for extra in wiring.extras:
            if isinstance(extra, _SharedWriters):
                extra.telemetry = tel
        _state.set_active(tel)
        _wiring = wiring
        if auto_instrument:
            wiring.extras.append(_AutoInstrumented(auto_instrument, wiring))
        _flush_on_exit()
        return True


_WIRING_ARGS = ("tracer_provider", "meter_provider", "logger_provider", "alerts", "auto_instrument")


def _warn_if_different(wiring: _Wiring, given: dict[str, Any]) -> None:
    """init() while active: one warning if the call asks for something other than what is running."""
    different = [k for k in given if k in _WIRING_ARGS]
    asked = {k: v for k, v in given.items() if k in SETTING_NAMES}
    try:
        new = load_settings(**asked)
        different += [k for k in asked if getattr(new, k) != getattr(wiring.settings, k)]
    except ConfigError:
        different += list(asked)
    if different:
        diagnostics.warn_once(("init-again", tuple(sorted(different))),
                              "otel_agentkit: init() called again while active; %s not applied (call "
                              "shutdown() first to change them)",
                              ", ".join(f"{k}={given[k]!r}" for k in sorted(different)))
    else:
        diagnostics.logger.debug("otel_agentkit: init() called again; already active")


def _wire(settings: Settings, span_exporters: list[Any], metric_exporters: list[Any], log_exporters: list[Any],
          tracer_provider: Any, meter_provider: Any, logger_provider: Any, pull_readers: list[Any]) -> _Wiring:
    """Find or create the providers and attach our processors and readers to them.

    Providers are never shut down by us, only what we attached: the global provider cannot be replaced
    once set, so a later init() (after shutdown()) attaches fresh processors to the same providers.
    An exporter whose destination a found provider already writes to (opentelemetry-instrument's
    agentkit_jsonl, say) is not attached a second time: every record then reaches the files once.
    """
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = None
    shared = _SharedWriters()
    # --- traces
    tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if tracer_provider is None and _is_unset(tp):
        resource = _resource(settings)
        tp = TracerProvider(resource=resource, shutdown_on_exit=False)  # our atexit shuts down what we added
        trace.set_tracer_provider(tp)
    else:
        _check_service_name(settings, tp)
    processors = []
    exporters: list[Any] = []  # what flush() must force_flush after the processors (they do not pass it on)
    if span_exporters:
        if _is_sdk_tracer_provider(tp):
            span_exporters = _new_destinations("spans", span_exporters, None if resource is not None else tp, shared)
            if span_exporters:
                exporter = _fanout("FanoutSpanExporter", span_exporters)
                processor = BatchSpanProcessor(exporter)
                tp.add_span_processor(processor)
                processors.append(processor)
                exporters.append(exporter)
        else:
            diagnostics.logger.warning("otel_agentkit: the TracerProvider %s takes no span processors; "
                                       "spans go where it sends them", type(tp).__name__)
    # --- metrics
    mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    create_mp = meter_provider is None and _is_unset(mp)
    if not create_mp and resource is not None:  # our TracerProvider, someone else's MeterProvider
        _check_service_name(settings, mp)
    metric_exporters = _new_destinations("metrics", metric_exporters, None if create_mp else mp, shared)
    readers = []
    if metric_exporters:
        readers.append(_reader_class()(_fanout("FanoutMetricExporter", metric_exporters),
                                       export_interval_millis=settings.metric_export_interval_ms))
    readers.extend(pull_readers)
    if create_mp:
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
    found_lp = lp is not None
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
        else:
            found_lp = True
    log_exporters = _new_destinations("log records", log_exporters, lp if found_lp else None, shared)
    if lp is not None and log_exporters and hasattr(lp, "add_log_record_processor"):
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        log_exporter = _fanout("FanoutLogExporter", log_exporters)
        log_processor = BatchLogRecordProcessor(log_exporter)
        lp.add_log_record_processor(log_processor)
        log_processors.append(log_processor)
        exporters.append(log_exporter)
    wiring = _Wiring(settings, tp, mp, lp, processors, readers, log_processors, exporters=exporters)
    if shared.feeders:
        wiring.extras.append(shared)
    return wiring


class _SharedWriters:
    """Processors and readers, attached by someone else, that init() relies on instead of attaching its own
    writer for the same destination (see _new_destinations).

    flush() and shutdown() flush them too (only them, not the rest of that provider): in a worker that
    leaves through os._exit, or when flush() is called before their own schedule, nothing else would.
    """

    def __init__(self) -> None:
        self.feeders: list[Any] = []
        self.telemetry: Any = None  # set by init: its queued metric updates go in before a collection

    def rely_on(self, feeder: Any) -> None:
        if hasattr(feeder, "force_flush") and all(f is not feeder for f in self.feeders):
            self.feeders.append(feeder)

    def force_flush(self, timeout: float = 10.0) -> bool:
        if self.telemetry is not None:
            self.telemetry.metrics.drain()
        ok = True
        for feeder in self.feeders:
            ok = feeder.force_flush(timeout_millis=int(timeout * 1000)) is not False and ok
        return ok

    def shutdown(self) -> None:
        self.force_flush(_SHARED_FLUSH_AT_SHUTDOWN_S)


_SHARED_FLUSH_AT_SHUTDOWN_S = 2.0


def _check_service_name(settings: Settings, provider: Any) -> None:
    """Warn once when the service name init() was given cannot apply: the provider (and its resource) was
    created before init(), e.g. by opentelemetry-instrument, under another service.name."""
    wanted = settings.service_name
    if not wanted:
        return
    resource = getattr(provider, "resource", None)
    if resource is None:  # MeterProvider keeps it in its configuration
        resource = getattr(getattr(provider, "_sdk_config", None), "resource", None)
    actual = getattr(resource, "attributes", {}).get("service.name") if resource is not None else None
    if actual is None or str(actual) == wanted:
        return
    diagnostics.warn_once(
        ("service_name", wanted, str(actual)),
        "otel_agentkit: service_name %r not applied: the %s was set up before init() (by opentelemetry-instrument "
        "or the application) with service.name %r, which its spans and metrics keep; set OTEL_SERVICE_NAME=%s "
        "for both to agree", wanted, type(provider).__name__, str(actual), wanted)


def _new_destinations(what: str, exporters: list[Any], provider: Any, shared: _SharedWriters) -> list[Any]:
    """``exporters`` without those writing where ``provider`` already writes, or where an earlier one in the
    list writes (``exporters=["jsonl", "agentkit_jsonl"]``): one writer per destination, so nothing is
    written twice. The ones left out are shut down (built for this init, never started)."""
    if not exporters:
        return exporters
    from .export.destinations import attached, describe, destination

    on_provider = attached(provider) if provider is not None else {}
    taken = set(on_provider)
    keep = []
    for exporter in exporters:
        key = destination(exporter)
        if key not in taken:
            taken.add(key)
            keep.append(exporter)
            continue
        if key in on_provider:
            shared.rely_on(on_provider[key])
            diagnostics.logger.info("otel_agentkit: %s already go to %s through the %s set up before init() "
                                    "(opentelemetry-instrument or the application); not adding a second writer",
                                    what, describe(key), type(provider).__name__)
        else:
            diagnostics.logger.info("otel_agentkit: %s: %s named twice; writing them once", what, describe(key))
        if key[0] != "object":  # an exporter built for this init and never started (not one in use)
            _safely("init.duplicate_exporter", exporter.shutdown)
    return keep


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
    """Export everything recorded so far, waiting at most ``timeout`` seconds.

    True when nothing recorded so far was lost: every backend took it, or (OTLP) it is kept in the disk
    spool for replay. False when anything was dropped or could not be written since the last flush (a
    backend that raises, a data directory that cannot be written, a full spool), or a backend did not
    finish in time; each reason is logged once, every loss is counted (``agentkit.sdk.dropped``).
    For short-lived processes (serverless handlers) that cannot wait for exit.
    """
    wiring, tel = _wiring or _configured, _state.active
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
    problems = [p for fan in _fanouts(wiring) for p in getattr(fan, "flush_problems", ())]
    lost = diagnostics.take_drops()
    _explain_losses("flush() returns False", lost, problems)
    return ok and not lost and not problems


def shutdown(timeout: float = 10.0) -> None:
    """Flush and stop; recording is off afterwards (until init again). Registered at exit."""
    global _wiring, _configured
    with _lock:
        wiring, tel, configured = _wiring, _state.active, _configured
        _configured = None
        if wiring is None:
            if configured is not None:  # opentelemetry-instrument's providers, and no init() by the app
                _state.set_active(None)
                _close(configured, tel, timeout)
            return
        _state.set_active(None)
        _wiring = None
        _close(wiring, tel, timeout)
        if configured is not None:
            _close(configured, None, timeout)


def configure_from_environment() -> bool:
    """For ``opentelemetry-instrument`` (see zerocode.py): when no configurator has set providers up, create
    them from the environment, with this package's exporters attached, as a configurator would; the
    recorder is not made active, so that an ``init()`` by the application still applies its own arguments
    (it attaches to these providers, and adds no second writer for a destination they already write to).
    Returns True when providers were created. A bad environment value warns; nothing here raises for it."""
    global _configured
    with _lock:
        if _wiring is not None or _configured is not None or not _is_unset(trace.get_tracer_provider()):
            return False
        settings = load_settings()
        if settings.disabled:
            return False
        from .export import registry

        wiring = _wire(settings, registry.build_span_exporters(settings), registry.build_metric_exporters(settings),
                       registry.build_log_exporters(settings), None, None, None, [])
        _configured = wiring
        _flush_on_exit()
        return True


def _flush_on_exit() -> None:
    """Flush when this process exits, and when a multiprocessing child of it does (which atexit never
    sees): for init()'s providers and opentelemetry-instrument's alike, whichever comes first."""
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=_hook_multiprocessing)
        _atexit_registered = True
    _hook_multiprocessing()


def _close(wiring: _Wiring, tel: Any, timeout: float) -> None:
    """Flush and detach what ``wiring`` attached (its extras and the recorder ``tel`` first)."""
    millis = int(timeout * 1000)
    for step in (*wiring.extras, tel):
        _safely("shutdown", lambda: step.shutdown() if step is not None else None)
    _begin_close(wiring)
    for processor in (*wiring.span_processors, *wiring.log_processors):
        _safely("shutdown.processor", processor.shutdown)
    for reader in wiring.metric_readers:
        if isinstance(reader, _reader_class()):  # push: a last collection while still registered
            _safely("shutdown.reader", lambda: reader.shutdown(timeout_millis=millis))
        if hasattr(wiring.meter_provider, "remove_metric_reader"):  # which shuts the reader down
            _safely("shutdown.reader", lambda: wiring.meter_provider.remove_metric_reader(reader))
        else:
            _safely("shutdown.reader", lambda: reader.shutdown(timeout_millis=millis))
    _after_close()


def _fanouts(wiring: _Wiring) -> list[Any]:
    """Our fan-out exporters: behind the span and log processors, and inside our push metric reader."""
    found = [*wiring.exporters, *(getattr(r, "_exporter", None) for r in wiring.metric_readers
                                  if isinstance(r, _reader_class()))]
    return [f for f in found if f is not None and hasattr(f, "begin_close")]


def _begin_close(wiring: _Wiring) -> None:
    """Before the last batches go out: backends that can spool get one attempt each, no retries, all
    within one close deadline shared by traces, metrics and logs, and spool the rest (exit does not wait
    for an endpoint that is down)."""
    fans = _fanouts(wiring)
    if not fans:  # nothing to close; importing the fan-out at interpreter exit would start its threads
        return
    from .export.fanout import CLOSE_GRACE_S

    deadline = time.monotonic() + CLOSE_GRACE_S
    for fan in fans:
        _safely("shutdown.begin_close", lambda: fan.begin_close(deadline))


def _after_close() -> None:
    """One line for what was spooled (and why), and one for losses no flush() has reported."""
    otlp = sys.modules.get("otel_agentkit.export.otlp")
    if otlp is not None:
        _safely("shutdown.report", otlp.report_spooled)
    _explain_losses("telemetry lost", diagnostics.take_drops(), [])


_explained: set[str] = set()


def _explain_losses(what: str, lost: dict[str, int], problems: list[str]) -> None:
    """Log why data was lost, once per kind of reason (numbers aside): the first flush() that returns False
    for a backend that raises says so; the next ones for the same reason stay quiet."""
    import re

    covered = {p.split(":", 1)[0] for p in problems}
    lines = list(problems)
    for key, n in sorted(lost.items()):
        parts = key.split(".")
        if parts[0] == "fanout" and len(parts) > 2 and ".".join(parts[1:-1]) in covered:
            continue  # the fan-out's own line says it, with the cause
        lines.append(f"{key}: {n} item(s) dropped")
    new = [line for line in lines if re.sub(r"[\d.]+", "N", line) not in _explained]
    if not new:
        return
    _explained.update(re.sub(r"[\d.]+", "N", line) for line in new)
    diagnostics.logger.warning("otel_agentkit: %s: %s (counted in agentkit.sdk.dropped; a reason is logged "
                               "once)", what, "; ".join(new))


class _ExitHook:
    """A weak-referenceable key for multiprocessing's after-fork registry."""


_EXIT_HOOK = _ExitHook()
_mp_hooked = False


def _hook_multiprocessing() -> None:
    """Flush at the end of multiprocessing workers, which leave through os._exit (atexit never runs).

    multiprocessing clears its finalizers in each new child and then runs its after-fork callbacks, so
    the finalizer is registered from there; in a spawned child, init() itself registers it. Pool workers
    are also ended by SIGTERM (``with Pool()`` exits through terminate()): see processes.py. Only when
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
    """Flush when this (multiprocessing) process leaves; in a Pool worker, also when Pool.terminate() ends it
    (SIGTERM: the finalizer never runs then)."""
    if _wiring is not None or _configured is not None:
        from . import processes

        mp_util.Finalize(None, processes.leaving, args=(shutdown, 10.0), exitpriority=100)
        processes.guard_pool_worker(shutdown)


def _library_names(which: Any) -> list[str]:
    """auto_instrument's names, checked (at init, before anything is wired)."""
    from .auto import LIBRARIES

    names = [which] if isinstance(which, str) else list(which)
    for name in names:
        if name not in LIBRARIES:
            raise ConfigError("auto_instrument", name, f"unknown library; known: {', '.join(LIBRARIES)}")
    return names


class _AutoInstrumented:
    """The client libraries init() instrumented; shutdown() un-patches exactly those.

    With ``auto_instrument=True`` a library the application has not imported yet is instrumented when it
    is first imported (a post-import hook), not imported by init(): with eight libraries and frameworks
    installed, importing them all would cost the application seconds at start."""

    def __init__(self, which: Any, wiring: _Wiring) -> None:
        from . import auto

        self._kwargs = {"tracer_provider": wiring.tracer_provider, "meter_provider": wiring.meter_provider}
        self._on = True
        self.names: list[str] = []
        if which is not True:
            self.names = [name for name in _library_names(which) if auto.instrument(name, **self._kwargs)]
            return
        import wrapt

        for name in auto.LIBRARIES:
            if auto.is_installed(name):  # now if already imported, else when the application imports it
                wrapt.register_post_import_hook(functools.partial(self._imported, name),
                                                auto.MODULES.get(name, name))

    def _imported(self, name: str, _module: Any) -> None:
        from . import auto

        # Not under init's lock: this runs inside the application's import, which may hold import locks.
        if not self._on or name in self.names:
            return
        try:
            if auto.instrument(name, **self._kwargs) and self._on:
                self.names.append(name)
        except Exception as exc:  # an import hook must not break the application's import
            diagnostics.report(f"auto_instrument.{name}", exc)

    def shutdown(self) -> None:
        from . import auto

        self._on = False  # hooks registered for libraries not imported yet do nothing from now on
        names, self.names = self.names, []
        for name in names:
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
    return _state.active is not None


__all__ = ["init", "flush", "shutdown", "is_active", "ConfigError"]
