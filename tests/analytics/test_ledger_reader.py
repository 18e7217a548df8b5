"""The reader side of the ledger, through the installed command run as a subprocess: every figure counts a
call once however many files or sources hold it; windows select calls by their time, not by the date in a
file's name; a span with an impossible value is skipped and counted, never fatal; and text from the
telemetry reaches the terminal with its control characters escaped.

The telemetry is written by the real SDK (telemetry.py); the damage (copies, a Collector's folder, lines
written twice, impossible values) is made to the files afterwards, as it happens on disk.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agentkit.analytics.formatting import safe_text, table

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit_sdk
from otel_agentkit.export.jsonl import JsonlSpanExporter

from .telemetry import CALLS, PRICES, Call, now_hour, write_calls, write_pricing

EXPECTED_COST = sum(c.cost() for c in CALLS)


def agentkit(*argv: str, expect: int = 0) -> str:
    """``agentkit ARGV`` as a user runs it; its stdout. The exit code is checked (stderr shown if not)."""
    proc = subprocess.run([sys.executable, "-m", "otel_agentkit.cli", *argv], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == expect, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


@pytest.fixture
def written(tmp_path) -> dict:
    home = tmp_path / "home"
    now = now_hour()
    write_calls(home, CALLS, now)
    return {"home": home, "dir": home / "telemetry", "now": now,
            "pricing": str(write_pricing(tmp_path / "prices.json"))}


def traces_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("traces-*.jsonl"))


# --- each span once ----------------------------------------------------------------------------------------

def test_copies_a_collector_folder_and_lines_written_twice_count_once(written, tmp_path):
    d = written["dir"]
    files = traces_files(d)
    assert len(files) == 3
    shutil.copy(files[0], d / "traces-backup.jsonl")  # a byte copy in the same folder
    with open(files[1], "ab") as f:  # the same spans written twice into one file (two exporters)
        f.write(files[1].read_bytes())
    collector = tmp_path / "collector"  # a Collector file exporter's folder read beside ours
    collector.mkdir()
    (collector / "otel-traces.json").write_bytes(b"".join(p.read_bytes() for p in files))
    held = sum(p.read_bytes().count(b'"spanId"') for p in [*d.iterdir(), collector / "otel-traces.json"])
    duplicates = held - len(CALLS)  # every span is an llm call here (record_llm_call outside any span)
    assert duplicates > len(CALLS)

    paths = ["--path", str(d), "--path", str(collector), "--pricing", written["pricing"]]
    stats = json.loads(agentkit("usage", "stats", "--by", "model", "--json", *paths))
    assert stats["total"]["calls"] == len(CALLS)
    assert stats["total"]["cost_usd"] == pytest.approx(EXPECTED_COST)
    assert stats["total"]["input_tokens"] == sum(c.input_tokens for c in CALLS)
    assert stats["read"]["duplicate_spans"] == duplicates and stats["read"]["llm_calls"] == len(CALLS)
    assert f"{duplicates} duplicate spans counted once" in agentkit("usage", "stats", *paths).splitlines()[-1]

    prompts = json.loads(agentkit("prompts", "summary", "--json", *paths))
    assert prompts["total"]["prompts"] == len(CALLS) and prompts["read"]["duplicate_spans"] == duplicates
    shown = json.loads(agentkit("usage", "show", "--limit", "100", "--json", *paths))
    assert len(shown["calls"]) == len({c["span_id"] for c in shown["calls"]}) == len(CALLS)
    out = tmp_path / "calls.jsonl"
    exported = json.loads(agentkit("usage", "export", "-o", str(out), "--format", "jsonl", "--json", *paths))
    assert exported["records"] == len(CALLS) == len(out.read_text().splitlines())
    page = tmp_path / "report.html"
    report = json.loads(agentkit("report", "--html", str(page), "--json", *paths))["report"]
    assert report["total"]["calls"] == len(CALLS) and sum(day["calls"] for day in report["by_day"]) == len(CALLS)
    assert f"{duplicates} duplicate spans counted once" in page.read_text()


# --- windows by span time ----------------------------------------------------------------------------------

def test_until_and_days_select_calls_by_their_time_not_the_files_date(tmp_path):
    """Calls backfilled with record_llm_call go to today's file, with their own (earlier) start times."""
    home = tmp_path / "home"
    now = now_hour()
    backfilled = [Call(-24 * 5, "big-model"), Call(-24 * 5 + 1, "small-model"), Call(-24 * 3, "small-model")]
    tp = TracerProvider()
    assert agentkit_sdk.init(exporters=[JsonlSpanExporter(home / "telemetry")], metric_exporters="none", home=home,
                             pricing=PRICES, tracer_provider=tp, meter_provider=MeterProvider())
    try:
        for c in backfilled:
            agentkit_sdk.record_llm_call(provider=c.provider, model=c.model, start_time=c.start(now),
                                         end_time=c.start(now) + dt.timedelta(seconds=c.duration),
                                         input_tokens=c.input_tokens, output_tokens=c.output_tokens)
    finally:
        agentkit_sdk.shutdown()
        tp.shutdown()
    (only,) = traces_files(home / "telemetry")
    assert only.name == f"traces-{dt.datetime.now(dt.timezone.utc).date().isoformat()}.jsonl"
    pricing = str(write_pricing(tmp_path / "prices.json"))
    day5 = backfilled[0].start(now).date()
    day3 = backfilled[2].start(now).date()

    def stats(*window: str) -> dict:
        return json.loads(agentkit("usage", "stats", "--json", "--home", str(home), "--pricing", pricing, *window))

    in_day5 = [c for c in backfilled if c.start(now).date() == day5]
    got = stats("--until", day5.isoformat())
    assert got["total"]["calls"] == len(in_day5)
    assert got["total"]["cost_usd"] == pytest.approx(sum(c.cost() for c in in_day5))
    assert stats("--since", day3.isoformat(), "--until", day3.isoformat())["total"]["calls"] == 1
    # The two calls 5 days back straddle midnight when the test runs in the 23rd hour (UTC), so count by date.
    per_day = dict(Counter(c.start(now).date().isoformat() for c in backfilled))
    by_day = json.loads(agentkit("usage", "stats", "--by", "day", "--json", "--home", str(home), "--pricing", pricing))
    assert {g["key"]: g["calls"] for g in by_day["groups"]} == per_day
    page = tmp_path / "r.html"
    report = json.loads(agentkit("report", "--html", str(page), "--json", "--home", str(home), "--pricing", pricing,
                                 "--until", day3.isoformat()))["report"]
    assert {d["key"]: d["calls"] for d in report["by_day"] if d["calls"]} == per_day


