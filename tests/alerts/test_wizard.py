"""The ``agentkit alerts init`` wizard, driven through a real pseudo-terminal with pexpect."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

from otel_agentkit.alerts.db import AlertStore

AGENTKIT = "import sys; from otel_agentkit.cli.main import main; sys.exit(main())"


def spawn(home: Path, **env: str) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-c", AGENTKIT, "--home", str(home), "alerts", "init"],
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, encoding="utf-8", timeout=30,
                          dimensions=(40, 200))
    child.expect_exact("New alert rule.")
    return child


def answer(child: pexpect.spawn, prompt: str, text: str) -> None:
    child.expect_exact(prompt)
    child.sendline(text)


def test_wizard_creates_a_rule_and_re_asks_bad_answers(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    child = spawn(tmp_path, AGENTKIT_ALERT_WEBHOOK_ALLOWLIST="127.0.0.1")
    answer(child, "or a metric name) [error_rate]: ", "p95_latency")
    answer(child, "Comparison (>, >=, <, <=, ==, !=) [>]: ", "")
    answer(child, "Threshold in ms: ", "fast")
    child.expect_exact("! invalid threshold='fast': expected a number")
    answer(child, "Threshold in ms: ", "1500")
    answer(child, "Window (e.g. 5m, 1h, 24h) [5m]: ", "last 10 min")
    answer(child, "Only for model (blank for any): ", "gpt-4o")
    answer(child, "Only for provider (blank for any): ", "")
    answer(child, "Only for workflow (blank for any): ", "support")
    answer(child, "Only for agent (blank for any): ", "")
    answer(child, "Severity (info, warning, critical) [warning]: ", "urgent")
    child.expect_exact("! invalid severity='urgent'")
    answer(child, "Severity (info, warning, critical) [warning]: ", "critical")
    answer(child, "Channel (webhook, email, stdout, file) [stdout]: ", "webhook")
    answer(child, "Webhook URL (http or https): ", "http://169.254.169.254/latest/meta-data")
    child.expect_exact("! cloud metadata address 169.254.169.254")
    answer(child, "Webhook URL (http or https): ", "http://127.0.0.1:8080/hook")
    answer(child, "Payload format (json, slack) [json]: ", "slack")
    answer(child, "Add another channel? [y/N]: ", "maybe")
    child.expect_exact("! answer y or n")
    answer(child, "Add another channel? [y/N]: ", "y")
    answer(child, "Channel (webhook, email, stdout, file) [stdout]: ", "file")
    answer(child, "File to append alerts to: ", str(out))
    answer(child, "Add another channel? [y/N]: ", "")
    answer(child, "Cooldown (e.g. 30m, 1h) [1h]: ", "15m")
    answer(child, "Name [p95_latency > 1500 model=gpt-4o workflow=support]: ", "")
    child.expect_exact("Rule: p95_latency > 1500 model=gpt-4o workflow=support: p95_latency > 1500 ms over 10m")
    answer(child, "Save this rule? [Y/n]: ", "")
    child.expect_exact("Saved rule 1: ")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    (rule,) = AlertStore(tmp_path).rules()
    assert (rule.metric, rule.threshold, rule.window, rule.severity, rule.cooldown) == (
        "p95_latency", 1500.0, 600.0, "critical", 900.0)
    assert rule.filters == {"model": "gpt-4o", "workflow": "support"}
    assert [(c.type, c.url or c.path, c.format) for c in rule.channels] == [
        ("webhook", "http://127.0.0.1:8080/hook", "slack"), ("file", str(out), "json")]


def test_wizard_custom_metric_and_declining_to_save(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    answer(child, "or a metric name) [error_rate]: ", "agentkit.retries")
    answer(child, "Aggregation (sum, avg, min, max, count, p50, p90, p95, p99, last) [sum]: ", "max")
    answer(child, "Comparison (>, >=, <, <=, ==, !=) [>]: ", ">=")
    answer(child, "Threshold: ", "3")
    answer(child, "Window (e.g. 5m, 1h, 24h) [5m]: ", "")
    for _ in range(4):
        answer(child, "(blank for any): ", "")
    answer(child, "Severity (info, warning, critical) [warning]: ", "")
    answer(child, "Channel (webhook, email, stdout, file) [stdout]: ", "email")
    answer(child, "Email address: ", "ops@example.com")
    answer(child, "Add another channel? [y/N]: ", "n")
    answer(child, "Cooldown (e.g. 30m, 1h) [1h]: ", "")
    answer(child, "Name [max(agentkit.retries) >= 3]: ", "retries")
    answer(child, "Save this rule? [Y/n]: ", "n")
    child.expect_exact("Not saved.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert AlertStore(tmp_path).rules() == []


def test_wizard_end_of_input_aborts_cleanly(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    answer(child, "or a metric name) [error_rate]: ", "")
    child.expect_exact("Comparison")
    child.sendeof()
    child.expect_exact("agentkit: error: aborted (end of input)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "Traceback" not in (child.before or "")
