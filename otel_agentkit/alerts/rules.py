"""Alert rules: the ``Rule`` and ``Channel`` dataclasses, their validation, and YAML/JSON rule files.

Every value is checked when a rule is built, so a bad rule from the CLI, a file or code is refused at the
boundary with a message naming the field and the value (``RuleError``), never later inside evaluation.
Network checks of webhook URLs (DNS, address classes) are the netguard's job at save and delivery time;
here only the shape of the URL is checked.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from .. import semconv as sc
from ..config import ConfigError


class RuleError(ConfigError):
    """A rule field has a value the alert engine cannot use; the message names the field and the value."""


@dataclass(frozen=True)
class BuiltinMetric:
    """A metric the engine computes from inference spans; ``unit`` is what the threshold is compared in."""

    unit: str
    default_window: float
    description: str


# Built-in metrics over spans (inference operations, plus embeddings for cost and tokens).
BUILTIN_METRICS: dict[str, BuiltinMetric] = {
    "daily_cost": BuiltinMetric("USD", 86400.0, "sum of agentkit.cost.usd"),
    "error_rate": BuiltinMetric("%", 300.0, "share of inference calls that failed, in percent"),
    "avg_latency": BuiltinMetric("ms", 300.0, "mean inference duration in milliseconds"),
    "p95_latency": BuiltinMetric("ms", 300.0, "95th percentile inference duration in milliseconds"),
    "token_usage": BuiltinMetric("tokens", 86400.0, "sum of input and output tokens"),
}
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "p50", "p90", "p95", "p99", "last")
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
DEFAULT_CUSTOM_WINDOW = 300.0
MAX_WINDOW = 31 * 86400.0
DEFAULT_COOLDOWN = 3600.0
STATE_FIELDS = ("cooldown_until",)
"""Store state that ``agentkit alerts list --json`` adds to each rule: accepted on import and ignored (with
``id``: rules are matched by name), so the listing can be imported back."""
SEVERITIES = ("info", "warning", "critical")
FILTER_KEYS = ("model", "provider", "workflow", "agent")
SOURCES = ("spans", "metrics")
CHANNEL_TYPES = ("webhook", "email", "stdout", "file")
WEBHOOK_FORMATS = ("json", "slack")
SMTP_TLS = ("starttls", "ssl", "none")

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
_COMPARISON_WORDS = {
    "gt": ">", "above": ">", "ge": ">=", "gte": ">=", "lt": "<", "below": "<", "le": "<=", "lte": "<=",
    "eq": "==", "=": "==", "ne": "!=", "neq": "!=",
}

# OTel metric names the SDK emits: a rule on one of these reads metric points (AlertMetricReader).
KNOWN_METRICS = frozenset(
    value for key, value in vars(sc).items() if key.startswith("METRIC_") and isinstance(value, str)
)
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,254}$")
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")


def parse_duration(where: str, value: object, *, allow_zero: bool = False) -> float:
    """Seconds from a number or text such as ``5m``, ``last 24 h``, ``1h30m``, ``90 seconds``."""
    if isinstance(value, bool):
        raise RuleError(where, value, "expected a duration such as 5m, 1h or 24h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("last "):
            text = text[5:].strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            parts = list(_DURATION_PART.finditer(text))
            for part in parts:
                if text[pos:part.start()].strip():
                    break
                seconds += float(part.group(1)) * _UNIT_SECONDS[part.group(2)[0].lower()]
                pos = part.end()
            if not parts or text[pos:].strip():
                raise RuleError(where, value, "expected a duration such as 5m, 1h, 24h or 'last 5 min'")
    else:
        raise RuleError(where, value, "expected a duration such as 5m, 1h or 24h")
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise RuleError(where, value, "expected a duration above 0" if not allow_zero else "expected 0 or more")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact text for a duration (``300`` -> ``5m``), as rule files and the CLI show it."""
    if seconds <= 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    rest, out = seconds, []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            n = int(rest // size)
            out.append(f"{n}{unit}")
            rest -= n * size
    if rest:
        out.append(f"{rest:g}s")
    return "".join(out)


def _text(where: str, value: object, *, allow_empty: bool = False, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise RuleError(where, value, "expected text")
    text = value.strip()
    if not text and not allow_empty:
        raise RuleError(where, value, "must not be empty")
    if len(text) > max_len or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):  # C0, DEL and C1
        raise RuleError(where, value, f"expected one line of at most {max_len} characters, no control characters")
    return text


def _number(where: str, value: object) -> float:
    if isinstance(value, bool):
        raise RuleError(where, value, "expected a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuleError(where, value, "expected a number") from None
    if not math.isfinite(number):
        raise RuleError(where, value, "expected a finite number")
    return number


def _choice(where: str, value: object, choices: Sequence[str]) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in choices:
        raise RuleError(where, value, "expected one of " + ", ".join(choices))
    return text  # type: ignore[return-value]


def _check_webhook_url(where: str, url: object) -> str:
    """Shape only (scheme, host, no credentials); addresses are the netguard's job."""
    text = _text(where, url, max_len=2048)
    if any(c.isspace() or c == "\\" for c in text):
        raise RuleError(where, url, "URL must not contain spaces or backslashes")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise RuleError(where, url, f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise RuleError(where, url, "only http and https URLs are allowed")
    if "@" in parts.netloc:
        raise RuleError(where, url, "credentials in the URL are not allowed")
    if not parts.hostname:
        raise RuleError(where, url, "URL has no host")
    return text


@dataclass(frozen=True)
class Channel:
    """Where a firing goes. Secrets never live here: SMTP credentials come from the named variables."""

    type: str
    url: str | None = None  # webhook
    format: str = "json"  # webhook: json | slack (Slack-compatible blocks)
    timeout: float = 10.0  # webhook and email, seconds per attempt
    retries: int = 2  # webhook: further attempts after the first, with exponential back-off
    backoff: float = 0.5  # webhook: first back-off delay in seconds
    ca_file: str | None = None  # webhook and email: a CA bundle for an internal TLS receiver
    to: tuple[str, ...] = ()  # email recipients
    sender: str | None = None  # email From (default $AGENTKIT_SMTP_FROM, else agentkit@localhost)
    smtp_host: str | None = None  # default $AGENTKIT_SMTP_HOST, else localhost
    smtp_port: int | None = None  # default $AGENTKIT_SMTP_PORT, else 25 (465 for ssl)
    smtp_tls: str | None = None  # starttls | ssl | none; default $AGENTKIT_SMTP_TLS, else none
    username_env: str | None = None  # name of the variable holding the SMTP user (default AGENTKIT_SMTP_USER)
    password_env: str | None = None  # name of the variable holding the password (default AGENTKIT_SMTP_PASSWORD)
    path: str | None = None  # file

    def __post_init__(self) -> None:
        kind = _choice("channel.type", self.type, CHANNEL_TYPES)
        object.__setattr__(self, "type", kind)
        w = f"channel[{kind}]"
        if kind == "webhook":
            if self.url is None:
                raise RuleError(f"{w}.url", None, "a webhook channel needs a url")
            object.__setattr__(self, "url", _check_webhook_url(f"{w}.url", self.url))
            object.__setattr__(self, "format", _choice(f"{w}.format", self.format, WEBHOOK_FORMATS))
        if kind == "email":
            to = (self.to,) if isinstance(self.to, str) else tuple(self.to or ())
            if not to:
                raise RuleError(f"{w}.to", self.to, "an email channel needs at least one recipient")
            for addr in to:
                if not isinstance(addr, str) or not _EMAIL.match(addr.strip()):
                    raise RuleError(f"{w}.to", addr, "expected an email address such as ops@example.com")
            object.__setattr__(self, "to", tuple(a.strip() for a in to))
            if self.sender is not None and not _EMAIL.match(str(self.sender).strip()):
                raise RuleError(f"{w}.sender", self.sender, "expected an email address")
            if self.smtp_tls is not None:
                object.__setattr__(self, "smtp_tls", _choice(f"{w}.smtp_tls", self.smtp_tls, SMTP_TLS))
            if self.smtp_port is not None:
                port = self.smtp_port
                if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                    raise RuleError(f"{w}.smtp_port", port, "expected a port number 1-65535")
            if self.smtp_host is not None:
                object.__setattr__(self, "smtp_host", _text(f"{w}.smtp_host", self.smtp_host))
            for key in ("username_env", "password_env"):
                name = getattr(self, key)
                if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
                    raise RuleError(f"{w}.{key}", name, "expected an environment variable name")
        if kind == "file":
            if not self.path:
                raise RuleError(f"{w}.path", self.path, "a file channel needs a path")
            object.__setattr__(self, "path", _text(f"{w}.path", self.path, max_len=4096))
        timeout = _number(f"{w}.timeout", self.timeout)
        if not 0 < timeout <= 120:
            raise RuleError(f"{w}.timeout", self.timeout, "expected seconds between 0 and 120")
        object.__setattr__(self, "timeout", timeout)
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 10:
            raise RuleError(f"{w}.retries", self.retries, "expected a whole number 0-10")
        backoff = _number(f"{w}.backoff", self.backoff)
        if not 0 <= backoff <= 60:
            raise RuleError(f"{w}.backoff", self.backoff, "expected seconds between 0 and 60")
        object.__setattr__(self, "backoff", backoff)

    @classmethod
    def from_value(cls, value: object, where: str = "channel") -> Channel:
        """A channel from a dict, or from text: ``stdout``, ``file:PATH``, ``email:ADDR``, ``webhook:URL``."""
        if isinstance(value, Channel):
            return value
        if isinstance(value, str):
            kind, _, rest = value.strip().partition(":")
            kind = kind.lower()
            if kind == "stdout" and not rest:
                return cls("stdout")
            if kind == "file" and rest:
                return cls("file", path=rest)
            if kind == "email" and rest:
                return cls("email", to=(rest,))
            if kind == "webhook" and rest:
                return cls("webhook", url=rest)
            raise RuleError(where, value, "expected stdout, file:PATH, email:ADDRESS, webhook:URL or a mapping")
        if not isinstance(value, Mapping):
            raise RuleError(where, value, "expected a channel mapping with a type")
        known = {f.name for f in fields(cls)}
        data = dict(value)
        for key in data:
            if key not in known:
                raise RuleError(f"{where}.{key}", data[key],
                                "unknown channel field; known: " + ", ".join(sorted(known)))
        if "type" not in data:
            raise RuleError(f"{where}.type", None, "expected one of " + ", ".join(CHANNEL_TYPES))
        if isinstance(data.get("to"), (list, tuple)):
            data["to"] = tuple(data["to"])
        try:
            return cls(**data)
        except RuleError as exc:
            raise RuleError(exc.setting.replace("channel", where, 1), exc.value, str(exc).split(": ", 1)[-1]) from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        defaults = Channel.__dataclass_fields__
        for f in fields(self):
            if f.name == "type":
                continue
            value = getattr(self, f.name)
            if value != defaults[f.name].default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self) -> str:
        """A short target for listings and history, with no secret (webhook paths often carry tokens)."""
        if self.type == "webhook" and self.url:
            parts = urlsplit(self.url)
            port = f":{parts.port}" if parts.port else ""
            host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
            return f"webhook {parts.scheme}://{host}{port}/…"
        if self.type == "email":
            return "email " + ", ".join(self.to)
        if self.type == "file":
            return f"file {self.path}"
        return self.type


def _default_name(metric: str, aggregation: str | None, comparison: str, threshold: float,
                  filters: Mapping[str, str]) -> str:
    what = f"{aggregation}({metric})" if aggregation else metric
    where = "".join(f" {k}={v}" for k, v in sorted(filters.items()))
    return f"{what} {comparison} {threshold:g}{where}"


@dataclass(frozen=True)
class Rule:
    """One alert rule. Built-in metrics are listed in BUILTIN_METRICS; any other metric name needs an
    aggregation and reads span attributes, or metric points when the name is an OTel metric (``source``)."""

    metric: str
    threshold: float
    comparison: str = ">"
    window: float | str | None = None  # seconds, or text such as "5m" / "last 24 h"; default per metric
    aggregation: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    severity: str = "warning"
    channels: tuple[Channel, ...] = (Channel("stdout"),)
    cooldown: float | str = DEFAULT_COOLDOWN
    name: str | None = None
    description: str = ""
    enabled: bool = True
    source: str | None = None  # spans | metrics; None picks by metric name
    id: int | None = None

    def __post_init__(self) -> None:
        metric = _text("metric", self.metric, max_len=255)
        builtin = BUILTIN_METRICS.get(metric.lower())
        if builtin:
            metric = metric.lower()
            if self.aggregation is not None:
                raise RuleError("aggregation", self.aggregation,
                                f"{metric} is a built-in metric with its own aggregation; leave aggregation empty")
            aggregation = None
        else:
            if not _METRIC_NAME.match(metric):
                raise RuleError("metric", self.metric, "expected a built-in metric ("
                                + ", ".join(BUILTIN_METRICS) + ") or a metric/attribute name")
            if self.aggregation is None:
                raise RuleError("aggregation", None, f"metric {metric!r} is not built-in, so it needs an "
                                "aggregation: " + ", ".join(AGGREGATIONS))
            aggregation = _choice("aggregation", self.aggregation, AGGREGATIONS)
        object.__setattr__(self, "metric", metric)
        object.__setattr__(self, "aggregation", aggregation)
        if self.source is None:
            source = "spans" if builtin or metric not in KNOWN_METRICS else "metrics"
        else:
            source = _choice("source", self.source, SOURCES)
            if builtin and source != "spans":
                raise RuleError("source", self.source, f"{metric} is computed from spans")
        if source == "spans" and aggregation == "last":
            raise RuleError("aggregation", aggregation, "'last' is only for metric points (source: metrics)")
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "threshold", _number("threshold", self.threshold))
        comparison = self.comparison.strip().lower() if isinstance(self.comparison, str) else self.comparison
        comparison = _COMPARISON_WORDS.get(comparison, comparison)  # type: ignore[arg-type]
        if comparison not in COMPARISONS:
            raise RuleError("comparison", self.comparison, "expected one of " + ", ".join(COMPARISONS))
        object.__setattr__(self, "comparison", comparison)
        default_window = builtin.default_window if builtin else DEFAULT_CUSTOM_WINDOW
        window = default_window if self.window is None else parse_duration("window", self.window)
        if window > MAX_WINDOW:
            raise RuleError("window", self.window, "expected at most 31 days")
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "cooldown", parse_duration("cooldown", self.cooldown, allow_zero=True))
        if not isinstance(self.filters, Mapping):
            raise RuleError("filters", self.filters, "expected a mapping of " + ", ".join(FILTER_KEYS))
        filters: dict[str, str] = {}
        for key, value in self.filters.items():
            if key not in FILTER_KEYS:
                raise RuleError(f"filters.{key}", value, "unknown filter; known: " + ", ".join(FILTER_KEYS))
            if value is None or value == "":
                continue
            filters[key] = _text(f"filters.{key}", value)
        object.__setattr__(self, "filters", filters)
        object.__setattr__(self, "severity", _choice("severity", self.severity, SEVERITIES))
        raw_channels = self.channels
        if isinstance(raw_channels, (str, Mapping, Channel)):
            raw_channels = (raw_channels,)
        if not isinstance(raw_channels, (list, tuple)) or not raw_channels:
            raise RuleError("channels", self.channels, "expected at least one channel")
        object.__setattr__(self, "channels", tuple(
            Channel.from_value(c, f"channels[{i}]") for i, c in enumerate(raw_channels)))
        if not isinstance(self.enabled, bool):
            raise RuleError("enabled", self.enabled, "expected true or false")
        if self.description:
            object.__setattr__(self, "description", _text("description", self.description, max_len=1000))
        name = self.name
        if name is None or (isinstance(name, str) and not name.strip()):
            name = _default_name(metric, aggregation, comparison, self.threshold, filters)
        object.__setattr__(self, "name", _text("name", name))
        if self.id is not None and (isinstance(self.id, bool) or not isinstance(self.id, int)):
            raise RuleError("id", self.id, "expected a whole number")

    # -- derived ----------------------------------------------------------------------------------------
    @property
    def builtin(self) -> bool:
        return self.metric in BUILTIN_METRICS

    @property
    def unit(self) -> str:
        builtin = BUILTIN_METRICS.get(self.metric)
        return builtin.unit if builtin else ""

    def breached(self, value: float | None) -> bool:
        """Whether ``value`` is on the alerting side of the threshold (no data never is)."""
        return value is not None and COMPARISONS[self.comparison](value, self.threshold)

    def summary(self) -> str:
        what = f"{self.aggregation}({self.metric})" if self.aggregation else self.metric
        unit = f" {self.unit}" if self.unit else ""
        where = "".join(f" {k}={v}" for k, v in sorted(self.filters.items()))
        return f"{what} {self.comparison} {self.threshold:g}{unit} over {format_duration(self.window)}{where}"

    def with_id(self, rule_id: int | None) -> Rule:
        return replace(self, id=rule_id)

    # -- (de)serialisation ------------------------------------------------------------------------------
    def to_dict(self, *, with_id: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "metric": self.metric}
        if self.aggregation:
            out["aggregation"] = self.aggregation
        out.update(comparison=self.comparison, threshold=self.threshold, window=format_duration(self.window))
        if self.filters:
            out["filters"] = dict(self.filters)
        out.update(severity=self.severity, channels=[c.to_dict() for c in self.channels],
                   cooldown=format_duration(self.cooldown))
        if self.source == "metrics" and self.metric not in KNOWN_METRICS:
            out["source"] = "metrics"
        if self.description:
            out["description"] = self.description
        if not self.enabled:
            out["enabled"] = False
        if with_id and self.id is not None:
            out = {"id": self.id, **out}
        return out

    @classmethod
    def from_dict(cls, data: object, where: str = "rule") -> Rule:
        """A rule from a mapping (a file entry, a JSON body, a CLI form); filters may also be top-level keys.

        The store state in ``agentkit alerts list --json`` (``STATE_FIELDS``) is accepted and ignored, so a
        listing imports back; ``id`` is kept on the Rule but saving goes by name."""
        if isinstance(data, Rule):
            return data
        if not isinstance(data, Mapping):
            raise RuleError(where, data, "expected a mapping with at least metric and threshold")
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        filters = dict(data.get("filters") or {}) if isinstance(data.get("filters") or {}, Mapping) else data["filters"]
        for key, value in data.items():
            if key in FILTER_KEYS:
                if isinstance(filters, dict):
                    filters[key] = value
            elif key == "channel":
                values["channels"] = value
            elif key in STATE_FIELDS:
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise RuleError(f"{where}.{key}", value, "expected null or seconds since the epoch "
                                    "(store state, ignored on import)")
            elif key in known and key != "filters":
                values[key] = value
            elif key != "filters":
                raise RuleError(f"{where}.{key}", value, "unknown rule field; known: "
                                + ", ".join(sorted(known | set(FILTER_KEYS) | set(STATE_FIELDS))))
        for required in ("metric", "threshold"):
            if required not in values:
                raise RuleError(f"{where}.{required}", None, "is required")
        values["filters"] = filters
        try:
            return cls(**values)
        except RuleError as exc:
            prefix = "" if where == "rule" else f"{where}."
            raise RuleError(prefix + exc.setting, exc.value, str(exc).split(": ", 1)[-1]) from None