# --- a bad span never breaks a command ---------------------------------------------------------------------

def _llm_span(span_id: str, start: str, end: str, *extra: dict) -> dict:
    return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat big-model", "kind": 3,
            "startTimeUnixNano": start, "endTimeUnixNano": end, "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "big-model"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "10"}}, *extra]}


def test_a_span_with_an_impossible_value_is_skipped_and_counted_by_every_command(written, tmp_path):
    d = written["dir"]
    now_ns = str(int(written["now"].timestamp()) * 10**9)
    later = str(int(written["now"].timestamp() + 1) * 10**9)
    bad = [
        _llm_span("00000000000000b1", "31708430000000000000000", "31708430000000000000001"),  # the year 3170843
        _llm_span("00000000000000b2", "0", later),
        _llm_span("00000000000000b3", "-1000", later),
        _llm_span("00000000000000b4", now_ns, "1" + "0" * 400),  # a duration no float holds
        _llm_span("00000000000000b5", now_ns, later,
                  {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "1" + "0" * 30}}),
        _llm_span("00000000000000b6", now_ns, later,
                  {"key": "agentkit.cost.usd", "value": {"doubleValue": "Infinity"}}),
        _llm_span("00000000000000b7", now_ns, later,
                  {"key": "agentkit.cost.usd", "value": {"intValue": "1" + "0" * 400}}),
    ]
    request = {"resourceSpans": [{"scopeSpans": [{"spans": bad}]}]}
    (d / "traces-from-elsewhere.jsonl").write_text(json.dumps(request) + "\n")
    common = ["--home", str(written["home"]), "--pricing", written["pricing"]]
    text_footer = f"{len(bad)} bad spans (impossible time, tokens or cost) skipped"

    shown = json.loads(agentkit("usage", "show", "--limit", "100", "--json", *common))
    assert len(shown["calls"]) == len(CALLS) and shown["read"]["bad_spans"] == len(bad)
    assert text_footer in agentkit("usage", "show", *common)
    stats = json.loads(agentkit("usage", "stats", "--by", "day", "--json", *common))
    assert stats["total"]["calls"] == len(CALLS) and stats["total"]["cost_usd"] == pytest.approx(EXPECTED_COST)
    assert stats["read"]["bad_spans"] == len(bad)
    for command in (["usage", "stats", "--by", "model"], ["usage", "savings"], ["usage", "cache"],
                    ["usage", "compare"], ["prompts", "summary"], ["prompts", "compare-format"]):
        assert text_footer in agentkit(*command, *common), command
        assert json.loads(agentkit(*command, "--json", *common))["read"]["bad_spans"] == len(bad), command
    out = tmp_path / "calls.csv"
    exported = json.loads(agentkit("usage", "export", "-o", str(out), "--json", *common))
    assert exported["records"] == len(CALLS) and exported["read"]["bad_spans"] == len(bad)
    assert text_footer in agentkit("usage", "export", "-o", str(out), "--force", *common)
    page = tmp_path / "report.html"
    assert text_footer in agentkit("report", "--html", str(page), *common)
    assert text_footer in page.read_text()
    report = json.loads(agentkit("report", "--html", str(page), "--force", "--json", *common))
    assert report["report"]["read"]["bad_spans"] == len(bad) and report["report"]["total"]["calls"] == len(CALLS)


