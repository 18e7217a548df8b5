"""A local stand-in for the OpenAI and Anthropic APIs: pytest-httpserver on 127.0.0.1 serving the JSON bodies and
SSE streams under fixtures/ byte for byte (streams chunked, one event per chunk), and the real client
libraries pointed at it. Nothing of the client libraries is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import anthropic
import openai
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from otel_agentkit import auto
from tests.support.procs import free_port

FIXTURES = Path(__file__).parent / "fixtures"
OPENAI_HEADERS = {"x-request-id": "req_6b1b2f0c7e0d4a58b8c1d2e3f4a5b6c7", "openai-processing-ms": "312",
                  "openai-organization": "org-agentkit", "openai-version": "2020-10-01"}
ANTHROPIC_HEADERS = {"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy", "anthropic-organization-id": "org-agentkit"}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse_events(raw: bytes) -> list[bytes]:
    """The stream split at event boundaries, each event with its blank line (one HTTP chunk each)."""
    return [part + b"\n\n" for part in raw.split(b"\n\n") if part]


class Stub:
    """Routes on the shared server for one test, and the JSON bodies of the requests it received."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.bodies: list[dict[str, Any]] = []

    def url(self, suffix: str = "") -> str:
        return self.server.url_for(suffix).rstrip("/")

    def _record(self, request: Request) -> dict[str, Any]:
        body = json.loads(request.get_data() or b"{}")
        self.bodies.append(body)
        return body

    def handler(self, path: str, func: Callable[[Request], Response]) -> None:
        """Answer the next request to ``path`` (routes are one-shot and served in the order registered)."""
        self.server.expect_ordered_request(path, method="POST").respond_with_handler(func)

    def json(self, path: str, name: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = fixture_bytes(name)

        def handler(request: Request) -> Response:
            self._record(request)
            return Response(data, status=status, headers=headers or {}, content_type="application/json")

        self.handler(path, handler)

    def sse(self, path: str, choose: str | Callable[[dict[str, Any]], str],
            headers: dict[str, str] | None = None) -> None:
        """Serve an SSE fixture (or the one ``choose(request_body)`` names), chunked, one event per chunk."""
        def handler(request: Request) -> Response:
            body = self._record(request)
            name = choose(body) if callable(choose) else choose
            events = sse_events(fixture_bytes(name))
            return Response(iter(events), status=200, headers=headers or {},
                            content_type="text/event-stream; charset=utf-8")

        self.handler(path, handler)

    # --- the provider routes the tests use ---
    def openai_chat(self, name: str = "openai/chat_completion.json", status: int = 200) -> None:
        self.json("/v1/chat/completions", name, status, OPENAI_HEADERS)

    def openai_chat_stream(self, name: str | None = None) -> None:
        """The chat stream as the API sends it: with the usage chunk only when include_usage was asked for."""
        def choose(body: dict[str, Any]) -> str:
            if name is not None:
                return name
            wants = (body.get("stream_options") or {}).get("include_usage")
            return "openai/chat_stream_usage.sse" if wants else "openai/chat_stream.sse"

        self.sse("/v1/chat/completions", choose, OPENAI_HEADERS)

    def openai_embeddings(self) -> None:
        def handler(request: Request) -> Response:
            body = self._record(request)
            name = "openai/embeddings_base64.json" if body.get("encoding_format") == "base64" else \
                "openai/embeddings.json"
            return Response(fixture_bytes(name), headers=OPENAI_HEADERS, content_type="application/json")

        self.handler("/v1/embeddings", handler)

    def anthropic_messages(self, name: str = "anthropic/message.json", status: int = 200) -> None:
        if name.endswith(".sse"):
            self.sse("/v1/messages", name, ANTHROPIC_HEADERS)
        else:
            self.json("/v1/messages", name, status, ANTHROPIC_HEADERS)


@pytest.fixture(scope="session")
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def stub(http_server: HTTPServer) -> Iterator[Stub]:
    http_server.clear()
    yield Stub(http_server)
    errors = list(http_server.handler_errors)
    unanswered = list(http_server.assertions)
    http_server.clear()
    assert not errors, f"stub server handler failed: {errors}"
    assert not unanswered, f"stub server got requests it had no route for: {unanswered}"


@pytest.fixture
def instrumented() -> Iterator[None]:
    """Both libraries instrumented for the test, uninstrumented after it (even when it fails)."""
    assert auto.instrument("openai") and auto.instrument("anthropic")
    try:
        yield
    finally:
        auto.uninstrument_all()


@pytest.fixture
def oa(stub: Stub) -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)


@pytest.fixture
def aoa(stub: Stub) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)


@pytest.fixture
def an(stub: Stub) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stub.url(), api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def aan(stub: Stub) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=stub.url(), api_key="sk-ant-test", max_retries=0)


USER = [{"role": "user", "content": "What is the capital of France?"}]
