"""Usage: recent calls, grouped figures (calls, tokens, cost, errors, latency, cache hits) and two periods
side by side. Every function reads the spans once, streaming; costs.py and export.py hold the rest.

Grouped figures (``collect``, so ``usage_stats`` and the report) come from the incremental summaries kept
next to the files (analytics.summary) when the read is large enough and the directory can hold one: the
figures are those of a cold read, and a repeated read costs what was appended since. ``cache=False``
reads cold, as does any fault of the summaries.

Each takes a ``source`` (a telemetry file, directory, glob or list of them: ours or a Collector file
exporter's output) and returns a plain dataclass; the ``agentkit usage`` commands print these.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .. import diagnostics
from .aggregate import Accumulator, GroupStats, ratio, sort_groups
from .records import Progress, ReadSummary, Source, UsageReader, UsageRecord, load_pricing
from .timeparse import UTC, Window, positive_days, tz_name

GROUP_FIELDS = ("model", "provider", "workflow", "tier", "agent", "stage", "day")
NONE_KEY = "(none)"
_SLOT_NS = 60 * 10**9  # time-zone offsets and their changes fall on whole minutes


@dataclass
class Period:
    """The window a result covers, as ISO times in the chosen zone (None: open-ended)."""

    since: str | None
    until: str | None
    tz: str
    description: str

    @classmethod
    def of(cls, window: Window) -> Period:
        def iso(when: dt.datetime | None) -> str | None:
            return None if when is None else when.astimezone(window.tz).isoformat(timespec="seconds")

        return cls(iso(window.since), iso(window.until), window.tz_name, window.describe())


# --- grouping ----------------------------------------------------------------------------------------------

class DayKey:
    """The local date (YYYY-MM-DD in ``tz``) a call started on, cached per minute."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self._cache: dict[int, str] = {}

    def __call__(self, r: UsageRecord) -> str:
        return self.of_ns(r.start_ns)

    def of_ns(self, ns: int) -> str:
        slot = ns // _SLOT_NS
        day = self._cache.get(slot)
        if day is None:
            if len(self._cache) > 200_000:  # bounded: about 140 days of minutes
                self._cache.clear()
            when = dt.datetime.fromtimestamp(slot * 60, UTC).astimezone(self.tz)
            day = self._cache[slot] = when.date().isoformat()
        return day


def key_function(by: str, tz: dt.tzinfo = UTC) -> Callable[[UsageRecord], str]:
    """How records are grouped for ``by``; ValueError naming the field for an unknown one."""
    if by == "day":
        return DayKey(tz)
    if by not in GROUP_FIELDS:
        raise ValueError(f"invalid by={by!r}: unknown field; expected one of {', '.join(GROUP_FIELDS)}")
    name = by

    def key(r: UsageRecord) -> str:
        return getattr(r, name) or NONE_KEY

    return key


@dataclass
class Collected:
    """Accumulators for all calls and per group, for each grouping asked for, from one read."""

    window: Window
    total: Accumulator
    groups: dict[str, dict[str, Accumulator]]
    read: ReadSummary


def collect(source: Source, window: Window, by: Sequence[str] = (), *, pricing: Any = None,
            progress: Progress | None = None, where: Callable[[UsageRecord], bool] | None = None,
            also: Callable[[UsageRecord], None] | None = None, cache: bool = True) -> Collected:
    """One pass over the calls: totals, and per group for each field in ``by``. ``where`` filters calls;
    ``also`` sees every call that is counted (for figures of another shape in the same pass). Without
    either, the figures come from the summaries when ``cache`` (see the module docstring)."""
    keyed = [(b, key_function(b, window.tz), {}) for b in by]
    if pricing is None:
        pricing = load_pricing()
    if cache and where is None and also is None:
        got = _summarized(source, window, by, pricing, progress)
        if got is not None:
            return got
    total = Accumulator()
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    for r in reader:
        if where is not None and not where(r):
            continue
        if not keyed:
            total.add(r)
        for _, fn, groups in keyed:
            k = fn(r)
            acc = groups.get(k)
            if acc is None:
                acc = groups[k] = Accumulator()
            acc.add(r)
        if also is not None:
            also(r)
    if keyed:  # every call is in exactly one group of each grouping: the total is their sum, added once
        for acc in keyed[0][2].values():
            total.merge(acc)
    return Collected(window, total, {b: g for b, _, g in keyed}, reader.summary)


def _summarized(source: Source, window: Window, by: Sequence[str], pricing: Any,
                progress: Progress | None) -> Collected | None:
    """collect's figures from the summaries; None (read cold) when they do not apply or fail."""
    from . import summary

    try:
        got = summary.collect(source, window, by, pricing, progress, DayKey(window.tz) if "day" in by else None)
    except Exception as exc:  # never the command's failure: the cold read answers
        summary.LAST.error = f"{type(exc).__name__}: {exc}"
        diagnostics.logger.debug("otel_agentkit: usage summary not used: %r", exc, exc_info=True)
        return None
    if got is None:
        return None
    return Collected(window, got.total, got.groups, got.read)


# --- show and stats ----------------------------------------------------------------------------------------

@dataclass
class RecentCalls:
    period: Period
    calls: list[UsageRecord]
    read: ReadSummary


