"""``agentkit alerts``: every command, its JSON output, and its errors (one line, non-zero exit, no traceback).

Telemetry for ``metrics`` and ``watch`` is written by the real JSONL exporters into <home>/telemetry.
``export-rules`` output is checked by the real ``promtool`` (Debian prometheus package).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_agentkit import semconv as sc
from otel_agentkit.alerts.db import AlertStore
from otel_agentkit.cli.main import main
from otel_agentkit.export.jsonl import JsonlMetricExporter, JsonlSpanExporter
from tests.support.procs import require_binary, wait_until

from .conftest import SpanMaker


def run(home: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--home", str(home), "alerts", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# What the installed ``agentkit`` script runs (``python -m otel_agentkit.cli.main`` would load main.py twice,
# as __main__ and as the module the command groups import).
AGENTKIT = [sys.executable, "-c", "import sys; from otel_agentkit.cli.main import main; sys.exit(main())"]


def cli(home: Path, *args: str, timeout: float = 60, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENTKIT, "--home", str(home), "alerts", *args],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def write_spans(home: Path, spans: SpanMaker, **kw: object) -> None:
    """LLM spans into <home>/telemetry through the real JSONL span exporter."""
    exporter = JsonlSpanExporter(home / "telemetry")
    spans.provider.add_span_processor(SimpleSpanProcessor(exporter))
    now = time.time()
    for i in range(4):
        spans.llm(end=now - 5 - i, error=i < 2, cost=0.25, **kw)  # type: ignore[arg-type]
    spans.provider.force_flush()


def add(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(home, "init", "--non-interactive", *args, capsys=capsys)
    assert code == 0, err
    return out


def test_init_non_interactive_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = add(tmp_path, capsys, "--metric", "error_rate", "--threshold", "5", "--window", "last 10 min",
              "--model", "gpt-4o", "--provider", "openai", "--workflow", "support", "--agent", "triage",
              "--severity", "critical", "--cooldown", "30m", "--name", "errors", "--comparison", ">=",
              "--channel", "stdout", "--channel", "file", "--file-path", str(tmp_path / "a.jsonl"),
              "--channel", "email", "--email", "ops@example.com", "--smtp-host", "smtp.example.com",
              "--smtp-port", "587", "--smtp-tls", "starttls", "--description", "too many failures")
    assert out.startswith("Saved rule 1: errors (error_rate >= 5 % over 10m")
    add(tmp_path, capsys, "--metric", "gen_ai.client.inference.duration", "--aggregation", "p99", "--threshold", "4")
    code, out, _ = run(tmp_path, "list", capsys=capsys)
    assert code == 0
    assert out.splitlines()[0].split() == ["ID", "ENABLED", "SEVERITY", "NAME", "RULE", "CHANNELS", "COOLDOWN"]
    assert "errors" in out and "p99(gen_ai.client.inference.duration) > 4" in out
    code, out, _ = run(tmp_path, "list", "--json", capsys=capsys)
    rules = json.loads(out)
    assert [r["id"] for r in rules] == [1, 2]
    first = rules[0]
    assert first["filters"] == {"model": "gpt-4o", "provider": "openai", "workflow": "support", "agent": "triage"}
    assert (first["comparison"], first["threshold"], first["window"], first["cooldown"]) == (">=", 5.0, "10m", "30m")
    assert [c["type"] for c in first["channels"]] == ["stdout", "file", "email"]
    assert first["channels"][2]["smtp_port"] == 587 and first["enabled"] is True
    assert first["cooldown_until"] is None and first["description"] == "too many failures"


def test_list_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "list", capsys=capsys)[1].startswith("No alert rules.")
    assert json.loads(run(tmp_path, "list", "--json", capsys=capsys)[1]) == []


@pytest.mark.parametrize("args, message", [
    (["--threshold", "5"], "--metric is required with --non-interactive"),
    (["--metric", "error_rate"], "--threshold is required with --non-interactive"),
    (["--metric", "error_rate", "--threshold", "lots"], "invalid threshold='lots': expected a number"),
    (["--metric", "error_rate", "--threshold", "1", "--severity", "urgent"], "invalid severity='urgent'"),
    (["--metric", "error_rate", "--threshold", "1", "--window", "forever"], "invalid window='forever'"),
    (["--metric", "my.metric", "--threshold", "1"], "invalid aggregation=None"),
    (["--metric", "error_rate", "--threshold", "1", "--channel", "webhook"], "--channel webhook needs --webhook-url"),
    (["--metric", "error_rate", "--threshold", "1", "--channel", "email"], "--channel email needs --email"),
    (["--metric", "error_rate", "--threshold", "1", "--channel", "file"], "--channel file needs --file-path"),
    (["--metric", "error_rate", "--threshold", "1", "--email", "nobody"], "invalid channel[email].to='nobody'"),
    (["--metric", "error_rate", "--threshold", "1", "--webhook-url", "http://127.0.0.1:8080/x"],
     "invalid rule: channels[0].url='http://127.0.0.1:8080/x': refused: loopback address 127.0.0.1"),
    (["--metric", "error_rate", "--threshold", "1", "--webhook-url", "http://[::ffff:a9fe:a9fe]/"],
     "refused: cloud metadata address"),
    (["--metric", "error_rate", "--threshold", "1", "--webhook-url", "https://u:p@hooks.example.com/"],
     "credentials in the URL are not allowed"),
])
def test_init_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                  message: str) -> None:
    code, out, err = run(tmp_path, "init", "--non-interactive", *args, capsys=capsys)
    assert code == 2 and out == ""
    assert err.startswith("agentkit: error: ") and message in err and err.count("\n") == 1
    assert AlertStore(tmp_path).rules() == []


def test_webhook_allow_list_and_duplicate_names(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_ALERT_WEBHOOK_ALLOWLIST", "127.0.0.1")
    add(tmp_path, capsys, "--metric", "error_rate", "--threshold", "1", "--name", "hook",
        "--webhook-url", "http://127.0.0.1:8080/x", "--webhook-format", "slack")
    rule = AlertStore(tmp_path).get(1)
    assert rule.channels[0].url == "http://127.0.0.1:8080/x" and rule.channels[0].format == "slack"
    code, _, err = run(tmp_path, "init", "--non-interactive", "--metric", "daily_cost", "--threshold", "1",
                       "--name", "hook", capsys=capsys)
    assert code == 2 and "invalid name='hook': a rule with this name already exists" in err


def test_enable_disable_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(tmp_path, capsys, "--metric", "daily_cost", "--threshold", "10", "--name", "spend")
    assert run(tmp_path, "disable", "1", capsys=capsys)[:2] == (0, "Rule 1 (spend) is disabled\n")
    assert AlertStore(tmp_path).get(1).enabled is False
    assert run(tmp_path, "enable", "1", capsys=capsys)[:2] == (0, "Rule 1 (spend) is enabled\n")
    assert run(tmp_path, "delete", "1", capsys=capsys)[:2] == (0, "Deleted rule 1: spend\n")
    for action in ("enable", "disable", "delete"):
        code, out, err = run(tmp_path, action, "1", capsys=capsys)
        assert (code, out, err) == (2, "", "agentkit: error: no alert rule with id 1\n")


def test_errors_from_a_real_process_have_no_traceback(tmp_path: Path) -> None:
    for args, code, message in (
        (["delete", "42"], 2, "agentkit: error: no alert rule with id 42"),
        (["enable", "one"], 2, "agentkit: error: argument id: invalid int value: 'one'"),
        (["history", "--limit", "0"], 2, "agentkit: error: invalid --limit=0"),
        (["history", "--rule", "7"], 2, "agentkit: error: no alert rule with id 7"),
        (["init", "--non-interactive", "--metric", "error_rate", "--threshold", "1", "--channel", "pager"], 2,
         "agentkit: error: argument --channel: invalid choice: 'pager'"),
        (["export-rules", "--format", "nagios"], 2, "agentkit: error: argument --format: invalid choice"),
        (["watch", "--interval", "0"], 2, "agentkit: error: invalid --interval=0"),
        (["init"], 2, "agentkit: error: standard input is not a terminal"),
        (["import", str(tmp_path / "missing.yaml")], 2, "agentkit: error: invalid rules file="),
    ):
        proc = cli(tmp_path, *args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith(message), (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_import_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"name": "spend", "metric": "daily_cost", "threshold": 20},
                                          {"name": "slow", "metric": "p95_latency", "threshold": 2000}]}))
    code, out, _ = run(tmp_path, "import", str(path), capsys=capsys)
    assert code == 0 and out.splitlines() == ["Saved rule 1: spend (daily_cost > 20 USD over 1d)",
                                              "Saved rule 2: slow (p95_latency > 2000 ms over 5m)"]
    path.write_text(json.dumps([{"name": "spend", "metric": "daily_cost", "threshold": 30}]))
    run(tmp_path, "import", str(path), capsys=capsys)
    assert AlertStore(tmp_path).get(1).threshold == 30  # updated by name, same id
    path.write_text(json.dumps([{"name": "bad", "metric": "daily_cost", "threshold": "x"}]))
    code, _, err = run(tmp_path, "import", str(path), capsys=capsys)
    assert code == 2 and "invalid rules.json[0].threshold='x'" in err


def test_metrics_watch_history(tmp_path: Path, spans: SpanMaker, capsys: pytest.CaptureFixture[str]) -> None:
    fired = tmp_path / "fired.jsonl"
    add(tmp_path, capsys, "--metric", "error_rate", "--threshold", "25", "--name", "errors",
        "--channel", "file", "--file-path", str(fired))
    add(tmp_path, capsys, "--metric", "daily_cost", "--threshold", "5", "--name", "spend")
    add(tmp_path, capsys, "--metric", "p95_latency", "--threshold", "100", "--name", "slow", "--model", "claude-*")
    write_spans(tmp_path, spans)

    code, out, _ = run(tmp_path, "metrics", "--json", capsys=capsys)
    items = {i["name"]: i for i in json.loads(out)}
    assert items["errors"]["value"] == 50.0 and items["errors"]["would_fire"] is True
    assert items["errors"]["samples"] == 4 and items["errors"]["unit"] == "%"
    assert items["spend"]["value"] == pytest.approx(1.0) and items["spend"]["breached"] is False
    assert items["slow"]["value"] is None and items["slow"]["would_fire"] is False
    code, out, _ = run(tmp_path, "metrics", capsys=capsys)
    assert code == 0 and "FIRE" in out and "no data" in out

    code, out, _ = run(tmp_path, "watch", "--once", capsys=capsys)
    assert code == 0 and "evaluated 3 rule(s): 1 breached, 1 fired" in out
    assert [json.loads(x)["rule_name"] for x in fired.read_text().splitlines()] == ["errors"]
    code, out, _ = run(tmp_path, "watch", "--once", capsys=capsys)
    assert "1 breached, 0 fired" in out  # cooldown

    code, out, _ = run(tmp_path, "metrics", "--json", capsys=capsys)
    errors = {i["name"]: i for i in json.loads(out)}["errors"]
    assert errors["would_fire"] is False and errors["cooldown_until"] > time.time() + 3000

    code, out, _ = run(tmp_path, "history", capsys=capsys)
    assert code == 0 and "1 errors" in out and "file ok" in out
    code, out, _ = run(tmp_path, "history", "--rule", "1", "--limit", "5", "--json", capsys=capsys)
    (entry,) = json.loads(out)
    assert (entry["rule_id"], entry["rule_name"], entry["value"], entry["threshold"], entry["severity"]) == (
        1, "errors", 50.0, 25.0, "warning")
    assert entry["deliveries"] == [{"channel": "file", "target": f"file {fired}", "delivered": True, "error": None,
                                    "attempts": 1}]
    assert json.loads(run(tmp_path, "history", "--rule", "2", "--json", capsys=capsys)[1]) == []
    assert run(tmp_path, "history", "--rule", "2", capsys=capsys)[1] == "No alerts have fired.\n"


def test_metric_rules_read_the_jsonl_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(tmp_path, capsys, "--metric", sc.METRIC_COST, "--aggregation", "sum", "--threshold", "5", "--name", "spend",
        "--model", "gpt-4o")
    add(tmp_path, capsys, "--metric", sc.METRIC_INFERENCE_DURATION, "--aggregation", "count", "--threshold", "100",
        "--name", "calls")
    reader = PeriodicExportingMetricReader(JsonlMetricExporter(tmp_path / "telemetry"),
                                           export_interval_millis=3_600_000)
    meters = MeterProvider(metric_readers=[reader])  # cumulative temporality, as the JSONL exporter defaults to
    meter = meters.get_meter("app")
    cost = meter.create_counter(sc.METRIC_COST, unit="USD")
    duration = meter.create_histogram(sc.METRIC_INFERENCE_DURATION, unit="s")
    for i in range(3):
        cost.add(2, {sc.COST_ATTR_MODEL: "gpt-4o"})
        cost.add(50, {sc.COST_ATTR_MODEL: "other"})
        duration.record(0.1 * (i + 1), {sc.GEN_AI_REQUEST_MODEL: "gpt-4o"})
        meters.force_flush()  # three cumulative points per series: 2, 4, 6
    meters.shutdown()
    code, out, _ = run(tmp_path, "metrics", "--json", capsys=capsys)
    items = {i["name"]: i for i in json.loads(out)}
    assert items["spend"]["value"] == 6 and items["spend"]["would_fire"] is True
    assert items["calls"]["value"] == 3


def test_watch_stops_cleanly_on_sigterm_and_ctrl_c(tmp_path: Path) -> None:
    AlertStore(tmp_path)
    assert cli(tmp_path, "init", "--non-interactive", "--metric", "error_rate", "--threshold", "5").returncode == 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        log = tmp_path / f"watch-{sig}.log"
        with open(log, "w") as f:
            proc = subprocess.Popen([*AGENTKIT, "--home", str(tmp_path), "alerts", "watch", "--interval", "0.2"],
                                    stdout=f, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda log=log: log.read_text().count("evaluated 1 rule(s)") >= 2, 30, "watch passes")
            proc.send_signal(sig)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text()
        assert text.rstrip().endswith("Stopped.") and "Traceback" not in text


def test_export_rules_pass_promtool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    promtool = require_binary("promtool")
    for args in (
        ["--metric", "daily_cost", "--threshold", "25", "--model", "gpt-4*", "--workflow", "support"],
        ["--metric", "error_rate", "--threshold", "5", "--provider", "openai", "--severity", "critical"],
        ["--metric", "avg_latency", "--threshold", "800", "--agent", "triage"],
        ["--metric", "p95_latency", "--threshold", "2000", "--model", 'we"ird\\model'],
        ["--metric", "token_usage", "--threshold", "1000000", "--comparison", ">="],
        ["--metric", sc.METRIC_INFERENCE_DURATION, "--aggregation", "p99", "--threshold", "4"],
        ["--metric", sc.METRIC_INFERENCE_DURATION, "--aggregation", "avg", "--threshold", "1"],
        ["--metric", sc.METRIC_COST, "--aggregation", "sum", "--threshold", "100", "--window", "1h"],
        ["--metric", "app.queue.depth", "--aggregation", "last", "--source", "metrics", "--threshold", "50"],
        ["--metric", "app.queue.depth", "--aggregation", "max", "--source", "metrics", "--threshold", "80",
         "--comparison", "<"],
        ["--metric", sc.AGENTKIT_RETRIES, "--aggregation", "max", "--threshold", "3"],
    ):
        add(tmp_path, capsys, *args)
    run(tmp_path, "disable", "3", capsys=capsys)
    target = tmp_path / "agentkit.rules.yml"
    code, out, _ = run(tmp_path, "export-rules", "--format", "prometheus", "-o", str(target), capsys=capsys)
    assert code == 0 and out == f"Wrote {target}\n"
    text = target.read_text()
    assert 'sum(increase(agentkit_cost_USD_total{model=~\\"gpt-4.*\\",workflow=\\"support\\"}[1d])) > 25' in text
    assert "gen_ai_client_inference_duration_seconds_count{gen_ai_provider_name=\\\"openai\\\"," in text
    assert "histogram_quantile(0.99, sum by (le) (rate(gen_ai_client_inference_duration_seconds_bucket[5m])))" \
        in text
    assert "gen_ai_client_inference_usage_input_tokens_total" in text  # the v0.1.0 usage counter
    assert '# not exported: rule 3 "avg_latency > 800 agent=triage": disabled' in text
    assert "# not exported: rule 11" in text and "span attribute" in text
    checked = subprocess.run([promtool, "check", "rules", str(target)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout
    code, out, _ = run(tmp_path, "export-rules", "--format", "prometheus", capsys=capsys)
    assert out == text  # standard output by default
