"""pydantic-ai traced through the openai and anthropic instrumentors: Agent.run and Agent.run_stream with a tool,
on the OpenAI Responses model (what ``"openai:..."`` means in pydantic-ai 2), the OpenAI Chat Completions model
and the Anthropic model, against the local stub. Each run makes two model requests (the tool call, then the
answer); each must be one inference span with its own usage under the caller's workflow span, and what the run
returns must not change when traced.

pydantic-ai's Anthropic model sends every request through ``client.beta.messages.create``, and with its default
``max_tokens`` (the model's maximum output) the anthropic client refuses a non-streamed request, so pydantic-ai
streams even ``Agent.run`` on the wire (the stub answers by the request's ``stream`` flag, as the API does).
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from tests.auto.conftest import Stub
from tests.frameworks._agents_support import (ANSWER, ANTHROPIC, CHAT, INSTRUCTIONS, QUESTION, RESPONSES, Exchange,
                                              assert_traced, get_weather)

ALL_MODELS = pytest.mark.parametrize("exchange", [RESPONSES, CHAT, ANTHROPIC],
                                     ids=["openai_responses", "openai_chat", "anthropic"])
_PER_RUN = {"timestamp", "run_id", "conversation_id"}  # set from the clock or a fresh id on every run


def _agent(stub: Stub, exchange: Exchange) -> Agent:
    if exchange is ANTHROPIC:
        client = anthropic.AsyncAnthropic(base_url=stub.url(), api_key="sk-ant-test", max_retries=0)
        model: Any = AnthropicModel(exchange.request_model, provider=AnthropicProvider(anthropic_client=client))
    else:
        oa = openai.AsyncOpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0)
        model_cls = OpenAIResponsesModel if exchange is RESPONSES else OpenAIChatModel
        model = model_cls(exchange.request_model, provider=OpenAIProvider(openai_client=oa))
    return Agent(model, instructions=INSTRUCTIONS, tools=[get_weather])


def _messages(result: Any) -> list[dict[str, Any]]:
    """The run's messages as JSON, less what differs between any two runs (clock times, run ids)."""
    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items() if k not in _PER_RUN}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node

    dumped = ModelMessagesTypeAdapter.dump_python(result.all_messages(), mode="json")
    return [{**scrub(m), "parts": scrub(m["parts"])} for m in dumped]


def agent_run(stub: Stub, exchange: Exchange) -> Any:
    async def call() -> dict[str, Any]:
        exchange.serve(stub)
        result = await _agent(stub, exchange).run(QUESTION)
        assert result.output == ANSWER
        return {"output": result.output, "messages": _messages(result), "usage": result.usage}

    return call


def agent_run_stream(stub: Stub, exchange: Exchange) -> Any:
    async def call() -> dict[str, Any]:
        exchange.serve(stub)
        async with _agent(stub, exchange).run_stream(QUESTION) as result:
            chunks = [text async for text in result.stream_output(debounce_by=None)]
            output = await result.get_output()
        assert output == ANSWER and chunks[-1] == ANSWER
        return {"output": output, "chunks": chunks, "messages": _messages(result), "usage": result.usage}

    return call


@ALL_MODELS
async def test_agent_run(twice, stub, exchange):
    runs = await twice(agent_run(stub, exchange))
    assert runs.traced_requests == runs.plain_requests
    if exchange is ANTHROPIC:
        # Streamed behind the scenes: the client first refused the non-streamed call (a ValueError raised before
        # any request was sent, caught by pydantic-ai), which is no model call and must leave no span.
        assert all(b["stream"] is True for b in runs.traced_requests)
    assert runs.plain["usage"].requests == 2 and runs.plain["usage"].tool_calls == 1
    assert_traced(runs, exchange)


@ALL_MODELS
async def test_agent_run_stream(twice, stub, exchange):
    runs = await twice(agent_run_stream(stub, exchange))
    assert runs.traced_requests == runs.plain_requests
    assert all(b["stream"] is True for b in runs.traced_requests)
    if exchange is CHAT:  # pydantic-ai asks for the usage chunk itself
        assert all(b["stream_options"] == {"include_usage": True} for b in runs.traced_requests)
    assert runs.plain["usage"].input_tokens == sum(t.input_tokens for t in exchange.turns)
    assert_traced(runs, exchange)
