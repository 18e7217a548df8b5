"""``agentkit usage show|stats|savings|cache|compare|export|reset``: usage and cost from the telemetry files.

Also holds what the ``prompts`` and ``report`` groups share: where to read (``--path``, else
``<home>/telemetry``), the window (``--days`` or ``--since``/``--until``), ``--tz`` (UTC by default),
``--json``, and turning bad input into one line and exit code 2. Read-only commands never load the SDK's
recording side; the reader is standard library only. ``usage stats --prometheus URL`` reads the same figures
from a Prometheus server's GenAI metrics instead (``analytics.promsource``) and prints them the same way.

Text from the telemetry (model names, tiers, file names in errors) reaches the terminal only through
``formatting.safe_text`` (``table()`` applies it to every cell; ``say()`` to every other line), and JSON
output escapes the characters a terminal acts on that JSON itself leaves raw.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import sys
from typing import Any, Callable, Iterator

from .main import JSON_UNSAFE, CliError, needs_subcommand


# --- shared options ----------------------------------------------------------------------------------------

def add_common(parser: argparse.ArgumentParser, window: bool = True) -> None:
    parser.add_argument("--path", action="append", metavar="PATH",
                        help="telemetry file, directory or glob to read (repeatable; e.g. a Collector file "
                             "exporter's output); default: <home>/telemetry")
    parser.add_argument("--home", default=argparse.SUPPRESS, help="data directory")
    if window:
        parser.add_argument("--days", type=int, metavar="D", help="only the last D days (D x 24 hours)")
        parser.add_argument("--since", metavar="DATE", help="from this date (YYYY-MM-DD, or an ISO date-time)")
        parser.add_argument("--until", metavar="DATE", help="up to this date, inclusive (or before an ISO date-time)")
    parser.add_argument("--tz", default="UTC", metavar="ZONE",
                        help="time zone for dates and days: UTC (default), an IANA name, or +HH:MM")
    parser.add_argument("--pricing", metavar="FILE",
                        help="pricing table overrides (JSON/YAML); default: $AGENTKIT_PRICING_FILE, else bundled")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Bad dates, unknown fields, missing directories, unsafe paths: one line, exit code 2."""
    try:
        yield
    except CliError:
        raise
    except (ValueError, FileNotFoundError, NotADirectoryError, TypeError) as exc:
        raise CliError(str(exc)) from None


def source_of(args: argparse.Namespace) -> Any:
    from ..analytics.records import default_source

    if getattr(args, "path", None):
        return list(args.path)
    return default_source(getattr(args, "home", None))


def window_of(args: argparse.Namespace) -> Any:
    from ..analytics.timeparse import window

    return window(getattr(args, "days", None), getattr(args, "since", None), getattr(args, "until", None),
                  args.tz)


def pricing_of(args: argparse.Namespace) -> Any:
    from ..analytics.records import load_pricing

    return load_pricing(getattr(args, "pricing", None))


