"""Evaluation over records read back from files: cumulative metric streams become deltas per series."""

from __future__ import annotations

from otel_agentkit import semconv as sc
from otel_agentkit.alerts.local import evaluate_records, read_since, wants_metric_points
from otel_agentkit.alerts.rules import Rule
from otel_agentkit.export.reader import MetricPoint, SpanRecord

from .conftest import NOW

S = 1_000_000_000


def point(value: float, t: float, start: float, temporality: str = "CUMULATIVE", model: str = "gpt-4o",
          kind: str = "sum", **kw: object) -> MetricPoint:
    fields = dict(name=sc.METRIC_COST, unit="USD", kind=kind, attributes={sc.COST_ATTR_MODEL: model},
                  time_ns=int(t * S), start_ns=int(start * S), value=value, sum=None, count=None, bucket_counts=(),
                  explicit_bounds=(), min=None, max=None, temporality=temporality, is_monotonic=True,
                  resource={"service.name": "app"}, scope="otel_agentkit")
    fields.update(kw)
    return MetricPoint(**fields)  # type: ignore[arg-type]


def cost_rule(window: str = "1h") -> Rule:
    return Rule(metric=sc.METRIC_COST, aggregation="sum", threshold=10, window=window, filters={"model": "gpt-4o"})


def evaluate(rule: Rule, points: list[MetricPoint], since: float) -> float | None:
    (result,) = evaluate_records([rule], NOW, [], points, since)
    return result.value


def test_cumulative_points_become_deltas() -> None:
    since = NOW - 7200
    series = [point(v, NOW - 3000 + 60 * i, start=NOW - 8000) for i, v in enumerate((100, 102, 104, 110))]
    # the first point is a baseline (the stream began before what was read): only the increases count
    assert evaluate(cost_rule(), series, since) == 10
    # a stream that began inside what was read counts from zero
    fresh = [point(v, NOW - 600 + 60 * i, start=NOW - 700) for i, v in enumerate((3, 5))]
    assert evaluate(cost_rule(), fresh, since) == 5
    # a counter reset (same stream, lower value): the new value is the increase
    reset = [point(v, NOW - 600 + 60 * i, start=NOW - 8000) for i, v in enumerate((50, 52, 1))]
    assert evaluate(cost_rule(), reset, since) == 3
    # other models and older increases do not count
    other = [point(v, NOW - 600 + 60 * i, start=NOW - 8000, model="other") for i, v in enumerate((1, 90))]
    old = [point(v, NOW - 7000 + 60 * i, start=NOW - 8000) for i, v in enumerate((1, 90))]
    assert evaluate(cost_rule(), other + old, since) == 0


def test_delta_points_and_histograms() -> None:
    since = NOW - 7200
    deltas = [point(4, NOW - 100, start=NOW - 160, temporality="DELTA"), point(3, NOW - 40, start=NOW - 100,
                                                                             temporality="DELTA")]
    assert evaluate(cost_rule(), deltas, since) == 7
    hist = dict(name=sc.METRIC_INFERENCE_DURATION, unit="s", kind="histogram", attributes={},
                explicit_bounds=(1.0, 2.0))
    h1 = point(None, NOW - 120, NOW - 8000, sum=10.0, count=10, bucket_counts=(10, 0, 0), **hist)  # type: ignore[arg-type]
    h2 = point(None, NOW - 60, NOW - 8000, sum=40.0, count=20, bucket_counts=(10, 0, 10), **hist)  # type: ignore[arg-type]
    rule = Rule(metric=sc.METRIC_INFERENCE_DURATION, aggregation="count", threshold=1, window="1h")
    assert evaluate(rule, [h1, h2], since) == 10  # ten new observations, all above 2 s
    avg = Rule(metric=sc.METRIC_INFERENCE_DURATION, aggregation="avg", threshold=1, window="1h")
    assert evaluate(avg, [h1, h2], since) == 3.0


def test_spans_and_read_window() -> None:
    rules = [Rule(metric="error_rate", threshold=10, window="5m"), Rule(metric="daily_cost", threshold=1)]
    assert read_since(rules, NOW) == NOW - 86400 - 3600
    assert read_since([Rule(metric="daily_cost", threshold=1, enabled=False)], NOW) is None
    assert not wants_metric_points(rules) and wants_metric_points([cost_rule()])
    record = SpanRecord(trace_id="0" * 32, span_id="1" * 16, parent_span_id=None, name="chat gpt-4o", kind="CLIENT",
                        start_ns=int((NOW - 2) * S), end_ns=int((NOW - 1) * S), status="ERROR", status_message="x",
                        attributes={sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.AGENTKIT_COST_USD: 2.5},
                        resource={}, scope="otel_agentkit")
    values = [r.value for r in evaluate_records(rules, NOW, [record])]
    assert values == [100.0, 2.5]
