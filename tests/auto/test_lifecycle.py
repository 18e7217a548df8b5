"""Stream span lifetimes (exhausted, closed, left by ``break``, garbage-collected: ended exactly once), exact
uninstrumentation, unsupported versions, the SDK switched off, and no double spans (a user's agentkit.llm,
two agentkit wrappers, another instrumentation's span)."""

from __future__ import annotations

import gc
import logging

import openai
import pytest
import wrapt
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from openai.resources.chat.completions import AsyncCompletions, Completions

import otel_agentkit as agentkit
from otel_agentkit import auto, semconv as sc
from otel_agentkit.auto._common import Patch
from otel_agentkit.auto.calls import sync_wrapper
from otel_agentkit.auto.openai import ChatEndpoint, OpenAIInstrumentor
from tests.auto.conftest import USER

SPAN = "chat gpt-4o-mini"


def _one_ended_span(sdk):
    spans = sdk.spans()
    assert [s.name for s in spans] == [SPAN], "exactly one span, ended exactly once"
    return spans[0]


# --- stream lifetimes ---------------------------------------------------------------------------------------------
def test_break_ends_the_span(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    stream = oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    span = _one_ended_span(sdk)  # ended at the break, though ``stream`` is still referenced
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 3
    assert span.status.status_code is trace.StatusCode.UNSET
    stream.close()
    assert len(sdk.spans()) == 1


def test_close_without_reading_ends_the_span(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    stream = oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    assert sdk.spans() == []  # open while the stream is
    stream.close()
    span = _one_ended_span(sdk)
    assert sc.AGENTKIT_STREAM_CHUNKS not in span.attributes


def test_with_block_ends_the_span(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    with oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as stream:
        next(stream)
    assert _one_ended_span(sdk).attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1


def test_garbage_collected_stream_ends_the_span(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    stream = oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    next(stream)
    del stream
    gc.collect()
    assert _one_ended_span(sdk).attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1


async def test_async_break_and_exhaustion(sdk, stub, instrumented, aoa):
    stub.openai_chat_stream()
    stub.openai_chat_stream()
    stream = await aoa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    async for _ in stream:
        break
    assert len(sdk.spans()) == 1 and sdk.spans()[0].attributes[sc.AGENTKIT_STREAM_CHUNKS] == 1
    await stream.close()
    async with await aoa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as second:
        assert len([c async for c in second]) == 9
    spans = sdk.spans()
    assert len(spans) == 2 and spans[1].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24


def test_anthropic_helper_left_early(sdk, stub, instrumented, an):
    stub.anthropic_messages("anthropic/message_stream.sse")
    with an.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream:
        for event in stream:
            if event.type == "content_block_start":
                break
    span = sdk.span("chat claude-sonnet-4-6")
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 25 + 2048  # message_start was read
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


# --- instrument / uninstrument ------------------------------------------------------------------------------------
def _methods():
    from anthropic.resources.messages.messages import AsyncMessages, Messages
    from openai.resources.embeddings import AsyncEmbeddings, Embeddings
    from openai.resources.responses import AsyncResponses, Responses

    import anthropic._base_client as base_client

    pairs = [(cls, name) for cls in (Completions, AsyncCompletions, Responses, AsyncResponses)
             for name in ("create", "parse")]
    pairs += [(Embeddings, "create"), (AsyncEmbeddings, "create")]
    pairs += [(cls, name) for cls in (Messages, AsyncMessages) for name in ("create", "parse", "stream")]
    pairs.append((base_client, "start_api_call_span"))
    return pairs


def test_uninstrument_restores_the_exact_originals(sdk, stub, oa):
    before = {(owner, name): owner.__dict__[name] for owner, name in _methods()}
    assert {"anthropic", "openai"} <= set(auto.instrument_all())
    assert all(owner.__dict__[name] is not before[(owner, name)] for owner, name in _methods())
    assert all(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in _methods())
    assert {"anthropic", "openai"} <= set(auto.uninstrument_all())
    assert all(owner.__dict__[name] is before[(owner, name)] for owner, name in _methods())
    stub.openai_chat()
    oa.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert sdk.spans() == []
    assert auto.uninstrument("openai") is False  # nothing left to undo


def test_uninstrument_under_someone_elses_wrapper(sdk, stub, oa, caplog):
    original = Completions.__dict__["create"]
    assert auto.instrument("openai")
    theirs = wrapt.FunctionWrapper(Completions.__dict__["create"], lambda w, i, a, k: w(*a, **k))
    Completions.create = theirs
    try:
        with caplog.at_level(logging.WARNING, logger="otel_agentkit.auto"):
            auto.uninstrument("openai")
        assert Completions.__dict__["create"] is theirs  # theirs is never removed by us
        assert "wrapped again" in caplog.text
        stub.openai_chat()
        oa.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert sdk.spans() == []  # ours, still underneath, is switched off
    finally:
        Completions.create = original


class _FutureOnly(OpenAIInstrumentor):
    """The same instrumentor, declaring support only for versions that do not exist (the installed one is
    then 'unsupported'; nothing is mocked)."""

    _instance = None
    requirement = "openai >= 99"


def test_unsupported_version_warns_and_patches_nothing(sdk, caplog):
    before = Completions.__dict__["create"]
    inst = _FutureOnly()
    with caplog.at_level(logging.WARNING, logger="otel_agentkit.auto"):
        inst.instrument()
    try:
        assert Completions.__dict__["create"] is before
        assert f"openai {openai.__version__} is not supported" in caplog.text and "openai >= 99" in caplog.text
    finally:
        inst.uninstrument()


def test_sdk_off_calls_straight_through(stub, oa, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert auto.instrument("openai")  # patched, but no recorder: every call goes straight through
    try:
        assert not agentkit.is_active()
        stub.openai_chat()
        assert oa.chat.completions.create(model="gpt-4o-mini", messages=USER).usage.prompt_tokens == 24
    finally:
        auto.uninstrument("openai")


def test_unknown_library_name():
    with pytest.raises(ValueError, match="unknown library 'nosuchlib'"):
        auto.instrument("nosuchlib")


# --- no double spans ----------------------------------------------------------------------------------------------
def test_feeds_a_users_llm_block(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()
    with agentkit.llm() as call:  # no provider or model given: the call fills them in
        chunks = list(oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True, seed=3))
        assert call.span.is_recording()
    assert len(chunks) == 9
    span = _one_ended_span(sdk)
    a = span.attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai" and a[sc.GEN_AI_REQUEST_SEED] == 3
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 9 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert sdk.points(sc.METRIC_INFERENCE_DURATION)[0].attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"


def test_users_values_win(sdk, stub, instrumented, an):
    stub.anthropic_messages()

    @agentkit.llm(provider="anthropic", model="claude-sonnet-4-6", max_tokens=999)
    def ask():
        return an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)

    ask()
    a = sdk.span("chat claude-sonnet-4-6").attributes
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 999 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
    assert len(sdk.spans()) == 1


def test_feeds_a_decorated_generator_counting_chunks_once(sdk, stub, instrumented, oa):
    stub.openai_chat_stream()

    @agentkit.llm(provider="openai", model="gpt-4o-mini")
    def tokens():
        for chunk in oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True):
            yield chunk.choices[0].delta.content or ""

    assert "".join(tokens()) == "The capital of France is Paris."
    a = _one_ended_span(sdk).attributes
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 9 and a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 24


def test_two_agentkit_wrappers_make_one_span(sdk, stub, instrumented, oa):
    inner = Completions.__dict__["create"]
    layer = Patch(Completions, "create", inner, None)
    Completions.create = wrapt.FunctionWrapper(inner, sync_wrapper(ChatEndpoint(openai.Stream, openai.AsyncStream,
                                                                                 True))(layer))
    try:
        stub.openai_chat()
        stub.openai_chat_stream()
        oa.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert len(list(oa.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))) == 9
    finally:
        Completions.create = inner
    assert [s.name for s in sdk.spans()] == [SPAN, SPAN]
    assert stub.bodies[1]["stream_options"] == {"include_usage": True}


def test_another_instrumentations_span_is_not_duplicated(sdk, stub, instrumented, oa):
    """Another GenAI instrumentation layered outside ours (here a wrapper that opens its own GenAI client span,
    as opentelemetry-instrumentation-openai-v2 does, on its own tracer provider): ours stays out."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(sdk.spans_exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")

    def other(wrapped, instance, args, kwargs):
        with tracer.start_as_current_span("chat gpt-4o-mini (other)", kind=SpanKind.CLIENT,
                                          attributes={"gen_ai.system": "openai"}):
            return wrapped(*args, **kwargs)

    inner = Completions.__dict__["create"]
    Completions.create = wrapt.FunctionWrapper(inner, other)
    try:
        stub.openai_chat()
        oa.chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        Completions.create = inner
    assert [s.name for s in sdk.spans()] == ["chat gpt-4o-mini (other)"]


def test_agent_and_tool_spans_parent_the_auto_span(sdk, stub, instrumented, oa):
    stub.openai_chat("openai/chat_tool_calls.json")

    @agentkit.agent(name="planner")
    def plan():
        return oa.chat.completions.create(model="gpt-4o-mini", messages=USER)

    plan()
    chat, agent = sdk.spans()
    assert chat.parent.span_id == agent.context.span_id
    assert chat.attributes[sc.AGENTKIT_AGENT_NAME] == "planner"  # gen_ai.agent.name: agent spans only (v0.1.0)
    assert sc.GEN_AI_AGENT_NAME not in chat.attributes
    assert agent.attributes[sc.GEN_AI_AGENT_NAME] == "planner"
    cost = sdk.points(sc.METRIC_COST)
    assert cost and cost[0].attributes[sc.COST_ATTR_AGENT] == "planner"


def test_anthropic_inside_openai_block_is_its_own_span(sdk, stub, instrumented, an):
    """An llm block fed by one call: a second call of another category inside it (embeddings) is its own span."""
    stub.anthropic_messages()
    with agentkit.embedding(provider="openai", model="text-embedding-3-small"):
        an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)
    names = [s.name for s in sdk.spans()]
    assert names == ["chat claude-sonnet-4-6", "embeddings text-embedding-3-small"]



def test_init_auto_instrument_and_shutdown_restores(make_sdk, httpserver):
    """init(auto_instrument=[...]) patches the client; shutdown() puts the original methods back."""
    import openai

    import otel_agentkit as agentkit
    from openai.resources.chat.completions import Completions

    original = Completions.__dict__["create"]
    sdk = make_sdk(auto_instrument=["openai"])
    assert Completions.__dict__["create"] is not original
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
    client = openai.OpenAI(api_key="sk-test", base_url=httpserver.url_for("/v1"), max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    (span,) = sdk.spans()
    assert span.name == "chat gpt-4o-mini" and span.attributes["gen_ai.usage.input_tokens"] == 3
    agentkit.shutdown()
    assert Completions.__dict__["create"] is original


def test_init_auto_instrument_unknown_library_fails_init(tmp_path):
    import pytest

    import otel_agentkit as agentkit
    from otel_agentkit import ConfigError

    with pytest.raises(ConfigError, match="invalid auto_instrument='nosuchlib'"):
        agentkit.init(auto_instrument=["nosuchlib"], exporters="none", home=tmp_path)
    assert not agentkit.is_active()


def test_auto_instrument_true_imports_nothing_and_instruments_on_first_import(tmp_path):
    """init(auto_instrument=True) must not import every installed library (seconds at start with eight of
    them): one the application imports later is instrumented then, and nothing after shutdown()."""
    import json
    import subprocess
    import sys

    code = f"""
import json, sys
import otel_agentkit as agentkit
from otel_agentkit import auto
agentkit.init(auto_instrument=True, exporters="none", metric_exporters="none", home={str(tmp_path)!r})
before = [m for m in ("cohere", "mistralai", "boto3", "google.genai", "agents", "mcp") if m in sys.modules]
import cohere
during = auto.instrumentor("cohere").is_instrumented_by_opentelemetry
agentkit.shutdown()
after = auto.instrumentor("cohere").is_instrumented_by_opentelemetry
import mistralai
late = auto.instrumentor("mistralai").is_instrumented_by_opentelemetry
print(json.dumps([before, during, after, late]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    before, during, after, late = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [] and during is True and after is False and late is False
