"""init() next to providers the application set first, flush on exit, and the import cost when off.

These run in a fresh interpreter each (the global providers can be set once per process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str, tmp_path, env_extra=None) -> dict:
    import os

    env = {**os.environ, "AGENTKIT_HOME": str(tmp_path), **(env_extra or {})}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_app_providers_are_kept_and_extended(tmp_path):
    out = _run("""
        import json
        from opentelemetry import trace, metrics
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        app_spans, ours = InMemorySpanExporter(), InMemorySpanExporter()
        tp = TracerProvider(); tp.add_span_processor(SimpleSpanProcessor(app_spans))
        trace.set_tracer_provider(tp)
        app_reader = InMemoryMetricReader()
        mp = MeterProvider(metric_readers=[app_reader]); metrics.set_meter_provider(mp)
        import otel_agentkit as agentkit
        agentkit.init(exporters=[ours], metric_exporters="none")
        with trace.get_tracer("app").start_as_current_span("request"):
            with agentkit.llm(provider="openai", model="gpt-4o") as call:
                call.record(input_tokens=3, output_tokens=1)
        agentkit.flush()
        names = lambda e: sorted(s.name for s in e.get_finished_spans())
        metric_names = sorted(m.name for rm in app_reader.get_metrics_data().resource_metrics
                              for sm in rm.scope_metrics for m in sm.metrics)
        same = trace.get_tracer_provider() is tp and metrics.get_meter_provider() is mp
        parent = {s.name: s for s in ours.get_finished_spans()}
        print(json.dumps({"app": names(app_spans), "ours": names(ours), "same": same,
                          "metrics": metric_names}))
    """, tmp_path)
    assert out["same"] is True
    assert out["app"] == ["chat gpt-4o", "request"]  # the app's exporter sees our spans too
    assert out["ours"] == ["chat gpt-4o", "request"]  # and ours sees the app's
    assert "gen_ai.client.inference.duration" in out["metrics"]  # into the app's reader


def test_spans_are_flushed_at_exit_without_shutdown(tmp_path):
    out_file = tmp_path / "spans.txt"
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        class FileExporter(SpanExporter):
            def export(self, spans):
                with open({str(out_file)!r}, "a") as f:
                    for s in spans:
                        f.write(s.name + "\\n")
                return SpanExportResult.SUCCESS
        import otel_agentkit as agentkit
        agentkit.init(exporters=[FileExporter()], metric_exporters="none")
        for i in range(50):
            with agentkit.tool(name=f"t{{i}}"):
                pass
        # no flush, no shutdown: a short script just ends
    """)], check=True, timeout=60, env={"AGENTKIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert len(out_file.read_text().splitlines()) == 50


def test_disabled_import_and_call_cost_nothing_visible(tmp_path):
    out = _run("""
        import json, sys
        import otel_agentkit as agentkit
        print(json.dumps({"init": agentkit.init(), "sdk_loaded": "opentelemetry.sdk.trace" in sys.modules}))
    """, tmp_path, {"OTEL_SDK_DISABLED": "true"})
    assert out == {"init": False, "sdk_loaded": False}


def test_init_with_alert_rules_fires_from_spans(make_sdk, tmp_path, capsys):
    """init(alerts=[...]) wires the alert processor to the same spans (a stdout channel here)."""
    import otel_agentkit as agentkit

    make_sdk(alerts=[{"name": "any-error", "metric": "error_rate", "window": "last 5 min", "comparison": ">",
                      "threshold": 0, "severity": "warning", "channels": [{"type": "stdout"}]}])

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask():
        raise ConnectionError("refused")

    for _ in range(3):
        try:
            ask()
        except ConnectionError:
            pass
    agentkit.shutdown()  # drains the alert worker: evaluates once more and waits for deliveries
    out = capsys.readouterr().out
    assert "any-error" in out


def test_bad_alert_rule_fails_init_and_leaves_nothing_running(make_sdk, tmp_path):
    import pytest

    import otel_agentkit as agentkit
    from otel_agentkit import ConfigError

    with pytest.raises(ConfigError) as info:
        make_sdk(alerts=[{"name": "x", "metric": "error_rate", "threshold": "high", "channels": [{"type": "stdout"}]}])
    assert "threshold" in str(info.value)
    assert not agentkit.is_active()
