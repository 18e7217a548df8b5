"""The usage API over telemetry the real SDK wrote: records, stats, savings, cache, compare, windows, time
zones. Expected figures are computed from CALLS in conftest.py, not by the code under test."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

import otel_agentkit as agentkit
from otel_agentkit import analytics
from otel_agentkit.analytics.aggregate import EXACT_LIMIT, Quantiles
from otel_agentkit.analytics.timeparse import TimeError

from .telemetry import CALLS, PRICES, UTC, Call, write_calls


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def read_all(dataset, pricing, **kw):
    return list(analytics.UsageReader(dataset["dir"], analytics.window(**kw), pricing=pricing))


def test_one_record_per_llm_span_with_every_field(dataset, pricing):
    records = sorted(read_all(dataset, pricing), key=lambda r: r.start_ns)
    assert len(records) == len(CALLS)
    for r, c in zip(records, CALLS):
        assert r.start == c.start(dataset["now"])
        assert r.duration_s == pytest.approx(c.duration)
        assert (r.provider, r.model, r.operation) == (c.provider, c.model, "chat")
        assert (r.workflow, r.agent, r.stage, r.tier) == (c.workflow, c.agent, c.stage, c.tier)
        assert (r.input_tokens, r.output_tokens) == (c.input_tokens, c.output_tokens)
        assert (r.cache_read_tokens, r.cache_write_tokens) == (c.cache_read, c.cache_write)
        assert r.cost_usd == pytest.approx(c.cost(), rel=1e-9) and r.cost_source == "recorded"
        assert r.ok is (c.error is None) and r.error_type == c.error
        assert (r.prompt_format, r.retries) == (c.prompt_format, c.retries)
        assert (r.parse_success, r.validation_success) == (c.parse_success, c.validation_success)
        assert r.service == "analytics-tests"
        assert r.user and r.user != "user-42" and len(r.user) == 16  # the salted hash, never the raw id


def test_stats_totals(dataset, pricing):
    s = analytics.usage_stats(dataset["dir"], analytics.window(), pricing=pricing)
    t = s.total
    assert t.calls == len(CALLS) and t.errors == 1 and t.error_rate == pytest.approx(1 / len(CALLS))
    assert t.input_tokens == sum(c.input_tokens for c in CALLS)
    assert t.output_tokens == sum(c.output_tokens for c in CALLS)
    assert t.total_tokens == t.input_tokens + t.output_tokens
    assert t.cache_read_tokens == 2200 and t.cache_write_tokens == 2000
    assert t.cost_usd == pytest.approx(sum(c.cost() for c in CALLS), rel=1e-9)
    durations = [c.duration for c in CALLS]
    assert t.latency_p50_s == pytest.approx(nearest_rank(durations, 0.5))
    assert t.latency_p95_s == pytest.approx(nearest_rank(durations, 0.95))
    assert t.cache_hit_rate == pytest.approx(2200 / t.input_tokens)
    assert t.unpriced_calls == 0
    assert s.read.files == 3 and s.read.llm_calls == len(CALLS) and s.read.corrupt_lines == 0


@pytest.mark.parametrize("by, attr", [("model", "model"), ("provider", "provider"), ("tier", "tier"),
                                      ("workflow", "workflow"), ("agent", "agent"), ("stage", "stage")])
def test_stats_by_field(dataset, pricing, by, attr):
    s = analytics.usage_stats(dataset["dir"], analytics.window(), by=by, pricing=pricing)
    expected: dict[str, list[Call]] = {}
    for c in CALLS:
        expected.setdefault(getattr(c, attr) or "(none)", []).append(c)
    got = {g.key: g for g in s.groups}
    assert set(got) == set(expected)
    for key, calls in expected.items():
        g = got[key]
        assert g.calls == len(calls)
        assert g.errors == sum(c.error is not None for c in calls)
        assert g.input_tokens == sum(c.input_tokens for c in calls)
        assert g.cost_usd == pytest.approx(sum(c.cost() for c in calls), rel=1e-9)
        assert g.latency_p95_s == pytest.approx(nearest_rank([c.duration for c in calls], 0.95))
    costs = [g.cost_usd for g in s.groups]
    assert costs == sorted(costs, reverse=True)
    assert sum(g.calls for g in s.groups) == s.total.calls


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/Los_Angeles", "-10:00", "+05:45"])
def test_days_follow_the_time_zone(dataset, pricing, tz):
    zone = analytics.parse_tz(tz)
    s = analytics.usage_stats(dataset["dir"], analytics.window(tz=tz), by="day", pricing=pricing)
    expected: dict[str, int] = {}
    for c in CALLS:
        day = c.start(dataset["now"]).astimezone(zone).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    assert {g.key: g.calls for g in s.groups} == expected
    assert [g.key for g in s.groups] == sorted(expected)
    assert s.period.tz == ("UTC" if tz == "UTC" else tz if "/" in tz else f"UTC{tz}")


def test_a_call_near_midnight_lands_on_the_local_day(tmp_path, pricing):
    # 23:30 UTC is 08:30 the next day in Tokyo and 13:30 the same day in Honolulu.
    base = dt.datetime.now(UTC).replace(hour=23, minute=30, second=0, microsecond=0) - dt.timedelta(days=2)
    write_calls(tmp_path, [Call(0, "small-model")], base)
    directory = tmp_path / "telemetry"
    days = {tz: [g.key for g in analytics.usage_stats(directory, analytics.window(tz=tz), by="day",
                                                      pricing=pricing).groups]
            for tz in ("UTC", "Asia/Tokyo", "Pacific/Honolulu")}
    assert days["UTC"] == [base.date().isoformat()]
    assert days["Asia/Tokyo"] == [(base.date() + dt.timedelta(days=1)).isoformat()]
    assert days["Pacific/Honolulu"] == [base.date().isoformat()]
    # --since as a date is midnight in the zone: Tokyo's next day includes the call, UTC's does not.
    next_day = (base.date() + dt.timedelta(days=1)).isoformat()
    assert analytics.usage_stats(directory, analytics.window(since=next_day, tz="Asia/Tokyo"),
                                 pricing=pricing).total.calls == 1
    assert analytics.usage_stats(directory, analytics.window(since=next_day), pricing=pricing).total.calls == 0


def test_window_by_days_and_by_dates(dataset, pricing):
    now = dataset["now"]
    last_day = analytics.usage_stats(dataset["dir"], analytics.window(days=1, now=now), pricing=pricing)
    assert last_day.total.calls == sum(1 for c in CALLS if c.hours >= -24)
    first = CALLS[0].start(now).date()
    only_first_day = analytics.window(since=first.isoformat(), until=first.isoformat())
    s = analytics.usage_stats(dataset["dir"], only_first_day, pricing=pricing)
    assert s.total.calls == sum(1 for c in CALLS if c.start(now).date() == first)
    assert s.period.since.startswith(first.isoformat()) and s.period.until.startswith(
        (first + dt.timedelta(days=1)).isoformat())


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "2026-13-01"}, "invalid --since='2026-13-01'"),
    ({"until": "yesterday"}, "invalid --until='yesterday'"),
    ({"since": "2026-05-02", "until": "2026-05-01"}, "is not after"),
    ({"days": 0}, "invalid --days=0"),
    ({"days": 3, "since": "2026-05-01"}, "not both"),
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ({"tz": "+25:00"}, "offset out of range"),
])
def test_bad_windows_name_the_option_and_value(kwargs, message):
    with pytest.raises(TimeError, match=message.replace("(", r"\(").replace("+", r"\+")):
        analytics.window(**kwargs)


def test_unknown_group_field_is_refused_before_reading(dataset):
    with pytest.raises(ValueError, match=r"invalid by='colour': unknown field"):
        analytics.usage_stats(dataset["dir"], analytics.window(), by="colour")


def test_recent_calls_newest_first(dataset, pricing):
    recent = analytics.recent_calls(dataset["dir"], analytics.window(), 4, pricing=pricing)
    newest = sorted(CALLS, key=lambda c: c.hours, reverse=True)[:4]
    assert [r.start for r in recent.calls] == [c.start(dataset["now"]) for c in newest]
    assert recent.read.llm_calls == len(CALLS)
    with pytest.raises(ValueError, match="invalid limit=0"):
        analytics.recent_calls(dataset["dir"], analytics.window(), 0)


def priced(c: Call, model: str) -> float:
    return Call(c.hours, model, input_tokens=c.input_tokens, output_tokens=c.output_tokens,
                cache_read=c.cache_read, cache_write=c.cache_write).cost()


def test_savings_default_baseline_is_the_premium_tier_model(dataset, pricing):
    s = analytics.savings(dataset["dir"], analytics.window(), pricing=pricing)
    assert {(b.model, b.reason) for b in s.baselines} == {("big-model", "premium tier model")}
    assert s.baseline_rule.startswith("big-model: the model most used by the 'premium' tier")
    tiers = {row.tier: row for row in s.tiers}
    everything_on_big = sum(priced(c, "big-model") for c in CALLS)
    assert s.total.baseline_cost_usd == pytest.approx(everything_on_big)
    assert tiers["premium"].saved_usd == pytest.approx(0, abs=1e-12)
    assert tiers["cheap"].saved_usd > 0


def test_savings_without_premium_calls_falls_back_to_the_most_expensive_per_provider(dataset, pricing):
    s = analytics.savings(dataset["dir"], analytics.window(), pricing=pricing, premium_tier="no-such-tier")
    assert {(b.provider, b.model, b.reason) for b in s.baselines} == {
        ("acme", "big-model", "most expensive seen"), ("other", "other-model", "most expensive seen")}
    assert "most expensive model" in s.baseline_rule
    tiers = {row.tier: row for row in s.tiers}
    cheap = [c for c in CALLS if c.tier == "cheap"]
    assert tiers["cheap"].calls == len(cheap)
    assert tiers["cheap"].actual_cost_usd == pytest.approx(sum(c.cost() for c in cheap))
    assert tiers["cheap"].baseline_cost_usd == pytest.approx(sum(priced(c, "big-model") for c in cheap))
    assert tiers["cheap"].saved_usd > 0
    assert tiers["premium"].saved_usd == pytest.approx(0, abs=1e-12)  # already on the baseline
    assert tiers["(none)"].saved_usd == pytest.approx(0, abs=1e-12)
    assert s.total.actual_cost_usd == pytest.approx(sum(c.cost() for c in CALLS))
    assert s.total.saved_usd == pytest.approx(tiers["cheap"].saved_usd)
    assert s.excluded_calls == 0


def test_savings_against_a_given_baseline(dataset, pricing):
    s = analytics.savings(dataset["dir"], analytics.window(), "other-model", pricing=pricing)
    assert s.baseline_rule == "other-model for every call (given)"
    assert s.total.baseline_cost_usd == pytest.approx(sum(priced(c, "other-model") for c in CALLS))
    with pytest.raises(ValueError, match="invalid baseline_model='nope': not in the pricing table"):
        analytics.savings(dataset["dir"], analytics.window(), "nope", pricing=pricing)


def test_cache_savings_from_the_pricing_table(dataset, pricing):
    r = analytics.cache_report(dataset["dir"], analytics.window(), pricing=pricing)
    big = next(row for row in r.models if row.model == "big-model")
    p = PRICES["big-model"]
    assert (big.cache_read_tokens, big.cache_write_tokens, big.calls_with_cache_read) == (2200, 2000, 2)
    assert big.read_savings_usd == pytest.approx(2200 * (p["input"] - p["cache_read"]) / 1e6)
    assert big.write_premium_usd == pytest.approx(2000 * (p["cache_write"] - p["input"]) / 1e6)
    assert big.net_saved_usd == pytest.approx(big.read_savings_usd - big.write_premium_usd)
    assert big.hit_rate == pytest.approx(2200 / sum(c.input_tokens for c in CALLS if c.model == "big-model"))
    assert r.total.net_saved_usd == pytest.approx(big.net_saved_usd)
    assert r.unpriced_models == []


def test_compare_two_periods_per_day(dataset, pricing):
    c = analytics.compare_periods(dataset["dir"], 1, 3, now=dataset["now"], pricing=pricing)
    recent = [x for x in CALLS if x.hours >= -24]
    changes = {ch.metric: ch for ch in c.changes}
    assert (c.period1.stats.calls, c.period2.stats.calls) == (len(recent), len(CALLS))
    assert changes["calls_per_day"].period1 == len(recent) and changes["calls_per_day"].period2 == len(CALLS) / 3
    assert changes["calls_per_day"].change_rate == pytest.approx((len(recent) - len(CALLS) / 3) / (len(CALLS) / 3))
    assert changes["cost_usd_per_day"].period1 == pytest.approx(sum(x.cost() for x in recent))
    assert changes["error_rate"].period1 == 0 and changes["error_rate"].difference == pytest.approx(-1 / len(CALLS))
    assert changes["calls"].kind == "total" and changes["calls"].change_rate is None
    with pytest.raises(TimeError, match="invalid --period2=0"):
        analytics.compare_periods(dataset["dir"], 7, 0)


def test_rotated_files_read_as_one(tmp_path, dataset, pricing):
    # max_bytes=1 and a flush per call: every export rotates, so each line sits in its own rotated file.
    write_calls(tmp_path, CALLS, dataset["now"], max_bytes=1, flush_each=True)
    names = sorted(p.name for p in (tmp_path / "telemetry").iterdir())
    assert any(".1.jsonl" in n for n in names) and any(".2.jsonl" in n for n in names), names
    rotated = analytics.usage_stats(tmp_path / "telemetry", analytics.window(), by="model", pricing=pricing)
    plain = analytics.usage_stats(dataset["dir"], analytics.window(), by="model", pricing=pricing)
    assert rotated.total == plain.total and rotated.groups == plain.groups
    assert rotated.read.files == len(names) > plain.read.files


def test_quantiles_exact_then_within_one_percent():
    rng = random.Random(5)
    small = Quantiles()
    values = [rng.lognormvariate(0, 1) for _ in range(1000)]
    for v in values:
        small.add(v)
    assert small.quantile(0.5) == nearest_rank(values, 0.5) and small.quantile(0.95) == nearest_rank(values, 0.95)
    big = Quantiles()
    values = [rng.lognormvariate(0, 1.5) for _ in range(EXACT_LIMIT * 3)] + [0.0] * 10
    for v in values:
        big.add(v)
    for q in (0.01, 0.5, 0.95, 0.99):
        assert big.quantile(q) == pytest.approx(nearest_rank(values, q), rel=0.011)
    merged = Quantiles()
    merged.merge(small)
    merged.merge(big)
    assert merged.count == 1000 + len(values)
    assert Quantiles().quantile(0.5) is None


def test_decorated_calls_carry_prompt_outcomes(tmp_path, pricing):
    """The core API path: @agentkit.llm with a provider-shaped response, attributes(), call.record()."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    @agentkit.llm(provider="acme", model="big-model")
    def ask(question: str) -> dict:
        agentkit.current_call().record(parse_success=False, validation_success=True, prompt_name="answer-v2")
        return {"id": "chatcmpl-1", "object": "chat.completion", "model": "big-model",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230,
                          "prompt_tokens_details": {"cached_tokens": 200}}}

    @agentkit.workflow(name="qa")
    def run() -> None:
        with agentkit.attributes(stage="draft", tier="premium", prompt_format="XML", retries=1):
            ask("why?")

    tp = TracerProvider()
    assert agentkit.init(exporters=["jsonl"], metric_exporters="none", home=tmp_path, pricing=PRICES,
                         tracer_provider=tp, meter_provider=MeterProvider())
    try:
        run()
    finally:
        agentkit.shutdown()
    [r] = list(analytics.UsageReader(tmp_path / "telemetry", pricing=pricing))
    assert (r.workflow, r.stage, r.tier, r.prompt_format, r.prompt_name) == ("qa", "draft", "premium", "xml",
                                                                              "answer-v2")
    assert (r.retries, r.parse_success, r.validation_success) == (1, False, True)
    assert (r.input_tokens, r.output_tokens, r.cache_read_tokens) == (1200, 30, 200)
    assert r.cost_usd == pytest.approx(Call(0, "big-model", input_tokens=1200, output_tokens=30, cache_read=200).cost())



