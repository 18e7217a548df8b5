"""``agentkit alerts`` says what it knows: no data is never an all-clear, ``--path`` reads other files, the
``list --json`` output imports back, windows go by span time, and stored text cannot drive the terminal.

Every command runs as a real ``agentkit`` subprocess; telemetry is written by the real JSONL span exporter
(metric points for the span-time test are OTLP/JSON lines written out, since the SDK stamps points with
the collection time and cannot make an old one).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import time
from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_agentkit import semconv as sc
from otel_agentkit.alerts.db import AlertStore
from otel_agentkit.export.jsonl import JsonlSpanExporter

from .conftest import SpanMaker
from .test_cli import cli

EXIT_NO_DATA = 3


def add_rule(home: Path, *args: str) -> None:
    proc = cli(home, "init", "--non-interactive", *args)
    assert proc.returncode == 0, proc.stderr


def write_calls(directory: Path, spans: SpanMaker, ends: list[float], **kw: object) -> None:
    """LLM spans ending at ``ends`` into ``directory`` through the real JSONL span exporter."""
    exporter = JsonlSpanExporter(directory)
    processor = SimpleSpanProcessor(exporter)
    spans.provider.add_span_processor(processor)
    for i, end in enumerate(ends):
        spans.llm(end=end, error=i % 2 == 0, **kw)  # type: ignore[arg-type]
    spans.provider.force_flush()
    processor.shutdown()


def utc_day(offset_days: int = 0) -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=offset_days)


# --- (10) no data is said, not reported as ok ---------------------------------------------------------------

def test_watch_once_without_a_telemetry_directory_is_not_an_all_clear(tmp_path: Path) -> None:
    add_rule(tmp_path, "--metric", "error_rate", "--threshold", "5", "--name", "errors")
    add_rule(tmp_path, "--metric", "daily_cost", "--threshold", "10", "--name", "spend")
    directory = tmp_path / "telemetry"
    assert not directory.exists()

    proc = cli(tmp_path, "watch", "--once")
    assert proc.returncode == EXIT_NO_DATA, (proc.stdout, proc.stderr)
    (line,) = proc.stdout.splitlines()
    assert "evaluated 2 rule(s): 0 breached, 0 fired, 2 no data" in line
    assert f"no telemetry directory at {directory}" in line

    proc = cli(tmp_path, "metrics")
    assert proc.returncode == 0
    rows = proc.stdout.splitlines()[1:3]
    assert [r.split()[-2:] for r in rows] == [["no", "data"], ["no", "data"]]  # the STATE column, not "ok"
    assert not any(r.rstrip().endswith(" ok") for r in rows)
    assert f"no telemetry directory at {directory}" in proc.stdout

    proc = cli(tmp_path, "metrics", "--json")
    items = json.loads(proc.stdout)  # the note goes to standard error, the JSON stays clean
    assert [(i["name"], i["state"], i["samples"]) for i in items] == [("errors", "no data", 0), ("spend", "no data", 0)]
    assert f"no telemetry directory at {directory}" in proc.stderr


def test_watch_once_with_an_empty_or_stale_directory_says_no_data(tmp_path: Path, spans: SpanMaker) -> None:
    add_rule(tmp_path, "--metric", "error_rate", "--threshold", "5", "--name", "errors")
    directory = tmp_path / "telemetry"
    directory.mkdir()
    proc = cli(tmp_path, "watch", "--once")
    assert proc.returncode == EXIT_NO_DATA
    assert "1 no data" in proc.stdout and f"no spans or metric points in {directory}" in proc.stdout

    write_calls(directory, spans, [time.time() - 3 * 86400])  # calls, but three days before the window
    proc = cli(tmp_path, "watch", "--once")
    assert proc.returncode == EXIT_NO_DATA and "0 breached, 0 fired, 1 no data" in proc.stdout


def test_watch_once_with_data_for_some_rules_exits_0_and_counts_the_rest(tmp_path: Path, spans: SpanMaker) -> None:
    add_rule(tmp_path, "--metric", "error_rate", "--threshold", "90", "--name", "errors")
    add_rule(tmp_path, "--metric", "avg_latency", "--threshold", "10000", "--name", "claude", "--model", "claude-*")
    write_calls(tmp_path / "telemetry", spans, [time.time() - 5, time.time() - 6])
    proc = cli(tmp_path, "watch", "--once")
    assert proc.returncode == 0, proc.stdout
    assert "evaluated 2 rule(s): 0 breached, 0 fired, 1 no data" in proc.stdout
    items = {i["name"]: i for i in json.loads(cli(tmp_path, "metrics", "--json").stdout)}
    assert (items["errors"]["state"], items["errors"]["samples"]) == ("ok", 2)
    assert (items["claude"]["state"], items["claude"]["samples"]) == ("no data", 0)


# --- (10) --path, as the README promises for every reading command ------------------------------------------

def test_metrics_and_watch_read_path(tmp_path: Path, spans: SpanMaker) -> None:
    home = tmp_path / "home"
    add_rule(home, "--metric", "error_rate", "--threshold", "25", "--name", "errors")
    collector = tmp_path / "otelcol"  # a Collector file exporter's folder: not our file names
    write_calls(tmp_path / "staging", spans, [time.time() - 5 - i for i in range(4)])
    collector.mkdir()
    (staged,) = (tmp_path / "staging").iterdir()
    shutil.move(staged, collector / "traces.json")

    proc = cli(home, "metrics", "--json", "--path", str(collector))
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(proc.stdout)
    assert (item["value"], item["samples"], item["state"]) == (50.0, 4, "fire")

    proc = cli(home, "watch", "--once", "--path", str(collector / "*.json"))  # a glob, as usage takes
    assert proc.returncode == 0 and "1 breached, 1 fired, 0 no data" in proc.stdout
    # --home after the action, as ``agentkit usage`` takes it
    proc = cli(tmp_path / "elsewhere", "metrics", "--json", "--home", str(home), "--path", str(collector))
    assert json.loads(proc.stdout)[0]["state"] == "cooldown"

    missing = tmp_path / "nowhere"
    proc = cli(home, "watch", "--once", "--path", str(missing))
    assert proc.returncode == 2 and proc.stderr == f"agentkit: error: no telemetry file or directory at {missing}\n"


def test_copies_count_once_and_skipped_lines_are_shown(tmp_path: Path, spans: SpanMaker) -> None:
    add_rule(tmp_path, "--metric", "error_rate", "--threshold", "25", "--name", "errors")
    add_rule(tmp_path, "--metric", "app.queue.depth", "--aggregation", "count", "--source", "metrics",
             "--threshold", "1000", "--name", "depth")
    directory, collector = tmp_path / "telemetry", tmp_path / "otelcol"
    write_calls(directory, spans, [time.time() - 5 - i for i in range(4)])
    (traces,) = directory.iterdir()
    (directory / f"metrics-{utc_day().isoformat()}.jsonl").write_text(
        _gauge_line("app.queue.depth", 7, time.time() - 60) + "\n")
    shutil.copytree(directory, collector)  # the same data a second time, as a Collector folder would hold it
    with traces.open("a") as f:
        f.write('{"resourceSpans": [torn\n')

    proc = cli(tmp_path, "metrics", "--json", "--path", str(directory), "--path", str(collector))
    assert proc.returncode == 0, proc.stderr
    items = {i["name"]: i for i in json.loads(proc.stdout)}
    assert (items["errors"]["samples"], items["errors"]["value"]) == (4, 50.0)
    assert (items["depth"]["samples"], items["depth"]["value"]) == (1, 1)
    assert proc.stderr == "agentkit: 1 unreadable line skipped; 5 duplicates counted once\n"
    proc = cli(tmp_path, "watch", "--once", "--path", str(directory), "--path", str(collector))
    assert proc.stdout.rstrip().endswith("1 breached, 1 fired, 0 no data; 1 unreadable line skipped; "
                                         "5 duplicates counted once")


# --- (10) list --json imports back ---------------------------------------------------------------------------

def test_list_json_round_trips_through_import(tmp_path: Path, spans: SpanMaker) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    fired = tmp_path / "fired.jsonl"
    add_rule(first, "--metric", "error_rate", "--threshold", "25", "--name", "errors", "--channel", "file",
             "--file-path", str(fired), "--cooldown", "30m", "--model", "gpt-*", "--severity", "critical")
    add_rule(first, "--metric", sc.METRIC_COST, "--aggregation", "sum", "--source", "metrics", "--threshold",
             "5", "--name", "spend", "--email", "ops@example.com", "--smtp-host", "mail.example.com",
             "--smtp-port", "2525", "--smtp-tls", "starttls", "--description", "metered spend", "--window", "1h")
    add_rule(first, "--metric", "p95_latency", "--threshold", "800", "--name", "slow", "--cooldown", "0")
    assert cli(first, "disable", "3").returncode == 0
    write_calls(first / "telemetry", spans, [time.time() - 5 - i for i in range(4)])
    assert "1 fired" in cli(first, "watch", "--once").stdout  # so "errors" has a cooldown_until

    exported = json.loads(cli(first, "list", "--json").stdout)
    assert isinstance(exported[0]["cooldown_until"], float) and exported[2]["enabled"] is False
    listing = tmp_path / "rules.json"
    listing.write_text(json.dumps(exported))

    proc = cli(second, "import", str(listing))  # into a fresh home
    assert proc.returncode == 0, proc.stderr
    again = json.loads(cli(second, "list", "--json").stdout)
    assert [{k: v for k, v in r.items() if k != "cooldown_until"} for r in again] == \
        [{k: v for k, v in r.items() if k != "cooldown_until"} for r in exported]
    assert [r["cooldown_until"] for r in again] == [None, None, None]  # state is not carried over

    proc = cli(first, "import", str(listing))  # into the home it came from: same ids, the cooldown stays
    assert proc.returncode == 0, proc.stderr
    assert json.loads(cli(first, "list", "--json").stdout) == exported

    exported[0]["cooldown_until"] = "soon"
    listing.write_text(json.dumps(exported))
    proc = cli(second, "import", str(listing))
    assert proc.returncode == 2
    assert proc.stderr.startswith("agentkit: error: invalid rules.json[0].cooldown_until='soon'")


# --- windows go by span and point time, not by the date in a file's name ---------------------------------------

def _gauge_line(name: str, value: float, at: float) -> str:
    point = {"timeUnixNano": str(int(at * 1e9)), "startTimeUnixNano": str(int(at * 1e9)), "asDouble": value}
    return json.dumps({"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [
        {"scope": {"name": "app"}, "metrics": [{"name": name, "unit": "1", "gauge": {"dataPoints": [point]}}]}]}]})


def test_windows_select_by_span_and_point_time(tmp_path: Path, spans: SpanMaker) -> None:
    add_rule(tmp_path, "--metric", "token_usage", "--threshold", "1000000", "--window", "1h", "--name", "tokens")
    add_rule(tmp_path, "--metric", "app.queue.depth", "--aggregation", "max", "--source", "metrics",
             "--threshold", "1000", "--window", "1h", "--name", "depth")
    directory = tmp_path / "telemetry"
    directory.mkdir()
    now = time.time()

    # A call ten minutes ago, backfilled (exported late) into a file dated two days later than the window.
    write_calls(tmp_path / "late", spans, [now - 600], input_tokens=100, output_tokens=20)
    (late,) = (tmp_path / "late").iterdir()
    shutil.move(late, directory / f"traces-{utc_day(2).isoformat()}.jsonl")
    # A call three days old, in today's file: outside the window whatever the file's date.
    write_calls(tmp_path / "old", spans, [now - 3 * 86400], input_tokens=7000, output_tokens=7000)
    (old,) = (tmp_path / "old").iterdir()
    shutil.move(old, directory / f"traces-{utc_day().isoformat()}.jsonl")
    later, today = (directory / f"metrics-{utc_day(d).isoformat()}.jsonl" for d in (2, 0))
    later.write_text(_gauge_line("app.queue.depth", 7, now - 600) + "\n")  # the same for metric points
    today.write_text(_gauge_line("app.queue.depth", 999, now - 3 * 86400) + "\n")

    items = {i["name"]: i for i in json.loads(cli(tmp_path, "metrics", "--json").stdout)}
    assert (items["tokens"]["value"], items["tokens"]["samples"]) == (120, 1)
    assert (items["depth"]["value"], items["depth"]["samples"]) == (7, 1)


# --- (9) stored text is escaped in alert tables ----------------------------------------------------------------

def test_control_characters_in_alert_tables_are_escaped(tmp_path: Path) -> None:
    for name in ("red\x1b[31m", "two\r\nlines", "csi\x9b31m"):  # C0, CR/LF and an 8-bit (C1) CSI
        proc = cli(tmp_path, "init", "--non-interactive", "--metric", "error_rate", "--threshold", "5",
                   "--name", name)
        assert proc.returncode == 2 and "invalid name=" in proc.stderr and proc.stderr.count("\n") == 1
        assert not any(c in proc.stderr[:-1] for c in "\x1b\r\n\x9b")
    # A history row written by something else (an older version, a hand edit) still prints escaped.
    AlertStore(tmp_path)
    with sqlite3.connect(tmp_path / "alerts.db") as con:
        con.execute("INSERT INTO history (rule_id, rule_name, metric, value, threshold, comparison, severity, "
                    "fired_at, deliveries) VALUES (1, ?, 'error_rate', 50, 5, '>', 'warning', ?, '[]')",
                    ("evil\x1b[31m\r\nFORGED ROW\x9b", time.time()))
    proc = cli(tmp_path, "history")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and not any(c in proc.stdout for c in "\x1b\r\x9b")
    assert "FORGED ROW" in lines[1] and "evil" in lines[1]
