"""GenAI metrics: names, units, explicit buckets, attributes, legacy switch, failed calls, streams, cost."""

from __future__ import annotations

import pytest

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc


@pytest.fixture
def one_call(sdk):
    _one_call()
    return sdk


def _one_call():
    @agentkit.workflow(name="wf")
    def flow():
        with agentkit.agent(name="writer"):
            return ask()

    @agentkit.llm(provider="openai", model="gpt-4o", server_address="api.openai.com", server_port=443)
    def ask():
        agentkit.current_call().record(input_tokens=1000, output_tokens=200, cache_read_tokens=400,
                                       response_model="gpt-4o-2024-08-06")
        return "x"

    flow()


def test_inference_metrics_units_buckets_attributes(one_call):
    metrics = one_call.metrics()
    duration = metrics[sc.METRIC_INFERENCE_DURATION]
    assert duration.unit == "s"
    (point,) = duration.data.data_points
    assert tuple(point.explicit_bounds) == sc.DURATION_BUCKETS
    assert dict(point.attributes) == {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06", sc.SERVER_ADDRESS: "api.openai.com", sc.SERVER_PORT: 443}
    (inp,) = metrics[sc.METRIC_INPUT_TOKENS].data.data_points
    (out,) = metrics[sc.METRIC_OUTPUT_TOKENS].data.data_points
    assert metrics[sc.METRIC_INPUT_TOKENS].unit == "{token}"
    assert tuple(inp.explicit_bounds) == sc.TOKEN_BUCKETS
    assert (inp.sum, out.sum) == (1000, 200)


def test_legacy_metrics_off_by_default(one_call):
    names = set(one_call.metrics())
    assert sc.METRIC_LEGACY_TOKEN_USAGE not in names and sc.METRIC_LEGACY_OPERATION_DURATION not in names
    # v0.1.0 counts tokens on the gen_ai.client.inference.usage.* counters (gen_ai.token.modality required)
    usage = {name: [(dict(p.attributes), p.value) for p in one_call.points(name)]
             for name in (sc.METRIC_USAGE_INPUT_TOKENS, sc.METRIC_USAGE_OUTPUT_TOKENS,
                          sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS)}
    attrs = {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06", sc.SERVER_ADDRESS: "api.openai.com", sc.SERVER_PORT: 443,
        sc.GEN_AI_TOKEN_MODALITY: "text"}
    assert usage == {sc.METRIC_USAGE_INPUT_TOKENS: [(attrs, 1000)], sc.METRIC_USAGE_OUTPUT_TOKENS: [(attrs, 200)],
                     sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS: [(attrs, 400)]}


def test_legacy_metrics_can_be_switched_on(make_sdk):
    sdk = make_sdk(legacy_metrics=True)
    _one_call()
    metrics = sdk.metrics()
    points = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.sum for p in metrics[sc.METRIC_LEGACY_TOKEN_USAGE].data.data_points}
    assert points == {"input": 1000, "output": 200}
    (legacy,) = metrics[sc.METRIC_LEGACY_OPERATION_DURATION].data.data_points
    assert tuple(legacy.explicit_bounds) == sc.DURATION_BUCKETS
    assert sc.METRIC_USAGE_INPUT_TOKENS in metrics  # the v0.1.0 counters stay


def test_legacy_metrics_can_be_switched_off(make_sdk, monkeypatch):
    monkeypatch.setenv("AGENTKIT_LEGACY_METRICS", "false")
    sdk = make_sdk()
    agentkit.record_llm_call(provider="openai", model="gpt-4o", start_time=1.0, end_time=2.0, input_tokens=1,
                             output_tokens=1)
    names = set(sdk.metrics())
    assert sc.METRIC_INFERENCE_DURATION in names
    assert sc.METRIC_LEGACY_TOKEN_USAGE not in names and sc.METRIC_LEGACY_OPERATION_DURATION not in names


