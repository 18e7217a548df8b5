"""Prometheus as the metrics backend: a real Prometheus server scrapes the SDK's endpoint
(``agentkit.init(metric_exporters=["prometheus"])``) and the GenAI metrics are queried back by their
Prometheus names. The names are derived by the same function that writes the exported alert rules
(alerts.promrules.prometheus_name), so this also checks that those rules name series that exist, and a
few exported rule expressions are evaluated by Prometheus over the scraped data."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.alerts.promrules import KNOWN_METRICS, prometheus_name, rule_expr, sanitize
from otel_agentkit.alerts.rules import Rule
from otel_agentkit.export.prometheus import ENV_HOST, ENV_PORT
from tests.backends import workload as w
from tests.backends.conftest import Prometheus, prometheus_scraping
from tests.support.procs import free_port, wait_until


def series(metric: str, suffix: str = "") -> str:
    kind, unit = KNOWN_METRICS[metric]
    return prometheus_name(metric, unit, kind) + suffix


def label(attribute: str) -> str:
    return sanitize(attribute)


@contextlib.contextmanager
def sdk_serving_metrics(port: int, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """agentkit.init(metric_exporters=["prometheus"]) with the endpoint on 127.0.0.1:``port``, set by the
    standard OTEL_EXPORTER_PROMETHEUS_* variables. A meter provider of the test's own, so that nothing an
    earlier test in this process recorded is on the endpoint."""
    monkeypatch.setenv(ENV_HOST, "127.0.0.1")
    monkeypatch.setenv(ENV_PORT, str(port))
    resource = Resource.create({"service.name": "backends-prometheus"})
    assert agentkit.init(exporters="none", metric_exporters=["prometheus"], home=home,
                         tracer_provider=TracerProvider(resource=resource),
                         meter_provider=MeterProvider(resource=resource))
    try:
        yield
    finally:
        agentkit.shutdown()


def wait_for_value(prom: Prometheus, expr: str, expected: float, what: str) -> None:
    seen: list[float | None] = []

    def check() -> bool:
        seen.append(prom.value(expr))
        return seen[-1] == expected

    try:
        wait_until(check, 60, what, interval=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {expr} = {seen[-1:]} (want {expected}); Prometheus log:\n"
                             f"{prom.server.log()[-2000:]}") from None


def test_genai_metrics_scraped_by_prometheus_and_queried_by_name(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    with sdk_serving_metrics(port, tmp_path / "home", monkeypatch), \
            prometheus_scraping([f"127.0.0.1:{port}"], tmp_path / "prometheus") as prom:
        wait_for_value(prom, 'up{job="agentkit"}', 1.0, "Prometheus to scrape the SDK endpoint")

        # Two tickets, one scrape apart: rate/increase over the series then see a rise, as alert rules do.
        # Tokens are the v0.1.0 usage counters (``..._total``, with gen_ai.token.modality).
        w.run_ticket()
        tokens_in = series(sc.METRIC_USAGE_INPUT_TOKENS)
        wait_for_value(prom, f"sum({tokens_in})", w.INPUT_TOKENS, "the first ticket's input tokens")
        w.run_ticket()
        wait_for_value(prom, f"sum({tokens_in})", 2 * w.INPUT_TOKENS, "both tickets' input tokens")
        assert tokens_in == "gen_ai_client_inference_usage_input_tokens_total"
        assert {s["metric"].get(label(sc.GEN_AI_TOKEN_MODALITY)) for s in prom.query(tokens_in)} == {sc.MODALITY_TEXT}

        model = f'{label(sc.GEN_AI_REQUEST_MODEL)}="{w.MODEL}"'
        assert prom.value(f"sum({series(sc.METRIC_USAGE_OUTPUT_TOKENS)}{{{model}}})") == 2 * w.OUTPUT_TOKENS
        assert prom.value(f"sum({series(sc.METRIC_INPUT_TOKENS, '_sum')}{{{model}}})") == 2 * w.INPUT_TOKENS
        assert prom.value(f"sum({series(sc.METRIC_INFERENCE_DURATION, '_count')}{{{model}}})") == 2
        buckets = prom.query(f"{series(sc.METRIC_INFERENCE_DURATION, '_bucket')}{{{model}}}")
        assert sorted(float(b["metric"]["le"]) for b in buckets)[:-1] == list(sc.DURATION_BUCKETS)  # + +Inf
        # the pre-release metrics are not emitted by default
        for old in (series(sc.METRIC_LEGACY_TOKEN_USAGE, "_count"), series(sc.METRIC_INVOCATION_DURATION, "_count"),
                    series(sc.METRIC_LEGACY_OPERATION_DURATION, "_count")):
            assert prom.query(old) == [], old

        cost = prom.query(series(sc.METRIC_COST))
        assert len(cost) == 1 and float(cost[0]["value"][1]) > 0
        assert {cost[0]["metric"][k] for k in (sc.COST_ATTR_PROVIDER, sc.COST_ATTR_WORKFLOW)} == {w.PROVIDER, w.WORKFLOW}
        assert cost[0]["metric"]["__name__"] == "agentkit_cost_USD_total"  # what dashboards and rules query

        tools = prom.query(series(sc.METRIC_TOOL_DURATION, "_count"))
        assert {(t["metric"][label(sc.GEN_AI_TOOL_NAME)], t["metric"].get(label(sc.ERROR_TYPE), ""), t["value"][1])
                for t in tools} == {(w.TOOL_OK, "", "2"),
                                    (w.TOOL_FAILS, f"{w.RefundRefused.__module__}.{w.RefundRefused.__qualname__}", "2")}
        invocations = prom.query(f'{series(sc.METRIC_INVOKE_AGENT_DURATION, "_count")}'
                                 f'{{{label(sc.GEN_AI_OPERATION_NAME)}="{sc.OP_INVOKE_WORKFLOW}"}}')
        assert [(i["metric"][label(sc.GEN_AI_AGENT_NAME)], i["value"][1]) for i in invocations] == [(w.WORKFLOW, "2")]

        # Exported alert rules, evaluated by Prometheus itself over what it scraped: they parse, and the
        # ones whose threshold the traffic crossed return a sample (would fire).
        firing = Rule(metric="token_usage", threshold=1, window="5m", filters={"model": w.MODEL})
        quiet = Rule(metric="token_usage", threshold=10**9, window="5m")
        assert prom.query(rule_expr(firing)) != []
        assert prom.query(rule_expr(quiet)) == []
        assert prom.query(rule_expr(Rule(metric="daily_cost", threshold=0, comparison=">=", window="5m"))) != []
        assert prom.query(rule_expr(Rule(metric="avg_latency", threshold=0, comparison=">=", window="5m"))) != []
        workflow_runs = Rule(metric=sc.METRIC_INVOKE_AGENT_DURATION, aggregation="count", threshold=0, comparison=">",
                             window="5m", filters={"workflow": w.WORKFLOW})
        assert prom.query(rule_expr(workflow_runs)) != []
