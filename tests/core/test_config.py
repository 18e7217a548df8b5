"""Settings: environment and keyword precedence, and bad values refused with the setting and value named."""

from __future__ import annotations

import pytest

import otel_agentkit as agentkit
from otel_agentkit import ConfigError, ContentCapture
from otel_agentkit.config import load_settings


def test_keywords_override_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    monkeypatch.setenv("AGENTKIT_CONTENT_MAX_LENGTH", "100")
    monkeypatch.setenv("AGENTKIT_HOME", str(tmp_path / "env-home"))
    s = load_settings()
    assert s.capture_content is ContentCapture.SPAN_ONLY
    assert s.content_max_length == 100
    assert s.home == tmp_path / "env-home"
    s = load_settings(capture_content="NO_CONTENT", content_max_length=5, home=tmp_path / "kw")
    assert s.capture_content is ContentCapture.NO_CONTENT
    assert s.content_max_length == 5
    assert s.home == tmp_path / "kw"


def test_standard_exporter_variables(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console,jsonl")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    s = load_settings()
    assert s.exporters == ("console", "jsonl")
    assert s.metric_exporters == ("none",)


@pytest.mark.parametrize("kwargs, needle", [
    ({"content_max_length": -5}, "content_max_length=-5"),
    ({"exporters": "otlp,carrier-pigeon"}, "exporters='carrier-pigeon'"),
    ({"metric_export_interval_ms": 0}, "metric_export_interval_ms=0"),
    ({"redact": "not callable"}, "redact='not callable'"),
    ({"resource_attributes": ["x"]}, "resource_attributes=['x']"),
    ({"capture_content": "ALL"}, "capture_content='ALL'"),
    ({"disabled": "maybe"}, "disabled='maybe'"),
    ({"service_name": 42}, "service_name=42"),
])
def test_bad_keyword_fails_init_and_leaves_nothing(tmp_path, kwargs, needle):
    with pytest.raises(ConfigError) as info:
        agentkit.init(home=tmp_path, **kwargs)
    text = str(info.value)
    assert needle in text and "\n" not in text
    assert not agentkit.is_active()


# The OTel SDK warns about a bad variable and uses the default: a typo in the environment must not take a
# production application down at startup. One warning names the variable and the value.
@pytest.mark.parametrize("variable, value, field, default", [
    ("AGENTKIT_CONTENT_MAX_LENGTH", "lots", "content_max_length", 16384),
    ("OTEL_SDK_DISABLED", "maybe", "disabled", False),
    ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "ALL", "capture_content", ContentCapture.NO_CONTENT),
    ("OTEL_METRIC_EXPORT_INTERVAL", "abc", "metric_export_interval_ms", 60000),
    ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1", "attribute_value_length_limit", None),
    ("AGENTKIT_LEGACY_METRICS", "sometimes", "legacy_metrics", False),
    ("AGENTKIT_SEMCONV", "v9", "semconv", "v0.1.0"),
])
def test_bad_environment_warns_once_and_uses_the_default(monkeypatch, caplog, tmp_path, variable, value, field,
                                                         default):
    monkeypatch.setenv(variable, value)
    caplog.set_level("WARNING", logger="otel_agentkit")
    assert getattr(load_settings(), field) == default
    assert agentkit.init(home=tmp_path, exporters="none") is True  # the application starts
    agentkit.shutdown()
    lines = [r.getMessage() for r in caplog.records if variable in r.getMessage()]
    assert len(lines) == 1 and repr(value) in lines[0], lines


def test_bad_span_limit_falls_back_to_the_general_one(monkeypatch):
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "many")
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "300")
    assert load_settings().attribute_value_length_limit == 300


