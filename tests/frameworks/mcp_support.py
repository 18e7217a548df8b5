"""What the tests of both mcp lines share (test_mcp.py on 2.x, test_mcp1.py on 1.x in its own venv): nothing
here imports mcp, whose modules differ between the lines."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from otel_agentkit import semconv as sc
from otel_agentkit.auto.mcp import MCPInstrumentor
from tests.conftest import Harness
from tests.support.procs import free_port, port_open, running

ROOT = Path(__file__).parents[2]


def server_env() -> dict[str, str]:
    """The environment of a server subprocess: this checkout importable (the tests' servers import it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


async def call_both(session: Any) -> tuple[Any, Any]:
    """The tool that reports the trace it saw, then the one that fails (a result with isError)."""
    ok = await session.call_tool("echo_trace", {"text": "hi"})
    failed = await session.call_tool("fail", {"text": "hi"})
    return ok, failed


def tool_spans(sdk: Harness) -> list[Any]:
    return [s for s in sdk.spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == sc.OP_EXECUTE_TOOL]


@contextmanager
def http_server(server: Path, log_dir: Path, *args: str) -> Iterator[str]:
    """``server`` (a test MCP server script) over streamable HTTP on a free port of 127.0.0.1: its URL."""
    port = free_port()
    cmd = [sys.executable, str(server), *args, "http", str(port)]
    with running(cmd, log_dir / "mcp-server.log", lambda: port_open(port), env=server_env(), what="MCP HTTP server"):
        yield f"http://127.0.0.1:{port}/mcp"


def assert_exact_uninstrument(current: Callable[[], list[Any]]) -> None:
    """Instrumenting replaces every attribute ``current()`` lists; uninstrumenting puts back the very same."""
    before = current()
    inst = MCPInstrumentor()
    inst.instrument()
    assert all(now is not was for now, was in zip(current(), before))
    inst.uninstrument()
    assert all(now is was for now, was in zip(current(), before))
