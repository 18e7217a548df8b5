"""instructor structured output on the real openai client (patched by ``instructor.from_openai``) against the stub,
sync and async, and a validation retry (two requests, two spans). One chat span per request under the
caller's workflow with the usage of each response; the model instance instructor returns is the same with and
without instrumentation.

Runs in its own venv (.venvs/frameworks-instructor, built by scripts/provision/frameworks.sh): instructor's
pins hold openai below the version the main test venv has. scripts/test.sh runs it there.
"""

from __future__ import annotations

import instructor
import openai
import pydantic

from otel_agentkit import semconv as sc
from tests.auto.conftest import USER
from tests.frameworks.conftest import assert_usage, attrs

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
FIXTURE = "openai/chat_structured_tool_call.json"
INVALID = "openai/chat_structured_tool_call_invalid.json"


class Capital(pydantic.BaseModel):
    """A country's capital."""

    city: str
    country: str
    population_millions: float


def returned(model: Capital) -> tuple[dict, dict]:
    """The model instructor returned, and the completion it keeps on it (pydantic's == would compare that
    completion object by identity)."""
    return model.model_dump(), model._raw_response.model_dump()


def client(stub) -> instructor.Instructor:
    return instructor.from_openai(openai.OpenAI(base_url=stub.url("/v1"), api_key="sk-test-key", max_retries=0))


def aclient(stub) -> instructor.AsyncInstructor:
    return instructor.from_openai(openai.AsyncOpenAI(base_url=stub.url("/v1"), api_key="sk-test-key",
                                                     max_retries=0))


def assert_structured_span(span, response_id: str, output_tokens: int) -> None:
    assert_usage(span, provider="openai", request_model=MODEL, response_model=RESPONSE_MODEL,
                 response_id=response_id, input_tokens=1536, output_tokens=output_tokens, cache_read=1280,
                 finish_reasons=("stop",))
    assert attrs(span)[sc.AGENTKIT_RESPONSE_TOOL_CALLS] == ("Capital",)


def assert_forced_tool(body) -> None:
    """What instructor's TOOLS mode sent: the model's schema as the one tool, and that tool forced."""
    assert [t["function"]["name"] for t in body["tools"]] == ["Capital"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Capital"}}


def test_create_structured(twice, stub):
    stub.openai_chat(FIXTURE)
    stub.openai_chat(FIXTURE)
    runs = twice(lambda: client(stub).chat.completions.create(model=MODEL, response_model=Capital, messages=USER))
    assert returned(runs.traced) == returned(runs.plain)
    assert runs.traced.model_dump() == {"city": "Paris", "country": "France", "population_millions": 2.1}
    assert_forced_tool(runs.traced_requests[0])
    assert_structured_span(runs.call(), "chatcmpl-BdhV4kR9sT2mX7cQ1wZ8pL3nY6aFe", 19)


async def test_async_create_structured_with_completion(twice, stub):
    stub.openai_chat(FIXTURE)
    stub.openai_chat(FIXTURE)

    async def call():
        model, completion = await aclient(stub).chat.completions.create_with_completion(
            model=MODEL, response_model=Capital, messages=USER)
        return returned(model), completion.model_dump()

    runs = await twice(call)
    assert runs.traced == runs.plain
    assert runs.traced[0][0] == {"city": "Paris", "country": "France", "population_millions": 2.1}
    assert runs.traced[1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 1280
    assert_forced_tool(runs.traced_requests[0])
    assert_structured_span(runs.call(), "chatcmpl-BdhV4kR9sT2mX7cQ1wZ8pL3nY6aFe", 19)


def test_validation_retry_is_two_requests_and_two_spans(twice, stub):
    """The first answer fails validation, instructor asks again with the error: one span per request, in order."""
    for _ in range(2):
        stub.openai_chat(INVALID)
        stub.openai_chat(FIXTURE)
    runs = twice(lambda: client(stub).chat.completions.create(model=MODEL, response_model=Capital, messages=USER,
                                                                max_retries=1))
    assert returned(runs.traced) == returned(runs.plain)
    assert runs.traced.model_dump() == {"city": "Paris", "country": "France", "population_millions": 2.1}
    assert len(runs.traced_requests) == 2
    assert len(runs.traced_requests[1]["messages"]) > len(runs.traced_requests[0]["messages"])  # the error went back
    runs.assert_one_span_per_request()
    first, second = sorted(runs.calls, key=lambda s: s.start_time)
    assert_structured_span(first, "chatcmpl-BdhV3gH2jK8lM4nP6qR1sT5uW7xYz", 20)
    assert_structured_span(second, "chatcmpl-BdhV4kR9sT2mX7cQ1wZ8pL3nY6aFe", 19)
