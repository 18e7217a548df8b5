"""records.COLUMNS: each attribute lands in its own UsageRecord field, and the inline fast paths that
from_columns is generated with agree with their converters."""

from __future__ import annotations

import pytest

from otel_agentkit import semconv as sc
from otel_agentkit.analytics import records
from otel_agentkit.analytics.records import COLUMNS, USAGE_KEYS, BadSpan, from_span
from otel_agentkit.export.reader import SpanRecord

# attribute key -> (field, value written, value read); the current names, then the older ones
CURRENT = {
    sc.GEN_AI_OPERATION_NAME: ("operation", sc.OP_CHAT, sc.OP_CHAT),
    sc.GEN_AI_PROVIDER_NAME: ("provider", "acme", "acme"),
    sc.GEN_AI_REQUEST_MODEL: ("model", "asked-model", "asked-model"),
    sc.GEN_AI_RESPONSE_MODEL: ("response_model", "served-model", "served-model"),
    sc.AGENTKIT_WORKFLOW_NAME: ("workflow", "support", "support"),
    sc.GEN_AI_AGENT_NAME: ("agent", "triage", "triage"),
    sc.AGENTKIT_STAGE: ("stage", "answer", "answer"),
    sc.AGENTKIT_TIER: ("tier", "cheap", "cheap"),
    sc.GEN_AI_USAGE_INPUT_TOKENS: ("input_tokens", 11, 11),
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: ("output_tokens", 12, 12),
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: ("cache_read_tokens", 13, 13),
    sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: ("cache_write_tokens", 14, 14),
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: ("reasoning_tokens", 15, 15),
    sc.AGENTKIT_COST_USD: ("cost_usd", 0.25, 0.25),
    sc.ERROR_TYPE: ("error_type", "TimeoutError", "TimeoutError"),
    sc.ENDUSER_PSEUDO_ID: ("user", "a1b2c3", "a1b2c3"),
    sc.GEN_AI_PROMPT_NAME: ("prompt_name", "greeting", "greeting"),
    sc.AGENTKIT_PROMPT_FORMAT: ("prompt_format", " XML", "xml"),
    sc.AGENTKIT_RETRIES: ("retries", 2, 2),
    sc.AGENTKIT_PARSE_SUCCESS: ("parse_success", True, True),
    sc.AGENTKIT_VALIDATION_SUCCESS: ("validation_success", False, False),
    sc.AGENTKIT_SAMPLING_RATIO: ("sampling_ratio", 0.5, 0.5),
}
OLDER = {
    sc.LEGACY_GEN_AI_SYSTEM: ("provider", "old-acme", "old-acme"),
    sc.GEN_AI_WORKFLOW_NAME: ("workflow", "old-support", "old-support"),
    sc.AGENTKIT_AGENT_NAME: ("agent", "old-triage", "old-triage"),
    sc.LEGACY_USAGE_PROMPT_TOKENS: ("input_tokens", 21, 21),
    sc.LEGACY_USAGE_COMPLETION_TOKENS: ("output_tokens", 22, 22),
    sc.LEGACY_USAGE_CACHE_CREATION_INPUT_TOKENS: ("cache_write_tokens", 24, 24),
    sc.AGENTKIT_PROMPT_NAME: ("prompt_name", "old-greeting", "old-greeting"),
}


def span(attributes: dict) -> SpanRecord:
    return SpanRecord("0" * 31 + "1", "0" * 15 + "2", None, "chat", "CLIENT", 10**18, 10**18 + 2 * 10**9, "UNSET",
                      "", attributes, {sc.RESOURCE_SERVICE_NAME: "svc"}, "test")


def test_the_table_reads_every_usage_key_once():
    assert sorted(USAGE_KEYS) == sorted([*CURRENT, *OLDER])


def test_each_current_attribute_lands_in_its_field():
    record = from_span(span({key: written for key, (_, written, _) in CURRENT.items()}
                            | {key: written for key, (_, written, _) in OLDER.items()}))
    assert record is not None
    assert {field: getattr(record, field) for field, _, _ in CURRENT.values()} == {
        field: read for field, _, read in CURRENT.values()}
    assert (record.service, record.duration_s, record.ok, record.cost_source) == ("svc", 2.0, False, "recorded")


def test_older_names_are_read_when_the_current_one_is_absent():
    written = {key: value for key, (_, value, _) in OLDER.items()} | {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT}
    record = from_span(span(written))
    assert record is not None
    assert {field: getattr(record, field) for field, _, _ in OLDER.values()} == {
        field: read for field, _, read in OLDER.values()}


ODD = [0, 1, -1, 7, 10**12, 10**12 + 1, 10**400, -10**400, 0.0, 0.5, 1.0, -0.5, 2.5, 1e9, 1e9 + 1, float("nan"),
       float("inf"), -float("inf"), True, False, "", " ", "7", "1e3", "nan", "abc", " XML ", "xml", "true", "no",
       [], [1], ["a"], {"k": 1}, 10**9, -10**9, 10**9 + 1]


def outcome(convert, value):
    try:
        return convert(value)
    except BadSpan:
        return BadSpan


def inline(statement: str):
    """The converter's inline statement as a function of one value, run as from_columns runs it."""
    code = compile(statement.format(v="v"), "<inline>", "exec")

    def run(value):
        scope = {"v": value}
        exec(code, vars(records), scope)
        return scope["v"]
    return run


@pytest.mark.parametrize("convert", sorted({c.convert for c in COLUMNS}, key=lambda c: c.func.__name__),
                         ids=lambda c: c.func.__name__)
def test_inline_fast_path_agrees_with_its_converter(convert):
    fast = inline(convert.inline)
    wrong = []
    for value in ODD:
        want, got = outcome(convert.func, value), outcome(fast, value)
        if not (type(got) is type(want) and (got == want or got != got and want != want)):
            wrong.append((value, want, got))
    assert wrong == []


def test_a_table_that_misses_a_field_does_not_compile():
    with pytest.raises(TypeError, match="each UsageRecord field once"):
        records._compile(COLUMNS[1:])
