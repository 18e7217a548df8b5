"""Shared by the OpenAI Agents SDK and pydantic-ai tests: a two-turn weather exchange on the local stub (the model
asks for ``get_weather``, then answers with the tool's result), served as the providers send it, and the checks
that every model request the framework made became exactly one inference span with that request's usage.

The stub answers each request by what it asked for, as the API does: JSON or SSE by the body's ``stream`` flag,
and on chat completions the usage-only chunk only when ``stream_options.include_usage`` was set. Fixtures are the
``agent_*`` files under tests/auto/fixtures/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import StatusCode
from werkzeug import Request, Response

from otel_agentkit import semconv as sc
from tests.auto.conftest import ANTHROPIC_HEADERS, OPENAI_HEADERS, Stub, fixture_bytes, sse_events
from tests.frameworks.conftest import Runs, assert_usage

QUESTION = "What is the weather in Paris?"
INSTRUCTIONS = "You answer weather questions."
TOOL_RESULT = "18C and sunny"
ANSWER = "It is 18C and sunny in Paris."


def get_weather(city: str) -> str:
    """The current weather in a city."""
    assert city == "Paris"
    return TOOL_RESULT


@dataclass(frozen=True)
class Turn:
    """One model request of the exchange: the fixtures that answer it and what its span must carry."""

    json_fixture: str
    sse_fixture: str
    response_id: str
    input_tokens: int  # all input tokens, cached ones included (the semconv's gen_ai.usage.input_tokens)
    output_tokens: int
    cache_read: int
    cache_write: int | None  # None: the provider does not report cache writes
    finish_reason: str


@dataclass(frozen=True)
class Exchange:
    provider: str
    path: str
    request_model: str
    response_model: str
    headers: dict[str, str]
    turns: tuple[Turn, Turn]

    def serve(self, stub: Stub) -> None:
        """Register the two turns on the stub (one-shot routes, answered in order)."""
        for turn in self.turns:
            stub.handler(self.path, _answer(stub, turn, self.headers))


def _answer(stub: Stub, turn: Turn, headers: dict[str, str]) -> Any:
    def handler(request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        stub.bodies.append(body)
        if not body.get("stream"):
            return Response(fixture_bytes(turn.json_fixture), headers=headers, content_type="application/json")
        name = turn.sse_fixture
        if (body.get("stream_options") or {}).get("include_usage"):
            name = name.replace(".sse", "_usage.sse")
        return Response(iter(sse_events(fixture_bytes(name))), headers=headers,
                        content_type="text/event-stream; charset=utf-8")

    return handler


RESPONSES = Exchange(
    sc.PROVIDER_OPENAI, "/v1/responses", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", OPENAI_HEADERS, (
        Turn("openai/agent_response_tool_call.json", "openai/agent_response_tool_call_stream.sse",
             "resp_68b1c0a0d4e5f60718293a4b5c6d7e81", 312, 18, 256, None, "completed"),
        Turn("openai/agent_response_answer.json", "openai/agent_response_answer_stream.sse",
             "resp_68b1c0a2c3d4e5f60718293a4b5c6d7e82", 352, 12, 256, None, "completed"),
    ))
CHAT = Exchange(
    sc.PROVIDER_OPENAI, "/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", OPENAI_HEADERS, (
        Turn("openai/agent_chat_tool_call.json", "openai/agent_chat_tool_call_stream.sse",
             "chatcmpl-CAgT7kR2mW9xQ4vN1pZ8sL3bY6dEa", 96, 17, 64, None, "tool_calls"),
        Turn("openai/agent_chat_answer.json", "openai/agent_chat_answer_stream.sse",
             "chatcmpl-CAgT9pX4nV2zR7wM3qK5sB8cU1fHb", 131, 11, 64, None, "stop"),
    ))
ANTHROPIC = Exchange(
    sc.PROVIDER_ANTHROPIC, "/v1/messages", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", ANTHROPIC_HEADERS, (
        # The first turn writes the prompt cache, the second reads it; input_tokens adds both to the uncached.
        Turn("anthropic/agent_message_tool_use.json", "anthropic/agent_message_tool_use_stream.sse",
             "msg_01HkT6vQ9xW2nR5mJ8pL3cYb", 36 + 1520, 54, 0, 1520, "tool_use"),
        Turn("anthropic/agent_message_answer.json", "anthropic/agent_message_answer_stream.sse",
             "msg_01PzR4sN7uV1kM9wQ2tX6dFe", 92 + 1520, 15, 1520, 0, "end_turn"),
    ))


def assert_traced(runs: Runs, exchange: Exchange) -> None:
    """Two requests per run, each one inference span under the workflow with its own turn's usage, and the
    framework's result the same traced as plain."""
    assert runs.traced == runs.plain
    assert len(runs.plain_requests) == 2
    runs.assert_one_span_per_request()
    spans = sorted(runs.calls, key=lambda s: s.start_time)
    for span, turn, body in zip(spans, exchange.turns, runs.traced_requests):
        assert span.name == f"chat {exchange.request_model}"
        assert_usage(span, provider=exchange.provider, request_model=exchange.request_model,
                     response_model=exchange.response_model, response_id=turn.response_id,
                     input_tokens=turn.input_tokens, output_tokens=turn.output_tokens,
                     cache_read=turn.cache_read, cache_write=turn.cache_write,
                     finish_reasons=(turn.finish_reason,))
        assert bool(span.attributes.get(sc.GEN_AI_REQUEST_STREAM, False)) is bool(body.get("stream"))
        assert span.status.status_code is not StatusCode.ERROR and sc.ERROR_TYPE not in span.attributes
    assert tuple(spans[0].attributes.get(sc.AGENTKIT_RESPONSE_TOOL_CALLS, ())) == ("get_weather",)
