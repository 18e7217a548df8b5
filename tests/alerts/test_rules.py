"""Rule validation, durations, channels and rule files: a bad rule is refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from otel_agentkit.alerts.rules import (
    AGGREGATIONS, BUILTIN_METRICS, Channel, Rule, RuleError, format_duration, load_rules_file, parse_duration,
    parse_rules,
)
from otel_agentkit.config import ConfigError


@pytest.mark.parametrize("text, seconds", [
    ("5m", 300), ("last 5 min", 300), ("5 minutes", 300), ("24h", 86400), ("last 24 h", 86400), ("1d", 86400),
    ("1h30m", 5400), ("90s", 90), ("90", 90), (45, 45), (2.5, 2.5), ("1w", 604800), ("2 hours", 7200),
])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration("window", text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "-5m", "0", "5m junk", True, None, [5]])
def test_parse_duration_refuses(text: object) -> None:
    with pytest.raises(RuleError, match=r"invalid window="):
        parse_duration("window", text)


@given(st.integers(min_value=1, max_value=31 * 86400))
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration("window", format_duration(seconds)) == seconds


def test_builtin_defaults() -> None:
    rule = Rule(metric="error_rate", threshold=5)
    assert (rule.comparison, rule.window, rule.cooldown, rule.severity) == (">", 300.0, 3600.0, "warning")
    assert rule.channels == (Channel("stdout"),)
    assert rule.source == "spans" and rule.unit == "%"
    assert Rule(metric="daily_cost", threshold=1).window == 86400.0
    assert Rule(metric="token_usage", threshold=1).window == 86400.0
    assert rule.name == "error_rate > 5"


def test_every_builtin_and_aggregation_is_accepted() -> None:
    for metric in BUILTIN_METRICS:
        assert Rule(metric=metric, threshold=1).metric == metric
    for agg in AGGREGATIONS:
        source = "metrics" if agg == "last" else None
        assert Rule(metric="my.metric", aggregation=agg, threshold=1, source=source).aggregation == agg


def test_source_is_picked_by_metric_name() -> None:
    assert Rule(metric="gen_ai.client.inference.duration", aggregation="p95", threshold=1).source == "metrics"
    assert Rule(metric="agentkit.cost", aggregation="sum", threshold=1).source == "metrics"
    assert Rule(metric="agentkit.retries", aggregation="max", threshold=1).source == "spans"
    assert Rule(metric="my.gauge", aggregation="last", threshold=1, source="metrics").source == "metrics"


def test_comparison_words() -> None:
    assert Rule(metric="error_rate", threshold=1, comparison="gte").comparison == ">="
    assert Rule(metric="error_rate", threshold=1, comparison="below").comparison == "<"
    rule = Rule(metric="avg_latency", threshold=100, comparison="<=")
    assert rule.breached(100) and rule.breached(5) and not rule.breached(101) and not rule.breached(None)


@pytest.mark.parametrize("fields, field, fragment", [
    ({"metric": "error_rate", "threshold": "lots"}, "threshold", "expected a number"),
    ({"metric": "error_rate", "threshold": float("nan")}, "threshold", "finite"),
    ({"metric": "error_rate", "threshold": 1, "comparison": "=>"}, "comparison", "expected one of"),
    ({"metric": "error_rate", "threshold": 1, "window": "forever"}, "window", "duration"),
    ({"metric": "error_rate", "threshold": 1, "window": "40d"}, "window", "31 days"),
    ({"metric": "error_rate", "threshold": 1, "cooldown": "-1h"}, "cooldown", "duration"),
    ({"metric": "error_rate", "threshold": 1, "severity": "urgent"}, "severity", "info, warning, critical"),
    ({"metric": "error_rate", "threshold": 1, "aggregation": "sum"}, "aggregation", "built-in"),
    ({"metric": "my.metric", "threshold": 1}, "aggregation", "needs an aggregation"),
    ({"metric": "my.metric", "threshold": 1, "aggregation": "median"}, "aggregation", "expected one of"),
    ({"metric": "my.metric", "threshold": 1, "aggregation": "last"}, "aggregation", "only for metric points"),
    ({"metric": "bad metric!", "threshold": 1}, "metric", "built-in metric"),
    ({"metric": "", "threshold": 1}, "metric", "must not be empty"),
    ({"metric": "error_rate", "threshold": 1, "filters": {"region": "eu"}}, "filters.region", "unknown filter"),
    ({"metric": "error_rate", "threshold": 1, "channels": []}, "channels", "at least one channel"),
    ({"metric": "error_rate", "threshold": 1, "channels": ["pager"]}, "channels[0]", "expected stdout"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "sms"}]}, "channels[0].type", "expected one of"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "webhook"}]}, "channels[0][webhook].url",
     "needs a url"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "webhook", "url": "ftp://x.example"}]},
     "channels[0][webhook].url", "only http and https"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "webhook", "url": "https://u:p@x.example"}]},
     "channels[0][webhook].url", "credentials"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "email", "to": ["not-an-address"]}]},
     "channels[0][email].to", "email address"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "email", "to": ["a@b.example\nBcc: x@y.z"]}]},
     "channels[0][email].to", "email address"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "file"}]}, "channels[0][file].path",
     "needs a path"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "webhook", "url": "https://x.example",
                                                            "retries": 99}]}, "channels[0][webhook].retries", "0-10"),
    ({"metric": "error_rate", "threshold": 1, "channels": [{"type": "stdout", "colour": "red"}]},
     "channels[0].colour", "unknown channel field"),
    ({"metric": "error_rate", "threshold": 1, "enabled": "yes"}, "enabled", "true or false"),
    ({"metric": "error_rate", "thresh": 1}, "rule.thresh", "unknown rule field"),
    ({"metric": "error_rate"}, "rule.threshold", "is required"),
])
def test_bad_rules_name_the_field(fields: dict, field: str, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        Rule.from_dict(fields)
    assert isinstance(info.value, ConfigError)  # so init() reports it like any other bad setting
    assert info.value.setting == field, str(info.value)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"invalid {field}=")


def test_channel_shorthands_and_round_trip() -> None:
    rule = Rule.from_dict({
        "name": "costly", "metric": "daily_cost", "threshold": 25, "model": "gpt-4*", "provider": "openai",
        "channels": ["stdout", "file:/tmp/alerts.jsonl", "email:ops@example.com",
                     {"type": "webhook", "url": "https://hooks.example.com/T0/B0/x", "format": "slack"}],
        "cooldown": "30m", "severity": "critical", "window": "last 24 h",
    })
    assert rule.filters == {"model": "gpt-4*", "provider": "openai"}
    assert [c.type for c in rule.channels] == ["stdout", "file", "email", "webhook"]
    assert rule.channels[3].describe() == "webhook https://hooks.example.com/…"  # no token in listings
    again = Rule.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert again == rule


rule_dicts = st.fixed_dictionaries({
    "metric": st.sampled_from(sorted(BUILTIN_METRICS)),
    "threshold": st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    "comparison": st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
    "window": st.integers(min_value=1, max_value=31 * 86400),
    "cooldown": st.integers(min_value=0, max_value=7 * 86400),
    "severity": st.sampled_from(["info", "warning", "critical"]),
    "filters": st.dictionaries(st.sampled_from(["model", "provider", "workflow", "agent"]),
                               st.text("abcxyz-_.*0123456789", min_size=1, max_size=12)),
})


@settings(max_examples=60, deadline=None)
@given(rule_dicts)
def test_rules_survive_serialisation(data: dict) -> None:
    rule = Rule.from_dict(data)
    assert Rule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


def test_yaml_and_json_files(tmp_path: Path) -> None:
    yml = tmp_path / "rules.yaml"
    yml.write_text("""
