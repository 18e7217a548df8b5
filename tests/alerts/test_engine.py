"""Each metric and window, computed from real SDK spans (fixed start/end times, so windows are exact)."""

from __future__ import annotations

import math
from collections import deque

import pytest
from opentelemetry.trace import StatusCode

from otel_agentkit import semconv as sc
from otel_agentkit.alerts.engine import Evaluator, Stats, fact_from_span
from otel_agentkit.alerts.rules import Rule

from .conftest import NOW, SpanMaker


def value(rule: Rule, spans: list, now: float = NOW) -> float | None:
    ev = Evaluator([rule])
    for span in spans:
        ev.add(fact_from_span(span))
    (result,) = ev.evaluate(now)
    assert result.breached == rule.breached(result.value)
    return result.value


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_fact_from_span_reads_time_duration_error(spans: SpanMaker) -> None:
    fact = fact_from_span(spans.llm(end=NOW - 10, duration=1.25, error=True))
    assert fact.time == pytest.approx(NOW - 10)
    assert fact.duration == pytest.approx(1.25)
    assert fact.error is True
    assert fact.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"


def test_daily_cost_sums_cost_over_24h(spans: SpanMaker) -> None:
    made = [spans.llm(end=NOW - 3600 * h, cost=0.5) for h in range(0, 30)]  # one per hour over 30 h
    made.append(spans.llm(end=NOW - 60, cost=None, input_tokens=None, output_tokens=None))  # unpriced
    made.append(spans.llm(end=NOW - 60, operation=sc.OP_EMBEDDINGS, cost=0.25))  # embeddings cost money too
    rule = Rule(metric="daily_cost", threshold=10)
    assert rule.window == 86400
    assert value(rule, made) == pytest.approx(24 * 0.5 + 0.25)  # (now - 24 h, now]: hours 0..23
    assert value(Rule(metric="daily_cost", threshold=1, window="1h"), made) == pytest.approx(0.5 + 0.25)
    assert value(rule, []) == 0.0  # no spend is a value, not "no data"


def test_error_rate_in_percent_over_5_minutes(spans: SpanMaker) -> None:
    made = [spans.llm(end=NOW - 10 * i, error=i % 4 == 0) for i in range(20)]  # 5 of 20 failed, last 200 s
    made += [spans.llm(end=NOW - 600, error=True) for _ in range(10)]  # outside the 5 min window
    made.append(spans.other("execute_tool search", end=NOW - 5, attrs={sc.GEN_AI_OPERATION_NAME: "execute_tool"}))
    rule = Rule(metric="error_rate", threshold=20)
    assert value(rule, made) == pytest.approx(25.0)
    assert Rule(metric="error_rate", threshold=20).breached(25.0)
    assert value(Rule(metric="error_rate", threshold=1, window="15m"), made) == pytest.approx(15 / 30 * 100)
    assert value(rule, []) is None  # no calls: no rate


def test_avg_latency_in_ms(spans: SpanMaker) -> None:
    made = [spans.llm(end=NOW - i, duration=d) for i, d in enumerate((0.1, 0.2, 0.3, 0.6))]
    made.append(spans.llm(end=NOW - 400, duration=50))  # older than 5 min
    assert value(Rule(metric="avg_latency", threshold=100), made) == pytest.approx(300.0)


def test_p95_latency_in_ms_matches_nearest_rank(spans: SpanMaker) -> None:
    durations = [0.05 * (i + 1) for i in range(40)]  # 50 ms .. 2000 ms
    made = [spans.llm(end=NOW - 1 - (i % 200), duration=d) for i, d in enumerate(durations)]
    expected = nearest_rank([d * 1000 for d in durations], 0.95)
    got = value(Rule(metric="p95_latency", threshold=1000), made)
    assert got == pytest.approx(expected, rel=0.01)


def test_token_usage_sums_input_and_output(spans: SpanMaker) -> None:
    made = [spans.llm(end=NOW - 3600 * i, input_tokens=100, output_tokens=20) for i in range(3)]
    made.append(spans.llm(end=NOW - 90000, input_tokens=10**6, output_tokens=10**6))  # > 24 h ago
    assert value(Rule(metric="token_usage", threshold=1), made) == 360
    assert value(Rule(metric="token_usage", threshold=1, window="2h"), made) == 240


def test_filters_model_provider_workflow_agent(spans: SpanMaker) -> None:
    made = [
        spans.llm(end=NOW - 1, model="gpt-4o", cost=1, workflow="support", agent="triage"),
        spans.llm(end=NOW - 2, model="gpt-4o-mini", cost=2, workflow="support", agent="writer"),
        spans.llm(end=NOW - 3, model="claude-sonnet-4", provider="anthropic", cost=4, workflow="billing"),
        spans.llm(end=NOW - 4, model="my-deployment", response_model="gpt-4o-2024-08-06", cost=8),
    ]

    def cost(**filters: str) -> float | None:
        return value(Rule(metric="daily_cost", threshold=1, filters=filters), made)

    assert cost() == 15
    assert cost(model="gpt-4o") == 1
    assert cost(model="gpt-4o*") == 1 + 2 + 8  # glob; the response model counts too
    assert cost(provider="anthropic") == 4
    assert cost(workflow="support") == 3
    assert cost(agent="writer") == 2
    assert cost(workflow="support", model="gpt-4o-mini") == 2
    assert cost(provider="nobody") == 0