def recent_calls(source: Source, window: Window, limit: int = 20, *, pricing: Any = None,
                 progress: Progress | None = None) -> RecentCalls:
    """The ``limit`` most recent calls, newest first (memory: ``limit`` records)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"invalid limit={limit!r}: expected a whole number above 0")
    heap: list[tuple[int, str, UsageRecord]] = []
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    for r in reader:
        item = (r.start_ns, r.span_id, r)
        if len(heap) < limit:
            heapq.heappush(heap, item)
        elif item[:2] > heap[0][:2]:
            heapq.heapreplace(heap, item)
    newest = [r for _, _, r in sorted(heap, key=lambda i: i[:2], reverse=True)]
    return RecentCalls(Period.of(window), newest, reader.summary)


@dataclass
class UsageStats:
    period: Period
    by: str | None
    total: GroupStats
    groups: list[GroupStats]
    read: ReadSummary


def usage_stats(source: Source, window: Window, by: str | None = None, *, pricing: Any = None,
                progress: Progress | None = None, cache: bool = True) -> UsageStats:
    """Calls, tokens, cost, error rate, latency p50/p95 and cache hit rate, in all and per ``by`` group.
    ``cache=False``: read every span, leaving the summaries alone (see the module docstring)."""
    if by is not None:
        key_function(by)  # validate before reading
    c = collect(source, window, (by,) if by else (), pricing=pricing, progress=progress, cache=cache)
    groups = sort_groups((acc.result(k) for k, acc in c.groups[by].items()), by) if by else []
    return UsageStats(Period.of(window), by, c.total.result("all"), groups, c.read)


# --- compare -----------------------------------------------------------------------------------------------

@dataclass
class PeriodFigures:
    days: int
    since: str
    stats: GroupStats


@dataclass
class Change:
    metric: str
    kind: str  # "total" (no change: the periods differ in length) | "per_day" | "rate" | "seconds"
    period1: float | None
    period2: float | None
    difference: float | None  # period1 - period2
    change_rate: float | None  # difference / period2


@dataclass
class Comparison:
    """Two windows ending now, side by side. Counts are compared per day (the windows differ in length);
    rates and latencies as they are."""

    tz: str
    period1: PeriodFigures
    period2: PeriodFigures
    changes: list[Change]
    read: ReadSummary


def compare_periods(source: Source, period1_days: int, period2_days: int, *, tz: dt.tzinfo = UTC,
                    now: dt.datetime | None = None, pricing: Any = None,
                    progress: Progress | None = None) -> Comparison:
    """The last ``period1_days`` against the last ``period2_days`` (both ending now), in one read."""
    d1, d2 = positive_days(period1_days, "--period1"), positive_days(period2_days, "--period2")
    end = now or dt.datetime.now(UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    since1, since2 = end - dt.timedelta(days=d1), end - dt.timedelta(days=d2)
    ns1, ns2 = _ns(since1), _ns(since2)
    acc1, acc2 = Accumulator(), Accumulator()
    reader = UsageReader(source, Window(min(since1, since2), None, tz), pricing=pricing, progress=progress)
    for r in reader:
        if r.start_ns >= ns1:
            acc1.add(r)
        if r.start_ns >= ns2:
            acc2.add(r)
    s1, s2 = acc1.result(f"last {d1} days"), acc2.result(f"last {d2} days")

    def change(metric: str, kind: str, v1: float | None, v2: float | None) -> Change:
        if kind == "total" or v1 is None or v2 is None:
            return Change(metric, kind, v1, v2, None, None)
        diff = v1 - v2
        return Change(metric, kind, v1, v2, diff, ratio(diff, v2))

    changes = [
        change("calls", "total", s1.calls, s2.calls),
        change("calls_per_day", "per_day", s1.calls / d1, s2.calls / d2),
        change("total_tokens", "total", s1.total_tokens, s2.total_tokens),
        change("tokens_per_day", "per_day", s1.total_tokens / d1, s2.total_tokens / d2),
        change("cost_usd", "total", s1.cost_usd, s2.cost_usd),
        change("cost_usd_per_day", "per_day", s1.cost_usd / d1, s2.cost_usd / d2),
        change("error_rate", "rate", s1.error_rate, s2.error_rate),
        change("latency_p50_s", "seconds", s1.latency_p50_s, s2.latency_p50_s),
        change("latency_p95_s", "seconds", s1.latency_p95_s, s2.latency_p95_s),
        change("cache_hit_rate", "rate", s1.cache_hit_rate, s2.cache_hit_rate),
    ]

    def iso(when: dt.datetime) -> str:
        return when.astimezone(tz).isoformat(timespec="seconds")

    return Comparison(tz_name(tz), PeriodFigures(d1, iso(since1), s1), PeriodFigures(d2, iso(since2), s2),
                      changes, reader.summary)


def _ns(when: dt.datetime) -> int:
    delta = when - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


__all__ = [
    "Change", "Collected", "Comparison", "GROUP_FIELDS", "NONE_KEY", "Period", "PeriodFigures", "RecentCalls",
    "UsageStats", "collect", "compare_periods", "key_function", "recent_calls", "usage_stats",
]