def test_day_boundaries_to_the_minute():
    from otel_agentkit.analytics.usage import DayKey

    when = dt.datetime(2026, 3, 28, 23, 40, 59, tzinfo=UTC)  # Paris moves to summer time that night
    ns = int(when.timestamp()) * 10**9
    assert DayKey(analytics.parse_tz("+00:19")).of_ns(ns) == "2026-03-28"
    assert DayKey(analytics.parse_tz("+00:20")).of_ns(ns) == "2026-03-29"
    assert DayKey(analytics.parse_tz("-23:41")).of_ns(ns) == "2026-03-27"  # 23:59:59 the day before
    assert DayKey(analytics.parse_tz("-23:40")).of_ns(ns) == "2026-03-28"  # 00:00:59
    paris = DayKey(analytics.parse_tz("Europe/Paris"))
    assert paris.of_ns(ns) == "2026-03-29"  # 00:40 CET
    assert paris.of_ns(ns - 3600 * 10**9) == "2026-03-28"  # 23:40 CET


def test_failed_call_without_usage_costs_nothing_rather_than_unknown(tmp_path):
    import otel_agentkit as agentkit
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    agentkit.init(exporters=["jsonl"], metric_exporters="none", home=tmp_path, tracer_provider=TracerProvider(),
                  meter_provider=MeterProvider())
    try:
        agentkit.record_llm_call(provider="openai", model="gpt-4o", start_time=1.7e9, end_time=1.7e9 + 1,
                                 error="openai.RateLimitError")
        agentkit.record_llm_call(provider="openai", model="house-model-x", start_time=1.7e9, end_time=1.7e9 + 1,
                                 input_tokens=5, output_tokens=5)
    finally:
        agentkit.shutdown()
    stats = analytics.usage_stats(tmp_path / "telemetry", analytics.window())
    assert stats.total.calls == 2
    assert stats.total.unpriced_calls == 1  # the unknown model with usage; the failed call cost $0
