"""MCP client tools (otel_agentkit.auto.mcp): a real MCPServer (tests/frameworks/mcp_server.py) run as a
subprocess, over stdio and over streamable HTTP on 127.0.0.1, called through a real ClientSession. Each
call_tool must be one execute_tool span through the recorder with the MCP attributes, the failing tool's span
an error (tool_error), and the server must have continued the client's trace (mcp 2.x propagates it in
``_meta``; agentkit's span is current when it does).
"""

from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import anyio
import mcp.client.stdio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import REQUEST_TIMEOUT
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.trace import StatusCode

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from tests.conftest import Harness
from tests.frameworks.mcp_support import assert_exact_uninstrument, call_both, http_server, server_env, tool_spans

SERVER = Path(__file__).with_name("mcp_server.py")


@asynccontextmanager
async def _stdio() -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=server_env())
    # Looked up at call time, as ``mcp.stdio_client`` and ``mcp.Client`` do: a name imported before
    # instrumenting would be the unpatched function (the session then has no network.transport).
    async with mcp.client.stdio.stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@pytest.fixture
def http_url(tmp_path: Path) -> Iterator[str]:
    with http_server(SERVER, tmp_path) as url:
        yield url


@asynccontextmanager
async def _http(url: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _seen(result: Any) -> dict[str, str]:
    if isinstance(result.structured_content, dict):
        return result.structured_content
    return json.loads(result.content[0].text)


def _check(sdk: Harness, ok: Any, failed: Any) -> dict[str, Any]:
    assert not ok.is_error and failed.is_error
    tools = tool_spans(sdk)
    assert [s.name for s in tools] == ["execute_tool echo_trace", "execute_tool fail"]
    good, bad = tools
    for span, name in ((good, "echo_trace"), (bad, "fail")):
        assert span.attributes[sc.GEN_AI_TOOL_NAME] == name
        assert span.attributes[sc.MCP_METHOD_NAME] == "tools/call"
        assert span.attributes[sc.MCP_PROTOCOL_VERSION]
    assert sc.ERROR_TYPE not in good.attributes and good.status.status_code != StatusCode.ERROR
    assert bad.attributes[sc.ERROR_TYPE] == "tool_error" and bad.status.status_code == StatusCode.ERROR
    seen = _seen(ok)
    trace_id = format(good.context.trace_id, "032x")
    assert seen["traceparent"].split("-")[1] == trace_id  # same trace across the process boundary
    assert seen["current_trace_id"] == trace_id  # mcp's server middleware continued it
    assert seen["extracted_trace_id"] == trace_id  # and server_context() finds it too
    return good.attributes


def test_stdio_tool_calls_are_execute_tool_spans_in_the_clients_trace(mcp_instrumented: Harness) -> None:
    async def run() -> tuple[Any, Any]:
        async with _stdio() as session:
            return await call_both(session)

    attrs = _check(mcp_instrumented, *anyio.run(run))
    assert attrs[sc.NETWORK_TRANSPORT] == "pipe"
    assert sc.MCP_SESSION_ID not in attrs and sc.SERVER_ADDRESS not in attrs


def test_jsonrpc_error_sets_its_code(mcp_instrumented: Harness) -> None:
    async def run() -> None:
        async with _stdio() as session:
            with pytest.raises(MCPError):
                await session.call_tool("slow", {"seconds": 5}, read_timeout_seconds=0.2)

    anyio.run(run)
    (span,) = tool_spans(mcp_instrumented)
    assert span.name == "execute_tool slow"
    assert span.attributes[sc.ERROR_TYPE] == str(REQUEST_TIMEOUT)
    assert span.attributes[sc.RPC_RESPONSE_STATUS_CODE] == str(REQUEST_TIMEOUT)
    assert span.status.status_code == StatusCode.ERROR


def test_inside_a_tool_span_of_the_same_tool_adds_to_it(mcp_instrumented: Harness) -> None:
    async def run() -> Any:
        async with _stdio() as session:
            with agentkit.tool(name="fail"):
                return await session.call_tool("fail", {"text": "x"})

    assert anyio.run(run).is_error
    (span,) = tool_spans(mcp_instrumented)
    assert span.attributes[sc.MCP_METHOD_NAME] == "tools/call"
    assert span.attributes[sc.NETWORK_TRANSPORT] == "pipe"
    assert span.attributes[sc.ERROR_TYPE] == "tool_error"


def test_streamable_http_tool_calls_carry_transport_and_session(mcp_instrumented: Harness, http_url: str) -> None:
    async def run() -> tuple[Any, Any]:
        async with _http(http_url) as session:
            return await call_both(session)

    attrs = _check(mcp_instrumented, *anyio.run(run))
    assert attrs[sc.NETWORK_TRANSPORT] == "tcp" and attrs[sc.NETWORK_PROTOCOL_NAME] == "http"
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1" and attrs[sc.SERVER_PORT] == int(http_url.split(":")[2][:-4])
    assert attrs[sc.MCP_SESSION_ID]


def test_uninstrument_puts_back_exactly(sdk: Harness) -> None:
    from mcp.client.streamable_http import StreamableHTTPTransport

    import mcp.client.client

    def current() -> list[Any]:
        return [ClientSession.__dict__["call_tool"], StreamableHTTPTransport.__dict__["post_writer"],
                mcp.client.stdio.stdio_client, mcp.stdio_client, mcp.client.client.stdio_client]

    assert_exact_uninstrument(current)

    async def run() -> tuple[Any, Any]:
        async with _stdio() as session:
            return await call_both(session)

    ok, failed = anyio.run(run)
    assert not ok.is_error and failed.is_error
    assert not [s for s in sdk.spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == sc.OP_EXECUTE_TOOL]