@contextlib.contextmanager
def bulk_read() -> Iterator[None]:
    """A read builds millions of short-lived, acyclic objects (parsed lines, span records): the cyclic
    collector is run less often meanwhile (about a fifth of the read's time otherwise), and what was loaded
    before the read is frozen out of its scans. Only the command's own process does this, never the API."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def run_read(args: argparse.Namespace, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    """Call an analytics function with the source, window, pricing and a progress bar from ``args``."""
    from ..analytics.progress import FileProgress

    with cli_errors():
        win = window_of(args)  # the user's own mistakes first, then what is missing on disk
        pricing = pricing_of(args)
        source = source_of(args)
        with FileProgress() as bar, bulk_read():
            return fn(source, win, *a, pricing=pricing, progress=bar, **kw)


def add_prometheus(parser: argparse.ArgumentParser) -> None:
    """``--prometheus URL`` (read the GenAI metrics from that server instead of the files) and its
    ``--timeout``."""
    from ..analytics.promsource import DEFAULT_TIMEOUT_S

    parser.add_argument("--prometheus", metavar="URL",
                        help="read the figures from the GenAI metrics on this Prometheus server (exact when "
                             "traces are sampled, and fleet-wide) instead of the files; by model, provider, "
                             "workflow or agent (workflow and agent: the cost only)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help=f"with --prometheus: seconds each query may take (default {DEFAULT_TIMEOUT_S:g})")


def from_prometheus(args: argparse.Namespace) -> bool:
    """Whether the command reads Prometheus; a --timeout or --path that does not fit the source is an error."""
    if getattr(args, "prometheus", None) is None:
        if getattr(args, "timeout", None) is not None:
            raise CliError(f"invalid --timeout={args.timeout!r}: applies only with --prometheus")
        return False
    if getattr(args, "path", None):
        raise CliError("--path and --prometheus are two sources: give one of them")
    return True


def run_prometheus(args: argparse.Namespace, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    """Call a promsource function with the URL, window, pricing and timeout from ``args``."""
    with cli_errors():
        win = window_of(args)
        pricing = pricing_of(args)
        return fn(args.prometheus, win, *a, pricing=pricing, timeout=args.timeout, **kw)


def print_json(result: Any) -> None:
    from ..analytics.output import to_jsonable

    text = json.dumps(to_jsonable(result), indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))  # the same JSON value
    sys.stdout.write("\n")


def say(*parts: Any) -> None:
    """print() for a line that holds text from the telemetry or the command line: escaped for the terminal."""
    from ..analytics.formatting import safe_text

    print(safe_text(" ".join(str(p) for p in parts)))


def footer(read: Any) -> str:
    from ..analytics.formatting import safe_text

    text = read.describe()
    if read.errors:
        text += "\n" + "\n".join(f"  {safe_text(e)}" for e in read.errors[:5])
    return text


def local_time(ns: int, tz: Any) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


# --- registration ------------------------------------------------------------------------------------------

def register(subparsers: Any) -> None:
    from ..analytics.export import EXPORT_FORMATS
    from ..analytics.usage import GROUP_FIELDS

    group = subparsers.add_parser("usage", help="LLM calls, tokens, cost, savings and prompt cache")
    sub = group.add_subparsers(dest="usage_command", metavar="SUBCOMMAND")

    show = sub.add_parser("show", help="the most recent calls, newest first")
    show.add_argument("--limit", type=int, default=20, metavar="N", help="how many calls (default 20)")
    add_common(show)
    show.set_defaults(func=_show)

    stats = sub.add_parser("stats", help="calls, tokens, cost, error rate, latency p50/p95, cache hit rate")
    stats.add_argument("--by", choices=GROUP_FIELDS, help="one row per value of this field")
    stats.add_argument("--no-cache", action="store_true",
                       help="read every span; neither use nor update <dir>/.usage-summary")
    add_common(stats)
    add_prometheus(stats)
    stats.set_defaults(func=_stats)

    sav = sub.add_parser("savings", help="cost per tier against the same calls on the premium (baseline) model")
    sav.add_argument("--baseline-model", metavar="MODEL",
                     help="compare every call with this model (default: the model most used by the premium "
                          "tier; without premium-tier calls, per provider the most expensive model seen)")
    sav.add_argument("--premium-tier", metavar="TIER", default="premium",
                     help="the tier whose model is the baseline (default: premium)")
    add_common(sav)
    sav.set_defaults(func=_savings)

    cache = sub.add_parser("cache", help="prompt-cache read/write tokens and the money they saved")
    add_common(cache)
    cache.set_defaults(func=_cache)

    cmp_ = sub.add_parser("compare", help="the last N days against the last M days, with the change")
    cmp_.add_argument("--period1", type=int, default=7, metavar="DAYS", help="first period in days (default 7)")
    cmp_.add_argument("--period2", type=int, default=30, metavar="DAYS", help="second period in days (default 30)")
    add_common(cmp_, window=False)
    cmp_.set_defaults(func=_compare)

    exp = sub.add_parser("export", help="every call to a CSV, JSON or JSON-lines file")
    exp.add_argument("--format", choices=EXPORT_FORMATS, default="csv", help="file format (default csv)")
    exp.add_argument("--output", "-o", required=True, metavar="PATH", help="file to write")
    exp.add_argument("--force", action="store_true", help="replace the file if it exists")
    add_common(exp)
    exp.set_defaults(func=_export)

    reset = sub.add_parser("reset", help="delete the local telemetry files (asks for --confirm)")
    reset.add_argument("--confirm", action="store_true", help="really delete them")
    reset.add_argument("--home", default=argparse.SUPPRESS, help="data directory")
    reset.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    reset.set_defaults(func=_reset)

    group.set_defaults(func=needs_subcommand(group))


# --- commands ----------------------------------------------------------------------------------------------

def _show(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.usage import recent_calls

    if args.limit < 1:
        raise CliError(f"invalid --limit={args.limit!r}: expected a whole number above 0")
    result = run_read(args, recent_calls, args.limit)
    tz = _tz(args)
    if args.json:  # each call with its start as an ISO time in --tz first
        print_json({"period": result.period, "calls": [r.as_dict(tz) for r in result.calls], "read": result.read})
        return 0
    rows = [[local_time(r.start_ns, tz), r.model or "-", r.workflow or "-", r.stage or "-", r.tier or "-",
             fmt.integer(r.input_tokens), fmt.integer(r.output_tokens), fmt.integer(r.cache_read_tokens),
             fmt.usd(r.cost_usd), fmt.seconds(r.duration_s), "ok" if r.ok else (r.error_type or "error")]
            for r in result.calls]
    say(f"Most recent calls, {result.period.description}")
    if rows:
        print(fmt.table(["time", "model", "workflow", "stage", "tier", "input", "output", "cached", "cost",
                         "latency", "status"], rows,
                        [False, False, False, False, False, True, True, True, True, True, False]))
    else:
        print("no llm calls in this period")
    print(footer(result.read))
    return 0


def _tz(args: argparse.Namespace) -> Any:
    from ..analytics.timeparse import parse_tz

    return parse_tz(args.tz)


def stats_rows(groups: list[Any]) -> list[list[str]]:
    from ..analytics import formatting as fmt

    return [[g.key, fmt.integer(g.calls), fmt.integer(g.errors), fmt.percent(g.error_rate),
             fmt.integer(g.input_tokens), fmt.integer(g.output_tokens), fmt.integer(g.cache_read_tokens),
             fmt.usd(g.cost_usd), fmt.seconds(g.latency_p50_s), fmt.seconds(g.latency_p95_s),
             fmt.percent(g.cache_hit_rate)] for g in groups]


STATS_HEADERS = ["", "calls", "errors", "error rate", "input", "output", "cache read", "cost", "p50", "p95",
                 "cache hit"]


def _stats(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.promsource import prometheus_usage_stats
    from ..analytics.usage import usage_stats

    if from_prometheus(args):
        result = run_prometheus(args, prometheus_usage_stats, args.by)
        label = " (from Prometheus; p50/p95 ESTIMATED from histogram buckets: see below)"
    else:
        result = run_read(args, usage_stats, args.by, cache=not args.no_cache)
        label = " (ESTIMATED from sampled spans: see below)" if result.total.estimated else ""
    if args.json:
        print_json(result)
        return 0
    say(f"Usage, {result.period.description}" + (f", by {result.by}" if result.by else "") + label)
    headers = [result.by or "", *STATS_HEADERS[1:]]
    print(fmt.table(headers, stats_rows([*result.groups, result.total])))
    if result.total.unpriced_calls:
        print(f"{result.total.unpriced_calls} call(s) have no known price and are not in the cost")
    print(footer(result.read))
    return 0


def _savings(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.costs import savings

    result = run_read(args, savings, args.baseline_model, premium_tier=args.premium_tier)
    if args.json:
        print_json(result)
        return 0
    say(f"Savings against the premium baseline, {result.period.description}")
    say(f"baseline: {result.baseline_rule}")
    for b in result.baselines:
        say(f"  {b.provider}: {b.model} (${b.input_per_mtok:g} in / ${b.output_per_mtok:g} out per 1M tokens)")
    rows = [[r.tier, fmt.integer(r.calls), fmt.usd(r.actual_cost_usd), fmt.usd(r.baseline_cost_usd),
             fmt.usd(r.saved_usd), fmt.percent(r.saved_rate)] for r in [*result.tiers, result.total]]
    print(fmt.table(["tier", "calls", "actual cost", "on baseline", "saved", "saved %"], rows))
    if result.excluded_calls:
        print(f"{result.excluded_calls} calls left out (no known cost, or no priced model for their provider)")
    print(footer(result.read))
    return 0


def _cache(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.costs import cache_report

    result = run_read(args, cache_report)
    if args.json:
        print_json(result)
        return 0
    say(f"Prompt cache, {result.period.description}")
    rows = [[r.model, fmt.integer(r.calls), fmt.integer(r.calls_with_cache_read), fmt.integer(r.cache_read_tokens),
             fmt.integer(r.cache_write_tokens), fmt.percent(r.hit_rate), fmt.usd(r.read_savings_usd),
             fmt.usd(r.write_premium_usd), fmt.usd(r.net_saved_usd)] for r in [*result.models, result.total]]
    print(fmt.table(["model", "calls", "with cache read", "cache read", "cache write", "hit rate",
                     "saved on reads", "write premium", "net saved"], rows))
    print("prices from the pricing table: a cached read costs its cache price instead of the input price")
    if result.unpriced_models:
        say(f"no price for: {', '.join(result.unpriced_models)} (their savings are not counted)")
    print(footer(result.read))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.timeparse import parse_tz, positive_days
    from ..analytics.usage import compare_periods

    with cli_errors():
        positive_days(args.period1, "--period1")
        positive_days(args.period2, "--period2")
        tz, pricing = parse_tz(args.tz), pricing_of(args)
        source = source_of(args)
        from ..analytics.progress import FileProgress

        with FileProgress() as bar, bulk_read():
            result = compare_periods(source, args.period1, args.period2, tz=tz, pricing=pricing, progress=bar)
    if args.json:
        print_json(result)
        return 0
    value = {"total": fmt.integer, "per_day": lambda v: fmt.decimal(v, 2), "rate": fmt.percent,
             "seconds": fmt.seconds}
    rows = []
    for c in result.changes:
        show = fmt.usd if c.metric.startswith("cost") else value[c.kind]
        if c.kind == "total":
            delta = "-"
        elif c.kind == "rate":
            delta = fmt.points(c.difference)
        else:
            delta = fmt.change(c.change_rate)
        rows.append([c.metric, show(c.period1), show(c.period2), delta])
    say(f"Last {result.period1.days} days against last {result.period2.days} days ({result.tz}); "
        "counts compared per day, rates in percentage points")
    print(fmt.table(["", f"last {result.period1.days}d", f"last {result.period2.days}d", "change"], rows))
    print(footer(result.read))
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..analytics.export import export_records

    result = run_read(args, export_records, args.output, args.format, force=args.force)
    if args.json:
        print_json(result)
        return 0
    say(f"wrote {result.records} calls to {result.path} ({result.format})")
    print(footer(result.read))
    return 0


def _reset(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..analytics.export import reset_telemetry
    from ..config import default_home

    home = getattr(args, "home", None)
    directory = (Path(home).expanduser() if home else default_home()) / "telemetry"
    with cli_errors():
        result = reset_telemetry(directory, confirm=args.confirm)
    if args.json:
        print_json(result)
        return 0
    skipped = "".join(f", {n} {what} not counted" for n, what in ((result.duplicate_spans, "duplicate spans"),
                                                                   (result.bad_spans, "bad spans")) if n)
    say(f"deleted {result.files} telemetry files ({result.bytes:,} bytes) from {result.directory}: "
        f"{result.spans} spans, of which {result.llm_calls} llm calls{skipped}")
    return 0
