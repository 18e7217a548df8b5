"""Real frameworks driven against the local stub server of tests/auto, whose routes and fixtures are reused by
import. Each test runs the framework call twice: once with the SDK off and the client libraries unpatched, once
under ``agentkit.init(auto_instrument=True)`` on in-memory providers inside a workflow span; it then compares
what the framework returned and checks one inference span per HTTP request.

The frameworks are pinned by scripts/provision/frameworks.sh (some in venvs of their own: OWN_VENVS).
"""

from __future__ import annotations

import os

# LiteLLM fetches its model price map from the network at import unless told to use the copy it ships.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# LangChain's tracing to LangSmith stays off whatever the developer's shell says.
for _name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
    os.environ.pop(_name, None)

import inspect  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

import otel_agentkit as agentkit  # noqa: E402
from otel_agentkit import auto, semconv as sc  # noqa: E402
from tests.auto.conftest import Stub, http_server, stub  # noqa: E402,F401 (fixtures, by import)
from tests.conftest import Harness  # noqa: E402

WORKFLOW = "framework-test"
# Frameworks tested in a venv of their own (FRAMEWORK_VENVS in scripts/provision/frameworks.sh; test_provisioning
# checks the two agree): test_<name>.py is collected only by the python of .venvs/frameworks-<name>, where
# scripts/test.sh runs it.
OWN_VENVS = ("instructor", "mcp1")
collect_ignore = [f"test_{name}.py" for name in OWN_VENVS if Path(sys.prefix).name != f"frameworks-{name}"]
_CALL_OPERATIONS = sc.INFERENCE_OPERATIONS | {sc.OP_EMBEDDINGS}


@dataclass
class Runs:
    """What one framework call gave with instrumentation off (``plain``) and on (``traced``)."""

    plain: Any
    traced: Any
    plain_requests: list[dict[str, Any]]
    traced_requests: list[dict[str, Any]]
    sdk: Harness
    workflow: ReadableSpan = field(init=False)
    calls: list[ReadableSpan] = field(init=False)

    def __post_init__(self) -> None:
        spans = self.sdk.spans()
        # v0.1.0 (the default): a workflow is an invoke_agent INTERNAL span whose operation name is
        # invoke_workflow and whose name is in gen_ai.agent.name.
        workflows = [s for s in spans if s.name == f"invoke_agent {WORKFLOW}"
                     and s.attributes.get(sc.GEN_AI_OPERATION_NAME) == sc.OP_INVOKE_WORKFLOW]
        assert len(workflows) == 1, [s.name for s in spans]
        self.workflow = workflows[0]
        assert self.workflow.kind is SpanKind.INTERNAL
        assert self.workflow.attributes[sc.GEN_AI_AGENT_NAME] == WORKFLOW
        self.calls = [s for s in spans if s.kind is SpanKind.CLIENT
                      and s.attributes.get(sc.GEN_AI_OPERATION_NAME) in _CALL_OPERATIONS]

    def call(self) -> ReadableSpan:
        """The one model-call span, checked to be the only one, for the only request, under the workflow."""
        self.assert_one_span_per_request()
        return self.calls[0]

    def assert_one_span_per_request(self) -> None:
        assert len(self.traced_requests) == len(self.plain_requests) >= 1, \
            "instrumentation changed how many requests the framework made"
        assert len(self.calls) == len(self.traced_requests), \
            f"{len(self.traced_requests)} request(s) but spans {[s.name for s in self.calls]}"
        for span in self.calls:
            assert span.parent is not None and span.parent.span_id == self.workflow.context.span_id, span.name
            assert span.context.trace_id == self.workflow.context.trace_id
            assert span.attributes[sc.AGENTKIT_WORKFLOW_NAME] == WORKFLOW
            assert sc.GEN_AI_WORKFLOW_NAME not in span.attributes


@pytest.fixture
def twice(make_sdk, stub: Stub) -> Callable[..., Any]:
    """``twice(call)``: run ``call()`` (a function, or a coroutine function: then await the result) with
    instrumentation off, then with ``agentkit.init(auto_instrument=True)`` inside a workflow span; the stub
    must have a route registered for each request of both runs. ``fresh`` runs before each run: for
    frameworks that keep clients between calls (a client's ``with_raw_response`` binds the methods it finds
    when first read, so one made before instrumenting would call the unpatched methods: an order these tests
    are not about)."""

    def _plain_state() -> None:
        assert not agentkit.is_active()
        assert not any(auto.instrumentor(name).is_instrumented_by_opentelemetry for name in auto.LIBRARIES)

    def sync(call: Callable[[], Any], fresh: Callable[[], Any]) -> Runs:
        _plain_state()
        fresh()
        plain = call()
        n = len(stub.bodies)
        sdk = make_sdk(auto_instrument=True)
        fresh()
        with agentkit.workflow(name=WORKFLOW):
            traced = call()
        return Runs(plain, traced, stub.bodies[:n], stub.bodies[n:], sdk)

    async def asynchronous(call: Callable[[], Any], fresh: Callable[[], Any]) -> Runs:
        _plain_state()
        fresh()
        plain = await call()
        n = len(stub.bodies)
        sdk = make_sdk(auto_instrument=True)
        fresh()
        async with agentkit.workflow(name=WORKFLOW):
            traced = await call()
        return Runs(plain, traced, stub.bodies[:n], stub.bodies[n:], sdk)

    def run(call: Callable[[], Any], fresh: Callable[[], Any] = lambda: None) -> Any:
        return asynchronous(call, fresh) if inspect.iscoroutinefunction(call) else sync(call, fresh)

    return run


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes, sequences as tuples (for comparing with ==)."""
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in (span.attributes or {}).items()}


def assert_usage(span: ReadableSpan, *, provider: str, request_model: str, response_model: str,
                 input_tokens: int | None, output_tokens: int | None, finish_reasons: tuple[str, ...] | None,
                 cache_read: int | None = None, cache_write: int | None = None,
                 response_id: str | None = None) -> None:
    """The span's provider, models, tokens, cache tokens and finish reasons (None: must be absent)."""
    a = attrs(span)
    assert a[sc.GEN_AI_PROVIDER_NAME] == provider
    assert a[sc.GEN_AI_REQUEST_MODEL] == request_model
    assert a.get(sc.GEN_AI_RESPONSE_MODEL) == response_model
    if response_id is not None:
        assert a.get(sc.GEN_AI_RESPONSE_ID) == response_id
    assert a.get(sc.GEN_AI_USAGE_INPUT_TOKENS) == input_tokens
    assert a.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS) == output_tokens
    assert a.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) == cache_read
    assert a.get(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) == cache_write
    assert a.get(sc.GEN_AI_RESPONSE_FINISH_REASONS) == finish_reasons
    if input_tokens is not None:
        assert a[sc.AGENTKIT_COST_USD] > 0


def headers_without_date(headers: Any) -> dict[str, str]:
    """Response headers as the framework returned them, less the ones that differ between two requests."""
    return {k.lower(): v for k, v in dict(headers).items() if k.lower() not in {"date", "server"}}


async def acollect(aiterator: Any) -> list[Any]:
    return [item async for item in aiterator]


@pytest.fixture
def mcp_instrumented(sdk: Harness) -> Iterator[Harness]:
    """The mcp instrumentor on (either line: test_mcp.py, test_mcp1.py), off afterwards, nothing failed quietly."""
    from otel_agentkit import diagnostics
    from otel_agentkit.auto.mcp import MCPInstrumentor

    inst = MCPInstrumentor()
    inst.instrument()
    try:
        yield sdk
    finally:
        inst.uninstrument()
    assert diagnostics.error_counts() == {}
