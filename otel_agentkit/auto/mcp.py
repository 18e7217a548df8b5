"""The MCP Python SDK (``mcp``, the 1.x line from 1.19 and 2.x): each client ``ClientSession.call_tool`` as an
``execute_tool {tool}`` span, its trace context carried to the server, and (1.x) the server's span.

The client span is made by the recorder (the TOOL kind: counted in the enclosing agent run, tool metrics) and
carries the attributes of the GenAI conventions' MCP client span (gen-ai/mcp.md) that the client can know:
``mcp.method.name`` (``tools/call``), ``mcp.protocol.version``, ``network.transport`` (``pipe`` for stdio,
``tcp`` for streamable HTTP) and, over HTTP, ``network.protocol.name``, ``server.address`` / ``server.port``
and ``mcp.session.id``. A session does not know its transport (it holds two anonymous streams), so the
transport is learnt where the streams are made: ``stdio_client`` (patched in ``mcp``, ``mcp.client.stdio`` and,
2.x, ``mcp.client.client``: a ``stdio_client`` imported by name before instrumenting is not seen, and its calls
get no ``network.transport``) and the streamable HTTP transport's writer. Other transports get none.

If the call runs inside a tool span of the same tool name already (``with agentkit.tool(name=...)`` around
it, or a framework bridge's), the MCP attributes are added to that span instead of starting a second one, as
the MCP page asks of an MCP instrumentation under an outer GenAI one.

Errors, as the MCP page defines them: a JSON-RPC error (``MCPError`` in 2.x, ``McpError`` in 1.x, a timeout
included) sets ``error.type`` and ``rpc.response.status_code`` to the error code; any other exception gives its
type as ``error.type``; a result with ``isError=True`` (a tool that failed on the server, which the SDK
returns, not raises) gives ``error.type`` ``tool_error`` (the value mcp's server middleware sets too). All end
the span as an error.

Trace context, mcp 2.x: it propagates it both ways itself, so this instrumentor joins it and injects nothing.
Its dispatcher opens a CLIENT span ``MCP send tools/call {tool}`` around each request (recorded only under a
global tracer provider) and injects W3C ``traceparent`` into ``params._meta``; its server middleware (on by
default) extracts it and makes its SERVER span current around the tool handler. The execute_tool span is
current while the dispatcher runs, so mcp's client span is its child and the traceparent sent is in its trace.

Trace context, mcp 1.x: it neither propagates context nor makes spans, so this instrumentor does both ends.
The client injects the execute_tool span's context (the configured propagators: ``traceparent``,
``tracestate``, ``baggage``) into the request's ``_meta`` through ``call_tool(meta=...)`` (keys the caller set
win). The server side patches the lowlevel ``Server._handle_request``, which every 1.x server (FastMCP
included) goes through: around each ``tools/call`` it makes the conventions' MCP server span (SERVER kind,
``tools/call {tool}``, ``gen_ai.operation.name`` ``execute_tool``, ``mcp.method.name``, ``gen_ai.tool.name``,
``jsonrpc.request.id``, ``mcp.protocol.version``, ``network.transport`` and, over HTTP,
``network.protocol.name``, ``mcp.session.id``, ``client.address`` / ``client.port``), current while the tool
handler runs, with the context from ``_meta`` as its parent, or the ambient one when the client sent none (the
conventions' server span is for every call, propagated or not). The response it sends (patched
``RequestResponder.respond``) tells how the call ended: ``tool_error`` for ``isError``, the JSON-RPC code for
an error response. The server learns stdio from ``stdio_server`` (patched in ``mcp``, ``mcp.server.stdio`` and
``mcp.server.fastmcp.server``) and HTTP from the Starlette request that carried the message.

A tool handler continues the trace with ``opentelemetry.trace.get_current_span()``; for work it hands to
another thread or task without copying the context, :func:`server_context` gives the client's context.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind

from .. import diagnostics, semconv as sc
from ..instrument import telemetry as _state
from ..instrument.context import CURRENT_KEY
from ..instrument.decorators import tool
from ..instrument.invocation import Invocation
from ..instrument.kinds import TOOL
from ..instrument.suppress import suppressed
from ._common import AutoInstrumentor, Patch, get, installed_version, url_server

REQUIREMENT = "mcp >= 1.19, < 3"  # 1.19: the first 1.x whose call_tool takes meta= (where the context goes)

# id() of a session's write stream -> (network.transport, the streamable HTTP transport or None). Entries live
# while the transport that made the stream is open (the streams are not weak-referenceable), so an id is never
# read after its stream is gone. Server streams (1.x stdio_server) are registered here too.
_connections: dict[int, tuple[str, Any]] = {}
# A 1.x ClientSession -> the protocol version its initialize() negotiated (2.x sessions keep it themselves).
_negotiated: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
# In the context while a 1.x server handles a tools/call: (its RequestResponder, the server span's Invocation),
# for the respond() wrapper to learn how the call ended.
_SERVING = otel_context.create_key("agentkit-mcp-serving")
_JSONRPC_ERRORS = frozenset({"MCPError", "McpError"})  # 2.x, 1.x
_SESSION_HEADER = "mcp-session-id"  # MCP streamable HTTP headers
_VERSION_HEADER = "mcp-protocol-version"


# --- server side ---------------------------------------------------------------------------------------------
def server_context(ctx: Any) -> otel_context.Context | None:
    """The OTel context the client sent with this request (``traceparent`` in its ``_meta``), or None.

    ``ctx`` is a tool's ``Context`` (2.x MCPServer, 1.x FastMCP), a lowlevel request context, or the ``_meta``
    (a mapping, or 1.x's model). Inside a handler, the continued span is current already (mcp's middleware
    in 2.x, this instrumentor's server span in 1.x); this is for work handed elsewhere:
    ``token = otel_context.attach(server_context(ctx))`` there.
    """
    try:
        return _sent_context(_request_meta(ctx))
    except Exception as exc:  # telemetry never breaks the tool
        diagnostics.report("auto.mcp.server_context", exc)
        return None


def _request_meta(ctx: Any) -> Mapping[str, Any] | None:
    if isinstance(ctx, Mapping):
        return ctx
    request_context = getattr(ctx, "request_context", None)  # a tool's Context -> the request context
    if request_context is not None:
        return _meta_mapping(getattr(request_context, "meta", None))
    return _meta_mapping(getattr(ctx, "meta", ctx))  # a lowlevel request context, or 1.x's _meta model itself


def _meta_mapping(meta: Any) -> Mapping[str, Any] | None:
    """``_meta`` as a mapping: 2.x keeps a dict; 1.x a pydantic model whose unknown keys (``traceparent``) are
    its extras."""
    if isinstance(meta, Mapping):
        return meta
    extra = getattr(meta, "__pydantic_extra__", None)
    return extra if isinstance(extra, Mapping) else None


def _sent_context(carrier: Mapping[str, Any] | None,
                  base: otel_context.Context | None = None) -> otel_context.Context | None:
    """The context a client sent in ``_meta`` (its string entries, extracted over ``base``), or None when it
    carries no valid span context."""
    if not carrier:
        return None
    found = extract({k: v for k, v in carrier.items() if isinstance(v, str)}, context=base)
    return found if trace_api.get_current_span(found).get_span_context().is_valid else None


def _handle_request_wrapper(record: Patch) -> Any:
    """1.x lowlevel ``Server._handle_request``: a ``tools/call`` runs inside the MCP server span."""
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        inv, token = _serve_begin(record, args, kwargs)
        if inv is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:  # the transport closed under it (a cancellation), or raise_exceptions
            _serve_end(inv, token, exc)
            raise
        _serve_end(inv, token, None)
        return result

    return wrapper


def _serve_begin(record: Patch, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> tuple[Invocation | None, object]:
    """The started server span and the token that made it current; (None, None) when off, not a tools/call,
    suppressed, or failed."""
    tel = _state.active
    if not record.enabled or tel is None:
        return None, None
    try:
        message = args[0] if args else kwargs.get("message")
        req = args[1] if len(args) > 1 else kwargs.get("req")
        if getattr(req, "method", None) != sc.MCP_METHOD_TOOLS_CALL:
            return None, None
        ambient = otel_context.get_current()
        if suppressed(ambient):
            return None, None
        params = getattr(req, "params", None)
        name = getattr(params, "name", None)
        name = name if isinstance(name, str) else None
        attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: name,
                                 sc.MCP_METHOD_NAME: sc.MCP_METHOD_TOOLS_CALL}
        request_id = getattr(message, "request_id", None)
        if isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
            attrs[sc.JSONRPC_REQUEST_ID] = str(request_id)
        session = args[2] if len(args) > 2 else kwargs.get("session")
        attrs.update(_served_attributes(message, session))
        inv = Invocation(tel, TOOL, sc.OP_EXECUTE_TOOL, sc.span_name(sc.MCP_METHOD_TOOLS_CALL, name),
                         SpanKind.SERVER, {k: v for k, v in attrs.items() if v is not None})
        parent = _sent_context(_meta_mapping(getattr(params, "meta", None)), ambient) or ambient
        inv.start(parent, values={_SERVING: (message, inv)})
        inv.owner = record
        return inv, inv.activate()
    except Exception as exc:  # telemetry never breaks the server
        diagnostics.report("auto.mcp.server", exc)
        return None, None


def _served_attributes(message: Any, session: Any) -> dict[str, Any]:
    """What the server knows of the connection a request came on: stdio from the registered write stream,
    HTTP from the Starlette request that carried the message (streamable HTTP and SSE)."""
    attrs: dict[str, Any] = {}
    stream = getattr(session, "_write_stream", None)
    known = _connections.get(id(stream)) if stream is not None else None
    if known is not None:
        attrs[sc.NETWORK_TRANSPORT] = known[0]
    request = getattr(getattr(message, "message_metadata", None), "request_context", None)
    headers = getattr(request, "headers", None)
    version = None
    if headers is not None and callable(getattr(headers, "get", None)):
        attrs[sc.NETWORK_TRANSPORT] = sc.NETWORK_TRANSPORT_TCP
        attrs[sc.NETWORK_PROTOCOL_NAME] = sc.NETWORK_PROTOCOL_HTTP
        attrs[sc.MCP_SESSION_ID] = headers.get(_SESSION_HEADER) or None
        version = headers.get(_VERSION_HEADER) or None
        client = getattr(request, "client", None)  # (host, port), None when the server was not told
        host, port = getattr(client, "host", None), getattr(client, "port", None)
        if isinstance(host, str) and host:
            attrs[sc.CLIENT_ADDRESS] = host
            attrs[sc.CLIENT_PORT] = port if isinstance(port, int) else None
    attrs[sc.MCP_PROTOCOL_VERSION] = version or _server_negotiated(session)
    return attrs


def _server_negotiated(session: Any) -> str | None:
    """The version a 1.x ServerSession answered initialize with (the client's if supported, else the latest)."""
    requested = getattr(getattr(session, "client_params", None), "protocolVersion", None)
    if not isinstance(requested, str):
        return None
    from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS
    from mcp.types import LATEST_PROTOCOL_VERSION

    return requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


def _respond_wrapper(record: Patch) -> Any:
    """1.x ``RequestResponder.respond``: the response to the request being served tells how the call ended."""
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        serving = otel_context.get_value(_SERVING) if record.enabled else None
        if isinstance(serving, tuple) and serving[0] is instance:
            _observe_response(serving[1], args[0] if args else kwargs.get("response"))
        return await wrapped(*args, **kwargs)

    return wrapper


def _observe_response(inv: Invocation, response: Any) -> None:
    try:
        code = get(response, "code")  # ErrorData: a JSON-RPC error response
        if isinstance(code, int) and not isinstance(code, bool):
            inv.put({sc.RPC_RESPONSE_STATUS_CODE: str(code)})
            inv.set_error_type(str(code))
        elif get(get(response, "root"), "isError") is True:  # ServerResult(CallToolResult(isError=True))
            inv.set_error_type(sc.ERROR_TYPE_MCP_TOOL_ERROR)
    except Exception as exc:
        diagnostics.report("auto.mcp.server", exc)


def _serve_end(inv: Invocation, token: object, exc: BaseException | None) -> None:
    try:
        otel_context.detach(token)  # type: ignore[arg-type]
        inv.end(exc)
    except Exception as sdk_exc:
        diagnostics.report("auto.mcp.server", sdk_exc)


# --- client side: what the session's connection is -----------------------------------------------------------
def _connection_attributes(session: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {sc.MCP_METHOD_NAME: sc.MCP_METHOD_TOOLS_CALL}
    version = getattr(session, "protocol_version", None)  # 2.x
    if not isinstance(version, str):
        version = _negotiated_version(session)  # 1.x, learnt by the initialize() wrapper
    if isinstance(version, str):
        attrs[sc.MCP_PROTOCOL_VERSION] = version
    dispatcher = getattr(session, "_dispatcher", None)  # 2.x: the dispatcher holds the stream; 1.x: the session
    stream = getattr(dispatcher if dispatcher is not None else session, "_write_stream", None)
    known = _connections.get(id(stream)) if stream is not None else None
    if known is None:
        return attrs
    attrs[sc.NETWORK_TRANSPORT], http = known
    if http is not None:
        attrs[sc.NETWORK_PROTOCOL_NAME] = sc.NETWORK_PROTOCOL_HTTP
        http_version = getattr(http, "protocol_version", None)  # 1.x's transport keeps the negotiated one
        if sc.MCP_PROTOCOL_VERSION not in attrs and isinstance(http_version, str):
            attrs[sc.MCP_PROTOCOL_VERSION] = http_version
        url = getattr(http, "url", None)
        if isinstance(url, str):
            attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT] = url_server(url)
        session_id = getattr(http, "session_id", None)
        if isinstance(session_id, str) and session_id:
            attrs[sc.MCP_SESSION_ID] = session_id
    return {k: v for k, v in attrs.items() if v is not None}


def _negotiated_version(session: Any) -> str | None:
    try:
        return _negotiated.get(session)
    except TypeError:  # not weak-referenceable: initialize() could not have noted it either
        return None


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


def _initialize_wrapper(record: Patch) -> Any:
    """1.x ``ClientSession.initialize``: remember the protocol version it negotiated (the session does not)."""
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = await wrapped(*args, **kwargs)
        if record.enabled:
            try:
                version = get(result, "protocolVersion")
                if isinstance(version, str):
                    _negotiated[instance] = version
            except Exception as exc:
                diagnostics.report("auto.mcp.initialize", exc)
        return result

    return wrapper


# --- client side: the tool call ------------------------------------------------------------------------------
def _call_tool_wrapper(record: Patch, inject_context: bool = False) -> Any:
    """``inject_context`` (1.x): send the current trace context in the request's ``_meta``."""
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        inv, own = _begin(record, instance, args, kwargs)
        if inv is None:
            return await wrapped(*args, **kwargs)
        token = inv.activate() if own else None
        if inject_context:
            kwargs = _with_trace_context(kwargs)
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


def _with_trace_context(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the current context injected into ``meta`` (a copy: the caller's dict is not changed;
    keys the caller set win). A ``meta`` that is not a mapping is left for mcp to refuse."""
    try:
        given = kwargs.get("meta")
        if given is not None and not isinstance(given, Mapping):
            return kwargs
        carrier: dict[str, str] = {}
        inject(carrier)
        if not carrier:
            return kwargs
        meta = dict(given) if given else {}
        for key, value in carrier.items():
            meta.setdefault(key, value)
        return {**kwargs, "meta": meta}
    except Exception as exc:  # the call goes on without context
        diagnostics.report("auto.mcp.inject", exc)
        return kwargs


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
        if get(result, "is_error") is True or get(result, "isError") is True:  # 2.x, 1.x
            inv.set_error_type(sc.ERROR_TYPE_MCP_TOOL_ERROR)
        if own:
            inv.end()
    except Exception as sdk_exc:
        diagnostics.report("auto.mcp.call_tool", sdk_exc)


def _jsonrpc_code(exc: BaseException) -> str | None:
    """The JSON-RPC error code of an ``MCPError`` / ``McpError`` or a subclass (by class name: importing mcp
    here is not needed)."""
    if not any(cls.__name__ in _JSONRPC_ERRORS for cls in type(exc).__mro__):
        return None
    code = getattr(getattr(exc, "error", None), "code", None)
    return str(code) if isinstance(code, int) else None


class MCPInstrumentor(AutoInstrumentor):
    """Patches ``ClientSession.call_tool`` (the span), ``stdio_client`` and the streamable HTTP writer (to
    tell a session's transport); on 1.x also ``ClientSession.initialize`` (the protocol version), the lowlevel
    ``Server._handle_request`` and ``RequestResponder.respond`` (the server span) and ``stdio_server``.
    Uninstrumenting puts each back exactly."""

    library = "mcp"
    requirement = REQUIREMENT

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        if (installed_version(self.library) or "").startswith("1."):
            return self._apply(_V1_TARGETS)
        return self._apply([
            ("mcp.client.session:ClientSession", "call_tool", _call_tool_wrapper),
            ("mcp.client.streamable_http:StreamableHTTPTransport", "post_writer", _post_writer_wrapper),
            *((module, "stdio_client", _stdio_wrapper) for module in ("mcp.client.stdio", "mcp",
                                                                       "mcp.client.client")),
        ])


# mcp 1.x: no context propagation or spans of its own, so the client injects and the server continues.
_V1_TARGETS = (
    ("mcp.client.session:ClientSession", "call_tool", functools.partial(_call_tool_wrapper, inject_context=True)),
    ("mcp.client.session:ClientSession", "initialize", _initialize_wrapper),
    ("mcp.client.streamable_http:StreamableHTTPTransport", "post_writer", _post_writer_wrapper),
    *((module, "stdio_client", _stdio_wrapper) for module in ("mcp.client.stdio", "mcp")),
    ("mcp.server.lowlevel.server:Server", "_handle_request", _handle_request_wrapper),
    ("mcp.shared.session:RequestResponder", "respond", _respond_wrapper),
    # stdio_server yields (read, write) as stdio_client does: the same wrapper registers the write stream
    *((module, "stdio_server", _stdio_wrapper) for module in ("mcp.server.stdio", "mcp", "mcp.server.fastmcp.server")),
)
