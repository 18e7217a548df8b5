"""A small MCPServer run by tests/frameworks/test_mcp.py as a subprocess: ``python mcp_server.py`` serves
stdio, ``python mcp_server.py http PORT`` streamable HTTP on 127.0.0.1. No OTel SDK here: mcp's middleware
makes the client's span context current (a non-recording span), which the tools read back."""

from __future__ import annotations

import sys

import anyio

from mcp.server.mcpserver import Context, MCPServer
from opentelemetry import trace

from otel_agentkit.auto.mcp import server_context

server = MCPServer("agentkit-test")


@server.tool()
def echo_trace(text: str, ctx: Context) -> dict[str, str]:
    """Returns what trace context the server saw: the raw traceparent, the current span's trace id, and the
    trace id server_context() extracts."""
    meta = ctx.request_context.meta or {}
    extracted = server_context(ctx)
    extracted_id = trace.get_current_span(extracted).get_span_context().trace_id if extracted else 0
    return {"text": text, "traceparent": str(meta.get("traceparent", "")),
            "current_trace_id": format(trace.get_current_span().get_span_context().trace_id, "032x"),
            "extracted_trace_id": format(extracted_id, "032x")}


@server.tool()
def fail(text: str) -> str:
    raise RuntimeError(f"tool failed on {text}")


@server.tool()
async def slow(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "done"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
