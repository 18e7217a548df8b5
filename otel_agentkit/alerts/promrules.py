"""Alert rules as Prometheus alerting rules over the GenAI metrics, for when a deployment outgrows one process.

Metric names follow the OpenTelemetry-to-Prometheus compatibility rules used by the OTel Prometheus
exporter and the Collector: dots become underscores, the unit is appended (``s`` -> ``_seconds``, ``USD`` ->
``_USD``, annotations such as ``{token}`` dropped), counters end in ``_total`` and histograms expose
``_bucket``/``_sum``/``_count``. Attribute names become labels the same way (``gen_ai.request.model`` ->
``gen_ai_request_model``). A rule's cooldown maps to Alertmanager's ``repeat_interval`` (kept as an
annotation); its channels to Alertmanager receivers (kept as a label for routing).

The expressions read the metrics of GenAI semantic conventions v0.1.0 (the SDK's default): token_usage is
the ``gen_ai.client.inference.usage.*`` counters (``..._total``); a rule on a pre-release metric (emitted only
under the ``semconv`` switch) keeps that metric's own name and labels.

Rules over span attributes have no metric to read and are listed as comments instead of being exported.
"""

from __future__ import annotations

import json
import re
from typing import Sequence

from .. import semconv as sc
from .rules import PERCENTILES, Rule, format_duration

_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds", "min": "minutes",
          "h": "hours", "d": "days", "By": "bytes", "1": "", "%": "percent"}

# Instrument kind and unit of the metrics this SDK emits: the v0.1.0 set (the default) first, then the
# pre-release names still emitted under the switch (semconv="pre-release" or "both"), then the project's.
KNOWN_METRICS: dict[str, tuple[str, str]] = {
    sc.METRIC_INFERENCE_DURATION: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_TIME_TO_FIRST_CHUNK: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_TIME_PER_OUTPUT_CHUNK: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_USAGE_INPUT_TOKENS: ("counter", sc.UNIT_TOKENS),
    sc.METRIC_USAGE_OUTPUT_TOKENS: ("counter", sc.UNIT_TOKENS),
    sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS: ("counter", sc.UNIT_TOKENS),
    sc.METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS: ("counter", sc.UNIT_TOKENS),
    sc.METRIC_USAGE_REASONING_OUTPUT_TOKENS: ("counter", sc.UNIT_TOKENS),
    sc.METRIC_INPUT_TOKENS: ("histogram", sc.UNIT_TOKENS),
    sc.METRIC_OUTPUT_TOKENS: ("histogram", sc.UNIT_TOKENS),
    sc.METRIC_EMBEDDINGS_DURATION: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_EMBEDDINGS_INPUT_TOKENS: ("histogram", sc.UNIT_TOKENS),
    sc.METRIC_TOOL_DURATION: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_INVOKE_AGENT_DURATION: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_INVOKE_AGENT_INFERENCE_CALLS: ("histogram", sc.UNIT_INFERENCE_CALLS),  # an annotation: no unit suffix
    sc.METRIC_INVOKE_AGENT_TOOL_CALLS: ("histogram", sc.UNIT_TOOL_CALLS),
    sc.METRIC_RETRIEVAL_DURATION: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_OPERATION_DURATION: ("histogram", sc.UNIT_SECONDS),  # pre-release: retrieval, and inference too
    # pre-release set (gen_ai.client.operation.duration was also the inference duration's duplicate there)
    sc.METRIC_INVOCATION_DURATION: ("histogram", sc.UNIT_SECONDS),
    sc.METRIC_LEGACY_TOKEN_USAGE: ("histogram", sc.UNIT_TOKENS),
    # project
    sc.METRIC_COST: ("counter", sc.UNIT_USD),
    sc.METRIC_SDK_ERRORS: ("counter", ""),
    sc.METRIC_SDK_DROPPED: ("counter", ""),
    sc.METRIC_SDK_PENDING_MEASUREMENTS: ("gauge", ""),
}
# Filter -> label, for the GenAI metrics and for the cost counter (which has short attribute names). The
# v0.1.0 GenAI metrics carry no workflow attribute except on gen_ai.invoke_agent.*, where a workflow's name
# is gen_ai.agent.name with operation invoke_workflow (see _WORKFLOW_BY_AGENT_NAME).
_GENAI_LABELS = {"model": sc.GEN_AI_REQUEST_MODEL, "provider": sc.GEN_AI_PROVIDER_NAME}
_RUN_LABELS = {**_GENAI_LABELS, "agent": sc.GEN_AI_AGENT_NAME}  # gen_ai.invoke_agent.*
_COST_LABELS = {"model": sc.COST_ATTR_MODEL, "provider": sc.COST_ATTR_PROVIDER,
                "workflow": sc.COST_ATTR_WORKFLOW, "agent": sc.COST_ATTR_AGENT}
