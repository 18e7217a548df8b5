"""Delivery of a firing to its channels: webhook, email over SMTP, stdout and an append-only file.

Each channel returns a delivery result instead of raising: a failing channel is recorded in history as not
delivered and never stops evaluation or the other channels. Results carry no secret (webhook URLs are shown
as scheme://host:port only, since their paths often hold tokens).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Callable, TextIO

from .. import diagnostics
from ..config import ENV_SMTP_FROM, ENV_SMTP_HOST, ENV_SMTP_PASSWORD, ENV_SMTP_PORT, ENV_SMTP_TLS, ENV_SMTP_USER
from .netguard import Guard, UrlRefused, post
from .rules import Channel, Rule, format_duration

PAYLOAD_SCHEMA = "agentkit.alert/v1"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Alert:
    """One firing of one rule: what every channel renders."""

    rule: Rule
    value: float
    fired_at: float
    history_id: int | None = None

    @property
    def title(self) -> str:
        return f"[{self.rule.severity.upper()}] {self.rule.name}"

    @property
    def message(self) -> str:
        unit = f" {self.rule.unit}" if self.rule.unit else ""
        what = f"{self.rule.aggregation}({self.rule.metric})" if self.rule.aggregation else self.rule.metric
        where = "".join(f" {k}={v}" for k, v in sorted(self.rule.filters.items()))
        return (f"{what} = {self.value:.6g}{unit} {self.rule.comparison} {self.rule.threshold:g}{unit} "
                f"over the last {format_duration(self.rule.window)}{where}")  # type: ignore[arg-type]

    @property
    def iso_time(self) -> str:
        return datetime.fromtimestamp(self.fired_at, timezone.utc).isoformat(timespec="seconds")

    def payload(self) -> dict[str, Any]:
        r = self.rule
        return {
            "schema": PAYLOAD_SCHEMA, "rule_id": r.id, "rule_name": r.name, "metric": r.metric,
            "aggregation": r.aggregation, "value": self.value, "comparison": r.comparison, "threshold": r.threshold,
            "unit": r.unit, "window": format_duration(r.window), "filters": dict(r.filters),  # type: ignore[arg-type]
            "severity": r.severity, "fired_at": self.iso_time, "history_id": self.history_id,
            "title": self.title, "message": self.message,
        }

    def slack_payload(self) -> dict[str, Any]:
        """Slack-compatible: ``text`` for notifications plus Block Kit ``blocks`` (header, fields, context)."""
        r = self.rule
        unit = f" {r.unit}" if r.unit else ""
        field_items = [("Metric", r.summary()), ("Value", f"{self.value:.6g}{unit}"),
                       ("Threshold", f"{r.comparison} {r.threshold:g}{unit}"), ("Severity", r.severity)]
        return {
            "text": f"{self.title}: {self.message}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": self.message}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in field_items]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"agentkit alert rule {r.id} at "
                                                  f"{self.iso_time}"}]},
            ],
        }


def _result(channel: Channel, delivered: bool, error: str | None = None, attempts: int = 1) -> dict[str, Any]:
    return {"channel": channel.type, "target": channel.describe(), "delivered": delivered, "error": error,
            "attempts": attempts}


def send_webhook(channel: Channel, alert: Alert, guard: Guard, sleep: Callable[[float], None] = time.sleep
                 ) -> dict[str, Any]:
    """POST the alert as JSON, re-checking the URL first; retries 5xx/429/timeouts with back-off."""
    body = json.dumps(alert.slack_payload() if channel.format == "slack" else alert.payload()).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "otel-agentkit-alerts"}
    attempts, error = 0, "not attempted"
    for attempt in range(channel.retries + 1):
        if attempt:
            sleep(channel.backoff * (2 ** (attempt - 1)))
        attempts += 1
        try:
            target = guard.check(channel.url or "")  # at every delivery: DNS may have changed since save
        except UrlRefused as exc:
            return _result(channel, False, f"refused: {exc}", attempts)
        try:
            response = post(target, body, headers, channel.timeout, channel.ca_file)
        except (OSError, ssl.SSLError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            continue
        if 200 <= response.status < 300:
            return _result(channel, True, None, attempts)
        error = f"HTTP {response.status} {response.reason}".strip()
        if 300 <= response.status < 400:
            return _result(channel, False, error + " (redirects are not followed)", attempts)
        if response.status not in _RETRY_STATUSES:
            return _result(channel, False, error, attempts)
    return _result(channel, False, error, attempts)


def send_email(channel: Channel, alert: Alert) -> dict[str, Any]:
    """One message over SMTP; host, port and TLS from the channel or the environment, credentials from the
    environment variables the channel names."""
    env = os.environ
    tls = (channel.smtp_tls or env.get(ENV_SMTP_TLS) or "none").lower()
    host = channel.smtp_host or env.get(ENV_SMTP_HOST) or "localhost"
    try:
        port = channel.smtp_port or int(env.get(ENV_SMTP_PORT) or (465 if tls == "ssl" else 25))
    except ValueError:
        return _result(channel, False, f"invalid {ENV_SMTP_PORT}={env.get(ENV_SMTP_PORT)!r}")
    user = env.get(channel.username_env or ENV_SMTP_USER)
    password = env.get(channel.password_env or ENV_SMTP_PASSWORD)
    msg = EmailMessage()
    msg["Subject"] = f"agentkit alert: {alert.title}"
    msg["From"] = channel.sender or env.get(ENV_SMTP_FROM) or "agentkit@localhost"
    msg["To"] = ", ".join(channel.to)
    msg.set_content(f"{alert.title}\n\n{alert.message}\n\nRule {alert.rule.id}: {alert.rule.summary()}\n"
                    f"Fired at {alert.iso_time}\n")
    try:
        context = ssl.create_default_context(cafile=channel.ca_file)
        if tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=channel.timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=channel.timeout)
        with smtp:
            if tls == "starttls":
                smtp.starttls(context=context)
            if user:
                smtp.login(user, password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        return _result(channel, False, f"{type(exc).__name__}: {exc}")
    return _result(channel, True)


def send_stdout(channel: Channel, alert: Alert, stream: TextIO | None = None) -> dict[str, Any]:
    out = stream or sys.stdout
    try:
        out.write(f"{alert.iso_time} ALERT {alert.title}: {alert.message}\n")
        out.flush()
    except (OSError, ValueError) as exc:
        return _result(channel, False, f"{type(exc).__name__}: {exc}")
    return _result(channel, True)


def send_file(channel: Channel, alert: Alert) -> dict[str, Any]:
    """One JSON line appended with a single write (O_APPEND), so concurrent writers do not interleave."""
    line = (json.dumps(alert.payload(), separators=(",", ":")) + "\n").encode()
    try:
        path = os.path.expanduser(channel.path or "")
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        return _result(channel, False, f"{type(exc).__name__}: {exc}")
    return _result(channel, True)


def deliver(alert: Alert, guard: Guard, stream: TextIO | None = None) -> list[dict[str, Any]]:
    """Send to every channel of the rule; one result per channel, whatever the others do."""
    results = []
    for channel in alert.rule.channels:
        try:
            if channel.type == "webhook":
                results.append(send_webhook(channel, alert, guard))
            elif channel.type == "email":
                results.append(send_email(channel, alert))
            elif channel.type == "file":
                results.append(send_file(channel, alert))
            else:
                results.append(send_stdout(channel, alert, stream))
        except Exception as exc:  # a bug in one channel must not cost the others their delivery
            diagnostics.report(f"alerts.channel.{channel.type}", exc)
            results.append(_result(channel, False, f"{type(exc).__name__}: {exc}"))
    return results
