"""Money: what the calls would have cost on a premium baseline model, and what the prompt cache saved.

Both price token counts with the SDK's pricing table (bundled, plus overrides), accumulating sums per
(provider, model, tier) in one streaming read: cost is linear in tokens, so sums priced once at the end
equal per-call prices added up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .aggregate import ratio
from .records import Progress, ReadSummary, Source, UsageReader, UsageRecord, load_pricing
from .timeparse import Window
from .usage import NONE_KEY, Period


# --- savings -----------------------------------------------------------------------------------------------

@dataclass
class Baseline:
    provider: str
    model: str
    input_per_mtok: float
    output_per_mtok: float
    reason: str  # "given" (--baseline-model) | "premium tier model" | "most expensive seen"


@dataclass
class SavingsRow:
    tier: str
    calls: int
    actual_cost_usd: float
    baseline_cost_usd: float
    saved_usd: float
    saved_rate: float | None  # saved / baseline cost


@dataclass
class Savings:
    """What the calls cost against what they would have cost on the baseline (premium) model."""

    period: Period
    baseline_rule: str
    baselines: list[Baseline]
    tiers: list[SavingsRow]
    total: SavingsRow
    excluded_calls: int  # no cost known, or no baseline for their provider
    read: ReadSummary


class _TokenSums:
    __slots__ = ("calls", "cost", "uncached", "cache_read", "cache_write", "output")

    def __init__(self) -> None:
        self.calls = self.uncached = self.cache_read = self.cache_write = self.output = 0
        self.cost = 0.0

    def add(self, r: UsageRecord) -> None:
        self.calls += 1
        self.cost += r.cost_usd or 0.0
        self.uncached += max(r.input_tokens - r.cache_read_tokens - r.cache_write_tokens, 0)
        self.cache_read += r.cache_read_tokens
        self.cache_write += r.cache_write_tokens
        self.output += r.output_tokens

    def priced_at(self, price: Any) -> float:
        cr = price.input if price.cache_read is None else price.cache_read
        cw = price.input if price.cache_write is None else price.cache_write
        return (self.uncached * price.input + self.cache_read * cr + self.cache_write * cw
                + self.output * price.output) / 1e6


BASELINE_RULE = ("per provider, the most expensive model (input + output price per million tokens in the "
                 "pricing table) seen in the period")
PREMIUM_RULE = "the model most used by the {tier!r} tier in the period, for every call"


def savings(source: Source, window: Window, baseline_model: str | None = None, *, pricing: Any = None,
            progress: Progress | None = None, premium_tier: str = "premium") -> Savings:
    """Cost per tier against the same tokens priced at a premium baseline.

    The baseline is ``baseline_model`` for every call when given (it must be in the pricing table); else
    the priced model most used by calls of the ``premium_tier`` tier, for every call (PREMIUM_RULE); with
    no such calls, per provider, the most expensive model seen in the period (BASELINE_RULE). Calls
    without a known cost and calls of a provider with no priced model are left out and counted in
    ``excluded_calls``.
    """
    pricing = pricing if pricing is not None else load_pricing()
    given = None
    if baseline_model is not None:
        given = pricing.lookup(baseline_model)
        if given is None:
            raise ValueError(f"invalid baseline_model={baseline_model!r}: not in the pricing table")
    sums: dict[tuple[str, str, str], _TokenSums] = {}
    excluded = 0
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    for r in reader:
        if r.cost_usd is None:
            excluded += 1
            continue
        k = (r.provider or NONE_KEY, r.model or NONE_KEY, r.tier or NONE_KEY)
        s = sums.get(k)
        if s is None:
            s = sums[k] = _TokenSums()
        s.add(r)
    reason = "given"
    if given is None:
        used: dict[str, int] = {}
        for (_, model, tier), sm in sums.items():
            if tier == premium_tier and model != NONE_KEY and pricing.lookup(model) is not None:
                used[model] = used.get(model, 0) + sm.calls
        if used:
            baseline_model = max(sorted(used), key=lambda m: used[m])
            given, reason = pricing.lookup(baseline_model), "premium tier model"
    baselines: dict[str, Baseline] = {}
    prices: dict[str, Any] = {}
    if given is not None:
        for provider, _, _ in sums:
            baselines[provider] = Baseline(provider, baseline_model, given.input, given.output,  # type: ignore[arg-type]
                                           reason)
            prices[provider] = given
    else:
        for provider, model, _ in sums:
            price = pricing.lookup(model) if model != NONE_KEY else None
            if price is None:
                continue
            best = prices.get(provider)
            if best is None or (price.input + price.output, model) > (
                    best.input + best.output, baselines[provider].model):
                prices[provider] = price
                baselines[provider] = Baseline(provider, model, price.input, price.output, "most expensive seen")
    tiers: dict[str, list[float]] = {}
    for (provider, _, tier), s in sums.items():
        price = prices.get(provider)
        if price is None:
            excluded += s.calls
            continue
        row = tiers.setdefault(tier, [0, 0.0, 0.0])
        row[0] += s.calls
        row[1] += s.cost
        row[2] += s.priced_at(price)

    def make(tier: str, calls: float, actual: float, base: float) -> SavingsRow:
        return SavingsRow(tier, int(calls), round(actual, 9), round(base, 9), round(base - actual, 9),
                          ratio(base - actual, base))

    rows = sorted((make(t, *v) for t, v in tiers.items()), key=lambda row: (-row.saved_usd, row.tier))
    total = make("all", sum(v[0] for v in tiers.values()), sum(v[1] for v in tiers.values()),
                 sum(v[2] for v in tiers.values()))
    if given is None:
        rule = BASELINE_RULE
    elif reason == "given":
        rule = f"{baseline_model} for every call (given)"
    else:
        rule = f"{baseline_model}: " + PREMIUM_RULE.format(tier=premium_tier)
    return Savings(Period.of(window), rule, sorted(baselines.values(), key=lambda b: b.provider), rows, total,
                   excluded, reader.summary)


# --- prompt cache ------------------------------------------------------------------------------------------

@dataclass
class CacheRow:
    model: str
    calls: int
    calls_with_cache_read: int
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    hit_rate: float | None  # cache read tokens / input tokens
    read_savings_usd: float | None  # cache reads priced at the input price minus their cache price
    write_premium_usd: float | None  # cache writes priced above the input price (negative if cheaper)
    net_saved_usd: float | None


@dataclass
class CacheReport:
    period: Period
    models: list[CacheRow]
    total: CacheRow
    unpriced_models: list[str]
    read: ReadSummary


def cache_report(source: Source, window: Window, *, pricing: Any = None,
                 progress: Progress | None = None) -> CacheReport:
    """Prompt-cache tokens per model and the money they saved, priced with the pricing table: a cached
    read costs its cache price instead of the input price; a cache write may cost more than input."""
    pricing = pricing if pricing is not None else load_pricing()
    per: dict[str, list[int]] = {}
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    for r in reader:
        row = per.get(r.model or NONE_KEY)
        if row is None:
            row = per[r.model or NONE_KEY] = [0, 0, 0, 0, 0]
        row[0] += 1
        row[1] += r.cache_read_tokens > 0
        row[2] += r.input_tokens
        row[3] += r.cache_read_tokens
        row[4] += r.cache_write_tokens
    rows: list[CacheRow] = []
    unpriced: list[str] = []
    for model, (calls, hits, inp, cr, cw) in per.items():
        price = pricing.lookup(model) if model != NONE_KEY else None
        read_saved = write_premium = net = None
        if price is not None:
            cr_price = price.input if price.cache_read is None else price.cache_read
            cw_price = price.input if price.cache_write is None else price.cache_write
            read_saved = round(cr * (price.input - cr_price) / 1e6, 9)
            write_premium = round(cw * (cw_price - price.input) / 1e6, 9)
            net = round(read_saved - write_premium, 9)
        elif cr or cw:
            unpriced.append(model)
        rows.append(CacheRow(model, calls, hits, inp, cr, cw, ratio(cr, inp), read_saved, write_premium, net))
    rows.sort(key=lambda row: (-(row.net_saved_usd or 0.0), -row.cache_read_tokens, row.model))

    def add(name: str) -> float | None:
        values = [getattr(row, name) for row in rows if getattr(row, name) is not None]
        return round(sum(values), 9) if values else None

    total = CacheRow("all", sum(r.calls for r in rows), sum(r.calls_with_cache_read for r in rows),
                     sum(r.input_tokens for r in rows), sum(r.cache_read_tokens for r in rows),
                     sum(r.cache_write_tokens for r in rows), None, add("read_savings_usd"),
                     add("write_premium_usd"), add("net_saved_usd"))
    total.hit_rate = ratio(total.cache_read_tokens, total.input_tokens)
    return CacheReport(Period.of(window), rows, total, sorted(unpriced), reader.summary)
