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


@pytest.mark.parametrize("kwargs, env, needle", [
    ({"content_max_length": -5}, {}, "content_max_length=-5"),
    ({}, {"AGENTKIT_CONTENT_MAX_LENGTH": "lots"}, "AGENTKIT_CONTENT_MAX_LENGTH='lots'"),
    ({}, {"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED='maybe'"),
    ({}, {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "ALL"},
     "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT='ALL'"),
    ({"exporters": "otlp,carrier-pigeon"}, {}, "exporters='carrier-pigeon'"),
    ({}, {"OTEL_TRACES_EXPORTER": "zipkin2"}, "exporters='zipkin2'"),
    ({"metric_export_interval_ms": 0}, {}, "metric_export_interval_ms=0"),
    ({"redact": "not callable"}, {}, "redact='not callable'"),
    ({"resource_attributes": ["x"]}, {}, "resource_attributes=['x']"),
])
def test_bad_configuration_fails_init(monkeypatch, tmp_path, kwargs, env, needle):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        agentkit.init(home=tmp_path, **kwargs)
    text = str(info.value)
    assert needle in text and "\n" not in text
    assert not agentkit.is_active()


def test_unknown_init_keyword_is_a_type_error(tmp_path):
    with pytest.raises(TypeError):
        agentkit.init(exporter="console")  # type: ignore[call-arg]


def test_init_is_idempotent(make_sdk):
    make_sdk()
    assert agentkit.init() is False
    assert agentkit.is_active()


def test_resource_service_name(monkeypatch, tmp_path):
    from otel_agentkit.runtime import _resource

    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
    resource = _resource(load_settings(service_name="svc-a"))
    assert resource.attributes["service.name"] == "svc-a"
    assert resource.attributes["deployment.environment.name"] == "test"
    assert resource.attributes["telemetry.distro.name"] == "otel_agentkit"
