"""Console exporter: one readable line per span from a real TracerProvider; a broken stream stays contained."""

from __future__ import annotations

import io
import re

from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agentkit import diagnostics
from otel_agentkit import semconv as sc
from otel_agentkit.export.console import ConsoleSpanExporter

from . import provider


def test_one_readable_line_per_inference_span():
    out = io.StringIO()
    tp, _ = provider(ConsoleSpanExporter(stream=out))
    with tp.get_tracer("s").start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
        span.set_attributes({
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 1200, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 340, sc.AGENTKIT_COST_USD: 0.00421,
            sc.GEN_AI_INPUT_MESSAGES: '[{"role": "user", "parts": []}]',
        })
        span.set_status(Status(StatusCode.OK))
    text = out.getvalue()
    assert text.count("\n") == 1 and not text.lstrip().startswith("{")
    assert re.fullmatch(
        r"agentkit chat gpt-4o  \d+\.\d ms  model=gpt-4o-2024-08-06  tokens in=1200 out=340  cost=\$0\.004210  ok\n",
        text,
    ), text
    assert "role" not in text  # content is not echoed


def test_failed_span_shows_error_type_and_missing_fields_are_left_out():
    out = io.StringIO()
    tp, _ = provider(ConsoleSpanExporter(stream=out))
    tracer = tp.get_tracer("s")
    with tracer.start_as_current_span("invoke_agent planner"):
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attribute(sc.ERROR_TYPE, "builtins.TimeoutError")
            tool.set_status(Status(StatusCode.ERROR, "took too long"))
        with tracer.start_as_current_span("chat\nllama") as chat:
            chat.set_attribute(sc.GEN_AI_REQUEST_MODEL, "llama3")
            chat.set_attribute(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 12)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"agentkit execute_tool search  \d+\.\d ms  ERROR error\.type=builtins\.TimeoutError",
                        lines[0]), lines[0]
    assert re.fullmatch(r"agentkit chat\\nllama  \d+\.\d ms  model=llama3  tokens in=- out=12  ok", lines[1])
    assert re.fullmatch(r"agentkit invoke_agent planner  \d+\.\d ms  ok", lines[2])


def test_defaults_to_stderr(capsys):
    tp, _ = provider(ConsoleSpanExporter())
    with tp.get_tracer("s").start_as_current_span("embeddings text-embedding-3"):
        pass
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("agentkit embeddings text-embedding-3  ")


def test_a_broken_stream_never_reaches_the_app():
    diagnostics.reset()
    out = io.StringIO()
    out.close()
    exporter = ConsoleSpanExporter(stream=out)
    tp, memory = provider(exporter)
    with tp.get_tracer("s").start_as_current_span("x"):
        pass
    assert len(memory.get_finished_spans()) == 1
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    assert diagnostics.error_counts()[("export.console", "ValueError")] == 2
    exporter.shutdown()
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    diagnostics.reset()
