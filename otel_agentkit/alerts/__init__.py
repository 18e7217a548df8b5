"""Alerts inside the SDK: rules over the span and metric stream, cooldown and history in SQLite, channels.

Public names are imported lazily from their modules so that ``import otel_agentkit`` stays light:
``Rule``/``Channel``/``load_rules_file`` (rules), ``AlertStore`` (db), ``Guard`` (netguard),
``AlertSpanProcessor``/``AlertMetricReader`` (processor), ``setup_alerts`` (setup).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Rule": "rules", "Channel": "rules", "RuleError": "rules", "load_rules_file": "rules",
    "AlertStore": "db", "Guard": "netguard", "UrlRefused": "netguard",
    "AlertSpanProcessor": "processor", "AlertMetricReader": "processor", "AlertRuntime": "processor",
    "setup_alerts": "setup", "AlertsHandle": "setup", "export_prometheus_rules": "promrules",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
