"""Rule evaluation over time windows, fed by span facts and metric points.

Both the in-process span processor (from ``ReadableSpan``) and ``agentkit alerts watch`` (from the JSONL
``SpanRecord``) turn spans into the same small fact: end time, duration, error flag, attributes. Facts are
first summed per (second, model/provider/workflow/agent) in a pending batch, which costs the same whatever
the number of rules; at each evaluation tick the batch is spread over the rules whose filters match, each
rule keeping about 120 time slots of its window. A rule's value is then a merge of at most ~121 small
summaries, so evaluation cost does not grow with traffic.

Percentiles come from a log-bucketed histogram (relative error under 1 %) for span values, and from the
explicit buckets of histogram metric points, interpolated, for metric rules. The usage reports' percentile
(analytics.aggregate.Quantiles) is the same nearest rank, kept apart on purpose: it is exact up to 10,000
values, which ~121 slots merged at every tick could not afford, and it has no explicit buckets to read.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from fnmatch import fnmatchcase
from itertools import repeat
from types import MappingProxyType
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from .. import semconv as sc
from .rules import PERCENTILES, Rule

_LOG_BASE = 1.01
_LOG = math.log(_LOG_BASE)
_INV_LOG = 1.0 / _LOG
_ZERO_KEY = -(2 ** 31)
SLOTS_PER_WINDOW = 120
_INFERENCE = sc.INFERENCE_OPERATIONS
_OP, _PROVIDER = sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME
_REQ_MODEL, _RESP_MODEL = sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL
# Workflow and agent of a span: the v0.1.0 names first, then the pre-release ones (files written before).
_WORKFLOW, _OLD_WORKFLOW = sc.AGENTKIT_WORKFLOW_NAME, sc.GEN_AI_WORKFLOW_NAME
_AGENT, _PROJECT_AGENT = sc.GEN_AI_AGENT_NAME, sc.AGENTKIT_AGENT_NAME
_COST, _IN, _OUT = sc.AGENTKIT_COST_USD, sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS

_NUMBER = frozenset({int, float})
_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})
# Dimensions of a fact: (operation, provider, request model, response model, workflow, agent).
Dims = tuple[Any, Any, Any, Any, Any, Any]


class SpanFact(NamedTuple):
    """What the engine needs of one ended span."""

    time: float  # end, seconds since the epoch
    duration: float  # seconds
    error: bool
    attributes: Mapping[str, Any]


def fact_from_span(span: Any) -> SpanFact:
    """From an OTel SDK ``ReadableSpan``."""
    end = span.end_time or span.start_time or 0
    error = span.status is not None and span.status.status_code.name == "ERROR"
    return SpanFact(end / 1e9, max(0, end - (span.start_time or end)) / 1e9, error, span.attributes or {})


def fact_from_record(record: Any) -> SpanFact:
    """From an ``otel_agentkit.export.reader.SpanRecord`` (the local JSONL telemetry)."""
    end = record.end_ns or record.start_ns or 0
    return SpanFact(end / 1e9, max(0, end - (record.start_ns or end)) / 1e9, record.status == "ERROR",
                    record.attributes or {})


def metric_dims(attrs: Mapping[str, Any]) -> Dims:
    """Dimensions of a metric point: GenAI attribute names, or the cost counter's short names. A v0.1.0
    workflow point (gen_ai.invoke_agent.duration with operation invoke_workflow) has the workflow's name in
    gen_ai.agent.name: it is the workflow dimension there, as gen_ai.workflow.name was before."""
    get = attrs.get
    op = get(_OP)
    workflow = get(_WORKFLOW) or get(_OLD_WORKFLOW) or get(sc.COST_ATTR_WORKFLOW)
    agent = get(_AGENT) or get(_PROJECT_AGENT) or get(sc.COST_ATTR_AGENT)
    if op == sc.OP_INVOKE_WORKFLOW and workflow is None:
        workflow, agent = agent, None
    return (op, get(_PROVIDER) or get(sc.COST_ATTR_PROVIDER), get(_REQ_MODEL) or get(sc.COST_ATTR_MODEL),
            get(_RESP_MODEL), workflow, agent)


# The same measurement under its pre-release and its v0.1.0 name: a rule on either name reads points of
# both, so rules keep working over files written with either set (and over a folder holding both). Where one
# export carries both names (semconv "both"), the alias copy is skipped: see alias_points.
METRIC_ALIASES: dict[str, str] = {
    sc.METRIC_INVOCATION_DURATION: sc.METRIC_INVOKE_AGENT_DURATION,
    sc.METRIC_INVOKE_AGENT_DURATION: sc.METRIC_INVOCATION_DURATION,
}


def wanted_with_aliases(names: Iterable[str]) -> frozenset[str]:
    """The metric names to read for rules on ``names``: each, and its other-set alias."""
    names = frozenset(names)
    return names | frozenset(METRIC_ALIASES[n] for n in names if n in METRIC_ALIASES)


def point_targets(name: str, wanted: frozenset[str], present: Any, origin: Any) -> tuple[str, ...]:
    """The rule metric names a point named ``name`` counts for: its own when a rule reads it, and its alias
    when a rule reads that and the same export (``origin``: resource and time) did not carry the alias
    itself (``present``: a set of (name, origin))."""
    alias = METRIC_ALIASES.get(name)
    own = name in wanted
    if alias is None or alias not in wanted or (alias, origin) in present:
        return (name,) if own else ()
    return (name, alias) if own else (alias,)


class Stats:
    """A mergeable summary of numbers: count, total, min, max, last, and an optional histogram."""

    __slots__ = ("count", "total", "lo", "hi", "hist", "explicit", "last_t", "last_v")

    def __init__(self, hist: bool = False, explicit: bool = False) -> None:
        self.count = 0
        self.total = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.hist: dict[float, int] | None = {} if hist else None
        self.explicit = explicit  # histogram keys are explicit upper bounds (metric points), else log buckets
        self.last_t = -math.inf
        self.last_v: float | None = None

    def add(self, v: float, t: float | None = None) -> None:
        self.count += 1
        self.total += v
        if v < self.lo:
            self.lo = v
        if v > self.hi:
            self.hi = v
        hist = self.hist
        if hist is not None and not self.explicit:
            key = math.ceil(math.log(v) / _LOG - 1e-9) if v > 0 else _ZERO_KEY
            hist[key] = hist.get(key, 0) + 1
        if t is not None and t >= self.last_t:
            self.last_t, self.last_v = t, v

    def add_many(self, values: list[float]) -> None:
        """Many values at once; the loops run in C (sum, min, max, Counter over mapped logs)."""
        n = len(values)
        if not n:
            return
        self.count += n
        self.total += sum(values)
        lo, hi = min(values), max(values)
        if lo < self.lo:
            self.lo = lo
        if hi > self.hi:
            self.hi = hi
        hist = self.hist
        if hist is not None and not self.explicit:
            positive = values if lo > 0 else [v for v in values if v > 0]
            if len(positive) < n:
                hist[_ZERO_KEY] = hist.get(_ZERO_KEY, 0) + n - len(positive)
            keys = map(math.ceil, map(operator.sub, map(operator.mul, map(math.log, positive), repeat(_INV_LOG)),
                                      repeat(1e-9)))
            for key, count in Counter(keys).items():
                hist[key] = hist.get(key, 0) + count

    def add_histogram(self, count: int, total: float, lo: float | None, hi: float | None,
                      bounds: Sequence[float], counts: Sequence[int], t: float) -> None:
        """Merge one explicit-bucket histogram point (``counts`` has one more entry than ``bounds``)."""
        self.count += count
        self.total += total
        if count and lo is not None and math.isfinite(lo):
            self.lo = min(self.lo, lo)
        if count and hi is not None and math.isfinite(hi):
            self.hi = max(self.hi, hi)
        if self.hist is None:
            self.hist, self.explicit = {}, True
        hist = self.hist
        for i, n in enumerate(counts):
            if n:
                key = float(bounds[i]) if i < len(bounds) else math.inf
                hist[key] = hist.get(key, 0) + n
        if t >= self.last_t and count:
            self.last_t, self.last_v = t, total / count

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.total += other.total
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        if other.hist:
            if self.hist is None:
                self.hist, self.explicit = {}, other.explicit
            if self.explicit == other.explicit:
                hist = self.hist
                for key, n in other.hist.items():
                    hist[key] = hist.get(key, 0) + n
        if other.last_t >= self.last_t and other.last_v is not None:
            self.last_t, self.last_v = other.last_t, other.last_v

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile from the histogram, clamped to the observed min and max."""
        hist = self.hist
        n = sum(hist.values()) if hist else 0
        if not n:
            return None
        target = max(1, math.ceil(q * n - 1e-9))
        cum, prev = 0, None
        for key in sorted(hist):
            count = hist[key]
            if cum + count >= target:
                if not self.explicit:
                    value = 0.0 if key == _ZERO_KEY else _LOG_BASE ** key
                else:
                    lower = prev if prev is not None else (self.lo if math.isfinite(self.lo) else 0.0)
                    upper = key if math.isfinite(key) else (self.hi if math.isfinite(self.hi) else lower)
                    value = lower + (upper - lower) * ((target - cum) / count)
                if math.isfinite(self.lo):
                    value = max(value, self.lo)
                if math.isfinite(self.hi):
                    value = min(value, self.hi)
                return value
            cum += count
            prev = key
        return self.hi if math.isfinite(self.hi) else None

    def value(self, aggregation: str) -> float | None:
        if aggregation == "sum":
            return self.total
        if aggregation == "count":
            return float(self.count)
        if not self.count:
            return None
        if aggregation == "avg":
            return self.total / self.count
        if aggregation == "min":
            return self.lo if math.isfinite(self.lo) else None
        if aggregation == "max":
            return self.hi if math.isfinite(self.hi) else None
        if aggregation == "last":
            return self.last_v
        return self.percentile(PERCENTILES[aggregation])


