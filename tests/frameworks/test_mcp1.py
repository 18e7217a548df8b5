"""MCP 1.x (otel_agentkit.auto.mcp on the mcp 1.x line, in .venvs/frameworks-mcp1): a real FastMCP server
(tests/frameworks/mcp1_server.py) run as a subprocess over stdio and over streamable HTTP on 127.0.0.1, itself
instrumented, called through a real ClientSession. mcp 1.x neither propagates trace context nor makes spans, so
the whole tree is agentkit's: the client's execute_tool span (MCP attributes, errors), the traceparent it sends
in ``_meta``, the server's ``tools/call {tool}`` SERVER span that continues it, and the tool handler's own span
below that, all in one trace; one span per side per call; exact uninstrument.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import anyio
import mcp
import mcp.client.stdio
import mcp.server.fastmcp.server
import mcp.server.stdio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import StreamableHTTPTransport, streamable_http_client
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import McpError
from mcp.shared.session import RequestResponder
from mcp.types import LATEST_PROTOCOL_VERSION, URL_ELICITATION_REQUIRED, RequestParams
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode, get_current_span

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.auto.mcp import server_context
from tests.conftest import Harness
from tests.frameworks.mcp_support import assert_exact_uninstrument, call_both, http_server, server_env, tool_spans

SERVER = Path(__file__).with_name("mcp1_server.py")
REQUEST_TIMEOUT = 408  # the code of 1.x's McpError for a request that timed out


@pytest.fixture
def spans_file(tmp_path: Path) -> Path:
    return tmp_path / "server-spans.jsonl"


def _server_spans(path: Path, *names: str) -> list[dict[str, Any]]:
    """The server's spans, once each of ``names`` has ended (its span ends just after the response is sent)."""
    deadline = time.monotonic() + 15
    while True:
        spans = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if {s["name"] for s in spans} >= set(names):
            return spans
        assert time.monotonic() < deadline, f"server spans {[s['name'] for s in spans]}, waiting for {names}"
        time.sleep(0.05)


@asynccontextmanager
async def _stdio(spans: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER), str(spans)], env=server_env())
    # Looked up at call time: a stdio_client imported by name before instrumenting is the unpatched one.
    async with mcp.client.stdio.stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@pytest.fixture
def http_url(spans_file: Path) -> Iterator[str]:
    with http_server(SERVER, spans_file.parent, str(spans_file)) as url:
        yield url