def test_cost_counter(one_call):
    (point,) = one_call.points(sc.METRIC_COST)
    assert dict(point.attributes) == {"provider": "openai", "model": "gpt-4o-2024-08-06", "workflow": "wf",
                                      "agent": "writer"}
    # gpt-4o: input 2.5, cached input 1.25, output 10 USD per million tokens.
    expected = (600 * 2.5 + 400 * 1.25 + 200 * 10.0) / 1e6
    assert point.value == pytest.approx(expected)
    llm_span = one_call.span("chat gpt-4o")
    assert llm_span.attributes[sc.AGENTKIT_COST_USD] == pytest.approx(expected)


def test_agent_and_workflow_durations_and_calls(one_call):
    names = set(one_call.metrics())
    assert sc.METRIC_INVOCATION_DURATION not in names  # pre-release only
    points = one_call.points(sc.METRIC_INVOKE_AGENT_DURATION)
    assert one_call.metrics()[sc.METRIC_INVOKE_AGENT_DURATION].unit == "s"
    by_op = {p.attributes[sc.GEN_AI_OPERATION_NAME]: p for p in points}
    assert len(points) == 2
    assert dict(by_op["invoke_workflow"].attributes) == {sc.GEN_AI_OPERATION_NAME: "invoke_workflow",
                                                         sc.GEN_AI_AGENT_NAME: "wf"}
    assert dict(by_op["invoke_agent"].attributes) == {sc.GEN_AI_OPERATION_NAME: "invoke_agent",
                                                      sc.GEN_AI_AGENT_NAME: "writer"}
    assert tuple(by_op["invoke_agent"].explicit_bounds) == sc.INVOCATION_BUCKETS
    # calls made per run: one inference below the agent (and so below the workflow too), no tools
    for metric, expected, unit in ((sc.METRIC_INVOKE_AGENT_INFERENCE_CALLS, 1, "{inference_call}"),
                                   (sc.METRIC_INVOKE_AGENT_TOOL_CALLS, 0, "{tool_call}")):
        runs = {p.attributes[sc.GEN_AI_AGENT_NAME]: (p.count, p.sum) for p in one_call.points(metric)}
        assert runs == {"wf": (1, expected), "writer": (1, expected)}
        assert one_call.metrics()[metric].unit == unit


def test_agent_workflow_durations_pre_release(make_sdk):
    sdk = make_sdk(semconv="pre-release")
    _one_call()
    assert sdk.points(sc.METRIC_INVOKE_AGENT_DURATION) == []
    points = sdk.points(sc.METRIC_INVOCATION_DURATION)
    by_op = {p.attributes[sc.GEN_AI_OPERATION_NAME]: p for p in points}
    assert by_op["invoke_workflow"].attributes[sc.GEN_AI_INVOCATION_IS_NESTED] is False
    assert by_op["invoke_agent"].attributes[sc.GEN_AI_INVOCATION_IS_NESTED] is True
    assert by_op["invoke_agent"].attributes[sc.GEN_AI_WORKFLOW_NAME] == "wf"
    assert tuple(by_op["invoke_agent"].explicit_bounds) == sc.INVOCATION_BUCKETS


@pytest.mark.parametrize("semconv, expected", [
    ("v0.1.0", {sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_TOOL_NAME: "calc",
                sc.GEN_AI_TOOL_TYPE: "function"}),
    ("pre-release", {sc.GEN_AI_TOOL_NAME: "calc", sc.GEN_AI_TOOL_TYPE: "function", sc.GEN_AI_AGENT_NAME: "a"}),
])
def test_tool_duration(make_sdk, semconv, expected):
    sdk = make_sdk(semconv=semconv)
    with agentkit.agent(name="a"):
        with agentkit.tool(name="calc"):
            pass
    (point,) = sdk.points(sc.METRIC_TOOL_DURATION)
    assert dict(point.attributes) == expected