def parse_rules(data: object, where: str = "rules") -> list[Rule]:
    """Rules from decoded JSON/YAML: a list of mappings, or ``{"rules": [...]}``."""
    if isinstance(data, Mapping) and "rules" in data:
        extra = set(data) - {"rules"}
        if extra:
            key = sorted(extra)[0]
            raise RuleError(f"{where}.{key}", data[key], "unknown top-level key; expected only 'rules'")
        data = data["rules"]
    if isinstance(data, Mapping) and "metric" in data:
        data = [data]
    if not isinstance(data, list):
        raise RuleError(where, data, "expected a list of rules or a mapping with a 'rules' list")
    rules = [Rule.from_dict(item, f"{where}[{i}]") for i, item in enumerate(data)]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise RuleError(f"{where}[{i}].name", rule.name, "two rules have this name; names must be unique")
        seen.add(rule.name)  # type: ignore[arg-type]
    return rules


def load_rules_file(path: str | Path) -> list[Rule]:
    """Rules from a ``.json``, ``.yaml`` or ``.yml`` file; errors name the file and the field."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError("rules file", str(p), exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise RuleError("rules file", str(p), "not a text file (expected UTF-8 JSON or YAML)") from None
    is_json = p.suffix.lower() == ".json"
    try:
        if is_json:
            data = json.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                raise RuleError("rules file", str(p), "reading YAML needs PyYAML (pip install "
                                "'otel-agentkit[yaml]'); or use a .json file") from None
            data = yaml.safe_load(text)
    except (ValueError, Exception) as exc:
        if isinstance(exc, RuleError):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuleError("rules file", str(p), f"not valid {'JSON' if is_json else 'YAML'}: {first}") from None
    return parse_rules(data, where=p.name)


def coerce_rules(values: Iterable[object]) -> list[Rule]:
    """Rules given in code: Rule objects or mappings."""
    return parse_rules(list(values), where="alerts")