_PRE_RELEASE_LABELS = {**_GENAI_LABELS, "workflow": sc.GEN_AI_WORKFLOW_NAME}
_PRE_RELEASE_METRICS = frozenset({sc.METRIC_INVOCATION_DURATION, sc.METRIC_LEGACY_TOKEN_USAGE})
_WORKFLOW_BY_AGENT_NAME = frozenset({sc.METRIC_INVOKE_AGENT_DURATION, sc.METRIC_INVOKE_AGENT_INFERENCE_CALLS,
                                     sc.METRIC_INVOKE_AGENT_TOOL_CALLS})


class NotExportable(ValueError):
    """A rule with no Prometheus equivalent (the reason is the message)."""


def sanitize(name: str) -> str:
    """A Prometheus metric or label name from an OTel name."""
    out = re.sub(r"[^a-zA-Z0-9_]+", "_", name)
    return "_" + out[1:] if out[:1].isdigit() else out


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """The base series name of an OTel metric (``_bucket``/``_sum``/``_count`` are added for histograms)."""
    base = sanitize(name)
    unit = re.sub(r"\{[^}]*\}", "", unit or "")
    suffix = _UNITS.get(unit, sanitize(unit).strip("_"))
    if suffix and not base.endswith("_" + suffix):
        base += "_" + suffix
    return base + "_total" if kind == "counter" and not base.endswith("_total") else base


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _glob_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in r"\.+()|[]{}^$":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _matchers(rule: Rule, labels: dict[str, str], extra: Sequence[str] = (), *,
              workflow_by_agent_name: bool = False) -> str:
    parts = []
    filters = dict(rule.filters)
    if workflow_by_agent_name:
        labels = _RUN_LABELS
    missing = sorted(k for k in filters if k not in labels and not (workflow_by_agent_name and k == "workflow"))
    if missing:  # a matcher on a label the series lack would match nothing, and the rule never fire
        raise NotExportable(f"the {missing[0]} filter: the metric behind {rule.metric} has no {missing[0]} "
                            "label in Prometheus (only agentkit.cost and gen_ai.invoke_agent.* carry workflow "
                            "or agent); the in-process and file-based alerts apply it")
    if workflow_by_agent_name and "workflow" in filters:
        if "agent" in filters:
            raise NotExportable("a workflow and an agent filter both name gen_ai.agent.name on this metric")
        filters["agent"] = filters.pop("workflow")
        parts.append(f"{sanitize(sc.GEN_AI_OPERATION_NAME)}={_quote(sc.OP_INVOKE_WORKFLOW)}")
    for key, value in sorted(filters.items()):
        label = sanitize(labels[key])
        if any(c in value for c in "*?"):
            parts.append(f"{label}=~{_quote(_glob_regex(value))}")
        else:
            parts.append(f"{label}={_quote(value)}")
    parts.extend(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def rule_expr(rule: Rule) -> str:
    """The PromQL expression (comparison included) for ``rule``; NotExportable when there is none."""
    w = f"[{format_duration(rule.window)}]"  # type: ignore[arg-type]
    cmp = f" {rule.comparison} {rule.threshold:g}"
    duration = prometheus_name(sc.METRIC_INFERENCE_DURATION, sc.UNIT_SECONDS, "histogram")
    if rule.metric == "daily_cost":
        cost = prometheus_name(sc.METRIC_COST, sc.UNIT_USD, "counter")
        return f"sum(increase({cost}{_matchers(rule, _COST_LABELS)}{w})){cmp}"
    if rule.metric in ("token_usage", "error_rate", "avg_latency", "p95_latency"):
        m = _matchers(rule, _GENAI_LABELS)
    if rule.metric == "token_usage":  # the v0.1.0 usage counters (gen_ai.client.inference.usage.*)
        tin = prometheus_name(sc.METRIC_USAGE_INPUT_TOKENS, sc.UNIT_TOKENS, "counter")
        tout = prometheus_name(sc.METRIC_USAGE_OUTPUT_TOKENS, sc.UNIT_TOKENS, "counter")
        return (f"((sum(increase({tin}{m}{w})) or vector(0)) + "
                f"(sum(increase({tout}{m}{w})) or vector(0))){cmp}")
    if rule.metric == "error_rate":
        errors = _matchers(rule, _GENAI_LABELS, [f'{sanitize(sc.ERROR_TYPE)}!=""'])
        return (f"(100 * (sum(rate({duration}_count{errors}{w})) or vector(0)) / "
                f"sum(rate({duration}_count{m}{w}))){cmp}")
    if rule.metric == "avg_latency":
        return f"(1000 * sum(rate({duration}_sum{m}{w})) / sum(rate({duration}_count{m}{w}))){cmp}"
    if rule.metric == "p95_latency":
        return f"(1000 * histogram_quantile(0.95, sum by (le) (rate({duration}_bucket{m}{w})))){cmp}"
    if rule.source != "metrics":
        raise NotExportable(f"{rule.metric} is a span attribute; Prometheus has no metric for it")
    kind, unit = KNOWN_METRICS.get(rule.metric, ("unknown", ""))
    labels = (_COST_LABELS if rule.metric == sc.METRIC_COST
              else _PRE_RELEASE_LABELS if rule.metric in _PRE_RELEASE_METRICS else _GENAI_LABELS)
    m = _matchers(rule, labels, workflow_by_agent_name=rule.metric in _WORKFLOW_BY_AGENT_NAME)
    agg = rule.aggregation or "sum"
    if kind == "histogram":
        name = prometheus_name(rule.metric, unit, kind)
        if agg == "sum":
            return f"sum(increase({name}_sum{m}{w})){cmp}"
        if agg == "count":
            return f"sum(increase({name}_count{m}{w})){cmp}"
        if agg == "avg":
            return f"(sum(rate({name}_sum{m}{w})) / sum(rate({name}_count{m}{w}))){cmp}"
        if agg in PERCENTILES:
            return f"histogram_quantile({PERCENTILES[agg]}, sum by (le) (rate({name}_bucket{m}{w}))){cmp}"
        raise NotExportable(f"{agg} of histogram {rule.metric} is not kept by Prometheus")
    if kind == "counter" or (kind == "unknown" and agg == "sum"):
        name = prometheus_name(rule.metric, unit, "counter")
        if agg == "sum":
            return f"sum(increase({name}{m}{w})){cmp}"
        raise NotExportable(f"{agg} of counter {rule.metric} has no Prometheus equivalent; use sum")
    name = prometheus_name(rule.metric, unit, "gauge")
    if agg == "last":
        return f"max({name}{m}){cmp}"
    if agg in ("avg", "min", "max"):
        return f"{agg}({agg}_over_time({name}{m}{w})){cmp}"
    if agg == "count":
        return f"sum(count_over_time({name}{m}{w})){cmp}"
    if agg in PERCENTILES:
        return f"histogram_quantile({PERCENTILES[agg]}, sum by (le) (rate({name}_bucket{m}{w}))){cmp}"
    raise NotExportable(f"{agg} of {rule.metric} has no Prometheus equivalent")


def alert_name(rule: Rule, taken: set[str]) -> str:
    words = re.findall(r"[A-Za-z0-9]+", rule.name or "")
    name = "Agentkit" + "".join(w[:1].upper() + w[1:] for w in words)
    if name in taken or name == "Agentkit":
        name = f"{name}{rule.id if rule.id is not None else len(taken)}"
    taken.add(name)
    return name


def export_prometheus_rules(rules: Sequence[Rule], group: str = "agentkit-alerts") -> str:
    """A Prometheus rule file (YAML) with one alerting rule per exportable rule; the others as comments."""
    lines = [
        "# Prometheus alerting rules generated by `agentkit alerts export-rules --format prometheus`.",
        "# They read the GenAI metrics as the OTel Prometheus exporter or the Collector names them.",
        "# Cooldowns map to Alertmanager's repeat_interval; channels to its receivers (label agentkit_channels).",
    ]
    body: list[str] = []
    taken: set[str] = set()
    for rule in rules:
        if not rule.enabled:
            lines.append(f"# not exported: rule {rule.id} {json.dumps(rule.name)}: disabled")
            continue
        try:
            expr = rule_expr(rule)
        except NotExportable as exc:
            lines.append(f"# not exported: rule {rule.id} {json.dumps(rule.name)}: {exc}")
            continue
        labels = {"severity": rule.severity, "agentkit_rule_id": str(rule.id if rule.id is not None else ""),
                  "agentkit_channels": ",".join(sorted({c.type for c in rule.channels}))}
        annotations = {"summary": f"{rule.name}: {rule.summary()}",
                       "description": rule.description or f"agentkit rule {rule.summary()} (value {{{{ $value }}}})",
                       "agentkit_cooldown": format_duration(rule.cooldown)}  # type: ignore[arg-type]
        body.append(f"      - alert: {alert_name(rule, taken)}")
        body.append(f"        expr: {json.dumps(expr)}")
        body.append("        labels:")
        body.extend(f"          {k}: {json.dumps(v)}" for k, v in labels.items())
        body.append("        annotations:")
        body.extend(f"          {k}: {json.dumps(v)}" for k, v in annotations.items())
    lines.append("groups:")
    lines.append(f"  - name: {json.dumps(group)}")
    lines.append("    rules:" if body else "    rules: []")
    return "\n".join(lines + body) + "\n"
