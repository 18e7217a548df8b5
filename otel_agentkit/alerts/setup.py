"""``agentkit.init(alerts=...)``: rules into the store, the alert worker, the span processor and metric reader.

``alerts`` may be ``True`` (the rules already in the store, e.g. made with ``agentkit alerts init``), a
path to a YAML/JSON rules file, a list of ``Rule`` objects or mappings, or a mapping of options::

    {"rules": <path or list>, "webhook_allowlist": ["10.0.0.0/8"], "interval": 1.0, "metric_interval": 10.0}

File and code rules are saved by name (updating a rule keeps its id, and so its cooldown). Bad rules and
refused webhook URLs fail here, at init, with a message that names the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import diagnostics
from ..config import ConfigError, Settings
from .db import AlertStore
from .netguard import Guard, UrlRefused
from .processor import AlertMetricReader, AlertRuntime, AlertSpanProcessor
from .rules import Rule, RuleError, coerce_rules, load_rules_file

_OPTIONS = ("rules", "webhook_allowlist", "interval", "metric_interval")


@dataclass
class AlertsHandle:
    """What ``setup_alerts`` built; ``shutdown()`` drains, evaluates once more and waits for deliveries."""

    store: AlertStore
    runtime: AlertRuntime
    span_processor: AlertSpanProcessor
    metric_reader: AlertMetricReader
    rules: list[Rule] = field(default_factory=list)  # rules saved from the file or code (with ids)
    span_processor_attached: bool = False
    metric_reader_attached: bool = False

    def force_flush(self, timeout: float = 10.0) -> bool:
        return self.runtime.force_flush(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        self.metric_reader.shutdown()
        self.runtime.shutdown(timeout)


def check_webhooks(rule: Rule, guard: Guard, where: str | None = None) -> None:
    """The save-time SSRF check of every webhook channel of ``rule`` (delivery checks again)."""
    for i, channel in enumerate(rule.channels):
        if channel.type == "webhook":
            try:
                guard.check(channel.url or "")
            except UrlRefused as exc:
                prefix = f"{where or rule.name}: " if (where or rule.name) else ""
                raise RuleError(f"{prefix}channels[{i}].url", channel.url, f"refused: {exc}") from None


def save_rules(store: AlertStore, rules: Sequence[Rule], guard: Guard, origin: str) -> list[Rule]:
    """Check every rule's webhooks, then upsert all of them by name."""
    for rule in rules:
        check_webhooks(rule, guard)
    return [store.upsert(rule, origin=origin) for rule in rules]


def _positive(setting: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(setting, value, "expected seconds above 0") from None
    if not number > 0:
        raise ConfigError(setting, value, "expected seconds above 0")
    return number


@dataclass
class PreparedAlerts:
    """``init(alerts=...)`` checked: the rules read and their webhooks allowed, before anything is wired."""

    rules: list[Rule]
    origin: str
    guard: Guard
    interval: float
    metric_interval: float


def prepare_alerts(value: Any, *, guard: Guard | None = None) -> PreparedAlerts | None:
    """Check ``init(alerts=value)`` without side effects: ConfigError or RuleError for a bad option, rules
    file or webhook, so that a failed init() leaves nothing set up. None when ``value`` is falsy."""
    if value is None or value is False:
        return None
    options: dict[str, Any] = {}
    if isinstance(value, Mapping) and not ({"metric", "threshold"} & set(value)):
        for key in value:
            if key not in _OPTIONS:
                raise ConfigError(f"alerts.{key}", value[key], "unknown option; known: " + ", ".join(_OPTIONS))
        options = dict(value)
        source: Any = options.get("rules", True)
    else:
        source = value
    allow = options.get("webhook_allowlist") or ()
    if isinstance(allow, str):
        allow = [a for a in allow.split(",") if a.strip()]
    try:
        guard = guard or Guard.from_env(allow)
    except ValueError as exc:
        raise ConfigError("alerts.webhook_allowlist", allow, str(exc)) from None
    interval = _positive("alerts.interval", options.get("interval", 1.0))
    metric_interval = _positive("alerts.metric_interval", options.get("metric_interval", 10.0))

    if source is True or source is None:
        rules: list[Rule] = []
        origin = "cli"
    elif isinstance(source, (str, Path)):
        rules, origin = load_rules_file(source), "file"
    elif isinstance(source, (Rule, Mapping)):
        rules, origin = coerce_rules([source]), "code"
    elif isinstance(source, (list, tuple)):
        rules, origin = coerce_rules(source), "code"
    else:
        raise ConfigError("alerts", value, "expected True, a rules file path, a list of rules, or a mapping")
    for rule in rules:
        check_webhooks(rule, guard)
    return PreparedAlerts(rules, origin, guard, interval, metric_interval)


def start_alerts(prepared: PreparedAlerts, settings: Settings, tracer_provider: Any = None,
                 meter_provider: Any = None) -> AlertsHandle:
    """Save the prepared rules, build the engine and attach its span processor to ``tracer_provider`` and
    its metric reader to ``meter_provider`` (through ``add_metric_reader``, OTel SDK 1.39+)."""
    store = AlertStore(settings.home)
    saved = [store.upsert(rule, origin=prepared.origin) for rule in prepared.rules]
    runtime = AlertRuntime(store, prepared.guard, interval=prepared.interval)
    processor = AlertSpanProcessor(runtime)
    reader = AlertMetricReader(runtime, interval=prepared.metric_interval)
    handle = AlertsHandle(store, runtime, processor, reader, saved)
    add = getattr(tracer_provider, "add_span_processor", None)
    if add is not None:
        try:
            add(processor)
            handle.span_processor_attached = True
        except Exception as exc:
            diagnostics.report("alerts.setup", exc)
    if meter_provider is not None:
        add_reader = getattr(meter_provider, "add_metric_reader", None)
        if add_reader is not None:
            try:
                add_reader(reader)
                handle.metric_reader_attached = True
            except Exception as exc:
                diagnostics.report("alerts.setup", exc)
    return handle


def setup_alerts(value: Any, settings: Settings, tracer_provider: Any = None, meter_provider: Any = None,
                 *, guard: Guard | None = None) -> AlertsHandle | None:
    """Both steps at once, for alerts set up beside a running SDK. For a provider without
    ``add_metric_reader``, pass ``handle.metric_reader`` in ``MeterProvider(metric_readers=[...])`` before
    calling with ``meter_provider=None``. Returns None when ``value`` is falsy."""
    prepared = prepare_alerts(value, guard=guard)
    if prepared is None:
        return None
    return start_alerts(prepared, settings, tracer_provider, meter_provider)
