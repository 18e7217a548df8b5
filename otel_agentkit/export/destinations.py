"""Where a provider already sends its data, so that init() never adds a second writer for the same place.

``opentelemetry-instrument`` with ``OTEL_TRACES_EXPORTER=agentkit_jsonl`` (or the application itself) may have
attached one of our JSONL exporters to the provider that init() then finds; a second exporter for the same
directory would write every span, metric point and log record twice, and every figure the CLI shows would
double. The SDK has no public way to list a provider's processors or readers, so this looks through the
SDK's attributes defensively: what it does not recognise is simply not found, never an error.
"""

from __future__ import annotations

import os
from typing import Any, Hashable

# Attributes of SDK providers, processors, readers and of our own wrappers that lead to exporters
# (TracerProvider -> multi processor -> BatchSpanProcessor -> BatchProcessor -> exporter; MeterProvider ->
# readers -> exporter; LoggerProvider -> multi processor -> processors -> exporter; fan-out -> backends ->
# exporter; spooling OTLP -> core -> inner). Readers added after the MeterProvider was made are only in its
# measurement consumer's storages (keyed by reader).
_CHILDREN = ("_active_span_processor", "_span_processors", "_batch_processor", "span_exporter", "_exporter",
             "_metric_readers", "_measurement_consumer", "_reader_storages", "_multi_log_record_processor",
             "_log_record_processors", "_fanout", "backends", "exporter", "core", "inner")
_FEEDERS = ("_span_processors", "_metric_readers", "_reader_storages", "_log_record_processors")
_MAX_DEPTH = 8


def destination(exporter: Any) -> Hashable:
    """A key naming where ``exporter`` writes: our JSONL exporters by signal and real directory (two
    exporters for one directory write the same files), any other exporter by identity."""
    from .jsonl import JsonlLogExporter, JsonlMetricExporter, JsonlSpanExporter

    for cls, signal in ((JsonlSpanExporter, "traces"), (JsonlMetricExporter, "metrics"), (JsonlLogExporter, "logs")):
        if isinstance(exporter, cls):
            return ("jsonl", signal, os.path.realpath(exporter.directory))
    return ("object", id(exporter))


def describe(key: Hashable) -> str:
    if isinstance(key, tuple) and key and key[0] == "jsonl":
        return f"{key[1]} files in {key[2]}"
    return "the same exporter object"


def _stopped(obj: Any) -> bool:
    """Shut down already (a processor, reader or exporter of an earlier init): it writes nothing more."""
    for holder in (obj, getattr(obj, "_out", None), getattr(obj, "_fanout", None)):
        try:
            if holder is not None and vars(holder).get("_shutdown") is True:
                return True
        except TypeError:  # no __dict__
            pass
    return False


def attached(provider: Any) -> dict[Hashable, Any]:
    """The destinations of every live exporter reachable from ``provider``, each with the processor or reader
    that feeds it (what to force_flush so that this destination, and only it, gets what is pending)."""
    found: dict[Hashable, Any] = {}
    seen: set[int] = set()

    def visit(obj: Any, depth: int, feeder: Any) -> None:
        if obj is None or id(obj) in seen or depth > _MAX_DEPTH or isinstance(obj, (str, bytes, int, float)):
            return
        seen.add(id(obj))
        if _stopped(obj):
            return
        if depth and callable(getattr(obj, "export", None)):
            found.setdefault(destination(obj), feeder if feeder is not None else obj)
        try:
            attrs = vars(obj)
        except TypeError:
            return
        for name in _CHILDREN:
            child = attrs.get(name)
            if child is None:
                continue
            items = list(child) if isinstance(child, (dict, list, tuple, set, frozenset)) else [child]
            for item in items:
                visit(item, depth + 1, item if feeder is None and name in _FEEDERS else feeder)

    try:
        visit(provider, 0, None)
    except Exception:  # an SDK shaped differently: nothing found, and init attaches as before
        return {}
    return found
