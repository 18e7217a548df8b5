"""The MCP Python SDK (``mcp``), client side: each ``ClientSession.call_tool`` as an ``execute_tool {tool}`` span.

The span is made by the recorder (the TOOL kind: counted in the enclosing agent run, tool metrics) and carries
the attributes of the GenAI conventions' MCP client span (gen-ai/mcp.md) that the client can know:
``mcp.method.name`` (``tools/call``), ``mcp.protocol.version``, ``network.transport`` (``pipe`` for stdio,
``tcp`` for streamable HTTP) and, over HTTP, ``network.protocol.name``, ``server.address`` / ``server.port``
and ``mcp.session.id``. A session does not know its transport (it holds two anonymous streams), so the
transport is learnt where the streams are made: ``stdio_client`` (patched in ``mcp``, ``mcp.client.stdio`` and
``mcp.client.client``: a ``stdio_client`` imported by name before instrumenting is not seen, and its calls get
no ``network.transport``) and the streamable HTTP transport's writer. Other transports get none.

If the call runs inside a tool span of the same tool name already (``with agentkit.tool(name=...)`` around
it, or a framework bridge's), the MCP attributes are added to that span instead of starting a second one, as
the MCP page asks of an MCP instrumentation under an outer GenAI one.

Errors, as the MCP page defines them: a JSON-RPC error (``MCPError``, a timeout included) sets ``error.type``
and ``rpc.response.status_code`` to the error code; any other exception gives its type as ``error.type``; a
result with ``isError=True`` (a tool that failed on the server, which the SDK returns, not raises) gives
``error.type`` ``tool_error`` (the value mcp's server middleware sets too). All end the span as an error.

Trace context: mcp 2.x already propagates it both ways, so this instrumentor joins it and injects nothing.
Its dispatcher opens a CLIENT span ``MCP send tools/call {tool}`` around each request (recorded only under a
global tracer provider) and injects W3C ``traceparent`` into ``params._meta``; its server middleware (on by
default) extracts it and makes its SERVER span current around the tool handler. The execute_tool span is
current while the dispatcher runs, so mcp's client span is its child and the traceparent sent is in its trace.
A tool handler continues the trace with ``opentelemetry.trace.get_current_span()``; for work it hands to
another thread or task without copying the context, :func:`server_context` gives the client's context.
"""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry.propagate import extract

from .. import diagnostics, semconv as sc
from ..instrument import telemetry as _state
from ..instrument.context import CURRENT_KEY
from ..instrument.decorators import tool
from ..instrument.invocation import Invocation
from ..instrument.kinds import TOOL
from ..instrument.suppress import suppressed
from ._common import AutoInstrumentor, Patch, get, url_server

REQUIREMENT = "mcp >= 2, < 3"

# id() of a session's write stream -> (network.transport, the streamable HTTP transport or None). Entries live
# while the transport that made the stream is open (the streams are not weak-referenceable), so an id is never
# read after its stream is gone.
_connections: dict[int, tuple[str, Any]] = {}


# --- server side ---------------------------------------------------------------------------------------------
def server_context(ctx: Any) -> otel_context.Context | None:
    """The OTel context the client sent with this request (``traceparent`` in its ``_meta``), or None.

    ``ctx`` is an MCPServer tool's ``Context``, a lowlevel ``ServerRequestContext``, or the ``_meta`` mapping.
    Inside a handler, mcp's middleware has already made the continued span current; this is for work handed
    elsewhere: ``token = otel_context.attach(server_context(ctx))`` there.
    """
    try:
        meta = _request_meta(ctx)
        if not meta:
            return None
        found = extract({k: v for k, v in meta.items() if isinstance(v, str)})
        return found if trace_api.get_current_span(found).get_span_context().is_valid else None
    except Exception as exc:  # telemetry never breaks the tool
        diagnostics.report("auto.mcp.server_context", exc)
        return None


def _request_meta(ctx: Any) -> Mapping[str, Any] | None:
    if isinstance(ctx, Mapping):
        return ctx
    request_context = getattr(ctx, "request_context", ctx)  # MCPServer Context -> ServerRequestContext
    meta = getattr(request_context, "meta", None)
    return meta if isinstance(meta, Mapping) else None


# --- client side: what the session's connection is -----------------------------------------------------------
def _connection_attributes(session: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {sc.MCP_METHOD_NAME: sc.MCP_METHOD_TOOLS_CALL}
    version = getattr(session, "protocol_version", None)
    if isinstance(version, str):
        attrs[sc.MCP_PROTOCOL_VERSION] = version
    stream = getattr(getattr(session, "_dispatcher", None), "_write_stream", None)
    known = _connections.get(id(stream)) if stream is not None else None
    if known is None:
        return attrs
    attrs[sc.NETWORK_TRANSPORT], http = known
    if http is not None:
        attrs[sc.NETWORK_PROTOCOL_NAME] = sc.NETWORK_PROTOCOL_HTTP
        url = getattr(http, "url", None)
        if isinstance(url, str):
            attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT] = url_server(url)
        session_id = getattr(http, "session_id", None)
        if isinstance(session_id, str) and session_id:
            attrs[sc.MCP_SESSION_ID] = session_id
    return {k: v for k, v in attrs.items() if v is not None}


