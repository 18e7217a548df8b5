"""collector-config.yaml, the production gateway pipeline, checked for its structure.

No OpenTelemetry Collector that knows this config's components can be installed here (none is packaged
for Debian or npm; the one PyPI package that ships an otelcol-contrib binary ships a cut-down build
without the otlp receiver, the file exporter or the attributes processor), so `otelcol validate` cannot
run. These tests check what validate would, and what it would not: every referenced component is defined,
memory_limiter comes first and batch last, content is stripped for every backend but the archive, with
exactly the SDK's content attributes (and those are all the attributes where the SDK puts content), and the
file exporters write the JSON lines the `agentkit` CLI reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_agentkit import semconv as sc

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "collector-config.yaml"
DOC = REPO / "docs" / "collector.md"
SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")
STRIP = "attributes/strip_content"
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _resolve(value: Any) -> Any:
    """The config as the Collector sees it with no variable set: each ${env:NAME:-default} is its default."""
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, str):
        return _ENV.sub(lambda m: m.group(2) or "", value)
    return value


@pytest.fixture(scope="module")
def text() -> str:
    assert CONFIG.exists(), "collector-config.yaml is missing at the repository root"
    return CONFIG.read_text()


@pytest.fixture(scope="module")
def config(text: str) -> dict[str, Any]:
    return _resolve(yaml.safe_load(text))


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _pipelines(config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    return config["service"]["pipelines"]


def test_every_component_a_pipeline_names_is_defined_and_every_defined_one_is_used(config):
    used: dict[str, set[str]] = {s: set() for s in SECTIONS}
    for name, pipeline in _pipelines(config).items():
        assert _type(name) in ("traces", "metrics", "logs"), name
        assert pipeline.get("receivers") and pipeline.get("exporters"), f"{name} needs receivers and exporters"
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section) or []:
                assert component in (config.get(section) or {}), f"{name}: {section} {component} is not defined"
                used[section].add(component)
    for extension in config["service"].get("extensions") or []:
        assert extension in (config.get("extensions") or {}), f"extension {extension} is not defined"
        used["extensions"].add(extension)
    for section in ("receivers", "processors", "exporters", "extensions"):
        assert set(config.get(section) or {}) == used[section], f"{section} defined but unused"
    storage = config["exporters"]["otlp_grpc/tracing"]["sending_queue"]["storage"]
    assert storage in config["service"]["extensions"], "the persistent queue's storage extension must run"


def test_every_environment_variable_has_a_default(text):
    refs = re.findall(r"\$\{[^}]*\}", text)
    assert refs, "the endpoints and paths are meant to be set from the environment"
    for ref in refs:
        m = _ENV.fullmatch(ref)
        assert m and m.group(2), f"{ref}: the config must start with no variable set (use ${{env:NAME:-default}})"


def test_otlp_receiver_takes_grpc_and_http_on_the_standard_ports(config):
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    for pipeline in _pipelines(config).values():
        assert pipeline["receivers"] == ["otlp"]


def test_memory_limiter_first_and_batch_last_in_every_pipeline(config):
    for name, pipeline in _pipelines(config).items():
        processors = pipeline.get("processors") or []
        assert processors[:1] == ["memory_limiter"], f"{name}: memory_limiter must come first"
        assert processors[-1:] == ["batch"], f"{name}: batch must come last"
    limiter = config["processors"]["memory_limiter"]
    assert limiter["check_interval"] and 0 < limiter["spike_limit_percentage"] < limiter["limit_percentage"] <= 90


def test_strip_processor_deletes_exactly_the_content_attributes(config):
    actions = config["processors"][STRIP]["actions"]
    assert all(a["action"] == "delete" for a in actions)
    keys = [a["key"] for a in actions]
    assert sorted(keys) == sorted(sc.CONTENT_ATTRIBUTES) and len(set(keys)) == len(keys)


def test_every_backend_but_the_archive_gets_content_stripped(config):
    """A traces or logs pipeline that exports anywhere but a file (the tracing backend) strips content,
    before batching; the archive (file exporters) keeps it; each pipeline has one kind of destination, as
    a processor changes the data for all exporters of its pipeline."""
    tracing_pipelines = []
    for name, pipeline in _pipelines(config).items():
        if _type(name) == "metrics":
            continue
        processors = pipeline.get("processors") or []
        kinds = {_type(e) == "file" for e in pipeline["exporters"]}
        assert len(kinds) == 1, f"{name}: the archive and a backend share a pipeline"
        if kinds == {False}:
            tracing_pipelines.append(name)
            assert STRIP in processors, f"{name} feeds {pipeline['exporters']} without stripping content"
            assert processors.index(STRIP) < processors.index("batch")
        else:
            assert STRIP not in processors, f"{name}: the archive keeps content"
    assert tracing_pipelines == ["traces/tracing"]
    assert _pipelines(config)["traces/tracing"]["exporters"] == ["otlp_grpc/tracing"]
    exporter = config["exporters"]["otlp_grpc/tracing"]
    assert exporter["endpoint"].endswith(":4317") and exporter["retry_on_failure"]["enabled"]
    assert exporter["sending_queue"]["enabled"]


def test_metrics_go_to_prometheus_under_the_names_the_alert_rules_use(config):
    metrics = _pipelines(config)["metrics"]
    assert "prometheus" in metrics["exporters"]
    prometheus = config["exporters"]["prometheus"]
    assert "namespace" not in prometheus, "a namespace would rename every series the alert rules query"
    assert prometheus.get("add_metric_suffixes", True) is True  # _seconds, _USD, _total as promrules writes them
    assert STRIP not in metrics["processors"]  # metrics carry no content


def test_file_exporters_write_the_json_lines_the_cli_reads(config):
    files = {name: spec for name, spec in config["exporters"].items() if _type(name) == "file"}
    signal_of = {}
    for name, pipeline in _pipelines(config).items():
        for exporter in pipeline["exporters"]:
            if exporter in files:
                signal_of[exporter] = _type(name)
    assert sorted(signal_of.values()) == ["logs", "metrics", "traces"]
    directories = set()
    for name, spec in files.items():
        assert spec.get("format", "json") == "json", f"{name}: the CLI reads OTLP/JSON, not proto"
        assert "compression" not in spec, f"{name}: the CLI reads plain (or .gz) files, not zstd"
        assert "encoding" not in spec, f"{name}: an encoding extension would replace the OTLP/JSON format"
        assert not (spec.get("append") and spec.get("rotation")), f"{name}: append and rotation exclude each other"
        assert spec.get("rotation"), f"{name}: unrotated files grow without bound"
        path = Path(spec["path"])
        assert path.name == f"{signal_of[name]}.jsonl", f"{name} writes {signal_of[name]} to {path.name}"
        directories.add(path.parent)
    assert len(directories) == 1, "one directory, so that `agentkit ... --path DIR` reads all of it"
    (directory,) = directories
    assert DOC.exists(), "docs/collector.md explains the config"
    assert f"--path {directory}" in DOC.read_text(), "the docs show the CLI reading the file exporters' directory"


def test_the_stripped_keys_are_every_attribute_where_the_sdk_puts_content(make_sdk):
    """Message content captured on spans and on the details event, with a marker in every piece: after
    the strip processor's deletions (applied here to the SDK's real output, as the Collector would apply
    them) no attribute holds any of it. A new content attribute that the config misses fails here."""
    import otel_agentkit as agentkit

    sdk = make_sdk(capture_content="SPAN_AND_EVENT")
    marker = "SECRET-7f3a"
    with agentkit.llm(provider="openai", model="gpt-4o") as call:
        call.record(input_tokens=10, output_tokens=5,
                    input_messages=[{"role": "user", "content": f"{marker} my card is 4111"}],
                    output_messages=[{"role": "assistant", "content": f"{marker} noted"}],
                    system_instructions=f"{marker} be terse",
                    tool_definitions=[{"type": "function", "name": "lookup", "description": f"{marker} find"}])
    deleted = {a["key"] for a in yaml.safe_load(CONFIG.read_text())["processors"][STRIP]["actions"]}

    records = [dict(s.attributes) for s in sdk.spans()] + [dict(r.log_record.attributes or {}) for r in sdk.logs()]
    assert len(records) == 2  # the span and the details event
    holding = {key for attrs in records for key, value in attrs.items() if marker in str(value)}
    assert holding == set(sc.CONTENT_ATTRIBUTES)  # each piece of content landed somewhere
    assert holding <= deleted
    for attrs in records:
        kept = {k: v for k, v in attrs.items() if k not in deleted}
        assert marker not in repr(kept)
    for record in sdk.logs():
        assert marker not in repr(record.log_record.body)
    for span in sdk.spans():
        assert all(marker not in repr(dict(e.attributes or {})) for e in span.events)
