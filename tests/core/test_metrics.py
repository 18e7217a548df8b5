"""GenAI metrics: names, units, explicit buckets, attributes, legacy switch, failed calls, streams, cost."""

from __future__ import annotations

import pytest

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc


@pytest.fixture
def one_call(sdk):
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
    return sdk


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


def test_legacy_metrics_on_by_default(one_call):
    metrics = one_call.metrics()
    points = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.sum for p in metrics[sc.METRIC_LEGACY_TOKEN_USAGE].data.data_points}
    assert points == {"input": 1000, "output": 200}
    (legacy,) = metrics[sc.METRIC_LEGACY_OPERATION_DURATION].data.data_points
    assert tuple(legacy.explicit_bounds) == sc.DURATION_BUCKETS


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


def test_agent_workflow_and_tool_durations(one_call):
    points = one_call.points(sc.METRIC_INVOCATION_DURATION)
    by_op = {p.attributes[sc.GEN_AI_OPERATION_NAME]: p for p in points}
    assert by_op["invoke_workflow"].attributes[sc.GEN_AI_INVOCATION_IS_NESTED] is False
    assert by_op["invoke_agent"].attributes[sc.GEN_AI_INVOCATION_IS_NESTED] is True
    assert by_op["invoke_agent"].attributes[sc.GEN_AI_WORKFLOW_NAME] == "wf"
    assert tuple(by_op["invoke_agent"].explicit_bounds) == sc.INVOCATION_BUCKETS


def test_tool_duration(sdk):
    with agentkit.agent(name="a"):
        with agentkit.tool(name="calc"):
            pass
    (point,) = sdk.points(sc.METRIC_TOOL_DURATION)
    assert dict(point.attributes) == {sc.GEN_AI_TOOL_NAME: "calc", sc.GEN_AI_TOOL_TYPE: "function",
                                      sc.GEN_AI_AGENT_NAME: "a"}


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
    @agentkit.embedding(provider="openai", model="text-embedding-3-small")
    def embed(texts):
        return {"object": "list", "data": [{"object": "embedding", "embedding": [0.1] * 8, "index": 0}],
                "model": "text-embedding-3-small", "usage": {"prompt_tokens": 5, "total_tokens": 5}}

    embed(["x"])
    span = sdk.span("embeddings text-embedding-3-small")
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert sdk.points(sc.METRIC_OUTPUT_TOKENS) == []
    (inp,) = sdk.points(sc.METRIC_INPUT_TOKENS)
    assert inp.sum == 5


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
