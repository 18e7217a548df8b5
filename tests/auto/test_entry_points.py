"""The instrumentors are found as ``opentelemetry_instrumentor`` entry points, and ``opentelemetry-instrument
python app.py`` traces an unmodified app with them (a real subprocess, console exporter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

from otel_agentkit.auto.anthropic import AnthropicInstrumentor
from otel_agentkit.auto.openai import OpenAIInstrumentor
from tests.support.procs import require_binary


def test_entry_points_load_the_instrumentors():
    found = {ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor")}
    assert found["agentkit_openai"].load() is OpenAIInstrumentor
    assert found["agentkit_anthropic"].load() is AnthropicInstrumentor


def test_opentelemetry_instrument_traces_an_unmodified_app(stub, tmp_path):
    stub.openai_chat()
    stub.anthropic_messages()
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(f"""
        import anthropic, openai
        question = [{{"role": "user", "content": "What is the capital of France?"}}]
        oa = openai.OpenAI(base_url={stub.url("/v1")!r}, api_key="sk-test-key", max_retries=0)
        print("openai:", oa.chat.completions.create(model="gpt-4o-mini", messages=question).choices[0].message.content)
        an = anthropic.Anthropic(base_url={stub.url()!r}, api_key="sk-ant-test", max_retries=0)
        print("anthropic:", an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=question).id)
    """))
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "auto-entry-point-test",
           "AGENTKIT_HOME": str(tmp_path / "home")}
    env.pop("OTEL_SDK_DISABLED", None)
    run = subprocess.run([require_binary("opentelemetry-instrument"), sys.executable, str(app)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "openai: The capital of France is Paris." in run.stdout
    assert "anthropic: msg_01XFDUDYJgAACzvnptvVoYEL" in run.stdout
    spans = _console_spans(run.stdout)
    by_name = {s["name"]: s for s in spans}
    assert by_name["chat gpt-4o-mini"]["attributes"]["gen_ai.usage.input_tokens"] == 24
    assert by_name["chat gpt-4o-mini"]["kind"] == "SpanKind.CLIENT"
    assert by_name["chat claude-sonnet-4-6"]["attributes"]["gen_ai.provider.name"] == "anthropic"
    # the anthropic client's own span (it traces to the global provider) is the suppressed duplicate
    assert "anthropic.messages.create" not in by_name
    assert by_name["chat gpt-4o-mini"]["resource"]["attributes"]["service.name"] == "auto-entry-point-test"


def _console_spans(stdout: str) -> list[dict]:
    """The JSON objects the console span exporter printed (one per span, pretty-printed)."""
    spans, depth, start = [], 0, None
    for i, ch in enumerate(stdout):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                try:
                    obj = json.loads(stdout[start:i + 1])
                except ValueError:
                    continue
                if isinstance(obj, dict) and "context" in obj and "name" in obj:
                    spans.append(obj)
    return spans
