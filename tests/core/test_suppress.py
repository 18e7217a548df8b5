"""OpenTelemetry's "suppress instrumentation" switch (``opentelemetry.instrumentation.utils.
suppress_instrumentation()``, or either of the context keys it sets) is honoured by everything that makes
agentkit spans: the decorators in every form, the context managers, ``record_llm_call`` and both client
instrumentors (the real openai and anthropic clients against the local stub). Under it the user's code runs
unchanged, the request goes out exactly as the caller made it, and no span or metric point is made; each
case is run unsuppressed too, so that the test would see the spans if suppression were ignored.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import suppress_instrumentation

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.instrument.suppress import SUPPRESS_KEY, SUPPRESS_KEY_PLAIN
from tests.auto.conftest import USER, aan, an, aoa, http_server, instrumented, oa, stub  # noqa: F401 (fixtures)


@contextmanager
def only_key(key: Any) -> Iterator[None]:
    """Suppression as code that sets one of the two keys does."""
    token = otel_context.attach(otel_context.set_value(key, True))
    try:
        yield
    finally:
        otel_context.detach(token)


SUPPRESSORS = {
    "suppress_instrumentation()": suppress_instrumentation,
    "api-key-only": lambda: only_key(SUPPRESS_KEY),
    "plain-key-only": lambda: only_key(SUPPRESS_KEY_PLAIN),
}


@pytest.fixture(params=sorted(SUPPRESSORS))
def suppressed(request) -> Callable[[], Any]:
    return SUPPRESSORS[request.param]


def nothing_recorded(sdk) -> None:
    assert sdk.spans() == []
    # every GenAI / agentkit metric without a point (the SDK's own health gauges are always observed)
    points = {name: list(m.data.data_points) for name, m in sdk.metrics().items()
              if not name.startswith("agentkit.sdk.")}
    assert not any(points.values()), sorted(name for name, p in points.items() if p)


# --- decorators and context managers --------------------------------------------------------------------------
def _forms() -> dict[str, Callable[[], Any]]:
    @agentkit.llm(provider="openai", model="gpt-4o")
    def sync_llm(x):
        return {"x": x, "usage": {"prompt_tokens": 3, "completion_tokens": 2}}

    @agentkit.tool
    async def async_tool(x):
        await asyncio.sleep(0)
        return x * 2

    @agentkit.agent(name="planner")
    def gen(n):
        yield from range(n)

    @agentkit.workflow
    async def agen(n):
        for i in range(n):
            yield i

    async def collect(n):
        return [i async for i in agen(n)]

    def managers():
        with agentkit.llm(provider="anthropic", model="claude-sonnet-4-6") as call:
            call.record(input_tokens=5, output_tokens=1)
        with agentkit.agent(name="a"), agentkit.tool(name="t"):
            pass
        return "done"

    async def async_manager():
        async with agentkit.retrieval(data_source="docs"):
            return "found"

    def record():
        now = time.time()
        agentkit.record_llm_call(provider="openai", model="gpt-4o", start_time=now - 1, end_time=now,
                                 input_tokens=10, output_tokens=2)
        return "recorded"

    return {
        "llm": lambda: sync_llm(1),
        "async tool": lambda: asyncio.run(async_tool(21)),
        "generator agent": lambda: list(gen(3)),
        "async generator workflow": lambda: asyncio.run(collect(3)),
        "context managers": managers,
        "async context manager": lambda: asyncio.run(async_manager()),
        "record_llm_call": record,
    }


@pytest.mark.parametrize("form", sorted(_forms()))
def test_decorators_and_context_managers(make_sdk, suppressed, form):
    sdk = make_sdk()
    run = _forms()[form]
    with suppressed():
        quiet = run()
    nothing_recorded(sdk)
    loud = run()  # the same code, not suppressed: spans (so the check above could fail)
    assert quiet == loud
    assert sdk.spans() != []


def test_a_suppressed_block_inside_a_traced_one(sdk):
    @agentkit.tool
    def lookup():
        return agentkit.current_call()

    with agentkit.agent(name="outer") as outer:
        with suppress_instrumentation():
            inner = lookup()
        assert agentkit.current_call() is outer
    assert [s.name for s in sdk.spans()] == ["invoke_agent outer"]
    assert inner is outer  # no span of its own: the current call is still the agent's


# --- the client instrumentors ---------------------------------------------------------------------------------
def test_openai_call_untouched(sdk, stub, instrumented, oa, suppressed):
    stub.openai_chat_stream()
    stub.openai_chat_stream()
    with suppressed():
        quiet = [c.model_dump() for c in oa.chat.completions.create(model="gpt-4o-mini", messages=USER,
                                                                    stream=True)]
    nothing_recorded(sdk)
    assert "stream_options" not in stub.bodies[0]  # nothing injected: the request as the caller made it
    loud = [c.model_dump() for c in oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)]
    assert quiet == loud
    assert stub.bodies[1]["stream_options"] == {"include_usage": True}
    assert [s.name for s in sdk.spans()] == ["chat gpt-4o-mini"]


async def test_openai_async_raw_and_embeddings(sdk, stub, instrumented, aoa):
    stub.openai_chat()
    stub.openai_embeddings()
    with suppress_instrumentation():
        raw = await aoa.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
        assert raw.parse().usage.prompt_tokens == 24
        await aoa.embeddings.create(model="text-embedding-3-small", input="hi")
    nothing_recorded(sdk)
    assert len(stub.bodies) == 2


def test_anthropic_call_untouched(sdk, stub, instrumented, an, suppressed):
    stub.anthropic_messages()
    stub.anthropic_messages()
    with suppressed():
        quiet = an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER).model_dump()
    nothing_recorded(sdk)
    loud = an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER).model_dump()
    assert quiet == loud
    assert [s.name for s in sdk.spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME)] == \
        ["chat claude-sonnet-4-6"]


async def test_anthropic_async_stream_helper(sdk, stub, instrumented, aan):
    stub.anthropic_messages("anthropic/message_stream.sse")
    with suppress_instrumentation():
        async with aan.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream:
            text = await stream.get_final_text()
    assert text
    nothing_recorded(sdk)
