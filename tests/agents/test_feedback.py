"""Feedback loop on both stores: quality and trend, tier recommendations, retention, evaluation events."""

from __future__ import annotations

import pytest

from otel_agentkit import semconv
from otel_agentkit.agents import Feedback
from tests.support.procs import wait_until


@pytest.fixture
def fb(store, captured):
    return Feedback(store, telemetry=captured.telemetry)


def record_all(fb, tier, scores, workflow="wf", stage="draft"):
    for s in scores:
        fb.record(workflow, stage, tier, s)


def test_quality_statistics_and_trend(fb):
    assert fb.quality("wf", "draft", "small").count == 0
    record_all(fb, "small", [0.5, 0.7, 0.9])
    q = fb.quality("wf", "draft", "small")
    assert (q.count, q.min, q.max) == (3, 0.5, 0.9)
    assert q.mean == pytest.approx(0.7)
    assert q.trend is None and q.trend_label is None  # fewer than 4 samples
    fb.record("wf", "draft", "small", 0.9)
    q = fb.quality("wf", "draft", "small")
    assert q.trend == pytest.approx(0.9 - 0.6)  # recent half [0.9, 0.9] against older half [0.5, 0.7]
    assert q.trend_label == "improving"
    record_all(fb, "medium", [0.9, 0.9, 0.5, 0.5, 0.6])
    q = fb.quality("wf", "draft", "medium")
    assert q.trend == pytest.approx(0.55 - 0.9) and q.trend_label == "declining"


@pytest.mark.parametrize("bad", [1.01, -0.5, float("nan"), "0.9", None])
def test_scores_outside_unit_interval_are_refused(fb, bad):
    with pytest.raises(ValueError, match=r"score=.*: must be a number within 0\.\.1"):
        fb.record("wf", "draft", "small", bad)
    assert fb.quality("wf", "draft", "small").count == 0


def test_unknown_tier_and_bad_trace_id_are_refused(fb):
    with pytest.raises(ValueError, match="tier='huge': expected one of small, medium, large"):
        fb.record("wf", "draft", "huge", 0.5)
    with pytest.raises(ValueError, match="trace_id='xyz'"):
        fb.record("wf", "draft", "small", 0.5, trace_id="xyz")


def test_recommendation_needs_ten_samples(fb):
    record_all(fb, "medium", [0.2] * 9)
    rec = fb.recommend_tier("wf", "draft")
    assert (rec.current_tier, rec.tier, rec.samples, rec.changed) == ("medium", "medium", 9, False)
    assert rec.confidence == pytest.approx(9 / 20)
    assert "at least 10" in rec.reason


def test_low_mean_moves_one_tier_up(fb):
    record_all(fb, "small", [0.6] * 12)
    rec = fb.recommend_tier("wf", "draft")
    assert (rec.current_tier, rec.tier, rec.changed) == ("small", "medium", True)
    assert rec.confidence == pytest.approx(12 / 20) and rec.mean == pytest.approx(0.6)
    record_all(fb, "large", [0.1] * 10)
    rec = fb.recommend_tier("wf", "draft")  # the tier scored last is the current one
    assert (rec.current_tier, rec.tier) == ("large", "large")
    assert "highest tier" in rec.reason


def test_high_mean_moves_down_only_if_the_lower_tier_is_good(fb):
    record_all(fb, "medium", [0.95] * 25)
    rec = fb.recommend_tier("wf", "draft", current_tier="medium")
    assert rec.tier == "medium" and "no scores" in rec.reason and rec.confidence == 1.0
    record_all(fb, "small", [0.8] * 5)
    assert fb.recommend_tier("wf", "draft", current_tier="medium").tier == "medium"
    record_all(fb, "small", [1.0] * 10)  # small now averages (5*0.8 + 10*1.0) / 15 = 0.933
    rec = fb.recommend_tier("wf", "draft", current_tier="medium")
    assert (rec.tier, rec.changed) == ("small", True)
    assert fb.recommend_tier("wf", "draft", current_tier="small").tier == "small"  # lowest already


