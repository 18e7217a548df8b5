"""Streaming aggregation: totals and latency percentiles in memory that does not grow with the files.

Percentiles are exact (nearest rank) while a group has at most ``EXACT_LIMIT`` calls; past that the values
move into log-spaced buckets 2% wide, whose midpoint is within 1% of the true value, and a group costs a
few kilobytes however many calls it has. The alert engine's percentile (alerts.engine.Stats) is the same
nearest rank, kept apart on purpose: its summaries merge across a rule's time slots at every tick, so they
are always bucketed (and it interpolates in the explicit buckets of metric points), where a report's figure
for a group of up to EXACT_LIMIT calls is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from .records import UsageRecord

EXACT_LIMIT = 10_000
_GAMMA = 1.02  # bucket i holds (GAMMA^(i-1), GAMMA^i]; the midpoint is within 1% of any value in it
_LOG_GAMMA = math.log(_GAMMA)
_MIN_VALUE = 1e-9


class Quantiles:
    """Percentiles of non-negative values (seconds): exact up to EXACT_LIMIT values, then within 1%."""

    __slots__ = ("_values", "_buckets", "_zeros", "count")

    def __init__(self) -> None:
        self._values: list[float] | None = []
        self._buckets: dict[int, int] = {}
        self._zeros = 0
        self.count = 0

    def add(self, value: float) -> None:
        self.count += 1
        values = self._values
        if values is not None:
            values.append(value)
            if len(values) > EXACT_LIMIT:
                self._values = None
                for v in values:
                    self._bucket(v)
            return
        self._bucket(value)

    def _bucket(self, value: float) -> None:
        if value <= _MIN_VALUE:
            self._zeros += 1
            return
        i = math.ceil(math.log(value) / _LOG_GAMMA)
        self._buckets[i] = self._buckets.get(i, 0) + 1

    def merge(self, other: Quantiles) -> None:
        if other._values is not None:
            for v in other._values:
                self.add(v)
            return
        if self._values is not None:
            values, self._values = self._values, None
            for v in values:
                self._bucket(v)
        self._zeros += other._zeros
        for i, n in other._buckets.items():
            self._buckets[i] = self._buckets.get(i, 0) + n
        self.count += other.count

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-quantile (0 < q <= 1), or None with no values."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        if self._values is not None:
            return sorted(self._values)[rank - 1]
        if rank <= self._zeros:
            return 0.0
        seen = self._zeros
        for i in sorted(self._buckets):
            seen += self._buckets[i]
            if seen >= rank:
                return (_GAMMA ** (i - 1) + _GAMMA ** i) / 2
        return None  # pragma: no cover - counts always add up


@dataclass
class GroupStats:
    """Figures for one group of calls (or all of them). Rates are 0..1; None when there is nothing to
    divide by. ``cache_hit_rate`` is the share of input tokens read from the provider's prompt cache."""

    key: str
    calls: int
    errors: int
    error_rate: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost_usd: float
    unpriced_calls: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    cache_hit_rate: float | None
    estimated: bool = False  # some calls were recorded under ratio sampling: counts, tokens and cost scaled
    sampled_calls: int = 0  # of which this many calls were read (each standing for 1/ratio calls)


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


_SCALED = ("calls", "errors", "input", "output", "cache_read", "cache_write", "reasoning", "unpriced")


class Accumulator:
    """Running totals for one group.

    A call recorded under ratio sampling stands for 1/ratio calls: it is counted once in the exact
    integer totals, and the rest of its weight goes to ``extra`` (float), so that sums stay exact integers
    when nothing was sampled and are scaled estimates, rounded, when something was.
    """

    __slots__ = ("calls", "errors", "input", "output", "cache_read", "cache_write", "reasoning", "cost",
                 "unpriced", "latency", "sampled", "extra")

    def __init__(self) -> None:
        self.calls = self.errors = self.input = self.output = 0
        self.cache_read = self.cache_write = self.reasoning = self.unpriced = 0
        self.cost = 0.0
        self.latency = Quantiles()
        self.sampled = 0
        self.extra: dict[str, float] | None = None  # the scaled-up part of sampled calls, per _SCALED field

    def add(self, r: UsageRecord) -> None:
        self.calls += 1
        if not r.ok:
            self.errors += 1
        self.input += r.input_tokens
        self.output += r.output_tokens
        self.cache_read += r.cache_read_tokens
        self.cache_write += r.cache_write_tokens
        self.reasoning += r.reasoning_tokens
        if r.cost_usd is None:
            self.unpriced += 1
        else:
            self.cost += r.cost_usd
        self.latency.add(r.duration_s)
        if r.sampling_ratio is not None:
            self._scale(r, 1.0 / r.sampling_ratio - 1.0)

    def _scale(self, r: UsageRecord, more: float) -> None:
        self.sampled += 1
        extra = self.extra
        if extra is None:
            extra = self.extra = dict.fromkeys(_SCALED, 0.0)
        extra["calls"] += more
        extra["errors"] += 0.0 if r.ok else more
        extra["input"] += r.input_tokens * more
        extra["output"] += r.output_tokens * more
        extra["cache_read"] += r.cache_read_tokens * more
        extra["cache_write"] += r.cache_write_tokens * more
        extra["reasoning"] += r.reasoning_tokens * more
        if r.cost_usd is None:
            extra["unpriced"] += more
        else:
            self.cost += r.cost_usd * more

    def merge(self, other: Accumulator) -> None:
        for name in ("calls", "errors", "input", "output", "cache_read", "cache_write", "reasoning", "cost",
                     "unpriced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.merge(other.latency)
        self.sampled += other.sampled
        if other.extra is not None:
            mine = self.extra if self.extra is not None else dict.fromkeys(_SCALED, 0.0)
            self.extra = {k: mine[k] + other.extra[k] for k in _SCALED}

    def scaled(self, name: str) -> int:
        """A total: exact when no call was sampled, else the estimate (rounded to a whole number)."""
        value = getattr(self, name)
        return value if self.extra is None else int(round(value + self.extra[name]))

    def result(self, key: str) -> GroupStats:
        t = self.scaled
        calls, errors, inp, cache_read = t("calls"), t("errors"), t("input"), t("cache_read")
        return GroupStats(
            key=key, calls=calls, errors=errors, error_rate=ratio(errors, calls),
            input_tokens=inp, output_tokens=t("output"), cache_read_tokens=cache_read,
            cache_write_tokens=t("cache_write"), reasoning_tokens=t("reasoning"),
            total_tokens=inp + t("output"), cost_usd=round(self.cost, 9), unpriced_calls=t("unpriced"),
            latency_p50_s=self.latency.quantile(0.50), latency_p95_s=self.latency.quantile(0.95),
            cache_hit_rate=ratio(cache_read, inp), estimated=self.sampled > 0, sampled_calls=self.sampled,
        )


def sort_groups(groups: Iterable[GroupStats], by: str) -> list[GroupStats]:
    """Days in date order; anything else by cost, then calls, highest first."""
    if by == "day":
        return sorted(groups, key=lambda g: g.key)
    return sorted(groups, key=lambda g: (-g.cost_usd, -g.calls, g.key))
