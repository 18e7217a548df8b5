"""A small FastMCP server (mcp 1.x) run by tests/frameworks/test_mcp1.py as a subprocess: ``python
mcp1_server.py SPANS`` serves stdio, ``python mcp1_server.py SPANS http PORT`` streamable HTTP on 127.0.0.1.

The server side is under test too (mcp 1.x makes no spans and extracts no context: the instrumentor does), so
this process runs ``agentkit.init(auto_instrument=["mcp"])`` on a tracer provider that writes each span, when
it ends, as one JSON line to SPANS, which the test reads. Nothing may go to stdout: it is the stdio channel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.shared.exceptions import UrlElicitationRequiredError
from mcp.types import ElicitRequestURLParams
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import otel_agentkit as agentkit
from otel_agentkit import diagnostics
from otel_agentkit.auto.mcp import server_context

server = FastMCP("agentkit-test")
provider = TracerProvider()
handler_tracer = provider.get_tracer("mcp1-test-server")


class JsonLines(SpanExporter):
    """Each ended span as one JSON line: what the test needs to rebuild the tree across the two processes."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._path.open("a", encoding="utf-8") as out:
            for span in spans:
                out.write(json.dumps({
                    "name": span.name, "kind": span.kind.name,
                    "trace_id": format(span.context.trace_id, "032x"), "span_id": format(span.context.span_id, "016x"),
                    "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                    "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()},
                    "status": span.status.status_code.name}) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


@server.tool()
def echo_trace(text: str, ctx: Context) -> dict[str, Any]:
    """Returns what trace context the server saw, from inside a span of its own (the handler's work): the raw
    traceparent, the current trace id, the trace id server_context() extracts, and agentkit's error counts."""
    with handler_tracer.start_as_current_span("handler echo_trace"):
        meta = ctx.request_context.meta
        extra = (meta.model_extra or {}) if meta is not None else {}
        extracted = server_context(ctx)
        extracted_id = trace.get_current_span(extracted).get_span_context().trace_id if extracted else 0
        return {"text": text, "traceparent": str(extra.get("traceparent", "")),
                "current_trace_id": format(trace.get_current_span().get_span_context().trace_id, "032x"),
                "extracted_trace_id": format(extracted_id, "032x"),
                "sdk_errors": diagnostics.error_counts()}


@server.tool()
def fail(text: str) -> str:
    raise RuntimeError(f"tool failed on {text}")


@server.tool()
def needs_sign_in() -> str:
    """A JSON-RPC error response (code -32042), which 1.x servers send for this error instead of a result."""
    raise UrlElicitationRequiredError([ElicitRequestURLParams(
        mode="url", message="sign in first", url="https://example.com/sign-in", elicitationId="sign-in-1")])


@server.tool()
async def slow(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "done"


if __name__ == "__main__":
    spans = Path(sys.argv[1])
    provider.add_span_processor(SimpleSpanProcessor(JsonLines(spans)))
    agentkit.init(tracer_provider=provider, exporters="none", metric_exporters="none",
                  home=spans.parent / "server-home", auto_instrument=["mcp"])
    if len(sys.argv) > 3 and sys.argv[2] == "http":
        server.settings.host, server.settings.port = "127.0.0.1", int(sys.argv[3])
        server.run("streamable-http")
    else:
        server.run()
