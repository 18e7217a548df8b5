"""Fixtures for the alerts tests: real spans, a real SMTP server, TLS certificates made by openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agentkit import semconv as sc
from otel_agentkit.alerts.db import AlertStore
from tests.support.procs import free_port, require_binary

NOW = 1_800_000_000.0  # a fixed "now" (epoch seconds) for deterministic windows


class SpanMaker:
    """Ended spans from a real SDK TracerProvider, with the attributes the instrumentation core sets."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests.alerts")

    def llm(self, *, end: float = NOW, duration: float = 0.5, model: str = "gpt-4o", provider: str = "openai",
            response_model: str | None = None, workflow: str | None = None, agent: str | None = None,
            input_tokens: int | None = 10, output_tokens: int | None = 5, cost: float | None = 0.001,
            error: bool = False, operation: str = sc.OP_CHAT, extra: dict[str, Any] | None = None,
            pre_release: bool = False) -> ReadableSpan:
        """An inference span; ``workflow`` goes to agentkit.workflow.name (v0.1.0 SDK), or to
        gen_ai.workflow.name with ``pre_release`` (what the SDK wrote before)."""
        attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
                                 sc.GEN_AI_REQUEST_MODEL: model}
        if response_model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response_model
        if workflow:
            attrs[sc.GEN_AI_WORKFLOW_NAME if pre_release else sc.AGENTKIT_WORKFLOW_NAME] = workflow
        if agent:
            attrs[sc.GEN_AI_AGENT_NAME] = agent
        if input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        if cost is not None:
            attrs[sc.AGENTKIT_COST_USD] = cost
        attrs.update(extra or {})
        start_ns = int((end - duration) * 1e9)
        span = self.tracer.start_span(sc.span_name(operation, model), kind=SpanKind.CLIENT, attributes=attrs,
                                      start_time=start_ns)
        if error:
            span.set_attribute(sc.ERROR_TYPE, "TimeoutError")
            span.set_status(Status(StatusCode.ERROR, "timed out"))
        span.end(end_time=int(end * 1e9))
        return self.exporter.get_finished_spans()[-1]

    def other(self, name: str, *, end: float = NOW, duration: float = 1.0, attrs: dict[str, Any]) -> ReadableSpan:
        span = self.tracer.start_span(name, attributes=attrs, start_time=int((end - duration) * 1e9))
        span.end(end_time=int(end * 1e9))
        return self.exporter.get_finished_spans()[-1]


@pytest.fixture
def spans() -> Iterator[SpanMaker]:
    maker = SpanMaker()
    yield maker
    maker.provider.shutdown()


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(tmp_path)


class Smtp:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, optionally with AUTH and STARTTLS; keeps what it got."""

    def __init__(self, port: int, tls_context: Any = None, users: dict[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Any] = []
        self.logins: list[str] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
                outer.messages.append(envelope)
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
            ok = isinstance(auth_data, LoginPassword) and users is not None and \
                users.get(auth_data.login.decode()) == auth_data.password.decode()
            if ok:
                outer.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        kwargs: dict[str, Any] = {}
        if users is not None:
            kwargs.update(authenticator=authenticator, auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
        self.port = port

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with Smtp(free_port(), users={"alerts": "s3cret"}) as server:
        yield server


class Certs:
    """A throw-away CA and a server certificate for ``hooks.test`` and 127.0.0.1, made with openssl."""

    def __init__(self, directory: Path) -> None:
        openssl = require_binary("openssl")
        self.ca, self.ca_key = directory / "ca.pem", directory / "ca.key"
        self.cert, self.key = directory / "server.pem", directory / "server.key"
        csr, ext = directory / "server.csr", directory / "ext.cnf"

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.ca_key), "-out", str(self.ca),
            "-days", "2", "-subj", "/CN=agentkit test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out", str(csr),
            "-subj", "/CN=hooks.test")
        ext.write_text("subjectAltName=DNS:hooks.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                       "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key), "-CAcreateserial",
            "-out", str(self.cert), "-days", "2", "-extfile", str(ext))

    def server_context(self) -> Any:
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))
