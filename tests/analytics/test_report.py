"""The HTML report opened in headless Chromium: it renders without console errors or network requests, its
charts are drawn, and the figures it shows are the CLI's.

Set AGENTKIT_UPDATE_SCREENSHOT=1 to refresh docs/report-screenshot.png from this test's page.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from otel_agentkit import analytics
from otel_agentkit.analytics import formatting as fmt
from otel_agentkit.cli.main import main

from .browser import chromium
from .telemetry import PRICES, now_hour, synthetic_calls, write_calls, write_pricing

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    home = tmp_path_factory.mktemp("busy")
    calls, now = synthetic_calls(), now_hour()
    write_calls(home, calls, now)
    return {"home": home, "calls": calls, "now": now, "pricing": write_pricing(home / "prices.json")}


def cli_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_report_renders_in_chromium_with_the_cli_figures(capsys, tmp_path, busy):
    page_path = tmp_path / "report.html"
    common = ["--home", str(busy["home"]), "--pricing", str(busy["pricing"]), "--tz", "Europe/Paris"]
    assert main(["report", "--html", str(page_path), "--title", "Support & billing bots", *common]) == 0
    capsys.readouterr()
    stats = cli_json(capsys, "usage", "stats", "--json", *common)["total"]
    by_model = cli_json(capsys, "usage", "stats", "--by", "model", "--json", *common)["groups"]
    by_day = cli_json(capsys, "usage", "stats", "--by", "day", "--json", *common)["groups"]
    assert stats["calls"] == len(busy["calls"])

    text = page_path.read_text()
    # Self-contained: nothing to fetch (the CSP forbids it anyway) and the title is escaped.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "default-src 'none'" in text and "<title>Support &amp; billing bots</title>" in text

    with chromium(tmp_path) as page:
        page.open(page_path.as_uri())
        assert page.errors() == []
        assert page.requested_urls() == [page_path.as_uri()]
        assert page.evaluate("document.body.dataset.rendered") == "true"
        tiles = dict(page.evaluate(
            "Array.from(document.querySelectorAll('.tile')).map(t => [t.dataset.metric, "
            "t.querySelector('.value').textContent])"))
        assert tiles == {
            "calls": fmt.integer(stats["calls"]), "total_tokens": fmt.integer(stats["total_tokens"]),
            "cost_usd": fmt.usd(stats["cost_usd"]), "error_rate": fmt.percent(stats["error_rate"]),
            "latency_p50_s": fmt.seconds(stats["latency_p50_s"]), "latency_p95_s": fmt.seconds(stats["latency_p95_s"]),
            "cache_hit_rate": fmt.percent(stats["cache_hit_rate"]),
        }
        rows = page.evaluate(
            "Array.from(document.querySelectorAll('section:last-of-type tr[data-key]')).map(r => "
            "Array.from(r.cells).map(c => c.textContent))")
        assert [r[0] for r in rows] == [g["key"] for g in by_model]
        for row, g in zip(rows, by_model):
            assert row[1:5] == [fmt.integer(g["calls"]), fmt.integer(g["input_tokens"]),
                                fmt.integer(g["output_tokens"]), fmt.usd(g["cost_usd"])]
        # one bar per day (days without calls included), per model; a line point per day with calls
        days = page.evaluate("document.querySelectorAll('#chart-cost-day rect').length")
        local_days = {c.start(busy["now"]).astimezone(analytics.parse_tz("Europe/Paris")).date() for c in busy["calls"]}
        assert days == len(by_day) == len(local_days) and 14 <= days <= 15  # 15 when the hours straddle midnight
        assert page.evaluate("document.querySelectorAll('#chart-tokens-day rect').length") == 2 * days
        assert page.evaluate("document.querySelectorAll('#chart-cost-model rect').length") == len(PRICES)
        assert page.evaluate("document.querySelectorAll('#chart-latency-day circle').length") == 2 * days
        tooltip = page.evaluate("document.querySelector('#chart-cost-day rect title').textContent")
        assert tooltip.startswith(by_day[0]["key"] + " cost: $")
        shot = page.screenshot(tmp_path / "report.png")
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
    if os.environ.get("AGENTKIT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "report.png", DOCS_SCREENSHOT)


def test_the_browser_check_does_catch_errors(tmp_path):
    """The same harness on a broken page: an exception, a console error and a refused fetch are all seen,
    so an empty list above means something."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline'\"></head><body><script>console.error('bad figure');"
        "fetch('http://127.0.0.1:9/x').catch(() => {}); undefinedFunction();</script></body></html>")
    with chromium(tmp_path) as page:
        page.open(broken.as_uri())
        errors = "\n".join(page.errors())
    assert "undefinedFunction" in errors
    assert "bad figure" in errors
    assert "Content Security Policy" in errors


def test_report_with_no_calls(tmp_path):
    (tmp_path / "telemetry").mkdir()
    data = analytics.build_report(tmp_path / "telemetry", analytics.window())
    page = analytics.render_html(data)
    assert data.total.calls == 0 and data.by_day == []
    assert 'data-metric="calls"><div class="label">Calls</div><div class="value">0</div>' in page
    out = analytics.write_report(tmp_path / "empty.html", data)
    assert Path(out).read_text() == page


def test_names_cannot_break_out_of_the_page(tmp_path):
    """Model and workflow names come from telemetry: they are escaped in HTML and in the embedded JSON."""
    from .telemetry import Call, write_calls as write

    evil = "</script><script>alert(1)</script>&"
    write(tmp_path, [Call(-1, "small-model", workflow=evil)], now_hour())
    data = analytics.build_report(tmp_path / "telemetry", analytics.window(), pricing=analytics.load_pricing(PRICES))
    page = analytics.render_html(data)
    assert evil not in page and html.escape(evil) in page
    embedded = page.split('<script type="application/json" id="report-data">')[1].split("</script>")[0]
    assert json.loads(embedded)["top_workflows"][0]["key"] == evil
