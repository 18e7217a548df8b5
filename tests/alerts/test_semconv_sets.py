"""Alert rules over telemetry written with the v0.1.0 names and with the pre-release ones.

- The Prometheus export names the v0.1.0 metrics (token_usage reads the gen_ai.client.inference.usage.*
  counters as ``..._total``; a workflow filter on gen_ai.invoke_agent.* is gen_ai.agent.name with operation
  invoke_workflow), the pre-release metrics keep their own labels.
- Span rules filter by workflow from agentkit.workflow.name or gen_ai.workflow.name.
- A metric rule on gen_ai.invoke_agent.duration or on gen_ai.invocation.duration reads points of both names
  from local files (a mixed folder), and a point exported under both names at once counts once.
"""

from __future__ import annotations

from otel_agentkit import semconv as sc
from otel_agentkit.alerts.engine import Evaluator, SpanFact
from otel_agentkit.alerts.local import evaluate_records
from otel_agentkit.alerts.promrules import KNOWN_METRICS, prometheus_name, rule_expr
from otel_agentkit.alerts.rules import Rule
from otel_agentkit.export.reader import MetricPoint

from .conftest import NOW, SpanMaker

S = 1_000_000_000


def test_prometheus_export_uses_the_v0_1_0_names() -> None:
    tokens = rule_expr(Rule(metric="token_usage", threshold=100, window="1h", filters={"model": "m"}))
    assert tokens == ('((sum(increase(gen_ai_client_inference_usage_input_tokens_total{gen_ai_request_model="m"}[1h]))'
                      ' or vector(0)) + (sum(increase(gen_ai_client_inference_usage_output_tokens_total'
                      '{gen_ai_request_model="m"}[1h])) or vector(0))) > 100')
    assert prometheus_name(sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS, *reversed(
        KNOWN_METRICS[sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS])) == \
        "gen_ai_client_inference_usage_cache_read_input_tokens_total"
    assert prometheus_name(sc.METRIC_INVOKE_AGENT_DURATION, *reversed(KNOWN_METRICS[sc.METRIC_INVOKE_AGENT_DURATION])) \
        == "gen_ai_invoke_agent_duration_seconds"
    assert prometheus_name(sc.METRIC_EMBEDDINGS_DURATION, *reversed(KNOWN_METRICS[sc.METRIC_EMBEDDINGS_DURATION])) \
        == "gen_ai_client_embeddings_duration_seconds"
    wf = rule_expr(Rule(metric=sc.METRIC_INVOKE_AGENT_DURATION, aggregation="p95", threshold=30, window="1h",
                        filters={"workflow": "support"}))
    assert wf == ('histogram_quantile(0.95, sum by (le) (rate(gen_ai_invoke_agent_duration_seconds_bucket'
                  '{gen_ai_operation_name="invoke_workflow",gen_ai_agent_name="support"}[1h]))) > 30')
    calls = rule_expr(Rule(metric=sc.METRIC_INVOKE_AGENT_TOOL_CALLS, aggregation="avg", threshold=8, window="1h",
                           filters={"agent": "planner"}))
    assert "gen_ai_invoke_agent_tool_calls_sum{gen_ai_agent_name=\"planner\"}" in calls
    old = rule_expr(Rule(metric=sc.METRIC_INVOCATION_DURATION, aggregation="count", threshold=1, window="1h",
                         filters={"workflow": "support"}))
    assert old == 'sum(increase(gen_ai_invocation_duration_seconds_count{gen_ai_workflow_name="support"}[1h])) > 1'


def test_span_rules_filter_by_workflow_in_either_set(spans: SpanMaker) -> None:
    made = [spans.llm(workflow="support", input_tokens=100, output_tokens=0),
            spans.llm(workflow="support", input_tokens=20, output_tokens=0, pre_release=True),
            spans.llm(workflow="other", input_tokens=1000, output_tokens=0)]
    evaluator = Evaluator([Rule(metric="token_usage", threshold=1, window="1h", filters={"workflow": "support"})])
    for span in made:
        evaluator.add(SpanFact(NOW - 1, 0.5, False, span.attributes))
    (result,) = evaluator.evaluate(NOW)
    assert result.value == 120


def _hist(name: str, t: float, count: int, total: float, attrs: dict[str, object]) -> MetricPoint:
    return MetricPoint(name=name, unit="s", kind="histogram", attributes=attrs, time_ns=int(t * S),
                       start_ns=int((t - 60) * S), value=None, sum=total, count=count, bucket_counts=(count, 0),
                       explicit_bounds=(100.0,), min=None, max=None, temporality="DELTA", is_monotonic=False,
                       resource={"service.name": "app"}, scope="otel_agentkit")  # type: ignore[arg-type]


OLD = {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "support",
       sc.GEN_AI_INVOCATION_IS_NESTED: False}
NEW = {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW, sc.GEN_AI_AGENT_NAME: "support"}


def _value(metric: str, points: list[MetricPoint], **filters: str) -> float | None:
    rule = Rule(metric=metric, aggregation="count", threshold=1, window="1h", filters=filters)
    (result,) = evaluate_records([rule], NOW, [], points, NOW - 7200)
    return result.value


def test_metric_rules_read_old_and_new_names_from_a_mixed_folder() -> None:
    old_file = [_hist(sc.METRIC_INVOCATION_DURATION, NOW - 600, 3, 6.0, OLD)]  # written before v0.1.0
    new_file = [_hist(sc.METRIC_INVOKE_AGENT_DURATION, NOW - 300, 4, 8.0, NEW)]  # written with v0.1.0
    for metric in (sc.METRIC_INVOKE_AGENT_DURATION, sc.METRIC_INVOCATION_DURATION):
        assert _value(metric, old_file) == 3
        assert _value(metric, new_file) == 4
        assert _value(metric, old_file + new_file) == 7
        assert _value(metric, old_file + new_file, workflow="support") == 7  # both name the workflow
        assert _value(metric, old_file + new_file, workflow="other") == 0
    # semconv="both": one export carries the same runs under both names; they count once
    both = [_hist(sc.METRIC_INVOCATION_DURATION, NOW - 100, 2, 4.0, OLD),
            _hist(sc.METRIC_INVOKE_AGENT_DURATION, NOW - 100, 2, 4.0, NEW)]
    assert _value(sc.METRIC_INVOKE_AGENT_DURATION, both) == 2
    assert _value(sc.METRIC_INVOCATION_DURATION, both) == 2
    assert _value(sc.METRIC_INVOKE_AGENT_DURATION, old_file + new_file + both) == 9


def test_a_filter_on_a_label_the_metric_lacks_is_not_exported() -> None:
    """Under v0.1.0 the inference metrics carry no workflow or agent label: a Prometheus rule matching one
    would match nothing and never fire, so it is refused (the in-process and file-based alerts apply it)."""
    import pytest

    from otel_agentkit.alerts.promrules import NotExportable

    for metric in ("error_rate", "avg_latency", "p95_latency", "token_usage"):
        for key in ("workflow", "agent"):
            with pytest.raises(NotExportable, match=f"the {key} filter"):
                rule_expr(Rule(metric=metric, threshold=1, window="1h", filters={key: "support"}))
    assert 'workflow="support"' in rule_expr(Rule(metric="daily_cost", threshold=1, window="1d",
                                                  filters={"workflow": "support"}))
    run = rule_expr(Rule(metric=sc.METRIC_INVOKE_AGENT_DURATION, aggregation="p95", threshold=30, window="1h",
                         filters={"agent": "triage"}))
    assert 'gen_ai_agent_name="triage"' in run