def test_tool_duration_error_type(sdk):
    with pytest.raises(KeyError):
        with agentkit.tool(name="calc"):
            raise KeyError("x")
    (point,) = sdk.points(sc.METRIC_TOOL_DURATION)
    assert dict(point.attributes) == {sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_TOOL_NAME: "calc",
                                      sc.GEN_AI_TOOL_TYPE: "function", sc.ERROR_TYPE: "KeyError"}


def test_failed_call_records_zero_tokens_and_error_type(sdk):
    @agentkit.llm(provider="anthropic", model="claude-haiku-4-5")
    def ask():
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        ask()
    (inp,) = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert inp.sum == 0 and inp.count == 1
    assert inp.attributes[sc.ERROR_TYPE] == "TimeoutError"
    (dur,) = sdk.points(sc.METRIC_INFERENCE_DURATION)
    assert dur.attributes[sc.ERROR_TYPE] == "TimeoutError"
    assert sdk.points(sc.METRIC_COST) == []


def test_stream_time_to_first_chunk_and_per_chunk(sdk):
    @agentkit.llm(provider="openai", model="gpt-4o")
    def stream():
        yield {"choices": [{"delta": {"content": "a"}}]}
        yield {"choices": [{"delta": {"content": "b"}}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 9, "completion_tokens": 2}}

    assert len(list(stream())) == 3
    (ttfc,) = sdk.points(sc.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc.count == 1
    (per_chunk,) = sdk.points(sc.METRIC_TIME_PER_OUTPUT_CHUNK)
    assert per_chunk.count == 2
    span = sdk.span("chat gpt-4o")
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9  # usage from the final chunk
    assert tuple(span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


def test_embeddings_record_input_tokens_only(sdk):
    _embed()
    span = sdk.span("embeddings text-embedding-3-small")
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 5
    # v0.1.0: embeddings have their own metrics, not the inference ones
    for name in (sc.METRIC_OUTPUT_TOKENS, sc.METRIC_INPUT_TOKENS, sc.METRIC_INFERENCE_DURATION,
                 sc.METRIC_USAGE_INPUT_TOKENS, sc.METRIC_USAGE_OUTPUT_TOKENS):
        assert sdk.points(name) == [], name
    attrs = {sc.GEN_AI_OPERATION_NAME: "embeddings", sc.GEN_AI_PROVIDER_NAME: "openai",
             sc.GEN_AI_REQUEST_MODEL: "text-embedding-3-small", sc.GEN_AI_RESPONSE_MODEL: "text-embedding-3-small"}
    (inp,) = sdk.points(sc.METRIC_EMBEDDINGS_INPUT_TOKENS)
    assert inp.sum == 5 and inp.count == 1 and dict(inp.attributes) == attrs
    assert tuple(inp.explicit_bounds) == sc.TOKEN_BUCKETS
    (dur,) = sdk.points(sc.METRIC_EMBEDDINGS_DURATION)
    assert dur.count == 1 and dict(dur.attributes) == attrs
    assert tuple(dur.explicit_bounds) == sc.DURATION_BUCKETS


def test_embeddings_in_inference_metrics_pre_release(make_sdk):
    sdk = make_sdk(semconv="pre-release")
    _embed()
    assert sdk.points(sc.METRIC_EMBEDDINGS_INPUT_TOKENS) == []
    assert sdk.points(sc.METRIC_OUTPUT_TOKENS) == []
    (inp,) = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert inp.sum == 5


def _embed():
    @agentkit.embedding(provider="openai", model="text-embedding-3-small")
    def embed(texts):
        return {"object": "list", "data": [{"object": "embedding", "embedding": [0.1] * 8, "index": 0}],
                "model": "text-embedding-3-small", "usage": {"prompt_tokens": 5, "total_tokens": 5}}

    embed(["x"])


def test_unknown_model_has_no_cost_and_is_counted(sdk):
    agentkit.record_llm_call(provider="acme", model="acme-9000", start_time=10.0, end_time=11.0,
                             input_tokens=5, output_tokens=5)
    agentkit.record_llm_call(provider="acme", model="acme-9000", start_time=10.0, end_time=11.0,
                             input_tokens=5, output_tokens=5)
    span = sdk.spans()[0]
    assert sc.AGENTKIT_COST_USD not in span.attributes
    (unpriced,) = sdk.points(sc.METRIC_SDK_UNPRICED_CALLS)
    assert unpriced.value == 2 and unpriced.attributes["model"] == "acme-9000"


def test_collection_sees_every_call_that_ended_before_it(sdk):
    """The queue between the caller and the instruments is drained by the collection itself."""
    @agentkit.tool
    def t():
        return None

    for _ in range(500):
        t()
    data = sdk.reader.get_metrics_data()  # no explicit flush: the collection drains
    counts = [p.count for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
              if m.name == sc.METRIC_TOOL_DURATION for p in m.data.data_points]
    assert counts == [500]


def test_back_pressure_when_the_worker_is_behind_loses_nothing(sdk, monkeypatch):
    """With the queue full, callers record their own measurements: bounded memory, no drops."""
    from otel_agentkit.instrument import metrics as metrics_module
    from otel_agentkit.instrument import telemetry

    monkeypatch.setattr(metrics_module, "MAX_PENDING", 10)
    m = telemetry.get_active().metrics
    m.interval_s, m.wake_at = 3600.0, 1 << 30  # keep the worker asleep: it is "behind"
    m.drain()

    @agentkit.tool
    def t():
        return None

    for _ in range(50):
        t()
    assert len(m._queue) == 10
    data = sdk.reader.get_metrics_data()
    counts = [p.count for rm in data.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
              if metric.name == sc.METRIC_TOOL_DURATION for p in metric.data.data_points]
    assert counts == [50] and agentkit.sdk_drop_counts() == {}


def test_cost_is_summed_per_attribute_set_and_seen_by_the_next_collection(sdk):
    """Costs are added to the counter once per drain, per attribute set: the sums are exact."""
    def call(model: str, tokens: int) -> None:
        with agentkit.llm(provider="openai", model=model) as c:
            c.record(input_tokens=tokens, output_tokens=0)

    for i in range(30):
        call("gpt-4o" if i % 3 else "gpt-4o-mini", 1000 + i)
    points = {p.attributes["model"]: p.value for p in sdk.points(sc.METRIC_COST)}
    big = sum(1000 + i for i in range(30) if i % 3) * 2.5 / 1e6
    small = sum(1000 + i for i in range(30) if not i % 3) * 0.15 / 1e6
    assert points == {"gpt-4o": pytest.approx(big), "gpt-4o-mini": pytest.approx(small)}
    call("gpt-4o", 1000)  # a later call lands in the counter's running total
    points = {p.attributes["model"]: p.value for p in sdk.points(sc.METRIC_COST)}
    assert points["gpt-4o"] == pytest.approx(big + 1000 * 2.5 / 1e6)


def test_the_worker_records_everything_one_call_at_a_time(sdk):
    """Left to itself (no collection, no flush), the worker's paced drain records every call."""
    import time

    from otel_agentkit.instrument import telemetry

    m = telemetry.get_active().metrics
    m.drain()
    m.interval_s = 0.01

    @agentkit.tool
    def t():
        return None

    for _ in range(200):
        t()
    deadline = time.monotonic() + 30
    while m._queue and time.monotonic() < deadline:  # a wait for a condition, not a timing assertion
        time.sleep(0.01)
    assert not m._queue
    data = sdk.reader.get_metrics_data()  # waits for the call the worker may still be recording
    counts = [p.count for rm in data.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
              if metric.name == sc.METRIC_TOOL_DURATION for p in metric.data.data_points]
    assert counts == [200]
