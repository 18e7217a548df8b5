"""Settings from the standard OTEL_* variables, AGENTKIT_* variables and ``init()`` keywords.

Precedence: keyword argument > environment > default. Every value is checked here, at the boundary, so a
bad one fails ``init()`` with a message naming the setting and the value instead of surfacing later.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence


_MAX_SHOWN = 300  # characters of a value shown in an error line


class ConfigError(ValueError):
    """A setting has a value the SDK cannot use; the message names the setting and the value."""

    def __init__(self, setting: str, value: object, why: str) -> None:
        self.setting = setting
        self.value = value
        shown = repr(value)
        if len(shown) > _MAX_SHOWN:  # a whole file read as one value: the line names it, not reprints it
            shown = shown[:_MAX_SHOWN - 3] + "..."
        super().__init__(f"invalid {setting}={shown}: {why}")


class MissingExtra(ConfigError):
    """A feature was asked for whose optional dependencies are not installed; the message names the extra
    that installs them."""

    def __init__(self, setting: str, value: object, extra: str, what: str) -> None:
        self.setting = setting
        self.value = value
        self.extra = extra
        self.what = what
        ValueError.__init__(self, f"{setting}={value!r} needs {what}: pip install 'otel-agentkit[{extra}]'")


class ContentCapture(enum.Enum):
    """Where message content goes (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)


ENV_SDK_DISABLED = "OTEL_SDK_DISABLED"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
ENV_METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
ENV_LOGS_EXPORTER = "OTEL_LOGS_EXPORTER"
ENV_METRIC_EXPORT_INTERVAL = "OTEL_METRIC_EXPORT_INTERVAL"
ENV_HOME = "AGENTKIT_HOME"
ENV_EXPORTERS = "AGENTKIT_EXPORTERS"
ENV_CONTENT_MAX_LENGTH = "AGENTKIT_CONTENT_MAX_LENGTH"
ENV_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"  # the span one wins, as in OTel
ENV_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
ENV_LEGACY_METRICS = "AGENTKIT_LEGACY_METRICS"
ENV_SEMCONV = "AGENTKIT_SEMCONV"  # v0.1.0 | pre-release | both
ENV_SEMCONV_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"  # gen_ai_latest_experimental[/dup]
ENV_PRICING_FILE = "AGENTKIT_PRICING_FILE"
ENV_USER_ID_SALT = "AGENTKIT_USER_ID_SALT"