def test_comparisons_decide_breach(spans: SpanMaker) -> None:
    made = [spans.llm(end=NOW - 1, cost=5)]
    for comparison, threshold, breached in ((">", 4, True), (">", 5, False), (">=", 5, True), ("<", 6, True),
                                            ("<=", 4, False), ("==", 5, True), ("!=", 5, False)):
        ev = Evaluator([Rule(metric="daily_cost", threshold=threshold, comparison=comparison)])
        for span in made:
            ev.add(fact_from_span(span))
        assert ev.evaluate(NOW)[0].breached is breached, comparison


@pytest.mark.parametrize("aggregation, expected", [
    ("sum", 1 + 2 + 3 + 10), ("avg", 16 / 4), ("min", 1), ("max", 10), ("count", 4),
    ("p50", 2), ("p90", 10), ("p99", 10),
])
def test_any_span_attribute_with_an_aggregation(spans: SpanMaker, aggregation: str, expected: float) -> None:
    made = [spans.llm(end=NOW - i, extra={sc.AGENTKIT_RETRIES: r}) for i, r in enumerate((1, 2, 3, 10))]
    made.append(spans.llm(end=NOW - 1000, extra={sc.AGENTKIT_RETRIES: 99}))  # outside the window
    made.append(spans.other("tool", end=NOW - 1, attrs={"agentkit.other": 5}))  # no such attribute
    got = value(Rule(metric=sc.AGENTKIT_RETRIES, aggregation=aggregation, threshold=0), made)
    assert got == pytest.approx(expected, rel=0.01)


def test_attribute_rules_read_any_span(spans: SpanMaker) -> None:
    made = [spans.other("execute_tool search", end=NOW - i, attrs={
        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_AGENT_NAME: "triage", "app.queue.depth": d})
        for i, d in enumerate((3, 9))]
    rule = Rule(metric="app.queue.depth", aggregation="max", threshold=5, filters={"agent": "triage"})
    assert value(rule, made) == 9
    assert value(Rule(metric="app.queue.depth", aggregation="max", threshold=5, filters={"agent": "x"}), made) is None


def test_windows_slide_with_time(spans: SpanMaker) -> None:
    ev = Evaluator([Rule(metric="error_rate", threshold=50, window="5m")])
    ev.add(fact_from_span(spans.llm(end=NOW, error=True)))
    assert ev.evaluate(NOW)[0].value == 100.0
    assert ev.evaluate(NOW + 200)[0].value == 100.0
    assert ev.evaluate(NOW + 301)[0].value is None  # slid out
    assert not ev.windows[next(iter(ev.windows))].slots  # and pruned


def test_set_rules_keeps_windows_of_unchanged_rules(spans: SpanMaker) -> None:
    a = Rule(metric="daily_cost", threshold=100, name="a", id=1)
    ev = Evaluator([a])
    ev.add(fact_from_span(spans.llm(end=NOW - 1, cost=3)))
    ev.evaluate(NOW)
    b = Rule(metric="token_usage", threshold=1, name="b", id=2)
    ev.set_rules([a, b])
    ev.add(fact_from_span(spans.llm(end=NOW - 1, cost=1)))
    values = {r.rule.name: r.value for r in ev.evaluate(NOW)}
    assert values == {"a": 4, "b": 15}  # a kept its earlier data; b starts from now
    ev.set_rules([Rule(metric="daily_cost", threshold=50, name="a", id=1), b])  # changed: fresh window
    assert {r.rule.name: r.value for r in ev.evaluate(NOW)}["a"] == 0


def test_disabled_rules_are_not_evaluated() -> None:
    ev = Evaluator([Rule(metric="daily_cost", threshold=1, enabled=False)])
    assert ev.evaluate(NOW) == []


def test_explicit_histogram_percentile_interpolates() -> None:
    s = Stats()
    # 100 observations: 50 in (0, 1], 40 in (1, 2], 10 in (2, 5]
    s.add_histogram(100, 150.0, 0.2, 4.0, (1.0, 2.0, 5.0), (50, 40, 10, 0), NOW)
    assert s.value("p50") == pytest.approx(1.0)
    assert s.value("p90") == pytest.approx(2.0)
    assert s.value("p95") == pytest.approx(2.0 + 3.0 * 0.5)
    assert s.value("avg") == 1.5 and s.value("max") == 4.0 and s.value("count") == 100


def test_sdk_spans_are_drained_as_their_facts(spans: SpanMaker) -> None:
    """The processor's drain reads ReadableSpans through their public API into what their facts give."""
    made = [spans.llm(end=NOW - i, duration=0.1 * (i + 1), error=i % 3 == 0, model=("gpt-4o", "claude")[i % 2],
                      extra={sc.AGENTKIT_RETRIES: i}) for i in range(12)]
    made.append(spans.other("execute_tool search", end=NOW - 1, attrs={}))
    rules = [Rule(metric="error_rate", threshold=1, name="errors"),
             Rule(metric="p95_latency", threshold=1, name="p95"),
             Rule(metric=sc.AGENTKIT_RETRIES, aggregation="max", threshold=0, name="retries"),
             Rule(metric="daily_cost", threshold=1, filters={"model": "claude"}, name="cost")]
    by_facts, drained = Evaluator(rules), Evaluator(rules)
    for span in made:
        by_facts.add(fact_from_span(span))
    assert drained.add_sdk_spans(deque([*made, object()]), StatusCode.ERROR) == 1  # not a span: counted
    want = [(e.rule.name, e.value, e.samples) for e in by_facts.evaluate(NOW)]
    assert [(e.rule.name, e.value, e.samples) for e in drained.evaluate(NOW)] == want
    assert [v for _, v, _ in want] == [pytest.approx(100 * 4 / 12), pytest.approx(1200, rel=0.01), 11,
                                       pytest.approx(0.006)]