# --- control characters ------------------------------------------------------------------------------------

EVIL_MODEL = "gpt\x1b[2J\x1b]0;owned\x07\r\nfake row\x9b31m\u202eevil"
EVIL_TIER = "tier\nsplit"


def test_control_characters_in_the_telemetry_are_escaped_in_every_table(tmp_path):
    home = tmp_path / "home"
    now = now_hour()
    calls = [Call(-2, "big-model", tier=EVIL_TIER, prompt_format="xml", workflow="wf\x1b[31m"),
             Call(-1, EVIL_MODEL, tier="premium", prompt_format="pl\rain", cache_read=100)]
    write_calls(home, calls, now)
    common = ["--home", str(home), "--pricing", str(write_pricing(tmp_path / "prices.json"))]
    outputs = {
        "show": agentkit("usage", "show", *common),
        "stats": agentkit("usage", "stats", "--by", "model", *common),
        "stats-tier": agentkit("usage", "stats", "--by", "tier", *common),
        "stats-workflow": agentkit("usage", "stats", "--by", "workflow", *common),
        "savings": agentkit("usage", "savings", *common),
        "cache": agentkit("usage", "cache", *common),
        "prompts": agentkit("prompts", "summary", *common),
        "formats": agentkit("prompts", "compare-format", "--candidate", "pl\rain", *common),
        "filtered": agentkit("prompts", "summary", "--model", EVIL_MODEL, *common),
    }
    for name, out in outputs.items():
        for raw in ("\x1b", "\x07", "\r", "\x9b", "\u202e"):
            assert raw not in out, (name, raw, out)
    assert "gpt\\x1b[2J\\x1b]0;owned\\x07\\r\\nfake row\\x9b31m\\u202eevil" in outputs["show"]
    assert "tier\\nsplit" in outputs["stats-tier"] and "wf\\x1b[31m" in outputs["stats-workflow"]
    assert "pl\\rain" in outputs["formats"] and "no price for: gpt\\x1b[2J" in outputs["cache"]
    assert "Prompts, all time (UTC), model gpt\\x1b" in outputs["filtered"]
    show_rows = outputs["show"].splitlines()
    assert len(show_rows) == 1 + 2 + len(calls) + 1  # title, header and rule, one row per call, footer
    # JSON keeps the values exactly, and escapes what a terminal would act on.
    raw_json = agentkit("usage", "stats", "--by", "model", "--json", *common)
    assert not any(ch in raw_json for ch in ("\x1b", "\x9b", "\u202e", "\r"))
    assert {g["key"] for g in json.loads(raw_json)["groups"]} == {"big-model", EVIL_MODEL}
    page = tmp_path / "report.html"
    agentkit("report", "--html", str(page), *common)
    html = page.read_text()
    assert "\x1b" not in html and "\u202e" not in html and "gpt\\x1b[2J" in html


def test_safe_text_and_table():
    assert safe_text("plain é 中 \\ ok") == "plain é 中 \\ ok"
    assert safe_text("a\x00b\tc\x7f\x85\u2028\u2066") == "a\\x00b\\tc\\x7f\\x85\\u2028\\u2066"
    assert table(["m\n", "n"], [["x\r\ny", "1"]]).splitlines() == ["m\\n     n", "------  -", "x\\r\\ny  1"]
