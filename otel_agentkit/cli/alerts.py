"""``agentkit alerts``: make, list, switch and delete rules; history; current values; watch; Prometheus export.

A thin layer over ``otel_agentkit.alerts``. Rules live in ``<home>/alerts.db``, shared with running apps
(they pick up changes within seconds). Bad input ends in one line and exit code 2 (see cli/main.py).

``metrics`` and ``watch`` read ``<home>/telemetry`` or ``--path`` (as ``agentkit usage`` does). A rule with
no sample in its window is shown as ``no data``, never ``ok``; ``watch --once`` exits with
``EXIT_NO_DATA`` when no enabled rule had data. Every text printed in a table goes through ``safe_text``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .main import EXIT_NOT_ALL, CliError, needs_subcommand

_CHANNELS = ("webhook", "email", "stdout", "file")
EXIT_NO_DATA = 3
"""``watch --once`` exit code when no enabled rule had any data to judge (as a monitoring check's UNKNOWN)."""


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", action="append", metavar="PATH",
                        help="telemetry file, directory or glob to read (repeatable; e.g. a Collector file "
                             "exporter's output); default: <home>/telemetry")
    parser.add_argument("--home", default=argparse.SUPPRESS, help="data directory")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("alerts", help="alert rules over cost, errors, latency and tokens",
                              description="Alert rules, history and evaluation over local telemetry.")
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION", parser_class=type(p))
    p.set_defaults(func=needs_subcommand(p))

    init = sub.add_parser("init", help="create a rule (a wizard, or --non-interactive with flags)")
    init.add_argument("--non-interactive", action="store_true", help="take the rule from flags, ask nothing")
    init.add_argument("--name")
    init.add_argument("--metric", help="daily_cost, error_rate, avg_latency, p95_latency, token_usage or a name")
    init.add_argument("--aggregation", help="for other metric names: sum, avg, min, max, count, p50..p99, last")
    init.add_argument("--source", choices=("spans", "metrics"), help="where a non-built-in metric is read")
    init.add_argument("--comparison", default=">", help="> >= < <= == != (default >)")
    init.add_argument("--threshold")
    init.add_argument("--window", help="e.g. 5m, 1h, 24h (default depends on the metric)")
    for key in ("model", "provider", "workflow", "agent"):
        init.add_argument(f"--{key}", help=f"only calls with this {key} (glob patterns allowed)")
    init.add_argument("--severity", default="warning", help="info, warning or critical")
    init.add_argument("--channel", action="append", choices=_CHANNELS, help="repeat for several channels")
    init.add_argument("--webhook-url")
    init.add_argument("--webhook-format", default="json", help="json or slack")
    init.add_argument("--email", action="append", help="recipient (repeat for several)")
    init.add_argument("--smtp-host")
    init.add_argument("--smtp-port", type=int)
    init.add_argument("--smtp-tls", help="starttls, ssl or none")
    init.add_argument("--file-path", help="file channel: JSON lines are appended here")
    init.add_argument("--cooldown", default="1h")
    init.add_argument("--description", default="")
    init.set_defaults(func=_init)

    imp = sub.add_parser("import", help="add or update rules from a YAML/JSON file (by rule name)")
    imp.add_argument("file")
    imp.set_defaults(func=_import)

    lst = sub.add_parser("list", help="the rules")
    lst.add_argument("--json", action="store_true",
                     help="the rules with id, enabled and cooldown_until; `alerts import` takes this back "
                          "(id and cooldown_until are ignored there: rules match by name)")
    lst.set_defaults(func=_list)

    for name, helptext in (("enable", "enable a rule"), ("disable", "disable a rule"), ("delete", "delete a rule")):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("id", type=int, help="rule id (see list)")
        sp.set_defaults(func=_switch, action=name)

    hist = sub.add_parser("history", help="alerts that fired, newest first")
    hist.add_argument("--rule", type=int, help="only this rule id")
    hist.add_argument("--limit", type=int, default=50)
    hist.add_argument("--json", action="store_true")
    hist.set_defaults(func=_history)

    met = sub.add_parser("metrics", help="current values over the local telemetry, and which rules would fire")
    met.add_argument("--json", action="store_true")
    _add_read_options(met)
    met.set_defaults(func=_metrics)

    watch = sub.add_parser("watch", help="evaluate the local telemetry on a schedule and fire alerts")
    watch.add_argument("--interval", type=float, default=30.0, help="seconds between passes (default 30)")
    watch.add_argument("--once", action="store_true",
                       help=f"one pass, then exit (exit code {EXIT_NO_DATA} when no enabled rule had any data)")
    _add_read_options(watch)
    watch.set_defaults(func=_watch)

    exp = sub.add_parser("export-rules", help="write the rules as Prometheus alerting rules")
    exp.add_argument("--format", required=True, choices=("prometheus",))
    exp.add_argument("--output", "-o", help="file to write (default: standard output)")
    exp.add_argument("--group", default="agentkit-alerts", help="rule group name")
    exp.set_defaults(func=_export)