rules:
  - name: spend
    metric: daily_cost
    threshold: 50
    channels: [stdout]
  - name: slow
    metric: p95_latency
    comparison: ">"
    threshold: 2000
    window: last 5 min
    filters: {model: gpt-4o}
    severity: critical
""")
    rules = load_rules_file(yml)
    assert [r.name for r in rules] == ["spend", "slow"]
    assert rules[1].filters == {"model": "gpt-4o"} and rules[1].window == 300
    js = tmp_path / "rules.json"
    js.write_text(json.dumps([r.to_dict() for r in rules]))
    assert load_rules_file(js) == rules


@pytest.mark.parametrize("text, fragment", [
    ("rules:\n  - metric: error_rate\n    threshold: high\n", "invalid rules.yaml[0].threshold='high'"),
    ("rules:\n  - {metric: error_rate, threshold: 1}\n  - {metric: nope!, threshold: 1}\n",
     "invalid rules.yaml[1].metric='nope!'"),
    ("rules: [1, 2]\n", "invalid rules.yaml[0]=1"),
    ("alerts: []\n", "invalid rules.yaml={'alerts': []}: expected a list of rules"),
    ("rules:\n  - {name: a, metric: error_rate, threshold: 1}\n  - {name: a, metric: daily_cost, threshold: 1}\n",
     "invalid rules.yaml[1].name='a'"),
    ("rules: [\n", "not valid YAML"),
])
def test_bad_files_name_file_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RuleError) as info:
        load_rules_file(path)
    assert fragment in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="invalid rules file="):
        load_rules_file(tmp_path / "absent.yaml")


def test_parse_rules_accepts_single_mapping() -> None:
    assert len(parse_rules({"metric": "error_rate", "threshold": 1})) == 1