class _StdioStreams:
    """``stdio_client(...)``'s context manager, registering the write stream it yields as a pipe."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._key: int | None = None

    async def __aenter__(self) -> Any:
        streams = await self._inner.__aenter__()
        try:
            self._key = id(streams[1])
            _connections[self._key] = (sc.NETWORK_TRANSPORT_PIPE, None)
        except Exception as exc:
            diagnostics.report("auto.mcp.stdio", exc)
        return streams

    async def __aexit__(self, *exc_info: Any) -> Any:
        if self._key is not None:
            _connections.pop(self._key, None)
        return await self._inner.__aexit__(*exc_info)


def _stdio_wrapper(record: Patch) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        inner = wrapped(*args, **kwargs)
        return _StdioStreams(inner) if record.enabled else inner

    return wrapper


def _post_writer_wrapper(record: Patch) -> Any:
    """The streamable HTTP writer runs for as long as its write stream is open: it registers the stream."""
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        stream = args[3] if len(args) > 3 else kwargs.get("write_stream")
        key = id(stream) if record.enabled and stream is not None else None
        if key is not None:
            _connections[key] = (sc.NETWORK_TRANSPORT_TCP, instance)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            if key is not None:
                _connections.pop(key, None)

    return wrapper


# --- client side: the tool call ------------------------------------------------------------------------------
def _call_tool_wrapper(record: Patch) -> Any:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        inv, own = _begin(record, instance, args, kwargs)
        if inv is None:
            return await wrapped(*args, **kwargs)
        token = inv.activate() if own else None
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _failed(inv, own, token, exc)
            raise
        _succeeded(inv, own, token, result)
        return result

    return wrapper


def _begin(record: Patch, session: Any, args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> tuple[Invocation | None, bool]:
    """The invocation to record on and whether it is ours; (None, False) when off, suppressed, or failed."""
    tel = _state.active
    if not record.enabled or tel is None:
        return None, False
    try:
        ctx = otel_context.get_current()
        if suppressed(ctx):
            return None, False
        name = args[0] if args else kwargs.get("name")
        name = name if isinstance(name, str) else None
        attrs = _connection_attributes(session)
        outer = otel_context.get_value(CURRENT_KEY, ctx)
        if (isinstance(outer, Invocation) and outer.category is TOOL and outer.span is not None and name
                and outer.attributes.get(sc.GEN_AI_TOOL_NAME) == name):
            outer.put(attrs)  # an outer GenAI span traces this tool already: add to it
            return outer, False
        inv = tool(name=name).begin(tel, ctx)
        if inv is None:
            return None, False
        inv.owner = record
        inv.put(attrs)
        return inv, True
    except Exception as exc:
        diagnostics.report("auto.mcp.call_tool", exc)
        return None, False


def _failed(inv: Invocation, own: bool, token: object, exc: BaseException) -> None:
    try:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        code = _jsonrpc_code(exc)
        if code is not None:
            inv.put({sc.RPC_RESPONSE_STATUS_CODE: code})
        if not own:  # the outer span's owner ends it, with this exception if it is not caught
            return
        if code is None:
            inv.end(exc)
            return
        inv.set_error_type(code)
        inv.end()
    except Exception as sdk_exc:
        diagnostics.report("auto.mcp.call_tool", sdk_exc)


def _succeeded(inv: Invocation, own: bool, token: object, result: Any) -> None:
    try:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        if get(result, "is_error") is True:
            inv.set_error_type(sc.ERROR_TYPE_MCP_TOOL_ERROR)
        if own:
            inv.end()
    except Exception as sdk_exc:
        diagnostics.report("auto.mcp.call_tool", sdk_exc)


def _jsonrpc_code(exc: BaseException) -> str | None:
    """The JSON-RPC error code of an ``MCPError`` (by class name: importing mcp here is not needed)."""
    if type(exc).__name__ != "MCPError":
        return None
    code = getattr(getattr(exc, "error", None), "code", None)
    return str(code) if isinstance(code, int) else None


class MCPInstrumentor(AutoInstrumentor):
    """Patches ``ClientSession.call_tool`` (the span), ``stdio_client`` and the streamable HTTP writer (to
    tell a session's transport); uninstrumenting puts each back exactly."""

    library = "mcp"
    requirement = REQUIREMENT

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        return self._apply([
            ("mcp.client.session:ClientSession", "call_tool", _call_tool_wrapper),
            ("mcp.client.streamable_http:StreamableHTTPTransport", "post_writer", _post_writer_wrapper),
            *((module, "stdio_client", _stdio_wrapper) for module in ("mcp.client.stdio", "mcp",
                                                                       "mcp.client.client")),
        ])