def _home(args: argparse.Namespace) -> Path:
    from ..config import default_home

    return Path(args.home).expanduser() if getattr(args, "home", None) else default_home()


def _store(args: argparse.Namespace) -> Any:
    """The rule store; one that is not a database (a damaged or foreign alerts.db) is an error naming it."""
    import sqlite3

    from ..alerts.db import DB_NAME, AlertStore

    home = _home(args)
    try:
        return AlertStore(home)
    except sqlite3.DatabaseError as exc:
        raise CliError(f"alert store: {DB_NAME} in {home}: {exc}") from None


def _guard() -> Any:
    from ..alerts.netguard import Guard

    try:
        return Guard.from_env()
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _fmt_time(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns, no rule line; every cell is escaped (a rule name or a path must not drive the
    terminal)."""
    from ..analytics.formatting import table

    return table(headers, rows, right=[False] * len(headers), ruled=False)


# --- init -----------------------------------------------------------------------------------------------------
def _rule_from_flags(args: argparse.Namespace) -> Any:
    from ..alerts.rules import Channel, Rule, RuleError

    if not args.metric:
        raise CliError("--metric is required with --non-interactive")
    if args.threshold is None:
        raise CliError("--threshold is required with --non-interactive")
    kinds = args.channel or (["webhook"] if args.webhook_url else ["email"] if args.email else
                             ["file"] if args.file_path else ["stdout"])
    try:
        channels = []
        for kind in dict.fromkeys(kinds):
            if kind == "webhook":
                if not args.webhook_url:
                    raise CliError("--channel webhook needs --webhook-url")
                channels.append(Channel("webhook", url=args.webhook_url, format=args.webhook_format))
            elif kind == "email":
                if not args.email:
                    raise CliError("--channel email needs --email")
                channels.append(Channel("email", to=tuple(args.email), smtp_host=args.smtp_host,
                                        smtp_port=args.smtp_port, smtp_tls=args.smtp_tls))
            elif kind == "file":
                if not args.file_path:
                    raise CliError("--channel file needs --file-path")
                channels.append(Channel("file", path=args.file_path))
            else:
                channels.append(Channel("stdout"))
        filters = {k: getattr(args, k) for k in ("model", "provider", "workflow", "agent") if getattr(args, k)}
        return Rule(metric=args.metric, threshold=args.threshold, comparison=args.comparison, window=args.window,
                    aggregation=args.aggregation, filters=filters, severity=args.severity, channels=tuple(channels),
                    cooldown=args.cooldown, name=args.name, description=args.description, source=args.source)
    except RuleError as exc:
        raise CliError(str(exc)) from None


def _save_new(args: argparse.Namespace, rule: Any) -> Any:
    from ..alerts.rules import RuleError
    from ..alerts.setup import check_webhooks

    try:
        check_webhooks(rule, _guard(), where="rule")
        return _store(args).add(rule, origin="cli")
    except RuleError as exc:
        raise CliError(str(exc)) from None


def _init(args: argparse.Namespace) -> int:
    if args.non_interactive:
        rule = _rule_from_flags(args)
    else:
        if not sys.stdin.isatty():
            raise CliError("standard input is not a terminal; use --non-interactive with --metric and --threshold")
        rule = Wizard(_guard()).run()
        if rule is None:
            print("Not saved.")
            return EXIT_NOT_ALL  # the user's answer, not an error
    from ..analytics.formatting import safe_text

    saved = _save_new(args, rule)
    print(safe_text(f"Saved rule {saved.id}: {saved.name} ({saved.summary()}; {saved.severity}; "
                    f"{', '.join(c.describe() for c in saved.channels)})"))
    return 0


class Wizard:
    """Questions one at a time; a bad answer is explained and asked again, so the saved rule is valid."""

    def __init__(self, guard: Any, ask: Callable[[str], str] = input, say: Callable[[str], None] = print) -> None:
        self.guard = guard
        self._ask = ask
        self.say = say

    def ask(self, question: str, default: str | None = None) -> str:
        suffix = f" [{default}]" if default not in (None, "") else ""
        try:
            answer = self._ask(f"{question}{suffix}: ").strip()
        except EOFError:
            raise CliError("aborted (end of input)") from None
        return answer if answer else (default or "")

    def confirm(self, question: str, default: bool) -> bool:
        while True:
            answer = self.ask(f"{question} [{'Y/n' if default else 'y/N'}]").lower()
            if not answer:
                return default
            if answer in ("y", "yes", "n", "no"):
                return answer.startswith("y")
            self.say("  ! answer y or n")

    def ask_valid(self, question: str, parse: Callable[[str], Any], default: str | None = None) -> Any:
        from ..alerts.netguard import UrlRefused
        from ..alerts.rules import RuleError

        while True:
            answer = self.ask(question, default)
            try:
                return parse(answer)
            except (RuleError, UrlRefused, ValueError) as exc:
                self.say(f"  ! {exc}")

    def run(self) -> Any:
        from ..alerts import rules as r

        self.say("New alert rule. Press Enter to take the value in brackets.")
        metric = self.ask_valid(
            "Metric (daily_cost, error_rate, avg_latency, p95_latency, token_usage, or a metric name)",
            lambda a: r.Rule(metric=a, threshold=0, aggregation=None if a.lower() in r.BUILTIN_METRICS else "sum")
            .metric, "error_rate")
        aggregation = None
        if metric not in r.BUILTIN_METRICS:
            aggregation = self.ask_valid("Aggregation (" + ", ".join(r.AGGREGATIONS) + ")",
                                         lambda a: r._choice("aggregation", a, r.AGGREGATIONS), "sum")
        unit = r.BUILTIN_METRICS[metric].unit if metric in r.BUILTIN_METRICS else ""
        comparison = self.ask_valid("Comparison (>, >=, <, <=, ==, !=)",
                                    lambda a: r.Rule(metric="error_rate", threshold=0, comparison=a).comparison, ">")
        threshold = self.ask_valid(f"Threshold{' in ' + unit if unit else ''}",
                                   lambda a: r._number("threshold", a))
        default_window = r.BUILTIN_METRICS[metric].default_window if metric in r.BUILTIN_METRICS \
            else r.DEFAULT_CUSTOM_WINDOW
        window = self.ask_valid("Window (e.g. 5m, 1h, 24h)", lambda a: r.parse_duration("window", a),
                                r.format_duration(default_window))
        filters = {}
        for key in r.FILTER_KEYS:
            value = self.ask(f"Only for {key} (blank for any)")
            if value:
                filters[key] = value
        severity = self.ask_valid("Severity (info, warning, critical)",
                                  lambda a: r._choice("severity", a, r.SEVERITIES), "warning")
        channels = []
        while True:
            kind = self.ask_valid("Channel (webhook, email, stdout, file)",
                                  lambda a: r._choice("channel", a, r.CHANNEL_TYPES), "stdout")
            channels.append(self._channel(kind))
            if not self.confirm("Add another channel?", False):
                break
        cooldown = self.ask_valid("Cooldown (e.g. 30m, 1h)", lambda a: r.parse_duration("cooldown", a, allow_zero=True),
                                  "1h")
        rule = r.Rule(metric=metric, aggregation=aggregation, comparison=comparison, threshold=threshold,
                      window=window, filters=filters, severity=severity, channels=tuple(channels), cooldown=cooldown)
        name = self.ask_valid("Name", lambda a: r._text("name", a), rule.name)
        rule = r.Rule(**{**{k: getattr(rule, k) for k in ("metric", "aggregation", "comparison", "threshold",
                                                           "window", "filters", "severity", "channels",
                                                           "cooldown")}, "name": name})
        self.say(f"Rule: {rule.name}: {rule.summary()}; {rule.severity}; "
                 f"{', '.join(c.describe() for c in rule.channels)}; cooldown {r.format_duration(rule.cooldown)}")
        return rule if self.confirm("Save this rule?", True) else None

    def _channel(self, kind: str) -> Any:
        from ..alerts.rules import Channel

        if kind == "webhook":
            def webhook(url: str) -> str:
                Channel("webhook", url=url)
                self.guard.check(url)
                return url
            url = self.ask_valid("Webhook URL (http or https)", webhook)
            fmt = self.ask_valid("Payload format (json, slack)", lambda a: Channel("webhook", url=url, format=a).format,
                                 "json")
            return Channel("webhook", url=url, format=fmt)
        if kind == "email":
            to = self.ask_valid("Email address", lambda a: Channel("email", to=(a,)).to)
            return Channel("email", to=to)
        if kind == "file":
            path = self.ask_valid("File to append alerts to", lambda a: Channel("file", path=a).path)
            return Channel("file", path=path)
        return Channel("stdout")


# --- other actions ---------------------------------------------------------------------------------------------
def _import(args: argparse.Namespace) -> int:
    from ..alerts.rules import RuleError, load_rules_file
    from ..alerts.setup import save_rules

    try:
        rules = load_rules_file(args.file)
        saved = save_rules(_store(args), rules, _guard(), origin="file")
    except RuleError as exc:
        raise CliError(str(exc)) from None
    from ..analytics.formatting import safe_text

    for rule in saved:
        print(safe_text(f"Saved rule {rule.id}: {rule.name} ({rule.summary()})"))
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..alerts.rules import format_duration

    store = _store(args)
    rules = store.rules()
    if args.json:
        out = []
        for rule in rules:
            item = rule.to_dict(with_id=True)
            item["enabled"] = rule.enabled
            item["cooldown_until"] = store.cooldown_until(rule)
            out.append(item)
        print(json.dumps(out, indent=2))
        return 0
    if not rules:
        print("No alert rules. Create one with: agentkit alerts init")
        return 0
    rows = [[str(r.id), "yes" if r.enabled else "no", r.severity, r.name, r.summary(),
             ", ".join(c.describe() for c in r.channels), format_duration(r.cooldown)] for r in rules]
    print(_table(["ID", "ENABLED", "SEVERITY", "NAME", "RULE", "CHANNELS", "COOLDOWN"], rows))
    return 0


def _switch(args: argparse.Namespace) -> int:
    from ..alerts.db import UnknownRule
    from ..analytics.formatting import safe_text

    store = _store(args)
    try:
        if args.action == "delete":
            rule = store.get(args.id)
            store.delete(args.id)
            print(safe_text(f"Deleted rule {args.id}: {rule.name}"))
        else:
            rule = store.set_enabled(args.id, args.action == "enable")
            print(safe_text(f"Rule {rule.id} ({rule.name}) is {'enabled' if rule.enabled else 'disabled'}"))
    except UnknownRule as exc:
        raise CliError(str(exc)) from None
    return 0


def _history(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        raise CliError(f"invalid --limit={args.limit}: expected a whole number above 0")
    store = _store(args)
    if args.rule is not None:
        from ..alerts.db import UnknownRule

        known = {r.id for r in store.rules()}
        if args.rule not in known and not store.history(args.rule, 1):
            raise CliError(str(UnknownRule(args.rule)))
    entries = store.history(args.rule, args.limit)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print("No alerts have fired.")
        return 0
    rows = []
    for e in entries:
        sent = ", ".join(d["channel"] + (" ok" if d.get("delivered") else " FAILED") for d in e.deliveries) \
            or "pending"
        rows.append([str(e.id), _fmt_time(e.fired_at), f"{e.rule_id} {e.rule_name}", f"{e.value:.6g}",
                     f"{e.comparison} {e.threshold:g}", e.severity, sent])
    print(_table(["ID", "FIRED", "RULE", "VALUE", "THRESHOLD", "SEVERITY", "DELIVERY"], rows))
    return 0


def _evaluate(args: argparse.Namespace, store: Any, now: float) -> Any:
    """All enabled rules over ``--path`` or <home>/telemetry at ``now``, as a ``LocalPass``.

    The default directory missing is no data (an app that never ran); a ``--path`` missing is bad input."""
    from ..alerts.local import LocalPass, evaluate_records, read_since, telemetry_path, wants_metric_points

    rules = store.rules(enabled_only=True)
    paths = list(getattr(args, "path", None) or [])
    source: Any = paths or telemetry_path(_home(args))
    label = ", ".join(paths) if paths else str(source)
    since = read_since(rules, now)
    if since is None:
        return LocalPass(evaluate_records(rules, now, []), label)
    if not paths and not source.is_dir():
        return LocalPass(evaluate_records(rules, now, []), label, since, missing=True)
    from ..export.reader import ReadStats, iter_metric_points, iter_spans

    stats = ReadStats()
    copies = [0]
    try:
        with iter_spans(source, since=since, stats=stats, unique=True) as spans:  # a span in two files: once
            if wants_metric_points(rules):
                with iter_metric_points(source, since=since, stats=stats) as points:
                    results = evaluate_records(rules, now, spans, points, since, copies)
            else:
                results = evaluate_records(rules, now, spans)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise CliError(str(exc)) from None
    return LocalPass(results, label, since, records=stats.records, corrupt=stats.corrupt,
                     bad_spans=stats.bad_spans, duplicates=stats.duplicates + copies[0],
                     unreadable_files=stats.unreadable_files, errors=list(stats.errors))


def _read_note(result: Any) -> str:
    """What the read skipped, for the status line ('' when nothing)."""
    parts = []
    if result.corrupt:
        parts.append(f"{result.corrupt} unreadable line{'s' if result.corrupt != 1 else ''} skipped")
    if result.bad_spans:
        parts.append(f"{result.bad_spans} span{'s' if result.bad_spans != 1 else ''} with an impossible time skipped")
    if result.duplicates:
        parts.append(f"{result.duplicates} duplicate{'s' if result.duplicates != 1 else ''} counted once")
    if result.unreadable_files:
        parts.append(f"{result.unreadable_files} unreadable file{'s' if result.unreadable_files != 1 else ''}")
    return "; ".join(parts)


def _state(res: Any, until: float | None, now: float) -> str:
    if res.breached:
        return "fire" if until is None or until <= now else "cooldown"
    return "no data" if res.samples == 0 else "ok"


def _metrics(args: argparse.Namespace) -> int:
    from ..analytics.formatting import safe_text

    store = _store(args)
    now = time.time()
    result = _evaluate(args, store, now)
    items = []
    for res in result.evaluations:
        until = store.cooldown_until(res.rule)
        in_cooldown = until is not None and until > now
        items.append({"rule_id": res.rule.id, "name": res.rule.name, "metric": res.rule.metric,
                      "aggregation": res.rule.aggregation, "window": res.rule.window, "value": res.value,
                      "unit": res.rule.unit, "comparison": res.rule.comparison, "threshold": res.rule.threshold,
                      "samples": res.samples, "breached": res.breached, "would_fire": res.breached and not in_cooldown,
                      "cooldown_until": until if in_cooldown else None, "state": _state(res, until, now)})
    notes = [f"no data: {result.why_no_data()}"] if result.no_data else []
    if _read_note(result):
        notes.append(_read_note(result))
    if args.json:
        print(json.dumps(items, indent=2))
        for note in notes:  # standard error, so the JSON stays clean
            print(safe_text(f"agentkit: {note}"), file=sys.stderr)
        return 0
    if not items:
        print("No enabled alert rules.")
        return 0
    rows = []
    for it, res in zip(items, result.evaluations):
        value = "no data" if it["samples"] == 0 and not it["breached"] or it["value"] is None \
            else f"{it['value']:.6g}{' ' + it['unit'] if it['unit'] else ''}"
        state = {"fire": "FIRE", "cooldown": f"breached, cooldown until {_fmt_time(it['cooldown_until'])}"}.get(
            it["state"], it["state"])
        rows.append([str(it["rule_id"]), it["name"], res.rule.summary(), value, str(it["samples"]), state])
    print(_table(["ID", "NAME", "RULE", "VALUE", "SAMPLES", "STATE"], rows))
    for note in notes:
        print(safe_text(f"Note: {note}"))
    return 0


def _watch(args: argparse.Namespace) -> int:
    from ..alerts.notify import Notifier
    from ..analytics.formatting import safe_text

    if not args.interval > 0:
        raise CliError(f"invalid --interval={args.interval}: expected seconds above 0")
    store = _store(args)
    notifier = Notifier(store, _guard(), background=False)
    stop = threading.Event()
    handlers: dict[int, Any] = {}
    if not args.once and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        if not args.once:
            what = ", ".join(args.path) if getattr(args, "path", None) else str(_home(args) / "telemetry")
            print(safe_text(f"Watching {what} every {args.interval:g}s (Ctrl-C to stop)"), flush=True)
        while True:
            now = time.time()
            result = _evaluate(args, store, now)
            results = result.evaluations
            fired = 0
            for res in results:
                if res.breached and notifier.fire(res.rule, res.value, now) is not None:
                    fired += 1
            breached = sum(1 for r in results if r.breached)
            line = (f"{_fmt_time(now)} evaluated {len(results)} rule(s): {breached} breached, {fired} fired, "
                    f"{len(result.without_data)} no data")
            if result.no_data:
                line += f" ({result.why_no_data()})"
            if _read_note(result):
                line += f"; {_read_note(result)}"
            print(safe_text(line), flush=True)
            if args.once:
                return EXIT_NO_DATA if result.no_data else 0
            if stop.wait(args.interval):
                break
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
    if not args.once:
        print("Stopped.", flush=True)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..alerts.promrules import export_prometheus_rules

    text = export_prometheus_rules(_store(args).rules(), group=args.group)
    if args.output:
        Path(args.output).expanduser().write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
