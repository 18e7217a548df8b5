"""Telemetry for the analytics tests, written by the real SDK: ``agentkit.init`` with the real JSONL span
exporter, ``agentkit.attributes`` and ``record_llm_call`` with explicit past times. The exporter's clock is
set to each call's day so files are named by day as a long-running app would leave them.

The figures the tests expect are computed here from CALLS by hand (prices from PRICES), not by the code
under test.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit.export.jsonl import JsonlSpanExporter

UTC = dt.timezone.utc

# Test-only models with round prices (USD per million tokens), so expectations do not move when the
# bundled table is updated.
PRICES: dict[str, dict[str, Any]] = {
    "big-model": {"provider": "acme", "input": 10.0, "output": 30.0, "cache_read": 1.0, "cache_write": 12.5},
    "small-model": {"provider": "acme", "input": 1.0, "output": 2.0, "cache_read": 0.1},
    "other-model": {"provider": "other", "input": 4.0, "output": 8.0},
}


@dataclass
class Call:
    """One LLM call to record; ``hours`` is its start relative to NOW (negative: in the past)."""

    hours: float
    model: str
    provider: str = "acme"
    input_tokens: int = 1000
    output_tokens: int = 100
    cache_read: int = 0
    cache_write: int = 0
    duration: float = 1.0
    error: str | None = None
    workflow: str | None = "support"
    agent: str | None = "resolver"
    stage: str | None = "answer"
    tier: str | None = None
    prompt_format: str | None = None
    retries: int | None = None
    parse_success: bool | None = None
    validation_success: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(hours=self.hours)

    def cost(self) -> float:
        p = PRICES[self.model]
        uncached = self.input_tokens - self.cache_read - self.cache_write
        cr = p.get("cache_read") if p.get("cache_read") is not None else p["input"]
        cw = p.get("cache_write") if p.get("cache_write") is not None else p["input"]
        return (uncached * p["input"] + self.cache_read * cr + self.cache_write * cw
                + self.output_tokens * p["output"]) / 1e6


def now_hour() -> dt.datetime:
    """The current hour (UTC) less one: every call at hours <= 0 is in the past, whatever the clock."""
    return dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)


# Three days of calls: premium and cheap tiers, two workflows, errors, retries, parse/validation outcomes,
# XML and plain prompts, prompt-cache reads and writes, and a provider of its own.
CALLS = [
    Call(-49, "big-model", tier="premium", input_tokens=2000, output_tokens=500, cache_read=1000, duration=2.0,
         prompt_format="xml", retries=0, parse_success=True, validation_success=True),
    Call(-48.5, "small-model", tier="cheap", input_tokens=800, output_tokens=50, duration=0.4, workflow="billing",
         agent="triage", stage="classify", prompt_format="plain", retries=0, parse_success=True),
    Call(-48, "small-model", tier="cheap", input_tokens=800, output_tokens=60, duration=0.5, workflow="billing",
         agent="triage", stage="classify", prompt_format="plain", retries=1, parse_success=False),
    Call(-26, "big-model", tier="premium", input_tokens=3000, output_tokens=700, cache_write=2000, duration=3.0,
         prompt_format="xml", retries=0, parse_success=True, validation_success=False),
    Call(-25, "other-model", provider="other", input_tokens=500, output_tokens=500, duration=1.5, workflow=None,
         agent=None, stage=None),
    Call(-24.5, "small-model", tier="cheap", input_tokens=1200, output_tokens=80, duration=0.6, error="RateLimitError",
         prompt_format="plain", retries=0),
    Call(-3, "big-model", tier="premium", input_tokens=1500, output_tokens=300, cache_read=1200, duration=2.5,
         prompt_format="xml", retries=1, parse_success=True, validation_success=True),
    Call(-2, "small-model", tier="cheap", input_tokens=600, output_tokens=40, duration=0.3, workflow="billing",
         agent="triage", stage="classify", prompt_format="plain", retries=0, parse_success=True),
    Call(-1, "small-model", tier="cheap", input_tokens=700, output_tokens=45, duration=0.35, workflow="billing",
         agent="triage", stage="classify", prompt_format="plain", retries=2, parse_success=True),
]


def write_calls(home: Path, calls: Iterable[Call], now: dt.datetime, *, max_bytes: int | None = None,
                flush_each: bool = False, service: str = "analytics-tests") -> None:
    """Record ``calls`` through the real SDK into ``home``/telemetry, one file (set) per day of the calls."""
    by_day: dict[dt.date, list[Call]] = {}
    for c in calls:
        by_day.setdefault(c.start(now).date(), []).append(c)
    for day in sorted(by_day):
        clock = dt.datetime.combine(day, dt.time(12), tzinfo=UTC).timestamp()
        kw: dict[str, Any] = {"clock": lambda clock=clock: clock}
        if max_bytes is not None:
            kw["max_bytes"] = max_bytes
        exporter = JsonlSpanExporter(home / "telemetry", **kw)
        tp = TracerProvider(resource=Resource.create({"service.name": service}))
        assert agentkit.init(exporters=[exporter], metric_exporters="none", home=home, pricing=PRICES,
                             tracer_provider=tp, meter_provider=MeterProvider())
        try:
            for c in by_day[day]:
                start = c.start(now)
                attrs = {k: v for k, v in (("workflow", c.workflow), ("agent", c.agent),
                                           ("prompt_format", c.prompt_format)) if v is not None}
                with agentkit.attributes(stage=c.stage, tier=c.tier, user_id="user-42", **attrs):
                    agentkit.record_llm_call(
                        provider=c.provider, model=c.model, start_time=start,
                        end_time=start + dt.timedelta(seconds=c.duration), input_tokens=c.input_tokens,
                        output_tokens=c.output_tokens, cache_read_tokens=c.cache_read or None,
                        cache_write_tokens=c.cache_write or None, error=c.error, retries=c.retries,
                        parse_success=c.parse_success, validation_success=c.validation_success, **c.extra)
                if flush_each:
                    assert agentkit.flush()
        finally:
            agentkit.shutdown()
        tp.shutdown()


def write_pricing(path: Path) -> Path:
    path.write_text(json.dumps({"models": PRICES}))
    return path


def synthetic_calls(days: int = 14, per_day: int = 24, seed: int = 11) -> list[Call]:
    """A busier two weeks for the report: three models, two workflows, tiers, errors and cache reads."""
    import random

    rng = random.Random(seed)
    shapes = [("big-model", "acme", "premium", "xml"), ("small-model", "acme", "cheap", "plain"),
              ("other-model", "other", None, None)]
    calls = []
    for d in range(days):
        for i in range(per_day + rng.randint(-6, 6)):
            model, provider, tier, fmt = shapes[rng.choice((0, 1, 1, 1, 2))]
            inp = rng.randint(200, 4000)
            calls.append(Call(
                -24.0 * (days - 1 - d) - rng.uniform(0.05, 20), model, provider=provider, input_tokens=inp,
                output_tokens=rng.randint(20, 900), cache_read=rng.choice((0, 0, inp // 2)),
                duration=round(rng.lognormvariate(0 if model == "big-model" else -0.8, 0.4), 3),
                error="RateLimitError" if rng.random() < 0.04 + 0.02 * (d % 3) else None,
                workflow=rng.choice(("support", "billing", "onboarding", "search")), tier=tier, prompt_format=fmt,
                retries=rng.choice((0, 0, 0, 1))))
    return calls