@asynccontextmanager
async def _http(url: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _hex(span: ReadableSpan) -> tuple[str, str]:
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def _served(spans: list[dict[str, Any]], tool: str, client: ReadableSpan | None) -> dict[str, Any]:
    """The one server span of ``tool``, checked to carry the MCP server attributes and, when ``client`` is
    given, to be that client span's child in its trace."""
    (span,) = [s for s in spans if s["name"] == f"tools/call {tool}"]  # one: nothing doubled it
    attrs = span["attributes"]
    assert span["kind"] == "SERVER"
    assert attrs[sc.MCP_METHOD_NAME] == "tools/call" and attrs[sc.GEN_AI_TOOL_NAME] == tool
    assert attrs[sc.GEN_AI_OPERATION_NAME] == sc.OP_EXECUTE_TOOL
    assert attrs[sc.JSONRPC_REQUEST_ID].isdigit()
    assert attrs[sc.MCP_PROTOCOL_VERSION] == LATEST_PROTOCOL_VERSION
    if client is not None:
        assert (span["trace_id"], span["parent_id"]) == _hex(client)  # the client span is its parent
    return span


def _check_tree(sdk: Harness, spans_file: Path, ok: Any, failed: Any) -> tuple[ReadableSpan, dict[str, Any]]:
    """Both calls' client and server spans and the handler's span, in one trace per call; returns the echo
    call's client span and server span."""
    assert not ok.isError and failed.isError
    good, bad = tool_spans(sdk)
    assert [good.name, bad.name] == ["execute_tool echo_trace", "execute_tool fail"]
    for span, name in ((good, "echo_trace"), (bad, "fail")):
        assert span.kind is SpanKind.INTERNAL
        assert span.attributes[sc.GEN_AI_TOOL_NAME] == name
        assert span.attributes[sc.MCP_METHOD_NAME] == "tools/call"
        assert span.attributes[sc.MCP_PROTOCOL_VERSION] == LATEST_PROTOCOL_VERSION
    assert sc.ERROR_TYPE not in good.attributes and good.status.status_code != StatusCode.ERROR
    assert bad.attributes[sc.ERROR_TYPE] == "tool_error" and bad.status.status_code == StatusCode.ERROR

    spans = _server_spans(spans_file, "tools/call echo_trace", "tools/call fail", "handler echo_trace")
    assert sorted(s["name"] for s in spans) == ["handler echo_trace", "tools/call echo_trace", "tools/call fail"]
    served_ok, served_failed = _served(spans, "echo_trace", good), _served(spans, "fail", bad)
    assert sc.ERROR_TYPE not in served_ok["attributes"] and served_ok["status"] == "UNSET"
    assert served_failed["attributes"][sc.ERROR_TYPE] == "tool_error" and served_failed["status"] == "ERROR"
    (handler,) = [s for s in spans if s["name"] == "handler echo_trace"]
    assert (handler["trace_id"], handler["parent_id"]) == (served_ok["trace_id"], served_ok["span_id"])

    seen = ok.structuredContent
    trace_id, span_id = _hex(good)
    assert seen["traceparent"].split("-")[1:3] == [trace_id, span_id]  # what the client put in _meta
    assert seen["current_trace_id"] == trace_id and seen["extracted_trace_id"] == trace_id
    assert seen["sdk_errors"] == {}  # nothing failed quietly in the server's instrumentation either
    return good, served_ok


def test_stdio_tool_calls_continue_the_clients_trace_on_the_server(mcp_instrumented: Harness, spans_file: Path) -> None:
    async def run() -> tuple[Any, Any]:
        async with _stdio(spans_file) as session:
            return await call_both(session)

    client, served = _check_tree(mcp_instrumented, spans_file, *anyio.run(run))
    assert client.attributes[sc.NETWORK_TRANSPORT] == "pipe"
    assert sc.MCP_SESSION_ID not in client.attributes and sc.SERVER_ADDRESS not in client.attributes
    assert served["attributes"][sc.NETWORK_TRANSPORT] == "pipe"
    assert sc.MCP_SESSION_ID not in served["attributes"] and sc.CLIENT_ADDRESS not in served["attributes"]


def test_streamable_http_tool_calls_carry_transport_and_session(mcp_instrumented: Harness, spans_file: Path,
                                                                http_url: str) -> None:
    async def run() -> tuple[Any, Any]:
        async with _http(http_url) as session:
            return await call_both(session)

    client, served = _check_tree(mcp_instrumented, spans_file, *anyio.run(run))
    attrs, served_attrs = client.attributes, served["attributes"]
    assert attrs[sc.NETWORK_TRANSPORT] == "tcp" and attrs[sc.NETWORK_PROTOCOL_NAME] == "http"
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1" and attrs[sc.SERVER_PORT] == int(http_url.split(":")[2][:-4])
    assert served_attrs[sc.NETWORK_TRANSPORT] == "tcp" and served_attrs[sc.NETWORK_PROTOCOL_NAME] == "http"
    assert attrs[sc.MCP_SESSION_ID] and served_attrs[sc.MCP_SESSION_ID] == attrs[sc.MCP_SESSION_ID]
    assert served_attrs[sc.CLIENT_ADDRESS] == "127.0.0.1" and served_attrs[sc.CLIENT_PORT] > 0


def test_jsonrpc_error_response_sets_its_code_on_both_sides(mcp_instrumented: Harness, spans_file: Path) -> None:
    async def run() -> None:
        async with _stdio(spans_file) as session:
            with pytest.raises(McpError) as raised:
                await session.call_tool("needs_sign_in", {})
            assert raised.value.error.code == URL_ELICITATION_REQUIRED

    anyio.run(run)
    code = str(URL_ELICITATION_REQUIRED)
    (client,) = tool_spans(mcp_instrumented)
    assert client.name == "execute_tool needs_sign_in" and client.status.status_code == StatusCode.ERROR
    assert client.attributes[sc.ERROR_TYPE] == code and client.attributes[sc.RPC_RESPONSE_STATUS_CODE] == code
    served = _served(_server_spans(spans_file, "tools/call needs_sign_in"), "needs_sign_in", client)
    assert served["status"] == "ERROR"
    assert served["attributes"][sc.ERROR_TYPE] == code
    assert served["attributes"][sc.RPC_RESPONSE_STATUS_CODE] == code


def test_timeout_sets_its_code(mcp_instrumented: Harness, spans_file: Path) -> None:
    async def run() -> None:
        async with _stdio(spans_file) as session:
            with pytest.raises(McpError):
                await session.call_tool("slow", {"seconds": 2}, read_timeout_seconds=timedelta(seconds=0.2))

    anyio.run(run)
    (span,) = tool_spans(mcp_instrumented)
    assert span.name == "execute_tool slow" and span.status.status_code == StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == str(REQUEST_TIMEOUT)
    assert span.attributes[sc.RPC_RESPONSE_STATUS_CODE] == str(REQUEST_TIMEOUT)


def test_inside_a_tool_span_of_the_same_tool_adds_to_it_and_sends_its_context(mcp_instrumented: Harness,
                                                                               spans_file: Path) -> None:
    async def run() -> Any:
        async with _stdio(spans_file) as session:
            with agentkit.tool(name="fail"):
                return await session.call_tool("fail", {"text": "x"}, meta={"request.origin": "test"})

    assert anyio.run(run).isError
    (span,) = tool_spans(mcp_instrumented)
    assert span.attributes[sc.MCP_METHOD_NAME] == "tools/call"
    assert span.attributes[sc.NETWORK_TRANSPORT] == "pipe"
    assert span.attributes[sc.ERROR_TYPE] == "tool_error"
    _served(_server_spans(spans_file, "tools/call fail"), "fail", span)  # the outer span's context went along


def test_a_traceparent_the_caller_put_in_meta_wins(mcp_instrumented: Harness, spans_file: Path) -> None:
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    meta = {"traceparent": theirs, "request.origin": "test"}

    async def run() -> Any:
        async with _stdio(spans_file) as session:
            return await session.call_tool("echo_trace", {"text": "hi"}, meta=meta)

    assert anyio.run(run).structuredContent["traceparent"] == theirs
    assert meta == {"traceparent": theirs, "request.origin": "test"}  # the caller's dict is not changed
    (client,) = tool_spans(mcp_instrumented)
    served = _served(_server_spans(spans_file, "tools/call echo_trace"), "echo_trace", None)
    assert (served["trace_id"], served["parent_id"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert format(client.context.trace_id, "032x") != served["trace_id"]


def test_server_context_reads_the_1x_meta_model() -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    found = server_context(RequestParams.Meta(traceparent=f"00-{trace_id}-b7ad6b7169203331-01"))
    assert found is not None and format(get_current_span(found).get_span_context().trace_id, "032x") == trace_id
    assert server_context(RequestParams.Meta()) is None


def test_uninstrument_puts_back_exactly(sdk: Harness, spans_file: Path) -> None:
    def current() -> list[Any]:
        return [ClientSession.__dict__["call_tool"], ClientSession.__dict__["initialize"],
                StreamableHTTPTransport.__dict__["post_writer"], mcp.client.stdio.stdio_client, mcp.stdio_client,
                Server.__dict__["_handle_request"], RequestResponder.__dict__["respond"],
                mcp.server.stdio.stdio_server, mcp.stdio_server, mcp.server.fastmcp.server.stdio_server]

    assert_exact_uninstrument(current)

    async def run() -> tuple[Any, Any]:
        async with _stdio(spans_file) as session:
            return await call_both(session)

    ok, failed = anyio.run(run)
    assert not ok.isError and failed.isError
    assert not tool_spans(sdk)
    assert ok.structuredContent["traceparent"] == ""  # nothing injected
    # The (still instrumented) server makes its span all the same, as a root: no context came with the call.
    served = _served(_server_spans(spans_file, "tools/call echo_trace"), "echo_trace", None)
    assert served["parent_id"] is None
