"""Zero-code and init() together: every recorded call reaches the files exactly once.

The real ``opentelemetry-instrument`` command (opentelemetry-distro's configurator) builds the providers from
OTEL_*_EXPORTER=agentkit_jsonl before the app runs; the app then calls ``agentkit.init()`` too, as the README's
quick start says. init() must not attach a second writer for the files the configurator's exporters already
write, for spans, metrics and log records alike, and must say once when its service_name cannot apply.
The files are read back by the ``agentkit`` CLI in a subprocess, and counted raw (line by line) as well, so a
reader that de-duplicates cannot hide a double write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import free_port, require_binary

ROOT = Path(__file__).resolve().parents[2]
CALLS = 3

APP = """
import json, os, sys
import otel_agentkit as agentkit

kwargs = json.loads(sys.argv[1])
agentkit.init(**kwargs)
for i in range({calls}):
    with agentkit.llm(provider="openai", model="gpt-4o-mini") as call:
        call.record(input_tokens=10, output_tokens=5, input_messages=[{{"role": "user", "content": "hi"}}])
agentkit.flush(5)
print(json.dumps({{"ok": True}}), flush=True)
if sys.argv[2:] == ["_exit"]:  # leave as a multiprocessing worker does: no atexit, only what flush() wrote
    os._exit(0)