class Agg:
    """What one slot knows about spans: inference calls, errors, latency (s), cost, tokens, and the numeric
    span attributes and metric points some rule asked for."""

    __slots__ = ("calls", "errors", "latency", "cost", "tokens", "attrs", "points")

    def __init__(self, latency_hist: bool = False) -> None:
        self.calls = 0
        self.errors = 0
        self.latency = Stats(hist=latency_hist)
        self.cost = 0.0
        self.tokens = 0
        self.attrs: dict[str, Stats] | None = None
        self.points: dict[str, Stats] | None = None

    def merge_core(self, other: Agg) -> None:
        self.calls += other.calls
        self.errors += other.errors
        if other.calls:
            self.latency.merge(other.latency)
        self.cost += other.cost
        self.tokens += other.tokens


class _Pending:
    """Spans of one (second, dims) since the last tick, kept raw so the hot path only counts and appends."""

    __slots__ = ("calls", "errors", "latencies", "cost", "tokens", "attrs", "points")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.latencies: list[float] = []  # seconds
        self.cost = 0.0
        self.tokens = 0
        self.attrs: dict[str, list[float]] | None = None
        self.points: dict[str, Stats] | None = None

    def summary(self, latency_hist: bool, attr_hist: frozenset[str]) -> Agg:
        agg = Agg(latency_hist)
        agg.calls, agg.errors, agg.cost, agg.tokens = self.calls, self.errors, self.cost, self.tokens
        if self.latencies:
            agg.latency.add_many(self.latencies)
        if self.attrs:
            agg.attrs = {}
            for name, values in self.attrs.items():
                stats = agg.attrs[name] = Stats(hist=name in attr_hist)
                stats.add_many(values)
        agg.points = self.points
        return agg


