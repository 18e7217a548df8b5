"""Usage figures from a Prometheus server's GenAI metrics: ``agentkit usage stats --prometheus URL``.

Why a second source: traces may be sampled and one machine's files are not the whole fleet, while the
metrics are neither sampled nor local. The figures are the ones the file-based ``usage_stats`` gives, in the
same dataclasses (so the CLI renders both with one table and one JSON shape), read with PromQL over the
series the SDK's Prometheus endpoint or a Collector exposes (names from ``alerts.promrules``):

- calls and errors: the inference duration histogram's ``_count`` (errors: the series with ``error_type``);
- tokens: the ``gen_ai.client.inference.usage.*`` counters; cost: ``agentkit.cost``; calls without a
  price: ``agentkit.sdk.unpriced_calls``;
- p50/p95: ``histogram_quantile`` over the duration buckets, an ESTIMATE (linear within a bucket), where
  the files give exact percentiles.

How a window's total is read. ``increase()`` is not exact: it extrapolates to the window's edges, and a
series born inside the window (a new model, a new process) loses its whole first value, which for a
short-lived process is everything it counted. So each series' increase is its last value in the window
minus its value at the window's start (the last sample within ``LOOKBACK`` before it), or its whole last
value when it had no sample then (a counter starts at 0) or it restarted at the edge. When a series restarted
inside the window (an app restarted), such series are summed step by step instead (a subquery: each step
adds the rise since the previous one, or the whole value after a drop or a gap), which the footer says.
Every query is an instant query at the window's end (``/api/v1/query`` with ``time=``); a window without a
start reaches back as far as the server keeps samples (``/api/v1/status/runtimeinfo``).

What the metrics cannot give, and what is said instead of guessing: the inference metrics carry the
provider and the request/response models but no workflow, agent, tier or stage, so ``by`` workflow or
agent gives the cost per group only (``agentkit.cost`` has those labels) and the calls, tokens and latency
in the total row; ``agentkit.cost`` has no operation label, so embeddings calls' cost is in it (counted and
noted); its ``model`` is the response model, so cost per request model is matched through the inference
series' model pairs. A call near the window's edge counts by when it was scraped, not when it started.

Standard library only (urllib). A bad URL or an answer that is not a Prometheus query result raises
``PrometheusError`` (a ValueError) with one line naming the URL.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .. import semconv as sc
from ..alerts.promrules import KNOWN_METRICS, prometheus_name, sanitize
from .aggregate import GroupStats, ratio
from .timeparse import UTC, Window
from .usage import NONE_KEY, Period

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 600.0
GROUP_FIELDS = ("model", "provider", "workflow", "agent")
"""What ``by`` can be here: the labels the metrics carry (the files also group by tier, stage and day)."""
COST_ONLY_FIELDS = ("workflow", "agent")
"""Only agentkit.cost carries these: per group, the cost alone."""
LOOKBACK = "5m"
"""How far before the window's start a series' last sample is looked for (Prometheus's default lookback)."""
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_SERIES = 200_000

_GROUP_LABEL = "agentkit_usage_group"  # set by label_replace for the grouped quantiles
_REQ, _RESP = sanitize(sc.GEN_AI_REQUEST_MODEL), sanitize(sc.GEN_AI_RESPONSE_MODEL)
_PROVIDER, _OPERATION, _ERROR = (sanitize(sc.GEN_AI_PROVIDER_NAME), sanitize(sc.GEN_AI_OPERATION_NAME),
                                 sanitize(sc.ERROR_TYPE))
_UNPRICED_NONE = "<none>"  # the unpriced counter's model for a call that named none (pricing.py)


def _series(metric: str, suffix: str = "") -> str:
    kind, unit = KNOWN_METRICS.get(metric, ("counter", ""))
    return prometheus_name(metric, unit, kind) + suffix


_INFERENCE = f'{_OPERATION}=~"{"|".join(sorted(sc.INFERENCE_OPERATIONS))}"'
_DURATION = _series(sc.METRIC_INFERENCE_DURATION)
_CALLS = f"{_DURATION}_count{{{_INFERENCE}}}"
_ERRORS = f'{_DURATION}_count{{{_INFERENCE},{_ERROR}!=""}}'
_BUCKETS = f"{_DURATION}_bucket{{{_INFERENCE}}}"
_TOKENS = {  # GroupStats field -> usage counter selector
    "input_tokens": f"{_series(sc.METRIC_USAGE_INPUT_TOKENS)}{{{_INFERENCE}}}",
    "output_tokens": f"{_series(sc.METRIC_USAGE_OUTPUT_TOKENS)}{{{_INFERENCE}}}",
    "cache_read_tokens": f"{_series(sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS)}{{{_INFERENCE}}}",
    "cache_write_tokens": f"{_series(sc.METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS)}{{{_INFERENCE}}}",
    "reasoning_tokens": f"{_series(sc.METRIC_USAGE_REASONING_OUTPUT_TOKENS)}{{{_INFERENCE}}}",
}
_COST = _series(sc.METRIC_COST)
_UNPRICED = prometheus_name(sc.METRIC_SDK_UNPRICED_CALLS, "", "counter")
_EMBEDDINGS = _series(sc.METRIC_EMBEDDINGS_DURATION, "_count")
_COST_ONLY_LABEL = {"workflow": sc.COST_ATTR_WORKFLOW, "agent": sc.COST_ATTR_AGENT}


class PrometheusError(ValueError):
    """The server could not be asked or did not answer as Prometheus does; the message is one line."""


# --- the client --------------------------------------------------------------------------------------------

def check_url(url: str) -> str:
    """The base URL to add ``/api/v1/query`` to: http(s), a host, no credentials, query or fragment."""
    text = url if isinstance(url, str) else str(url)
    shown = _shown(text)
    if not text.strip() or any(not 0x21 <= ord(c) < 0x7f for c in text):
        raise PrometheusError(f"invalid --prometheus={shown!r}: expected a URL like http://HOST:9090 "
                              "(printable ASCII: no spaces or control characters)")
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise PrometheusError(f"invalid --prometheus={shown!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise PrometheusError(f"invalid --prometheus={shown!r}: expected an http:// or https:// URL")
    if "@" in parts.netloc:
        raise PrometheusError(f"invalid --prometheus={shown!r}: credentials in the URL are not supported")
    if not parts.hostname or port == 0:
        raise PrometheusError(f"invalid --prometheus={shown!r}: no host (or port 0)")
    if parts.query or parts.fragment:
        raise PrometheusError(f"invalid --prometheus={shown!r}: give the server's base URL, without ?query "
                              "or #fragment")
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


def _shown(url: str) -> str:
    """The URL as messages name it: any credentials masked."""
    return re.sub(r"(?<=//)[^/@]*@", "***@", url)


def check_timeout(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not 0 < seconds <= MAX_TIMEOUT_S:
        raise PrometheusError(f"invalid --timeout={value!r}: expected seconds above 0, at most {MAX_TIMEOUT_S:g}")
    return seconds


_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
                "y": 31_536_000_000}


def duration_ms(text: str) -> int | None:
    """A Prometheus duration at the start of ``text`` (``15d``, ``1y2w``, ``15d or 512MiB``) in ms; None when
    it starts with none (a size-only retention, ``0s``)."""
    m = re.match(r"\s*((?:\d+(?:ms|[smhdwy]))+)(?![A-Za-z])", text)
    if m is None:
        return None
    total = sum(int(n) * _DURATION_MS[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", m.group(1)))
    return total or None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The query API does not redirect: a redirect means another service (or a login page) answered."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise PrometheusError(f"{_shown(req.full_url.split('/api/v1/')[0])} redirected the query to "
                              f"{_shown(str(newurl))[:200]!r}: give the Prometheus server's own URL")


Sample = tuple[dict[str, str], float]


class PromClient:
    """Instant queries against one server, each answered within ``timeout`` seconds."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.base = check_url(url)
        self.url = _shown(self.base)
        self.timeout = check_timeout(timeout)
        self.queries: list[str] = []
        self._opener = urllib.request.build_opener(_NoRedirect())

    def vector(self, expr: str, at: float) -> list[Sample]:
        """The instant vector ``expr`` evaluated at ``at`` (Unix seconds): (labels, value) per series."""
        self.queries.append(expr)
        body = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}",
                                       "timeout": f"{max(1, int(self.timeout))}s"}).encode()
        request = urllib.request.Request(f"{self.base}/api/v1/query", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        return self._vector(*self._fetch(request))

    def retention_ms(self) -> int | None:
        """How far back the server keeps samples (``/api/v1/status/runtimeinfo``), None when it does not
        say: servers that answer queries like Prometheus need not have this endpoint."""
        request = urllib.request.Request(f"{self.base}/api/v1/status/runtimeinfo",
                                         headers={"Accept": "application/json"})
        try:
            data = self._data(*self._fetch(request), "/api/v1/status/runtimeinfo")
        except PrometheusError:
            return None
        retention = data.get("storageRetention") if isinstance(data, dict) else None
        return duration_ms(retention) if isinstance(retention, str) else None

    def _fetch(self, request: urllib.request.Request) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                return resp.status, self._read(resp, deadline)
        except urllib.error.HTTPError as exc:  # Prometheus answers a bad query with 400/422 and a JSON body
            try:
                raw = self._read(exc, deadline)
            except (OSError, PrometheusError):
                raw = b""
            return exc.code, raw
        except PrometheusError:
            raise
        except TimeoutError:
            raise self._late() from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._late() from None
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc.reason}") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, not HTTP, a torn answer
            raise PrometheusError(f"cannot read from Prometheus at {self.url}: {exc or type(exc).__name__}"
                                  ) from None

    def _read(self, resp: Any, deadline: float) -> bytes:
        """The body, within the deadline and MAX_ANSWER_BYTES (a server that trickles or floods is cut off)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise PrometheusError(f"the answer from {self.url} is larger than "
                                      f"{MAX_ANSWER_BYTES // 2**20} MiB: not a usage query's result")
            if time.monotonic() > deadline:
                raise self._late()
            chunks.append(chunk)

    def _late(self) -> PrometheusError:
        return PrometheusError(f"Prometheus at {self.url} did not answer within {self.timeout:g} s "
                               "(--timeout sets the limit)")

    def _data(self, status: int, raw: bytes, what: str = "/api/v1/query") -> Any:
        """The ``data`` of a Prometheus API answer; PrometheusError for an error or another kind of answer."""
        not_prom = f"{self.url} did not answer as a Prometheus server"
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise PrometheusError(f"{not_prom} (HTTP {status}, and the answer to {what} is not JSON)") from None
        if not isinstance(doc, dict) or doc.get("status") not in ("success", "error"):
            raise PrometheusError(f"{not_prom} (HTTP {status}, JSON without a query status)")
        if doc["status"] == "error" or status >= 400:
            reason = str(doc.get("error") or doc.get("errorType") or f"HTTP {status}")[:300]
            raise PrometheusError(f"Prometheus at {self.url} refused the query: {reason}")
        return doc.get("data")

    def _vector(self, status: int, raw: bytes) -> list[Sample]:
        data = self._data(status, raw)
        not_prom = f"{self.url} did not answer as a Prometheus server"
        if not isinstance(data, dict) or data.get("resultType") != "vector" or \
                not isinstance(data.get("result"), list):
            raise PrometheusError(f"{not_prom} (HTTP {status}, the result is not an instant vector)")
        result = data["result"]
        if len(result) > MAX_SERIES:
            raise PrometheusError(f"{self.url} answered with more than {MAX_SERIES} series: not a usage query's "
                                  "result")
        return [self._sample(item, not_prom) for item in result]

    @staticmethod
    def _sample(item: Any, not_prom: str) -> Sample:
        try:
            labels, (_, text) = item["metric"], item["value"]
            if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in labels.items()):
                raise TypeError("labels")
            if not isinstance(text, str):
                raise TypeError("value")
            return labels, float(text)
        except (KeyError, TypeError, ValueError):
            raise PrometheusError(f"{not_prom} (a sample is not labels and a [time, value] pair)") from None


# --- PromQL ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """The window as the queries see it: its end and length in ms, and, when series restarted in it, the
    step they are summed at. With a step, queries are evaluated at the next multiple of the step (``end_ms``
    + ``shift_ms``; Prometheus aligns a subquery's steps to its multiples) and every selector is offset back
    by ``shift_ms``, so that the steps end exactly at the window's end."""

    end_ms: int
    range_ms: int
    step_ms: int | None = None

    @property
    def shift_ms(self) -> int:
        return 0 if self.step_ms is None else -self.end_ms % self.step_ms

    @property
    def at(self) -> float:
        """The evaluation time (Unix seconds)."""
        return (self.end_ms + self.shift_ms) / 1000

    def stepped(self) -> Span:
        step = max(2, min(self.range_ms, max(1000, self.range_ms // STEPS)))
        return Span(self.end_ms, self.range_ms, step)


OPEN_START_SLACK = 1.2
"""A window without a start reads the server's retention and this much more: Prometheus deletes whole
blocks, which can hold samples somewhat older than the retention."""
OPEN_START_DEFAULT_MS = 400 * 86_400_000
"""The window without a start when the server does not name its retention (a long-term store, a size-only
retention)."""
STEPS = 5000
"""Steps in a window whose restarted series are summed step by step: the step is the window / STEPS, at
least a second, so a window loses at most 5 s at its start."""


def exact_increase(selector: str, span: Span) -> str:
    """Each series' increase over ``span`` without extrapolation (see the module docstring). Without a step,
    a series that restarted inside the window is left to Prometheus's increase(); with one, it is summed
    step by step: each step adds its last sample's rise over the last sample before the step, or the whole
    sample after a drop or where there was none before (a new life)."""
    shift, rng = span.shift_ms, span.range_ms
    o = f" offset {shift}ms" if shift else ""
    last = f"last_over_time({selector}[{rng}ms]{o})"
    before = f"last_over_time({selector}[{LOOKBACK}] offset {rng + shift}ms)"
    low = f"min_over_time({selector}[{rng}ms]{o})"
    steady = f"((({last} - ({before} <= {low})) or {last}) unless (resets({selector}[{rng}ms]{o}) > 0))"
    step = span.step_ms
    if step is None:
        return f"{steady} or increase({selector}[{rng}ms]{o})"
    cur = f"last_over_time({selector}[{step}ms]{o})"
    prev = f"last_over_time({selector}[{LOOKBACK}] offset {step + shift}ms)"
    rises = f"(({cur} - ({prev} <= {cur})) or ({cur} + 0))"  # + 0: no metric name, as the other branch
    # [n*step - 1ms]: exactly n steps (a subquery's range includes a step on its start)
    return f"{steady} or sum_over_time({rises}[{rng // step * step - 1}ms:{step}ms])"


def _sum_by(labels: Sequence[str], expr: str) -> str:
    return f"sum by ({', '.join(labels)}) ({expr})" if labels else f"sum({expr})"


def _group_label(expr: str, by: str | None) -> str:
    """``expr`` with the group's key in _GROUP_LABEL: the request model (else the response model), or the
    provider. Cleared first, so that a series' own label of that name cannot leak in."""
    out = f'label_replace({expr}, "{_GROUP_LABEL}", "", "__name__", ".*")'
    if by == "model":
        out = f'label_replace({out}, "{_GROUP_LABEL}", "$1", "{_RESP}", "(.+)")'
        return f'label_replace({out}, "{_GROUP_LABEL}", "$1", "{_REQ}", "(.+)")'
    return f'label_replace({out}, "{_GROUP_LABEL}", "$1", "{_PROVIDER}", "(.+)")'


def _quantile(q: float, span: Span, by: str | None) -> str:
    buckets = exact_increase(_BUCKETS, span)
    if by is None:
        return f"histogram_quantile({q}, sum by (le) ({buckets}))"
    return f"histogram_quantile({q}, sum by ({_GROUP_LABEL}, le) ({_group_label(buckets, by)}))"


# --- figures -----------------------------------------------------------------------------------------------

@dataclass
class PrometheusRead:
    """Where the figures came from, in place of the files' ReadSummary (``describe()`` is the footer)."""

    url: str
    evaluated_at: str  # the window's end, as an ISO time in the window's zone
    range_s: float | None  # the window's length as read
    open_start: str | None = None  # without --since/--days: where that length came from
    queries: list[str] = field(default_factory=list)
    restarted_series: int = 0  # call series that restarted inside the window (an app restarted)
    step_s: float | None = None  # then: the step their increase was summed at
    embeddings_calls: int = 0  # their cost is in agentkit.cost (no operation label), their calls are not
    cost_only_groups: bool = False  # by workflow/agent: only the cost has those labels
    split_costs: list[str] = field(default_factory=list)  # response models whose cost was split
    latency: str = "estimated from the inference duration histogram's buckets (linear within a bucket)"
    errors: list[str] = field(default_factory=list)  # as ReadSummary's (the footer lists them); none so far

    def describe(self) -> str:
        lines = [f"source: Prometheus at {self.url} ({len(self.queries)} queries at {self.evaluated_at}): calls, "
                 "tokens and cost are each counter's increase over the window, not extrapolated; p50/p95 are "
                 "ESTIMATES from the inference duration histogram's buckets"]
        if self.open_start:
            lines.append(f"no window start: the last {self.range_s / 86400:.4g} days ({self.open_start})")
        if self.restarted_series:
            lines.append(f"{self.restarted_series} series restarted inside the window (an app restarted): they "
                         f"are summed every {self.step_s:g} s, which misses what an app counted in its last "
                         f"{self.step_s:g} s before a restart")
        if self.cost_only_groups:
            lines.append("per group only the cost: the inference metrics carry no workflow or agent label "
                         "(calls, tokens, errors and latency are in the total row)")
        if self.split_costs:
            lines.append("cost of " + ", ".join(self.split_costs) + " (agentkit.cost's model is the response "
                         "model) split across request models by the pricing table")
        if self.embeddings_calls:
            lines.append(f"{self.embeddings_calls} embeddings calls in the window: agentkit.cost (no operation "
                         "label) includes their cost; their calls and tokens are not counted")
        return "\n".join(lines)


@dataclass
class PrometheusUsageStats:
    """``usage_stats``'s result from Prometheus: the same fields, plus ``source``."""

    period: Period
    by: str | None
    total: GroupStats
    groups: list[GroupStats]
    read: PrometheusRead
    source: str = "prometheus"


@dataclass
class _Figures:
    """One group's sums as read (floats from Prometheus), before they become a GroupStats."""

    calls: float = 0.0
    errors: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    cache_read_tokens: float = 0.0
    cache_write_tokens: float = 0.0
    reasoning_tokens: float = 0.0
    cost: float = 0.0
    unpriced: float = 0.0

    def add(self, other: _Figures) -> None:
        for name in ("calls", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
                     "cache_write_tokens", "reasoning_tokens", "cost", "unpriced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def empty(self) -> bool:
        return not (self.calls or self.cost or self.input_tokens or self.output_tokens)

    def stats(self, key: str, p50: float | None, p95: float | None) -> GroupStats:
        n = _whole
        calls, errors, inp, out, cache_read = (n(self.calls), n(self.errors), n(self.input_tokens),
                                               n(self.output_tokens), n(self.cache_read_tokens))
        return GroupStats(
            key=key, calls=calls, errors=errors, error_rate=ratio(errors, calls), input_tokens=inp,
            output_tokens=out, cache_read_tokens=cache_read, cache_write_tokens=n(self.cache_write_tokens),
            reasoning_tokens=n(self.reasoning_tokens), total_tokens=inp + out, cost_usd=round(self.cost, 9),
            unpriced_calls=n(self.unpriced),
            latency_p50_s=p50, latency_p95_s=p95, cache_hit_rate=ratio(cache_read, inp))


def _whole(value: float) -> int:
    return int(round(value))


def cost_only(key: str, cost: float) -> GroupStats:
    """A group of which only the cost is known (by workflow or agent): every other figure None."""
    none: Any = None
    return GroupStats(key=key, calls=none, errors=none, error_rate=None, input_tokens=none, output_tokens=none,
                      cache_read_tokens=none, cache_write_tokens=none, reasoning_tokens=none, total_tokens=none,
                      cost_usd=round(cost, 9), unpriced_calls=none, latency_p50_s=None, latency_p95_s=None,
                      cache_hit_rate=None)


def _sort(groups: Iterable[GroupStats]) -> list[GroupStats]:
    """As the files' rows: by cost, then calls, highest first."""
    return sorted(groups, key=lambda g: (-g.cost_usd, -(g.calls or 0), g.key))


class _Reader:
    """The queries of one read: a client and the window."""

    def __init__(self, client: PromClient, span: Span) -> None:
        self.client, self.span = client, span

    def sums(self, selector: str, labels: Sequence[str]) -> list[Sample]:
        expr = _sum_by(labels, exact_increase(selector, self.span))
        return self._finite(self.client.vector(expr, self.span.at))

    def total(self, selector: str) -> float:
        return sum(v for _, v in self.sums(selector, ()))

    def quantiles(self, by: str | None) -> dict[str | None, tuple[float | None, float | None]]:
        """Group key (None: all calls) -> (p50, p95); NaN (no calls) is None."""
        out: dict[str | None, list[float | None]] = {}
        for i, q in enumerate((0.5, 0.95)):
            for labels, value in self.client.vector(_quantile(q, self.span, by), self.span.at):
                key = None if by is None else labels.get(_GROUP_LABEL) or NONE_KEY
                out.setdefault(key, [None, None])[i] = value if math.isfinite(value) else None
        return {k: (v[0], v[1]) for k, v in out.items()}

    def restarted(self) -> int:
        expr = f"count(resets({_CALLS}[{self.span.range_ms}ms]) > 0)"
        return int(sum(v for _, v in self.client.vector(expr, self.span.at)))

    def _finite(self, samples: list[Sample]) -> list[Sample]:
        for _, value in samples:
            if not math.isfinite(value) or value < 0:
                raise PrometheusError(f"{self.client.url} answered a counter's increase with {value!r}: not a "
                                      "count of calls, tokens or dollars")
        return samples


_SERIES_LABELS = (_REQ, _RESP, _PROVIDER)
Series = tuple[str, str, str]  # (request model, response model, provider) of inference series


def _labels_of(labels: dict[str, str]) -> Series:
    return labels.get(_REQ, ""), labels.get(_RESP, ""), labels.get(_PROVIDER, "")


def _key(by: str | None, series: Series) -> str:
    """The group of an inference series, as the files group a call: the request model (else the response
    model), or the provider."""
    if by is None:
        return "all"
    if by == "model":
        return series[0] or series[1] or NONE_KEY
    return series[2] or NONE_KEY


def _cost_model(series: Series) -> str:
    """The model agentkit.cost (and the unpriced counter) names for a call: the response model, else the request's."""
    return series[1] or series[0] or NONE_KEY


def _split(amount: float, weights: dict[Series, float]) -> dict[Series, float]:
    total = sum(weights.values())
    if total <= 0:
        weights, total = dict.fromkeys(weights, 1.0), float(len(weights))
    return {s: amount * w / total for s, w in weights.items()}


def _series_figures(reader: _Reader, by: str | None) -> dict[Series, _Figures]:
    """The inference figures per (request model, response model, provider), or one entry for all."""
    labels = _SERIES_LABELS if by is not None else ()
    out: dict[Series, _Figures] = {}
    for name, selector in (("calls", _CALLS), ("errors", _ERRORS), *_TOKENS.items()):
        for sample_labels, value in reader.sums(selector, labels):
            fig = out.setdefault(_labels_of(sample_labels), _Figures())
            setattr(fig, name, getattr(fig, name) + value)
    return out


def _group_figures(by: str | None, series: dict[Series, _Figures], reader: _Reader, pricing: Any,
                   read: PrometheusRead) -> dict[str, _Figures]:
    """The figures per group, agentkit.cost and the unpriced calls included (see _attach_by_model)."""
    groups: dict[str, _Figures] = {}
    for s, fig in series.items():
        groups.setdefault(_key(by, s), _Figures()).add(fig)
    if by is None:
        total = groups.setdefault("all", _Figures())
        total.cost += reader.total(_COST)
        total.unpriced = reader.total(_UNPRICED)
        return groups
    if by == "provider":
        for labels, value in reader.sums(_COST, (sc.COST_ATTR_PROVIDER,)):
            groups.setdefault(labels.get(sc.COST_ATTR_PROVIDER) or NONE_KEY, _Figures()).cost += value
    else:
        _attach_by_model(groups, series, reader.sums(_COST, (sc.COST_ATTR_MODEL,)), pricing, read)
    by_cost_model = _by_cost_model(series)
    for labels, value in reader.sums(_UNPRICED, (sc.COST_ATTR_MODEL,)):
        model = labels.get(sc.COST_ATTR_MODEL) or NONE_KEY
        matches = by_cost_model.get(NONE_KEY if model == _UNPRICED_NONE else model)
        if not matches:  # calls with no inference series (embeddings): the model's own group, else none
            fig = groups.setdefault(model if by == "model" else NONE_KEY, _Figures())
            fig.unpriced += value
            continue
        for s, share in _split(value, {s: series[s].calls for s in matches}).items():
            fig = groups[_key(by, s)]
            fig.unpriced += share
    return groups


def _by_cost_model(series: dict[Series, _Figures]) -> dict[str, list[Series]]:
    out: dict[str, list[Series]] = {}
    for s in series:
        out.setdefault(_cost_model(s), []).append(s)
    return out


def _attach_by_model(groups: dict[str, _Figures], series: dict[Series, _Figures], costs: list[Sample],
                     pricing: Any, read: PrometheusRead) -> None:
    """agentkit.cost's model is the response model: its cost goes to the request model(s) that resolved to
    it; one that several request models resolved to is split by the pricing table's cost of each one's
    tokens (exact while the table prices them as the app did), else by calls."""
    by_cost_model = _by_cost_model(series)
    for labels, value in costs:
        model = labels.get(sc.COST_ATTR_MODEL) or NONE_KEY
        matches = by_cost_model.get(model)
        if not matches:  # priced calls with no inference series (embeddings): a group of their own
            groups.setdefault(model, _Figures()).cost += value
            continue
        targets = {_key("model", s) for s in matches}
        if len(targets) > 1:
            read.split_costs.append(model)
        price = pricing.lookup(model) if pricing is not None else None
        weights = {s: (price.cost(_whole(series[s].input_tokens), _whole(series[s].output_tokens),
                                  _whole(series[s].cache_read_tokens), _whole(series[s].cache_write_tokens))
                       if price is not None else series[s].calls) for s in matches}
        for s, share in _split(value, weights).items():
            groups[_key("model", s)].cost += share


def window_range(window: Window, now: dt.datetime | None = None) -> tuple[dt.datetime, int | None]:
    """The evaluation time (the window's end, never after now) and the range in ms (None: open start)."""
    current = now or dt.datetime.now(UTC)
    end = current if window.until is None else min(window.until, current)
    if window.since is None:
        return end, None
    return end, int((end - window.since) / dt.timedelta(milliseconds=1))


def prometheus_usage_stats(url: str, window: Window, by: str | None = None, *, pricing: Any = None,
                           timeout: float | None = None, now: dt.datetime | None = None) -> PrometheusUsageStats:
    """Calls, tokens, cost, error rate, latency p50/p95 and cache hit rate over ``window``, in all and per
    ``by`` group (one of GROUP_FIELDS), from the GenAI metrics of the Prometheus server at ``url``."""
    if by == "day":
        raise PrometheusError("invalid by='day' with Prometheus: the counters are read once for the whole window; "
                              "read each day with --since/--until")
    if by is not None and by not in GROUP_FIELDS:
        raise PrometheusError(f"invalid by={by!r} with Prometheus: the metrics carry no {by} label; expected one "
                              f"of {', '.join(GROUP_FIELDS)}")
    client = PromClient(url, DEFAULT_TIMEOUT_S if timeout is None else timeout)
    end, range_ms = window_range(window, now)
    end_ms = int(end.timestamp() * 1000)
    read = PrometheusRead(client.url, end.astimezone(window.tz).isoformat(timespec="seconds"), None,
                          queries=client.queries)
    if range_ms is None:  # an open start: as far back as the server keeps samples
        retention = client.retention_ms()
        range_ms = int(retention * OPEN_START_SLACK) if retention else OPEN_START_DEFAULT_MS
        read.open_start = "the server's retention" if retention else "the default for a server that names no retention"
    read.range_s = range_ms / 1000
    reader = _Reader(client, Span(end_ms, max(2, range_ms)))
    read.restarted_series = reader.restarted()
    if read.restarted_series:
        reader.span = reader.span.stepped()
        read.step_s = reader.span.step_ms / 1000  # type: ignore[operator]
    cost_only_by = by in COST_ONLY_FIELDS
    full_by = None if cost_only_by else by
    figures = _group_figures(full_by, _series_figures(reader, full_by), reader, pricing, read)
    read.embeddings_calls = _whole(reader.total(_EMBEDDINGS))
    total = _Figures()
    for fig in figures.values():
        total.add(fig)
    latency = reader.quantiles(None).get(None, (None, None))
    total_stats = total.stats("all", *latency)
    if cost_only_by:
        read.cost_only_groups = True
        label = _COST_ONLY_LABEL[by]  # type: ignore[index]
        groups = [cost_only(labels.get(label) or NONE_KEY, value) for labels, value in reader.sums(_COST, (label,))]
        groups = [g for g in groups if g.cost_usd]
    elif by is not None:
        quantiles = reader.quantiles(by)
        groups = [fig.stats(key, *quantiles.get(key, (None, None)))
                  for key, fig in figures.items() if not fig.empty()]
    else:
        groups = []
    return PrometheusUsageStats(Period.of(window), by, total_stats, _sort(groups), read)


__all__ = [
    "COST_ONLY_FIELDS", "DEFAULT_TIMEOUT_S", "GROUP_FIELDS", "PromClient", "PrometheusError", "PrometheusRead",
    "PrometheusUsageStats", "Span", "check_timeout", "check_url", "duration_ms", "exact_increase",
    "prometheus_usage_stats",
]