""".format(calls=CALLS)


def _environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTKIT_"))}
    env.update({"PYTHONPATH": str(ROOT), "AGENTKIT_HOME": str(home), "OTEL_METRIC_EXPORT_INTERVAL": "600000",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}", "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT"})
    env.update(extra)
    return env


def _run_app(env: dict[str, str], init_kwargs: dict[str, Any], zero_code: bool = True,
             exit_how: str = "normal") -> tuple[dict, str]:
    command = [sys.executable, "-c", textwrap.dedent(APP), json.dumps(init_kwargs), exit_how]
    if zero_code:
        command = [require_binary("opentelemetry-instrument"), *command]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _usage_calls(home: Path) -> int:
    agentkit = require_binary("agentkit")
    proc = subprocess.run([agentkit, "usage", "stats", "--json", "--home", str(home)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)["total"]["calls"]


def _raw_count(home: Path, signal: str) -> int:
    """Spans or log records in the files, line by line: what was written, before any reader de-duplicates."""
    outer, middle, inner = {"traces": ("resourceSpans", "scopeSpans", "spans"),
                            "logs": ("resourceLogs", "scopeLogs", "logRecords")}[signal]
    total = 0
    for path in (home / "telemetry").glob(f"{signal}-*.jsonl"):
        for line in path.read_text().splitlines():
            for r in json.loads(line).get(outer, []):
                for s in r.get(middle, []):
                    total += len(s.get(inner, []))
    return total


def _metric_streams(home: Path) -> int:
    """How many writers wrote our metrics: the most cumulative streams (distinct start times) any one series
    (metric name and attributes) has in the files. Two readers on the same instruments make two streams of
    the same series, which a consumer adding up series counts twice."""
    starts: dict[tuple[str, str], set[str]] = {}
    for path in (home / "telemetry").glob("metrics-*.jsonl"):
        for line in path.read_text().splitlines():
            for rm in json.loads(line).get("resourceMetrics", []):
                for sm in rm.get("scopeMetrics", []):
                    if sm.get("scope", {}).get("name") != "otel_agentkit":
                        continue
                    for metric in sm.get("metrics", []):
                        for kind in ("sum", "histogram", "gauge"):
                            for point in metric.get(kind, {}).get("dataPoints", []):
                                series = (metric["name"], json.dumps(point.get("attributes"), sort_keys=True))
                                starts.setdefault(series, set()).add(point.get("startTimeUnixNano"))
    assert starts, "no metrics of ours were written"
    return max(len(s) for s in starts.values())


@pytest.mark.parametrize("init_kwargs", [{}, {"exporters": ["jsonl"]}, {"exporters": ["agentkit_jsonl", "otlp"]}],
                         ids=["env-exporters", "jsonl-kwarg", "jsonl-and-otlp"])
def test_instrumented_app_that_also_calls_init_writes_each_call_once(tmp_path: Path, init_kwargs: dict) -> None:
    home = tmp_path / "home"
    env = _environment(home, OTEL_TRACES_EXPORTER="agentkit_jsonl", OTEL_METRICS_EXPORTER="agentkit_jsonl",
                       OTEL_LOGS_EXPORTER="agentkit_jsonl", OTEL_SERVICE_NAME="from-env")
    _run_app(env, init_kwargs)
    assert _raw_count(home, "traces") == CALLS
    assert _usage_calls(home) == CALLS
    assert _raw_count(home, "logs") == CALLS  # one content event per call
    assert _metric_streams(home) == 1  # one reader writes the metrics files, not two


def test_init_in_an_instrumented_app_writes_itself_when_the_configurator_does_not(tmp_path: Path) -> None:
    """The configurator exports nowhere local (traces none): init's own writer is the one, and it is there."""
    home = tmp_path / "home"
    env = _environment(home, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    _run_app(env, {"exporters": ["jsonl"], "metric_exporters": ["jsonl"]})
    assert _raw_count(home, "traces") == CALLS
    assert _usage_calls(home) == CALLS
    assert _metric_streams(home) == 1


def test_an_exporter_named_twice_writes_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _run_app(_environment(home), {"exporters": ["jsonl", "agentkit_jsonl"]}, zero_code=False)
    assert _raw_count(home, "traces") == CALLS
    assert _usage_calls(home) == CALLS
    assert _raw_count(home, "logs") == CALLS
    assert _metric_streams(home) == 1


def test_init_with_another_home_writes_there_once_as_well(tmp_path: Path) -> None:
    """Two homes are two destinations: the configurator's files and init's, each with every call once."""
    home, other = tmp_path / "home", tmp_path / "other"
    env = _environment(home, OTEL_TRACES_EXPORTER="agentkit_jsonl", OTEL_METRICS_EXPORTER="none",
                       OTEL_LOGS_EXPORTER="none")
    _run_app(env, {"exporters": ["jsonl"], "home": str(other)})
    assert (_raw_count(home, "traces"), _raw_count(other, "traces")) == (CALLS, CALLS)
    assert (_usage_calls(home), _usage_calls(other)) == (CALLS, CALLS)


def test_a_service_name_that_cannot_apply_is_warned_once_naming_both(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _environment(home, OTEL_TRACES_EXPORTER="agentkit_jsonl", OTEL_METRICS_EXPORTER="agentkit_jsonl",
                       OTEL_LOGS_EXPORTER="none", OTEL_SERVICE_NAME="from-env")
    _, stderr = _run_app(env, {"service_name": "from-init"})
    warnings = [line for line in stderr.splitlines() if "service_name" in line]
    assert len(warnings) == 1, stderr
    assert "'from-init'" in warnings[0] and "'from-env'" in warnings[0]
    assert _usage_calls(home) == CALLS


def test_flush_writes_the_files_init_relies_on_when_it_added_no_writer_of_its_own(tmp_path: Path) -> None:
    """init's own processor holds only OTLP (the files are the configurator's): flush() must still write the
    files, or a process that leaves through os._exit right after it loses every call."""
    home = tmp_path / "home"
    env = _environment(home, OTEL_TRACES_EXPORTER="agentkit_jsonl", OTEL_METRICS_EXPORTER="none",
                       OTEL_LOGS_EXPORTER="none", OTEL_BSP_SCHEDULE_DELAY="600000")
    _run_app(env, {"exporters": ["jsonl", "otlp"], "metric_exporters": "none"}, exit_how="_exit")
    assert _raw_count(home, "traces") == CALLS
    assert _usage_calls(home) == CALLS
