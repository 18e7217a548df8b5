"""The OpenAI Agents SDK (``openai-agents``) traced through the openai instrumentor: Runner.run and
Runner.run_streamed with a function tool, on the Responses model and the Chat Completions model, against the
local stub. The run makes two model requests (the tool call, then the answer); each must be one inference span
with its own usage, under the caller's workflow span, and the run's result must not change when traced.

The SDK's own tracing (which exports to OpenAI's servers) is switched off with ``set_tracing_disabled(True)``:
there is no network here, and it is a separate system from OTel that these tests do not cover.
"""

from __future__ import annotations

from typing import Any, Iterator

import openai
import pytest
from agents import (Agent, ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner,
                    function_tool, set_tracing_disabled)
from agents.tracing import get_trace_provider
from agents.tracing.traces import NoOpTrace

from tests.auto.conftest import Stub
from tests.frameworks._agents_support import (ANSWER, CHAT, INSTRUCTIONS, QUESTION, RESPONSES, Exchange,
                                              assert_traced, get_weather)

BOTH_MODELS = pytest.mark.parametrize("exchange", [RESPONSES, CHAT], ids=["responses", "chat_completions"])


@pytest.fixture(autouse=True)
def sdk_tracing_off() -> Iterator[None]:
    set_tracing_disabled(True)
    assert isinstance(get_trace_provider().create_trace("probe"), NoOpTrace)  # nothing would be exported
    yield


def _agent(stub: Stub, exchange: Exchange, settings: ModelSettings | None) -> Agent:
    client = openai.AsyncOpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)
    model_cls = OpenAIResponsesModel if exchange is RESPONSES else OpenAIChatCompletionsModel
    model = model_cls(model=exchange.request_model, openai_client=client)
    return Agent(name="weather", instructions=INSTRUCTIONS, tools=[function_tool(get_weather)], model=model,
                 model_settings=settings or ModelSettings())


def _run_summary(result: Any) -> dict[str, Any]:
    """What the caller gets back, in comparable form (model responses with usage and request ids, items)."""
    return {"final_output": result.final_output, "items": result.to_input_list(),
            "raw_responses": list(result.raw_responses)}


def _event_summary(event: Any) -> Any:
    if event.type == "raw_response_event":
        data = event.data.model_dump()
        if "response" in data:  # the chat model stamps the Responses events it makes up with time.time()
            data["response"].pop("created_at")
        return event.type, data
    if event.type == "run_item_stream_event":
        raw = event.item.raw_item
        return event.type, event.name, raw.model_dump() if hasattr(raw, "model_dump") else raw
    return event.type, event.new_agent.name


def runner_run(stub: Stub, exchange: Exchange, settings: ModelSettings | None = None) -> Any:
    async def call() -> dict[str, Any]:
        exchange.serve(stub)
        result = await Runner.run(_agent(stub, exchange, settings), QUESTION)
        assert result.final_output == ANSWER
        return _run_summary(result)

    return call


def runner_run_streamed(stub: Stub, exchange: Exchange, settings: ModelSettings | None = None) -> Any:
    async def call() -> dict[str, Any]:
        exchange.serve(stub)
        result = Runner.run_streamed(_agent(stub, exchange, settings), QUESTION)
        events = [_event_summary(e) async for e in result.stream_events()]
        assert result.is_complete and result.final_output == ANSWER
        return {**_run_summary(result), "events": events}

    return call


@BOTH_MODELS
async def test_runner_run(twice, stub, exchange):
    runs = await twice(runner_run(stub, exchange))
    assert runs.traced_requests == runs.plain_requests
    assert_traced(runs, exchange)


@BOTH_MODELS
async def test_runner_run_streamed(twice, stub, exchange):
    """The Responses model streams through ``responses.with_streaming_response.create`` (the raw response kept
    open while the SSE is read); the chat model through ``chat.completions.create(stream=True)``. Pointed at a
    server that is not api.openai.com, the chat model does not ask for include_usage: the instrumentor may add
    it only where the caller never sees the extra chunk (the run's events and usage stay the same)."""
    runs = await twice(runner_run_streamed(stub, exchange))
    drop = lambda bodies: [{k: v for k, v in b.items() if k != "stream_options"} for b in bodies]  # noqa: E731
    assert drop(runs.traced_requests) == drop(runs.plain_requests)
    assert_traced(runs, exchange)


async def test_chat_model_streamed_asking_for_usage(twice, stub):
    """Against api.openai.com the chat model asks for include_usage itself, and its usage chunk reaches it."""
    runs = await twice(runner_run_streamed(stub, CHAT, ModelSettings(include_usage=True)))
    assert [r.usage.input_tokens for r in runs.plain["raw_responses"]] == [96, 131]
    assert runs.traced_requests == runs.plain_requests
    assert all(b["stream_options"] == {"include_usage": True} for b in runs.traced_requests)
    assert_traced(runs, CHAT)