def test_middle_mean_keeps_the_tier_and_no_data_says_so(fb):
    record_all(fb, "medium", [0.8] * 10)
    assert fb.recommend_tier("wf", "draft").tier == "medium"
    rec = fb.recommend_tier("wf", "other-stage")
    assert rec.tier is None and rec.current_tier is None and rec.confidence == 0


def test_underperforming_lists_worst_first(fb):
    record_all(fb, "small", [0.3, 0.4], stage="plan")
    record_all(fb, "medium", [0.6, 0.65], stage="draft")
    record_all(fb, "large", [0.95], stage="review")
    record_all(fb, "small", [0.5], workflow="other:wf", stage="a/b")
    found = fb.underperforming(0.7)
    assert [(s.workflow, s.stage, s.tier) for s in found] == [
        ("wf", "plan", "small"), ("other:wf", "a/b", "small"), ("wf", "draft", "medium")]
    assert found[0].quality.mean == pytest.approx(0.35)
    assert [s.stage for s in fb.underperforming(0.7, min_samples=2)] == ["plan", "draft"]
    with pytest.raises(ValueError, match="threshold=2"):
        fb.underperforming(2)


def test_old_scores_fall_out_of_the_retention_window(store, captured):
    fb = Feedback(store, retention=0.3, telemetry=captured.telemetry)
    fb.record("wf", "draft", "small", 0.1)
    wait_until(lambda: fb.quality("wf", "draft", "small").count == 0, 10, "the score to age out")
    fb.record("wf", "draft", "small", 0.9)
    assert fb.scores("wf", "draft", "small") == [0.9]
    assert len(store.range("fb:wf:draft:small")) == 1  # trimmed on write, not only filtered on read


def test_feedback_on_a_trace_is_an_evaluation_event_and_a_histogram(fb, captured):
    with captured.tracer.start_as_current_span("invoke_agent writer") as span:
        ctx = span.get_span_context()
    trace_id, span_id = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
    fb.record("wf", "draft", "large", 0.8, trace_id=trace_id, span_id=span_id, label="good",
              explanation="clear and correct")
    fb.record("wf", "draft", "large", 0.4)  # no trace: metric only
    (record,) = captured.log_records()
    assert record.event_name == semconv.EVENT_EVALUATION_RESULT
    assert (record.trace_id, record.span_id) == (ctx.trace_id, ctx.span_id)
    attrs = record.attributes
    assert attrs[semconv.GEN_AI_EVALUATION_SCORE_VALUE] == 0.8
    assert attrs[semconv.GEN_AI_EVALUATION_SCORE_LABEL] == "good"
    assert attrs[semconv.GEN_AI_EVALUATION_EXPLANATION] == "clear and correct"
    assert attrs[semconv.GEN_AI_EVALUATION_NAME] == "quality"
    assert (attrs[semconv.AGENTKIT_WORKFLOW_NAME], attrs[semconv.AGENTKIT_STAGE], attrs[semconv.AGENTKIT_TIER]) == \
        ("wf", "draft", "large")
    assert semconv.GEN_AI_WORKFLOW_NAME not in attrs  # not a v0.1.0 attribute
    (hist,) = captured.points(semconv.METRIC_FEEDBACK_SCORE)
    assert dict(hist.attributes) == {semconv.AGENTKIT_WORKFLOW_NAME: "wf", semconv.AGENTKIT_STAGE: "draft",
                                     semconv.AGENTKIT_TIER: "large"}
    assert hist.count == 2 and hist.sum == pytest.approx(1.2)
    assert list(hist.explicit_bounds) == list(semconv.FEEDBACK_SCORE_BUCKETS)


def test_feedback_inside_a_span_links_to_it(fb, captured):
    with captured.tracer.start_as_current_span("judge") as span:
        fb.record("wf", "draft", "small", 0.9)
    (record,) = captured.log_records()
    assert record.trace_id == span.get_span_context().trace_id
