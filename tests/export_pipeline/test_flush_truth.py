"""flush() tells the truth, and what cannot work is said at init():

- a user exporter that raises on every batch, or a telemetry directory that cannot be written: flush()
  is False, with the reason logged once (not on every flush), and True again once nothing is lost;
- ``init(home=...)`` that cannot be written: ConfigError naming ``home`` and the value; AGENTKIT_HOME that
  cannot be written: one warning and the data goes to the default data directory (a real process);
- a malformed OTLP endpoint variable: one warning, the OTLP exporter left out, nothing spooled for an
  endpoint that cannot exist (a real process).

As root, permission bits do not stop writes, so "cannot be written" is a path under a regular file.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import otel_agentkit as agentkit
from otel_agentkit.config import ConfigError
from otel_agentkit.export.otlp import check_endpoint
from otel_agentkit.export.reader import iter_spans


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Any]:
    """init() with its own providers (the global ones can be set once per process); shut down after."""
    def start(**kwargs: Any) -> None:
        kwargs.setdefault("home", tmp_path / "home")
        agentkit.init(metric_exporters="none", tracer_provider=TracerProvider(), meter_provider=MeterProvider(),
                      **kwargs)

    try:
        yield start
    finally:
        agentkit.shutdown(timeout=2)


def _one_call() -> None:
    with agentkit.llm(provider="openai", model="gpt-4o") as call:
        call.record(input_tokens=3, output_tokens=1)


def _flush_lines(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if "flush() returns False" in r.getMessage()]


class RaisesEveryBatch(SpanExporter):
    def __init__(self) -> None:
        self.fail = True

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        if self.fail:
            raise RuntimeError("vendor SDK exploded")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def test_flush_is_false_while_a_user_exporter_raises_and_says_why_once(sdk: Any, caplog: Any) -> None:
    exporter = RaisesEveryBatch()
    sdk(exporters=[exporter])
    caplog.set_level(logging.WARNING, logger="otel_agentkit")
    _one_call()
    assert agentkit.flush(timeout=5) is False
    lines = _flush_lines(caplog)
    assert len(lines) == 1 and "RaisesEveryBatch" in lines[0] and "vendor SDK exploded" in lines[0], lines
    _one_call()
    assert agentkit.flush(timeout=5) is False  # still losing data: still False
    assert len(_flush_lines(caplog)) == 1  # the same reason is not logged again
    exporter.fail = False
    _one_call()
    assert agentkit.flush(timeout=5) is True  # nothing lost since the last flush


def test_flush_is_false_when_the_telemetry_directory_cannot_be_written(
        sdk: Any, tmp_path: Path, caplog: Any) -> None:
    home = tmp_path / "home"
    sdk(exporters=["jsonl"], home=home)
    caplog.set_level(logging.WARNING, logger="otel_agentkit")
    home.mkdir(exist_ok=True)
    (home / "telemetry").write_text("a file where the directory should be\n")  # after init: e.g. a cleanup job
    _one_call()
    assert agentkit.flush(timeout=5) is False
    lines = _flush_lines(caplog)
    assert len(lines) == 1 and "jsonl.traces" in lines[0], lines
    assert agentkit.flush(timeout=5) is True  # nothing new was recorded, nothing new was lost


def test_flush_is_true_when_everything_was_written(sdk: Any, tmp_path: Path) -> None:
    sdk(exporters=["jsonl"])
    _one_call()
    assert agentkit.flush(timeout=5) is True
    assert len(list(iter_spans(tmp_path / "home" / "telemetry"))) == 1


def test_home_keyword_that_cannot_be_written_fails_init_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("")
    bad = blocker / "home"
    with pytest.raises(ConfigError) as err:
        agentkit.init(home=bad, tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    text = str(err.value)
    assert err.value.setting == "home" and text.startswith(f"invalid home={str(bad)!r}") and "\n" not in text
    assert "is a file, not a directory" in text
    assert not agentkit.is_active()


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTKIT_"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**clean, **env}, timeout=60)


ONE_CALL = """
    import otel_agentkit as agentkit
    agentkit.init()
    with agentkit.llm(provider="openai", model="gpt-4o") as call:
        call.record(input_tokens=3, output_tokens=1)
    print(agentkit.flush(timeout=5))
"""


def test_home_variable_that_cannot_be_written_warns_once_and_writes_to_the_default(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("")
    xdg = tmp_path / "xdg"
    proc = _run(ONE_CALL, {"AGENTKIT_HOME": str(blocker / "home"), "XDG_DATA_HOME": str(xdg),
                           "AGENTKIT_EXPORTERS": "jsonl"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "AGENTKIT_HOME=" in lines[0] and str(blocker / "home") in lines[0] and str(xdg / "agentkit") in lines[0]
    assert proc.stdout.strip() == "True"  # nothing lost: it went to the fallback the warning names
    assert len(list(iter_spans(xdg / "agentkit" / "telemetry"))) == 1


@pytest.mark.parametrize("variable,value,protocol", [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318/v1/traces", "http/protobuf"),  # no scheme: never sent
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", "grpc"),
])
def test_malformed_endpoint_variable_warns_once_and_spools_nothing(
        tmp_path: Path, variable: str, value: str, protocol: str) -> None:
    home = tmp_path / "home"
    proc = _run(ONE_CALL, {"AGENTKIT_HOME": str(home), "AGENTKIT_EXPORTERS": "jsonl,otlp",
                           "OTEL_METRICS_EXPORTER": "jsonl", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
                           variable: value})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"invalid {variable}={value!r}" in lines[0] and "OTLP export is off" in lines[0]
    assert proc.stdout.strip() == "True"
    assert not (home / "spool").exists()  # no batch waits for an endpoint that cannot exist
    assert len(list(iter_spans(home / "telemetry"))) == 1  # the local files go on


@pytest.mark.parametrize("value,protocol", [
    ("http://collector:4318", "http/protobuf"), ("https://otlp.example.com", "http/protobuf"),
    ("http://[::1]:4318/", "http/protobuf"), ("collector:4317", "grpc"), ("http://127.0.0.1:4317", "grpc"),
    ("unix:///run/otel.sock", "grpc"),
])
def test_usable_endpoints_pass(value: str, protocol: str) -> None:
    check_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", value, protocol)


@pytest.mark.parametrize("value,protocol", [
    ("not a url", "http/protobuf"), ("localhost:4318", "http/protobuf"), ("http://", "http/protobuf"),
    ("http://host:99999", "http/protobuf"), ("ftp://host:21", "http/protobuf"), ("http://[::1", "grpc"),
    ("not a url", "grpc"), ("host:port", "grpc"),
])
def test_unusable_endpoints_are_refused_naming_the_variable(value: str, protocol: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", value, protocol)
    assert str(err.value).startswith(f"invalid OTEL_EXPORTER_OTLP_ENDPOINT={value!r}")