# Variables read elsewhere (each module imports its names from here; see VARIABLES below).
ENV_SPOOL_MAX_BYTES = "AGENTKIT_SPOOL_MAX_BYTES"
ENV_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_OTLP_PREFIX = "OTEL_EXPORTER_OTLP_"  # _ENDPOINT, _PROTOCOL, _HEADERS, ... and the per-signal _TRACES_*, ...
ENV_PROMETHEUS_HOST = "OTEL_EXPORTER_PROMETHEUS_HOST"
ENV_PROMETHEUS_PORT = "OTEL_EXPORTER_PROMETHEUS_PORT"
ENV_DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
ENV_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
ENV_SMTP_HOST = "AGENTKIT_SMTP_HOST"
ENV_SMTP_PORT = "AGENTKIT_SMTP_PORT"
ENV_SMTP_TLS = "AGENTKIT_SMTP_TLS"
ENV_SMTP_FROM = "AGENTKIT_SMTP_FROM"
ENV_SMTP_USER = "AGENTKIT_SMTP_USER"
ENV_SMTP_PASSWORD = "AGENTKIT_SMTP_PASSWORD"
ENV_WEBHOOK_ALLOWLIST = "AGENTKIT_ALERT_WEBHOOK_ALLOWLIST"
ENV_AGENT_STORE = "AGENTKIT_AGENT_STORE"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def default_home() -> Path:
    """The per-user data directory shared by the SDK and the CLI: $AGENTKIT_HOME, else XDG data home."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "agentkit"


def home_problem(path: Path | str) -> str:
    """Why the SDK could not write under ``path`` ('' when it can), found without creating anything.

    Looks at the nearest part of the path that exists: it must be a directory this process may write into
    (``os.access`` also sees a read-only mount, which permission bits alone do not show to root).
    """
    try:
        probe = Path(path)
        while not probe.exists():  # False for a missing path and for one under a regular file
            if probe.parent == probe:
                return f"{probe} does not exist"
            probe = probe.parent
        if not probe.is_dir():
            return f"{probe} is a file, not a directory"
        if not os.access(probe, os.W_OK | os.X_OK):
            return f"{probe} is not writable"
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long...
        return f"not a usable path ({exc})"
    return ""


_warned: set[tuple[str, ...]] = set()


def _warn_once(key: tuple[str, ...], message: str, *args: object) -> None:
    """One warning per key for the life of the process (config sits below diagnostics, which has the same
    for the floors above)."""
    if key in _warned:
        return
    _warned.add(key)
    import logging

    logging.getLogger("otel_agentkit").warning(message, *args)


def _fallback_homes() -> list[Path]:
    """Where local data goes when the configured home cannot be written: the default data directory
    (what the CLI reads without AGENTKIT_HOME), then a private directory under the system temp dir."""
    import tempfile

    out = []
    try:
        xdg = os.environ.get("XDG_DATA_HOME")
        out.append((Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "agentkit")
    except (RuntimeError, KeyError):  # no home directory known for this user
        pass
    temp = Path(tempfile.gettempdir()) / f"agentkit-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    try:  # someone else's directory there (made to read our data) is no fallback
        st = temp.stat()
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            return out
    except OSError:
        pass
    out.append(temp)
    return out


def _usable_home() -> Path:
    """The home from the environment (or the default); if it cannot be written, one warning and the first
    writable fallback: an environment variable must not stop the application, and the data should land
    somewhere the warning names rather than be lost."""
    home = default_home()
    why = home_problem(home)
    if not why:
        return home
    source = f"{ENV_HOME}={os.environ[ENV_HOME]!r}" if os.environ.get(ENV_HOME) else f"the data directory {home}"
    chosen = next((c for c in _fallback_homes() if c != home and not home_problem(c)), None)
    key = ("home", str(home), str(chosen))
    if chosen is None:
        _warn_once(key, "otel_agentkit: %s cannot be written (%s) and no fallback can either: local telemetry "
                   "files and the spool will fail (counted in agentkit.sdk.dropped)", source, why)
    else:
        _warn_once(key, "otel_agentkit: %s cannot be written (%s): writing to %s instead (read it with "
                   "`agentkit --home %s`)", source, why, chosen, chosen)
    return chosen if chosen is not None else home


def private_dir(path: Path | str) -> Path:
    """Create ``path`` and any missing parents owner-only (0700); an existing directory keeps its mode.

    Everything the SDK writes (telemetry, spool, agent and alert databases, the salt) lives under the data
    directory, and may hold prompts or user ids: no other local user may read it.
    """
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)  # mkdir's mode is masked by the umask; owner-only is the point
    return path


def private_file(path: Path | str) -> Path:
    """Create ``path`` (empty, 0600) if it does not exist, in an owner-only directory; for files other
    libraries open (SQLite keeps its -wal and -shm files at the database file's mode)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def parse_bool(setting: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(setting, value, "expected true or false")


def parse_capture(setting: str, value: object) -> ContentCapture:
    if isinstance(value, ContentCapture):
        return value
    if isinstance(value, bool):
        return ContentCapture.SPAN_ONLY if value else ContentCapture.NO_CONTENT
    text = str(value).strip().upper()
    if text in ("TRUE", "1"):  # older setups used a boolean
        return ContentCapture.SPAN_ONLY
    if text in ("FALSE", "0", ""):
        return ContentCapture.NO_CONTENT
    try:
        return ContentCapture(text)
    except ValueError:
        choices = ", ".join(m.value for m in ContentCapture)
        raise ConfigError(setting, value, f"expected one of {choices}") from None


def parse_positive_int(setting: str, value: object) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        raise ConfigError(setting, value, "expected a whole number") from None
    if isinstance(number, bool) or number <= 0:
        raise ConfigError(setting, value, "expected a whole number above 0")
    return number


def parse_names(setting: str, value: object) -> tuple[str, ...]:
    """A comma-separated list (or a sequence) of names, lower-cased, blanks dropped."""
    if isinstance(value, str):
        items: Sequence[object] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ConfigError(setting, value, "expected a comma-separated list of names")
    return tuple(str(i).strip().lower() for i in items if isinstance(i, str) and i.strip())


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; built once by ``init()`` and shared read-only. Each field is declared with
    its variables and its parser in SETTINGS below."""

    disabled: bool = False
    service_name: str | None = None
    resource_attributes: Mapping[str, Any] = field(default_factory=dict)
    capture_content: ContentCapture = ContentCapture.NO_CONTENT
    content_max_length: int = 16384
    attribute_value_length_limit: int | None = None  # None: the recorder's default (instrument/bounds.py)
    legacy_metrics: bool = False  # adds gen_ai.client.operation.duration / gen_ai.client.token.usage
    semconv: str = "v0.1.0"  # v0.1.0 | pre-release | both (see parse_semconv)
    home: Path = field(default_factory=default_home)
    exporters: tuple[Any, ...] = ("jsonl",)
    metric_exporters: tuple[Any, ...] = ("jsonl",)
    log_exporters: tuple[Any, ...] = ("jsonl",)
    metric_export_interval_ms: int = 60000
    pricing: Any = None  # path or mapping; None means the bundled table only
    user_id_salt: str | None = None
    redact: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    # Where each value came from: "keyword", the variable's name, or absent for a default. The exporters
    # use it: a name from a keyword that cannot be used fails init(), one from the environment is warned
    # about and left out.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    def from_environment(self, name: str) -> bool:
        """True when the setting ``name`` was taken from an environment variable."""
        return self.origins.get(name, "keyword") != "keyword"


SEMCONV_MODES = ("v0.1.0", "pre-release", "both")
_OPT_IN = {"gen_ai_latest_experimental": "v0.1.0", "gen_ai_latest_experimental/dup": "both"}


def parse_semconv(setting: str, value: object) -> str:
    """The ``semconv`` keyword: one of v0.1.0, pre-release, both."""
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in ("0.1.0", "v0.1.0", "latest"):
        return "v0.1.0"
    if text in SEMCONV_MODES:
        return text  # type: ignore[return-value]
    raise ConfigError(setting, value, "expected one of " + ", ".join(SEMCONV_MODES))


def _ignore_env(name: str, value: str, why: str, default: object) -> None:
    _warn_once((name, value), "otel_agentkit: ignoring %s=%r (%s); using %s", name, value, why, default)


def semconv_from_env(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, ``semconv`` choice) from the environment, or None when it makes none. AGENTKIT_SEMCONV wins
    over OTEL_SEMCONV_STABILITY_OPT_IN (whose ``gen_ai_latest_experimental`` means v0.1.0 and
    ``gen_ai_latest_experimental/dup`` both, as the transition plans' ``/dup`` values do). A bad value warns
    once and is ignored."""
    raw = env.get(ENV_SEMCONV)
    if raw not in (None, ""):
        try:
            return ENV_SEMCONV, parse_semconv(ENV_SEMCONV, raw)
        except ConfigError as exc:
            _ignore_env(ENV_SEMCONV, raw, _why(exc), SEMCONV_MODES[0])  # type: ignore[arg-type]
            return None
    raw = env.get(ENV_SEMCONV_OPT_IN)
    if not raw:
        return None
    chosen = None
    for token in (t.strip().lower() for t in raw.split(",")):
        if token in _OPT_IN:
            if chosen != "both":  # /dup wins when both are listed
                chosen = _OPT_IN[token]
        elif token.startswith("gen_ai"):
            _ignore_env(ENV_SEMCONV_OPT_IN, token, "unknown gen_ai value", SEMCONV_MODES[0])
    return (ENV_SEMCONV_OPT_IN, chosen) if chosen else None


def _exporter_list(setting: str, value: object) -> tuple[Any, ...]:
    """Names or exporter objects; names are validated against the registry by the export layer."""
    if isinstance(value, (list, tuple)):
        return tuple(v.strip().lower() if isinstance(v, str) else v for v in value if v != "")
    if isinstance(value, str):
        return parse_names(setting, value)
    return (value,)


def parse_text(setting: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(setting, value, "expected a string")
    return value


def _parse_mapping(setting: str, value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(setting, value, "expected a mapping of attribute names to values")
    return dict(value)


def _parse_home(setting: str, value: object) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(os.fspath(value)).strip():
        raise ConfigError(setting, value, "expected a directory path")
    home = Path(value).expanduser()
    if why := home_problem(home):
        raise ConfigError(setting, os.fspath(value), f"cannot be written: {why}")
    return home


def _parse_pricing(setting: str, value: object) -> Any:
    if not isinstance(value, (str, os.PathLike, Mapping)):
        raise ConfigError(setting, value, "expected a pricing file path or a mapping of model prices")
    return value


def _parse_redact(setting: str, value: object) -> Any:
    if not callable(value):
        raise ConfigError(setting, value, "expected a callable taking and returning messages")
    return value


def _from_env(env: Mapping[str, str], names: Sequence[str]) -> tuple[str, str] | None:
    return next(((n, env[n]) for n in names if env.get(n) not in (None, "")), None)


@dataclass(frozen=True)
class Setting:
    """One setting: its ``init()`` keyword (= the Settings field), the variables it is read from (the first
    set one wins) and the parser that checks a value of either origin."""

    name: str
    env: tuple[str, ...]
    parse: Callable[[str, object], Any]
    doc: str
    read_env: Callable[[Mapping[str, str]], tuple[str, Any] | None] | None = None  # a special reading


SETTINGS: tuple[Setting, ...] = (
    Setting("disabled", (ENV_SDK_DISABLED,), parse_bool, "record nothing"),
    Setting("service_name", (ENV_SERVICE_NAME,), parse_text, "service.name of what init() creates"),
    Setting("resource_attributes", (), _parse_mapping, "more resource attributes"),
    Setting("capture_content", (ENV_CAPTURE_CONTENT,), parse_capture, "where message content goes"),
    Setting("content_max_length", (ENV_CONTENT_MAX_LENGTH,), parse_positive_int, "content cut to this length"),
    Setting("attribute_value_length_limit", (ENV_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                                             ENV_ATTRIBUTE_VALUE_LENGTH_LIMIT), parse_positive_int,
            "span attribute values cut to this length"),
    Setting("legacy_metrics", (ENV_LEGACY_METRICS,), parse_bool, "also the pre-release inference metrics"),
    Setting("semconv", (ENV_SEMCONV, ENV_SEMCONV_OPT_IN), parse_semconv, "the GenAI names emitted",
            read_env=lambda env: semconv_from_env(env)),
    Setting("home", (ENV_HOME,), _parse_home, "the data directory",
            read_env=lambda env: (ENV_HOME, _usable_home()) if env.get(ENV_HOME) else None),
    Setting("exporters", (ENV_EXPORTERS, ENV_TRACES_EXPORTER), _exporter_list, "span (and default) exporters"),
    Setting("metric_exporters", (ENV_METRICS_EXPORTER,), _exporter_list, "metric exporters"),
    Setting("log_exporters", (ENV_LOGS_EXPORTER,), _exporter_list, "log record exporters (content events)"),
    Setting("metric_export_interval_ms", (ENV_METRIC_EXPORT_INTERVAL,), parse_positive_int,
            "metric export interval"),
    Setting("pricing", (ENV_PRICING_FILE,), _parse_pricing, "model prices over the bundled table"),
    Setting("user_id_salt", (ENV_USER_ID_SALT,), parse_text, "salt of hashed user ids"),
    Setting("redact", (), _parse_redact, "a function applied to captured messages"),
)
SETTING_NAMES: tuple[str, ...] = tuple(s.name for s in SETTINGS)


@dataclass(frozen=True)
class Variable:
    """An environment variable read outside init()'s settings: by one part of the package, when it runs."""

    name: str
    read_by: str
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable(ENV_OTLP_PREFIX + "*", "export/otlp.py", "endpoint, protocol, headers, timeout, compression, "
             "certificates, per signal or for all, as the OTLP exporter specification says"),
    Variable(ENV_SPOOL_MAX_BYTES, "export/otlp.py", "bound of the OTLP disk spool per signal (default 256 MiB)"),
    Variable(ENV_PROMETHEUS_HOST, "export/prometheus.py", "the scrape endpoint's address (default localhost)"),
    Variable(ENV_PROMETHEUS_PORT, "export/prometheus.py", "the scrape endpoint's port (default 9464)"),
    Variable(ENV_RESOURCE_ATTRIBUTES, "the OTel SDK", "resource attributes of the providers init() creates"),
    Variable(ENV_DISABLED_INSTRUMENTATIONS, "zerocode.py", "`agentkit` in it: opentelemetry-instrument's hook "
             "does nothing"),
    Variable(ENV_SMTP_HOST, "alerts/channels.py", "email channel: SMTP host (default localhost)"),
    Variable(ENV_SMTP_PORT, "alerts/channels.py", "email channel: SMTP port (default 25, 465 with ssl)"),
    Variable(ENV_SMTP_TLS, "alerts/channels.py", "email channel: none, starttls or ssl"),
    Variable(ENV_SMTP_FROM, "alerts/channels.py", "email channel: sender address"),
    Variable(ENV_SMTP_USER, "alerts/channels.py", "email channel: login user"),
    Variable(ENV_SMTP_PASSWORD, "alerts/channels.py", "email channel: login password"),
    Variable(ENV_WEBHOOK_ALLOWLIST, "alerts/netguard.py", "hosts or networks alert webhooks may reach despite the "
             "SSRF guard"),
    Variable(ENV_AGENT_STORE, "agents/store.py", "the agent store URL (default SQLite at <home>/agents.db)"),
)


def _why(exc: ConfigError) -> str:
    return str(exc).split(": ", 1)[-1]


def load_settings(**kwargs: Any) -> Settings:
    """Merge keyword arguments over the environment over defaults, validating each value.

    A wrong keyword argument raises ConfigError naming it and its value (the programmer is there to see it).
    A wrong environment value logs one warning naming the variable and the value and the default is used,
    as the OTel SDK does: configuration must not take an application down."""
    unknown = [key for key in kwargs if key not in SETTING_NAMES]
    if unknown:
        raise ConfigError(unknown[0], kwargs[unknown[0]], "unknown setting; known: " + ", ".join(SETTING_NAMES))
    env = os.environ
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for setting in SETTINGS:
        if kwargs.get(setting.name) is not None:
            values[setting.name] = setting.parse(setting.name, kwargs[setting.name])
            origins[setting.name] = "keyword"
            continue
        if setting.read_env is not None:
            got = setting.read_env(env)
            if got is not None:
                origins[setting.name], values[setting.name] = got
            continue
        for name in setting.env:  # the first variable set to a usable value wins
            raw = env.get(name)
            if raw in (None, ""):
                continue
            try:
                values[setting.name] = setting.parse(name, raw)
            except ConfigError as exc:
                _ignore_env(name, raw, _why(exc), "the default")  # type: ignore[arg-type]
                continue
            origins[setting.name] = name
            break
    if "home" not in values:
        values["home"] = _usable_home()
    if "exporters" in values:  # the other signals follow the exporters named, unless named themselves
        names = tuple(e for e in values["exporters"] if isinstance(e, str))
        for other in ("metric_exporters", "log_exporters"):
            if other not in values:
                values[other], origins[other] = names, origins["exporters"]
    return Settings(**values, origins=origins)