class Evaluation(NamedTuple):
    rule: Rule
    value: float | None
    breached: bool
    samples: int  # how many observations the value summarises


def _match(pattern: str, value: Any) -> bool:
    return value is not None and fnmatchcase(str(value), pattern)


def rule_matches(rule: Rule, dims: Dims) -> bool:
    """Whether a fact with ``dims`` counts for ``rule`` (filters are exact or glob patterns)."""
    _, provider, req_model, resp_model, workflow, agent = dims
    f = rule.filters
    if "model" in f and not (_match(f["model"], req_model) or _match(f["model"], resp_model)):
        return False
    if "provider" in f and not _match(f["provider"], provider):
        return False
    if "workflow" in f and not _match(f["workflow"], workflow):
        return False
    if "agent" in f and not _match(f["agent"], agent):
        return False
    return True


class RuleWindow:
    """The slots of one rule's window."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.width = max(1.0, float(rule.window) / SLOTS_PER_WINDOW)  # type: ignore[arg-type]
        self.slots: dict[int, Any] = {}
        self._matches: dict[Dims, bool] = {}
        self.kind = "builtin" if rule.builtin else rule.source  # builtin | spans | metrics

    def matches(self, dims: Dims) -> bool:
        hit = self._matches.get(dims)
        if hit is None:
            if len(self._matches) > 10000:
                self._matches.clear()
            hit = self._matches[dims] = rule_matches(self.rule, dims)
        return hit

    def add(self, second: int, agg: Agg) -> None:
        idx = int(second // self.width)
        if self.kind == "builtin":
            slot = self.slots.get(idx)
            if slot is None:
                slot = self.slots[idx] = Agg(self.rule.metric == "p95_latency")
            slot.merge_core(agg)
            return
        source = agg.attrs if self.kind == "spans" else agg.points
        stats = source.get(self.rule.metric) if source else None
        if stats is None:
            return
        slot = self.slots.get(idx)
        if slot is None:
            slot = self.slots[idx] = Stats()
        slot.merge(stats)

    def value(self, now: float) -> tuple[float | None, int]:
        window = float(self.rule.window)  # type: ignore[arg-type]
        first = math.floor((now - window) / self.width) + 1  # slots ending after the window start
        for idx in [i for i in self.slots if i < first]:
            del self.slots[idx]
        live = [s for i, s in self.slots.items() if i * self.width <= now]
        metric = self.rule.metric
        if self.kind != "builtin":
            total = Stats()
            for s in live:
                total.merge(s)
            return total.value(self.rule.aggregation or "sum"), total.count
        agg = Agg(metric == "p95_latency")
        for s in live:
            agg.merge_core(s)
        if metric == "daily_cost":
            return agg.cost, agg.calls
        if metric == "token_usage":
            return float(agg.tokens), agg.calls
        if not agg.calls:
            return None, 0
        if metric == "error_rate":
            return 100.0 * agg.errors / agg.calls, agg.calls
        if metric == "avg_latency":
            return 1000.0 * agg.latency.total / agg.latency.count, agg.calls
        p95 = agg.latency.percentile(0.95)
        return (None if p95 is None else 1000.0 * p95), agg.calls


class Evaluator:
    """Windows for a set of rules; single-threaded (the alert worker, or one ``watch`` pass)."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.windows: dict[Any, RuleWindow] = {}
        self._pending: dict[tuple[int, Dims], _Pending] = {}
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules; a rule whose definition is unchanged keeps its window (and its data)."""
        windows: dict[Any, RuleWindow] = {}
        for rule in rules:
            if not rule.enabled:
                continue
            key = rule.id if rule.id is not None else rule.name
            old = self.windows.get(key)
            windows[key] = old if old is not None and old.rule == rule else RuleWindow(rule)
        self.windows = windows
        span_rules = [w.rule for w in windows.values() if w.kind == "spans"]
        self._latency_hist = any(w.rule.metric == "p95_latency" for w in windows.values())
        self._attr_names = tuple(sorted({r.metric for r in span_rules}))
        self._attr_hist = frozenset(r.metric for r in span_rules if r.aggregation in PERCENTILES)
        self.point_names = frozenset(w.rule.metric for w in windows.values() if w.kind == "metrics")

    @property
    def rules(self) -> list[Rule]:
        return [w.rule for w in self.windows.values()]

    def _entry(self, key: tuple[int, Dims]) -> _Pending:
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Pending()
        return entry

    def add_span(self, end: float, duration: float, error: bool, attrs: Mapping[str, Any]) -> None:
        """One ended span (end in seconds since the epoch, duration in seconds) into the pending batch."""
        self._add(int(end), duration, error, attrs)

    def add_sdk_spans(self, queue: Any, error_code: Any) -> int:
        """Drain a deque of OTel SDK ReadableSpans into the pending batch, read through their public API
        only (an SDK upgrade cannot move them to a slower path unnoticed). Returns how many could not be
        read or added (not spans, or attribute values that cannot be a dimension)."""
        add = self._add
        popleft = queue.popleft
        failed = 0
        while queue:
            span = popleft()
            try:
                end = span.end_time or 0
                start = span.start_time or end
                status = span.status
                attrs = span.attributes
                if attrs.__class__ is MappingProxyType:
                    # The SDK's read-only view: its copy (the attributes' own dict) is read 2 us a span faster
                    # than the view, whose get runs Python-level Mapping.get and a KeyError per absent key.
                    attrs = attrs.copy()
                elif attrs is None:
                    attrs = _NO_ATTRIBUTES
                add(end // 1_000_000_000, (end - start) / 1e9, status is not None and status.status_code is error_code,
                    attrs)
            except Exception:
                failed += 1
        return failed

    def _add(self, second: int, duration: float, error: bool, attrs: Mapping[str, Any]) -> None:
        """The hot path of add_span and add_sdk_spans: one ended span into the pending batch (counts and
        appends only)."""
        get = attrs.get
        op = get(_OP)
        cost = get(_COST)
        tin = get(_IN)
        tout = get(_OUT)
        inference = op in _INFERENCE
        names = self._attr_names
        if not inference and cost is None and tin is None and tout is None and not names:
            return
        key = (second, (op, get(_PROVIDER), get(_REQ_MODEL), get(_RESP_MODEL),
                        get(_WORKFLOW) or get(_OLD_WORKFLOW), get(_AGENT) or get(_PROJECT_AGENT)))
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Pending()
        if inference:
            entry.calls += 1
            if error:
                entry.errors += 1
            entry.latencies.append(duration)
        if cost is not None and cost.__class__ in _NUMBER:
            entry.cost += cost
        if tin.__class__ is int:
            entry.tokens += tin
        if tout.__class__ is int:
            entry.tokens += tout
        if names:
            for name in names:
                v = get(name)
                if v.__class__ in _NUMBER:
                    values = entry.attrs
                    if values is None:
                        values = entry.attrs = {}
                    bucket = values.get(name)
                    if bucket is None:
                        values[name] = [v]
                    else:
                        bucket.append(v)

    def add(self, fact: SpanFact) -> None:
        self.add_span(fact.time, fact.duration, fact.error, fact.attributes)

    def add_point(self, time: float, name: str, dims: Dims, stats: Stats) -> None:
        """One metric data point (already summarised as Stats) for the metric rules."""
        if name not in self.point_names:
            return
        entry = self._entry((int(time), dims))
        points = entry.points
        if points is None:
            points = entry.points = {}
        existing = points.get(name)
        if existing is None:
            points[name] = stats
        else:
            existing.merge(stats)

    def flush(self) -> None:
        """Spread the pending batch over the rule windows."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        windows = list(self.windows.values())
        for (second, dims), entry in pending.items():
            agg = entry.summary(self._latency_hist, self._attr_hist)
            for window in windows:
                if window.matches(dims):
                    window.add(second, agg)

    def evaluate(self, now: float) -> list[Evaluation]:
        self.flush()
        out = []
        for window in self.windows.values():
            value, samples = window.value(now)
            out.append(Evaluation(window.rule, value, window.rule.breached(value), samples))
        return out
