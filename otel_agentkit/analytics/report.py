"""One self-contained HTML report: cost and tokens per day and per model, latency percentiles, error rate,
top workflows. Its figures come from the same aggregation and formatting as ``agentkit usage stats``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
from dataclasses import dataclass
from typing import IO, Any

from . import formatting as fmt
from .aggregate import Accumulator, GroupStats, sort_groups
from .output import safe_output_path, to_jsonable, write_atomically
from .records import Progress, ReadSummary, Source
from .report_template import CSP, PAGE, SCRIPT, STYLE
from .timeparse import UTC, Window
from .usage import Period, collect

TOP_WORKFLOWS = 10
MAX_FILLED_DAYS = 400
"""Days without calls are shown as zero between the first and last day, up to this many days."""


@dataclass
class ReportData:
    title: str
    generated_at: str
    period: Period
    total: GroupStats
    by_day: list[GroupStats]
    by_model: list[GroupStats]
    top_workflows: list[GroupStats]
    workflows: int
    read: ReadSummary


def build_report(source: Source, window: Window, title: str = "LLM usage report", *, pricing: Any = None,
                 progress: Progress | None = None, now: dt.datetime | None = None) -> ReportData:
    """The report's figures, from one read of the telemetry."""
    c = collect(source, window, ("day", "model", "workflow"), pricing=pricing, progress=progress)
    days = c.groups["day"]
    if days:
        first, last = dt.date.fromisoformat(min(days)), dt.date.fromisoformat(max(days))
        if (last - first).days < MAX_FILLED_DAYS:
            d = first
            while d <= last:
                days.setdefault(d.isoformat(), Accumulator())
                d += dt.timedelta(days=1)
    by_day = sort_groups((acc.result(k) for k, acc in days.items()), "day")
    by_model = sort_groups((acc.result(k) for k, acc in c.groups["model"].items()), "model")
    workflows = sort_groups((acc.result(k) for k, acc in c.groups["workflow"].items()), "workflow")
    when = (now or dt.datetime.now(UTC)).astimezone(window.tz).isoformat(timespec="seconds")
    return ReportData(title, when, Period.of(window), c.total.result("all"), by_day, by_model,
                      workflows[:TOP_WORKFLOWS], len(workflows), c.read)


def _e(value: object) -> str:
    """Text for the page: HTML-escaped, and control characters shown as escapes as in the CLI's tables."""
    return html.escape(fmt.safe_text(str(value)), quote=True)


def _tile(label: str, value: str, key: str) -> str:
    return (f'<div class="tile" data-metric="{key}"><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(value)}</div></div>')


def _group_table(rows: list[GroupStats], first: str) -> str:
    head = (f"<tr><th>{_e(first)}</th><th>calls</th><th>input tokens</th><th>output tokens</th><th>cost</th>"
            "<th>errors</th><th>p50</th><th>p95</th></tr>")
    body = "".join(
        f'<tr data-key="{_e(g.key)}"><td>{_e(g.key)}</td><td>{fmt.integer(g.calls)}</td>'
        f"<td>{fmt.integer(g.input_tokens)}</td><td>{fmt.integer(g.output_tokens)}</td>"
        f"<td>{_e(fmt.usd(g.cost_usd))}</td><td>{fmt.percent(g.error_rate)}</td>"
        f"<td>{fmt.seconds(g.latency_p50_s)}</td><td>{fmt.seconds(g.latency_p95_s)}</td></tr>" for g in rows)
    return f"<table>{head}{body}</table>"


def _card(title: str, inner: str, wide: bool = False) -> str:
    return f'<section class="card{" wide" if wide else ""}"><h2>{_e(title)}</h2>{inner}</section>'


_JSON_UNSAFE = re.compile("[<>&\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_for_script(obj: Any) -> str:
    """JSON that cannot end the script element it sits in, with no raw control or bidi characters (the
    same value: each is written as a \\u escape)."""
    text = json.dumps(to_jsonable(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_html(report: ReportData) -> str:
    """The page: headline tiles and tables rendered here; charts drawn in the page from the embedded data."""
    t = report.total
    tiles = "".join([
        _tile("Calls", fmt.integer(t.calls), "calls"),
        _tile("Tokens", fmt.integer(t.total_tokens), "total_tokens"),
        _tile("Cost", fmt.usd(t.cost_usd), "cost_usd"),
        _tile("Error rate", fmt.percent(t.error_rate), "error_rate"),
        _tile("Latency p50", fmt.seconds(t.latency_p50_s), "latency_p50_s"),
        _tile("Latency p95", fmt.seconds(t.latency_p95_s), "latency_p95_s"),
        _tile("Cache hit rate", fmt.percent(t.cache_hit_rate), "cache_hit_rate"),
    ])
    r = report.read
    notes = [r.describe()]
    if t.unpriced_calls:
        notes.append(f"{t.unpriced_calls} calls without a known price are not in the cost")
    more = f" (top {len(report.top_workflows)} of {report.workflows})" if report.workflows > len(report.top_workflows) else ""
    body = "".join([
        f'<header><h1>{_e(report.title)}</h1><div class="muted">{_e(report.period.description)} &middot; '
        f"generated {_e(report.generated_at)}</div></header>",
        "<main>",
        f'<div class="tiles">{tiles}</div>',
        _card("Cost per day", '<div class="chart" id="chart-cost-day"></div>'),
        _card("Tokens per day", '<div class="chart" id="chart-tokens-day"></div>'),
        _card("Cost per model", '<div class="chart" id="chart-cost-model"></div>'),
        _card("Tokens per model", '<div class="chart" id="chart-tokens-model"></div>'),
        _card("Latency per day (p50, p95)", '<div class="chart" id="chart-latency-day"></div>'),
        _card("Error rate per day", '<div class="chart" id="chart-errors-day"></div>'),
        _card("Top workflows" + more, _group_table(report.top_workflows, "workflow"), wide=True),
        _card("Models", _group_table(report.by_model, "model"), wide=True),
        "</main>",
        f"<footer>{_e('; '.join(notes))}. Latency percentiles are exact up to 10,000 calls per group and within "
        "1% beyond. Days are in the report's time zone.</footer>",
    ])
    return PAGE.format(csp=CSP, title=_e(report.title), style=STYLE, body=body,
                       data=_json_for_script(report), script=SCRIPT)


def write_report(path: str | os.PathLike[str], report: ReportData, force: bool = False) -> str:
    """Write the page to ``path`` (same safety rules as exports); returns the resolved path."""
    target = safe_output_path(path, force)
    page = render_html(report)

    def write(f: IO[str]) -> None:
        f.write(page)

    write_atomically(target, write, force=force)
    return str(target)
