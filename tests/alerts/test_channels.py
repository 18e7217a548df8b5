"""Every channel's success and failure, against real servers on 127.0.0.1.

Webhooks go to a real HTTP(S) server (pytest-httpserver); loopback is refused by default, so these tests
use the allow-list on purpose. Names such as ``hooks.test`` are resolved by an injected resolver (no DNS
here): that the request still arrives proves the connection goes to the checked address, with no second
lookup. Email goes to a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from otel_agentkit import diagnostics
from otel_agentkit.alerts import channels
from otel_agentkit.alerts.channels import Alert, deliver, send_email, send_webhook
from otel_agentkit.alerts.netguard import Guard
from otel_agentkit.alerts.rules import Channel, Rule
from tests.support.procs import free_port

from .conftest import NOW, Certs, Smtp


@pytest.fixture
def http() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=free_port())
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def https(certs: Certs) -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=free_port(), ssl_context=certs.server_context())
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


LOOPBACK = Guard(["127.0.0.1"])  # the operator's allow-list: a local receiver on purpose


def alert(*chans: Channel, **kw: object) -> Alert:
    rule = Rule(metric="error_rate", threshold=5, name="errors high", severity="critical", channels=chans,
                id=7, filters={"model": "gpt-4o"}, **kw)  # type: ignore[arg-type]
    return Alert(rule, 12.5, NOW, history_id=3)


def hook(server: HTTPServer, path: str = "/hook", **kw: object) -> Channel:
    return Channel("webhook", url=f"http://127.0.0.1:{server.port}{path}", **kw)  # type: ignore[arg-type]


# --- webhook ---------------------------------------------------------------------------------------------
def test_webhook_json_payload(http: HTTPServer) -> None:
    http.expect_request("/hook", method="POST").respond_with_data("ok")
    result = send_webhook(hook(http), alert(hook(http)), LOOPBACK)
    assert result == {"channel": "webhook", "target": f"webhook http://127.0.0.1:{http.port}/…",
                      "delivered": True, "error": None, "attempts": 1}
    (request, _), = http.log
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.data)
    assert body["schema"] == "agentkit.alert/v1"
    assert (body["rule_id"], body["rule_name"], body["metric"], body["value"], body["threshold"]) == (
        7, "errors high", "error_rate", 12.5, 5.0)
    assert (body["comparison"], body["severity"], body["unit"], body["window"]) == (">", "critical", "%", "5m")
    assert body["filters"] == {"model": "gpt-4o"} and body["history_id"] == 3
    assert body["fired_at"].startswith("2027-01-15T")


def test_webhook_slack_blocks(http: HTTPServer) -> None:
    http.expect_request("/slack", method="POST").respond_with_data("ok")
    ch = hook(http, "/slack", format="slack")
    assert send_webhook(ch, alert(ch), LOOPBACK)["delivered"]
    body = json.loads(http.log[0][0].data)
    assert "errors high" in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"]["type"] == "plain_text"
    fields = body["blocks"][2]["fields"]
    assert all(f["type"] == "mrkdwn" for f in fields) and any("*Value*" in f["text"] for f in fields)


def test_webhook_retries_server_errors_with_backoff(http: HTTPServer) -> None:
    calls = []

    def flaky(request: Request) -> Response:
        calls.append(1)
        return Response("busy", status=503) if len(calls) < 3 else Response("ok")

    http.expect_request("/hook").respond_with_handler(flaky)
    sleeps: list[float] = []
    ch = hook(http, retries=3, backoff=0.5)
    result = send_webhook(ch, alert(ch), LOOPBACK, sleep=sleeps.append)
    assert result["delivered"] and result["attempts"] == 3
    assert sleeps == [0.5, 1.0]  # exponential back-off between attempts


def test_webhook_gives_up_after_retries(http: HTTPServer) -> None:
    http.expect_request("/hook").respond_with_data("down", status=500)
    ch = hook(http, retries=2, backoff=0)
    result = send_webhook(ch, alert(ch), LOOPBACK)
    assert result["delivered"] is False and result["attempts"] == 3
    assert result["error"] == "HTTP 500 INTERNAL SERVER ERROR"
    assert len(http.log) == 3


def test_webhook_client_errors_are_not_retried(http: HTTPServer) -> None:
    http.expect_request("/hook").respond_with_data("no", status=404)
    ch = hook(http, retries=3, backoff=0)
    result = send_webhook(ch, alert(ch), LOOPBACK)
    assert (result["delivered"], result["attempts"], len(http.log)) == (False, 1, 1)


def test_webhook_does_not_follow_redirects(http: HTTPServer) -> None:
    http.expect_request("/hook").respond_with_data("", status=302, headers={"Location": "/elsewhere"})
    http.expect_request("/elsewhere").respond_with_data("should not be reached")
    ch = hook(http, retries=2, backoff=0)
    result = send_webhook(ch, alert(ch), LOOPBACK)
    assert result["delivered"] is False and "redirects are not followed" in result["error"]
    assert [r.path for r, _ in http.log] == ["/hook"]


def test_webhook_timeout(http: HTTPServer) -> None:
    http.expect_request("/slow").respond_with_handler(lambda r: (time.sleep(1.5), Response("late"))[1])
    ch = hook(http, "/slow", timeout=0.3, retries=0)
    result = send_webhook(ch, alert(ch), LOOPBACK)
    assert result["delivered"] is False and "timed out" in result["error"]


def test_webhook_connection_refused() -> None:
    ch = Channel("webhook", url=f"http://127.0.0.1:{free_port()}/hook", retries=1, backoff=0)
    result = send_webhook(ch, alert(ch), LOOPBACK)
    assert result["delivered"] is False and "ConnectionRefusedError" in result["error"]
    assert result["attempts"] == 2


def test_webhook_rechecked_at_delivery(http: HTTPServer) -> None:
    http.expect_request("/hook").respond_with_data("ok")
    ch = hook(http)
    result = send_webhook(ch, alert(ch), Guard())  # no allow-list at delivery time
    assert result["delivered"] is False and result["error"] == "refused: loopback address 127.0.0.1"
    assert not http.log


def test_webhook_connects_to_the_checked_address(http: HTTPServer) -> None:
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:  # injected: hooks.test exists only here
        lookups.append(host)
        return ["127.0.0.1"]

    http.expect_request("/hook").respond_with_data("ok")
    ch = Channel("webhook", url=f"http://hooks.test:{http.port}/hook")
    assert send_webhook(ch, alert(ch), Guard(["127.0.0.1"], resolver=resolver))["delivered"]
    assert lookups == ["hooks.test"]  # one lookup, then the connection went to the checked address
    assert http.log[0][0].headers["Host"] == f"hooks.test:{http.port}"


def test_webhook_dns_rebinding_at_delivery_is_refused(http: HTTPServer) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    guard = Guard(resolver=lambda host, port: next(answers))
    ch = Channel("webhook", url=f"http://rebind.test:{http.port}/hook")
    guard.check(ch.url)  # at save time the name looked public
    result = send_webhook(ch, alert(ch), guard)
    assert result["delivered"] is False and "resolves to a loopback address" in result["error"]
    assert not http.log


def test_https_webhook_pinned_with_sni_and_certificate_check(https: HTTPServer, certs: Certs) -> None:
    https.expect_request("/hook").respond_with_data("ok")
    guard = Guard(["127.0.0.1"], resolver=lambda host, port: ["127.0.0.1"])
    ok = Channel("webhook", url=f"https://hooks.test:{https.port}/hook", ca_file=str(certs.ca))
    assert send_webhook(ok, alert(ok), guard)["delivered"]
    assert https.log[0][0].headers["Host"] == f"hooks.test:{https.port}"
    wrong_name = Channel("webhook", url=f"https://other.test:{https.port}/hook", ca_file=str(certs.ca), retries=0)
    result = send_webhook(wrong_name, alert(wrong_name), guard)
    assert result["delivered"] is False and "CERTIFICATE_VERIFY_FAILED" in result["error"]
    untrusted = Channel("webhook", url=f"https://hooks.test:{https.port}/hook", retries=0)
    assert send_webhook(untrusted, alert(untrusted), guard)["delivered"] is False
    assert len(https.log) == 1


# --- email -----------------------------------------------------------------------------------------------
def test_email_delivered_with_credentials_from_environment(smtp: Smtp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AGENTKIT_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("AGENTKIT_SMTP_USER", "alerts")
    monkeypatch.setenv("AGENTKIT_SMTP_PASSWORD", "s3cret")
    ch = Channel("email", to=("ops@example.com", "oncall@example.com"), sender="agentkit@example.com")
    result = send_email(ch, alert(ch))
    assert result == {"channel": "email", "target": "email ops@example.com, oncall@example.com",
                      "delivered": True, "error": None, "attempts": 1}
    assert smtp.logins == ["alerts"]
    (envelope,) = smtp.messages
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    text = envelope.content.decode()
    assert "Subject: agentkit alert: [CRITICAL] errors high" in text
    assert "error_rate = 12.5 % > 5 %" in text


def test_email_credential_variable_names_come_from_the_channel(smtp: Smtp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_SMTP_LOGIN", "alerts")
    monkeypatch.setenv("TEAM_SMTP_SECRET", "wrong")
    ch = Channel("email", to=("ops@example.com",), smtp_host="127.0.0.1", smtp_port=smtp.port,
                 username_env="TEAM_SMTP_LOGIN", password_env="TEAM_SMTP_SECRET")
    result = send_email(ch, alert(ch))
    assert result["delivered"] is False and "SMTPAuthenticationError" in result["error"]
    assert "wrong" not in result["error"]
    monkeypatch.setenv("TEAM_SMTP_SECRET", "s3cret")
    assert send_email(ch, alert(ch))["delivered"]
    assert len(smtp.messages) == 1


def test_email_starttls(certs: Certs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_SMTP_USER", "alerts")
    monkeypatch.setenv("AGENTKIT_SMTP_PASSWORD", "s3cret")
    with Smtp(free_port(), tls_context=certs.server_context(), users={"alerts": "s3cret"}) as server:
        plain = Channel("email", to=("ops@example.com",), smtp_host="127.0.0.1", smtp_port=server.port)
        refused = send_email(plain, alert(plain))
        assert refused["delivered"] is False  # the server insists on STARTTLS
        tls = Channel("email", to=("ops@example.com",), smtp_host="127.0.0.1", smtp_port=server.port,
                      smtp_tls="starttls", ca_file=str(certs.ca))
        assert send_email(tls, alert(tls))["delivered"]
        assert len(server.messages) == 1 and server.logins == ["alerts"]


def test_email_server_unreachable() -> None:
    ch = Channel("email", to=("ops@example.com",), smtp_host="127.0.0.1", smtp_port=free_port(), timeout=2)
    result = send_email(ch, alert(ch))
    assert result["delivered"] is False and "ConnectionRefusedError" in result["error"]


# --- stdout and file -------------------------------------------------------------------------------------
def test_stdout() -> None:
    out = io.StringIO()
    ch = Channel("stdout")
    assert channels.send_stdout(ch, alert(ch), out)["delivered"]
    assert "ALERT [CRITICAL] errors high: error_rate = 12.5 % > 5 % over the last 5m model=gpt-4o" in out.getvalue()
    closed = io.StringIO()
    closed.close()
    result = channels.send_stdout(ch, alert(ch), closed)
    assert result["delivered"] is False and "ValueError" in result["error"]


def test_file_appends_json_lines(tmp_path: Path) -> None:
    ch = Channel("file", path=str(tmp_path / "sub" / "alerts.jsonl"))
    for _ in range(2):
        assert channels.send_file(ch, alert(ch))["delivered"]
    lines = (tmp_path / "sub" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["rule_name"] for line in lines] == ["errors high", "errors high"]
    (tmp_path / "dir.jsonl").mkdir()
    bad = Channel("file", path=str(tmp_path / "dir.jsonl"))
    result = channels.send_file(bad, alert(bad))
    assert result["delivered"] is False and "IsADirectoryError" in result["error"]


def test_one_failing_channel_does_not_stop_the_others(tmp_path: Path, http: HTTPServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    http.expect_request("/hook").respond_with_data("ok")
    (tmp_path / "dir").mkdir()
    chans = (Channel("webhook", url=f"http://127.0.0.1:{free_port()}/dead", retries=0),
             Channel("file", path=str(tmp_path / "dir")), hook(http), Channel("file", path=str(tmp_path / "ok")),
             Channel("email", to=("ops@example.com",), smtp_host="127.0.0.1", smtp_port=free_port()))
    results = deliver(alert(*chans), LOOPBACK, io.StringIO())
    assert [r["delivered"] for r in results] == [False, False, True, True, False]

    def broken(channel: Channel, a: Alert) -> dict:  # a bug inside a channel, which nothing else can cause
        raise RuntimeError("bug")

    monkeypatch.setattr(channels, "send_file", broken)
    diagnostics.reset()
    results = deliver(alert(Channel("file", path=str(tmp_path / "x")), Channel("stdout")), LOOPBACK, io.StringIO())
    assert [r["delivered"] for r in results] == [False, True]
    assert results[0]["error"] == "RuntimeError: bug"
    assert diagnostics.error_counts() == {("alerts.channel.file", "RuntimeError"): 1}
