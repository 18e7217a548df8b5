"""Prompt analytics over the CALLS data set: summary by workflow and model, and XML against plain."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from otel_agentkit import analytics
from otel_agentkit.analytics.prompts import SMALL_SAMPLE, wilson

from .telemetry import CALLS, Call, write_calls


def succeeded(c: Call) -> bool:
    return c.error is None and c.parse_success is not False and c.validation_success is not False


def test_summary_by_workflow_and_model(dataset, pricing):
    s = analytics.prompt_summary(dataset["dir"], analytics.window(), pricing=pricing)
    assert s.total.prompts == len(CALLS)
    billing = next(g for g in s.by_workflow if g.key == "billing")
    calls = [c for c in CALLS if c.workflow == "billing"]
    assert billing.prompts == len(calls)
    assert billing.avg_input_tokens == pytest.approx(sum(c.input_tokens for c in calls) / len(calls))
    assert billing.retry_rate == pytest.approx(sum((c.retries or 0) > 0 for c in calls) / len(calls))
    assert billing.avg_retries == pytest.approx(sum(c.retries for c in calls) / len(calls))
    assert billing.parse_checked == len(calls)
    assert billing.parse_success_rate == pytest.approx(sum(bool(c.parse_success) for c in calls) / len(calls))
    assert billing.validation_checked == 0 and billing.validation_success_rate is None
    big = next(g for g in s.by_model if g.key == "big-model")
    bigs = [c for c in CALLS if c.model == "big-model"]
    assert (big.validation_checked, big.validation_success_rate) == (3, pytest.approx(2 / 3))
    assert big.success_rate == pytest.approx(sum(map(succeeded, bigs)) / len(bigs))
    small = next(g for g in s.by_model if g.key == "small-model")
    assert small.errors == 1 and small.error_rate == pytest.approx(1 / sum(c.model == "small-model" for c in CALLS))
    assert {g.key for g in s.by_workflow} == {"support", "billing", "(none)"}


def test_summary_filters(dataset, pricing):
    now = dataset["now"]
    s = analytics.prompt_summary(dataset["dir"], analytics.window(), workflow="billing", model="small-model",
                                 pricing=pricing)
    assert s.filters == {"workflow": "billing", "model": "small-model"}
    assert s.total.prompts == sum(1 for c in CALLS if c.workflow == "billing" and c.model == "small-model")
    day = CALLS[-1].start(now).date().isoformat()
    dated = analytics.prompt_summary(dataset["dir"], analytics.window(since=day, until=day), pricing=pricing)
    assert dated.total.prompts == sum(1 for c in CALLS if c.start(now).date().isoformat() == day)


def test_xml_against_plain_with_sample_sizes(dataset, pricing):
    r = analytics.compare_formats(dataset["dir"], analytics.window(), pricing=pricing)
    by = {f.key: f for f in r.formats}
    xml = [c for c in CALLS if c.prompt_format == "xml"]
    plain = [c for c in CALLS if c.prompt_format == "plain"]
    assert (by["xml"].prompts, by["plain"].prompts, by["(none)"].prompts) == (len(xml), len(plain), 1)
    assert by["xml"].success_rate == pytest.approx(sum(map(succeeded, xml)) / len(xml))
    assert by["plain"].success_rate == pytest.approx(sum(map(succeeded, plain)) / len(plain))
    d = r.difference
    assert (d.candidate, d.reference, d.reliable) == ("xml", "plain", False)
    assert "small samples" in d.note and f"{SMALL_SAMPLE}+" in d.note
    avg = lambda cs: sum(c.input_tokens for c in cs) / len(cs)  # noqa: E731
    assert d.avg_input_tokens_change == pytest.approx((avg(xml) - avg(plain)) / avg(plain))
    assert d.success_rate_points == pytest.approx(by["xml"].success_rate - by["plain"].success_rate)


def test_a_large_enough_sample_gives_a_verdict(tmp_path, pricing):
    # 40 XML calls that all parse, 40 plain calls of which half fail to parse.
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
    calls = [Call(-i / 60, "small-model", prompt_format="xml", parse_success=True) for i in range(40)]
    calls += [Call(-i / 60 - 0.005, "small-model", prompt_format="plain", parse_success=i % 2 == 0) for i in range(40)]
    write_calls(tmp_path, calls, now)
    d = analytics.compare_formats(tmp_path / "telemetry", analytics.window(), pricing=pricing).difference
    assert d.reliable and d.success_rate_points == pytest.approx(0.5)
    assert d.note == "xml prompts succeed more often (95% intervals do not overlap)"
    none = analytics.compare_formats(tmp_path / "telemetry", analytics.window(), "json", "plain", pricing=pricing)
    assert none.difference is None


def test_wilson_interval():
    assert wilson(0, 0) == (None, None)
    low, high = wilson(8, 10)
    assert 0.49 < low < 0.5 and 0.94 < high < 0.95  # the textbook values: 0.490 .. 0.943
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    assert math.isclose(sum(wilson(50, 100)), 1.0)