def test_unknown_exporter_in_the_environment_is_left_out(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin2,console")
    caplog.set_level("WARNING", logger="otel_agentkit")
    from otel_agentkit.export import registry

    exporters = registry.build_span_exporters(load_settings(home=tmp_path))
    assert [type(e).__name__ for e in exporters] == ["ConsoleSpanExporter"]
    assert agentkit.init(home=tmp_path) is True
    agentkit.shutdown()
    assert any("OTEL_TRACES_EXPORTER" in r.getMessage() and "zipkin2" in r.getMessage() for r in caplog.records)


def test_logs_exporter_variable_is_read(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console,jsonl")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    s = load_settings()
    assert s.log_exporters == ("none",) and s.metric_exporters == ("console", "jsonl")
    monkeypatch.delenv("OTEL_LOGS_EXPORTER")
    assert load_settings().log_exporters == ("console", "jsonl")


def test_unknown_init_keyword_is_a_config_error_with_a_hint(tmp_path):
    with pytest.raises(ConfigError, match="exporter='console'.*did you mean exporters"):
        agentkit.init(exporter="console")  # type: ignore[call-arg]
    assert not agentkit.is_active()


def test_every_setting_is_an_init_keyword_and_in_the_readme():
    """Settings are declared once (config.SETTINGS); init() takes each, and the README's table names each
    with its variables."""
    import inspect
    from pathlib import Path

    from otel_agentkit.config import SETTINGS

    params = set(inspect.signature(agentkit.init).parameters)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for setting in SETTINGS:
        assert setting.name in params, setting.name
        row = next((line for line in readme.splitlines()
                    if line.startswith("| ") and f"`{setting.name}`" in line.split("|")[1]), None)
        assert row is not None, f"README configuration table lacks {setting.name}"
        for variable in setting.env:
            assert variable in row, (setting.name, variable)


def test_init_is_idempotent(make_sdk, caplog):
    make_sdk()
    caplog.set_level("WARNING", logger="otel_agentkit")
    assert agentkit.init() is False
    assert agentkit.is_active()
    assert not caplog.records  # nothing asked that differs


def test_second_init_with_other_arguments_warns_once(make_sdk, caplog):
    make_sdk(service_name="one")
    caplog.set_level("WARNING", logger="otel_agentkit")
    assert agentkit.init(service_name="two") is False
    assert agentkit.init(service_name="two") is False
    lines = [r.getMessage() for r in caplog.records if "init() called again" in r.getMessage()]
    assert len(lines) == 1 and "service_name='two'" in lines[0] and "shutdown()" in lines[0]


def test_resource_service_name(monkeypatch, tmp_path):
    from otel_agentkit.runtime import _resource

    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
    resource = _resource(load_settings(service_name="svc-a"))
    assert resource.attributes["service.name"] == "svc-a"
    assert resource.attributes["deployment.environment.name"] == "test"
    assert resource.attributes["telemetry.distro.name"] == "otel_agentkit"


@pytest.mark.parametrize("keyword", ["pricing", "alerts"])
def test_a_binary_file_is_one_line_naming_it(tmp_path, keyword):
    path = tmp_path / "table.json"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ValueError) as info:  # ConfigError (pricing) or RuleError (alerts): both name the file
        agentkit.init(home=tmp_path / "home", **{keyword: str(path)})
    assert str(path) in str(info.value) and "not a text file" in str(info.value) and "\n" not in str(info.value)
    assert not agentkit.is_active()


def test_a_failed_init_leaves_nothing_set_up(tmp_path):
    """init(alerts=<bad file>) used to raise after the global TracerProvider was installed, so a corrected
    init() recorded under the first call's service name. A fresh process: the global provider is set once."""
    import json
    import subprocess
    import sys

    (tmp_path / "bad.json").write_text('{"rules": [{"name": "x", "metric": "error_rate"}]}')
    code = f"""
import json, otel_agentkit as agentkit
from opentelemetry import trace
try:
    agentkit.init(home={str(tmp_path / 'home')!r}, service_name="first", alerts={str(tmp_path / 'bad.json')!r})
except ValueError as exc:
    failed = str(exc)
first_provider = type(trace.get_tracer_provider()).__name__
agentkit.init(home={str(tmp_path / 'home')!r}, service_name="second", exporters="none")
print(json.dumps([failed, first_provider, trace.get_tracer_provider().resource.attributes["service.name"]]))
"""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("OTEL_", "AGENTKIT_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    failed, first_provider, name = json.loads(out.stdout.splitlines()[-1])
    assert "bad.json" in failed
    assert first_provider.startswith("Proxy")  # nothing was installed by the failed call
    assert name == "second"


def test_every_variable_the_package_reads_is_declared_once_and_documented():
    """Every OTEL_* / AGENTKIT_* name the package spells is spelled in config.py only (the other modules
    import it), and each is declared in SETTINGS or VARIABLES and named in the README."""
    import re
    from pathlib import Path

    from otel_agentkit.config import SETTINGS, VARIABLES

    package = Path(agentkit.__file__).parent
    spelled_elsewhere = [f"{path.relative_to(package)}: {name}" for path in package.rglob("*.py")
                         if path.name != "config.py"
                         for name in re.findall(r"""["'](?:OTEL|AGENTKIT)_[A-Z0-9_]+["']""", path.read_text())]
    assert spelled_elsewhere == []
    config_text = (package / "config.py").read_text()
    spelled = set(re.findall(r'"((?:OTEL|AGENTKIT)_[A-Z0-9_]+)"', config_text))
    declared = {v for s in SETTINGS for v in s.env} | {v.name for v in VARIABLES}
    assert spelled - {"OTEL_EXPORTER_OTLP_"} <= declared | {"OTEL_EXPORTER_OTLP_ENDPOINT"}, spelled - declared
    readme = (package.parent / "README.md").read_text()
    assert [name for name in sorted(declared) if f"`{name}`" not in readme] == []


def test_an_error_line_shows_a_long_value_cut():
    """A whole file read as one value (a CSV given as rules) must not be reprinted into the error line."""
    text = str(ConfigError("rules file", "x" * 10_000, "expected a list of rules"))
    assert len(text) < 400 and text.endswith("...: expected a list of rules") and "\n" not in text
