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


class ConfigError(ValueError):
    """A setting has a value the SDK cannot use; the message names the setting and the value."""

    def __init__(self, setting: str, value: object, why: str) -> None:
        self.setting = setting
        self.value = value
        super().__init__(f"invalid {setting}={value!r}: {why}")


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
    """Resolved configuration; built once by ``init()`` and shared read-only."""

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
    metric_export_interval_ms: int = 60000
    pricing: Any = None  # path or mapping; None means the bundled table only
    user_id_salt: str | None = None
    redact: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


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


def _ignore_env(name: str, value: str, why: str) -> None:
    _warn_once((name, value), "otel_agentkit: ignoring %s=%r (%s); using %s", name, value, why, SEMCONV_MODES[0])


def semconv_from_env(env: Mapping[str, str]) -> str | None:
    """The ``semconv`` choice from the environment, or None when it makes none. AGENTKIT_SEMCONV wins over
    OTEL_SEMCONV_STABILITY_OPT_IN (whose ``gen_ai_latest_experimental`` means v0.1.0 and
    ``gen_ai_latest_experimental/dup`` both, as the transition plans' ``/dup`` values do). A bad value warns
    once and is ignored."""
    raw = env.get(ENV_SEMCONV)
    if raw not in (None, ""):
        try:
            return parse_semconv(ENV_SEMCONV, raw)
        except ConfigError:
            _ignore_env(ENV_SEMCONV, raw, "expected one of " + ", ".join(SEMCONV_MODES))  # type: ignore[arg-type]
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
            _ignore_env(ENV_SEMCONV_OPT_IN, token, "unknown gen_ai value")
    return chosen


def _exporter_list(setting: str, value: object) -> tuple[Any, ...]:
    """Names or exporter objects; names are validated against the registry by the export layer."""
    if isinstance(value, (list, tuple)):
        return tuple(v.strip().lower() if isinstance(v, str) else v for v in value if v != "")
    if isinstance(value, str):
        return parse_names(setting, value)
    return (value,)


def load_settings(**kwargs: Any) -> Settings:
    """Merge keyword arguments over the environment over defaults, validating each value."""
    env = os.environ
    known = {
        "disabled", "service_name", "resource_attributes", "capture_content", "content_max_length",
        "attribute_value_length_limit",
        "legacy_metrics", "home", "exporters", "metric_exporters", "metric_export_interval_ms", "pricing",
        "user_id_salt", "redact", "semconv",
    }
    for key in kwargs:
        if key not in known:
            raise ConfigError(key, kwargs[key], "unknown setting; known: " + ", ".join(sorted(known)))

    def pick(key: str, env_name: str | None) -> tuple[str, object] | None:
        if kwargs.get(key) is not None:
            return key, kwargs[key]
        if env_name and env.get(env_name) not in (None, ""):
            return env_name, env[env_name]
        return None

    values: dict[str, Any] = {}
    if (got := pick("disabled", ENV_SDK_DISABLED)) is not None:
        values["disabled"] = parse_bool(*got)
    if (got := pick("service_name", ENV_SERVICE_NAME)) is not None:
        values["service_name"] = str(got[1])
    if kwargs.get("resource_attributes") is not None:
        ra = kwargs["resource_attributes"]
        if not isinstance(ra, Mapping):
            raise ConfigError("resource_attributes", ra, "expected a mapping of attribute names to values")
        values["resource_attributes"] = dict(ra)
    if (got := pick("capture_content", ENV_CAPTURE_CONTENT)) is not None:
        values["capture_content"] = parse_capture(*got)
    if (got := pick("content_max_length", ENV_CONTENT_MAX_LENGTH)) is not None:
        values["content_max_length"] = parse_positive_int(*got)
    if (got := pick("attribute_value_length_limit", ENV_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT)) is not None or (
            got := pick("attribute_value_length_limit", ENV_ATTRIBUTE_VALUE_LENGTH_LIMIT)) is not None:
        values["attribute_value_length_limit"] = parse_positive_int(*got)
    if (got := pick("legacy_metrics", ENV_LEGACY_METRICS)) is not None:
        values["legacy_metrics"] = parse_bool(*got)
    if kwargs.get("semconv") is not None:
        values["semconv"] = parse_semconv("semconv", kwargs["semconv"])
    elif (mode := semconv_from_env(env)) is not None:
        values["semconv"] = mode
    if kwargs.get("home") is not None:
        home = kwargs["home"]
        if not isinstance(home, (str, os.PathLike)) or not str(os.fspath(home)).strip():
            raise ConfigError("home", home, "expected a directory path")
        values["home"] = Path(home).expanduser()
        if why := home_problem(values["home"]):
            raise ConfigError("home", os.fspath(home), f"cannot be written: {why}")
    else:
        values["home"] = _usable_home()
    if (got := pick("exporters", ENV_EXPORTERS)) is not None or (got := pick("exporters", ENV_TRACES_EXPORTER)):
        values["exporters"] = _exporter_list(*got)
    if (got := pick("metric_exporters", ENV_METRICS_EXPORTER)) is not None:
        values["metric_exporters"] = _exporter_list(*got)
    elif "exporters" in values:
        values["metric_exporters"] = tuple(e for e in values["exporters"] if isinstance(e, str))
    if (got := pick("metric_export_interval_ms", ENV_METRIC_EXPORT_INTERVAL)) is not None:
        values["metric_export_interval_ms"] = parse_positive_int(*got)
    if (got := pick("pricing", ENV_PRICING_FILE)) is not None:
        values["pricing"] = got[1]
    if (got := pick("user_id_salt", ENV_USER_ID_SALT)) is not None:
        values["user_id_salt"] = str(got[1])
    if kwargs.get("redact") is not None:
        if not callable(kwargs["redact"]):
            raise ConfigError("redact", kwargs["redact"], "expected a callable taking and returning messages")
        values["redact"] = kwargs["redact"]
    return Settings(**values)
