"""Pricing: exact and snapshot matching, user overrides, bad pricing data refused at init."""

from __future__ import annotations

import json

import pytest

import otel_agentkit as agentkit
from otel_agentkit import ConfigError
from otel_agentkit.instrument.pricing import Pricing, bundled


@pytest.fixture(scope="module")
def pricing():
    return Pricing()


def test_bundled_table_covers_the_four_providers():
    table, as_of = bundled()
    providers = {p.provider for p in table.values()}
    assert {"openai", "anthropic", "gcp.gemini", "mistral_ai"} <= providers
    assert as_of >= "2026-01-01"
    for name in ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-pro", "mistral-large"):
        assert name in table


@pytest.mark.parametrize("model, base", [
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("gemini-1.5-pro-002", "gemini-1.5-pro"),
    ("mistral-large-latest", "mistral-large"),
    ("GPT-4O", "gpt-4o"),
])
def test_snapshot_names_resolve_to_their_base(pricing, model, base):
    assert pricing.lookup(model) == pricing.table[base]


@pytest.mark.parametrize("model", ["gpt-4o-audio-realtime", "my-finetune", "gpt-4o-mini-tts-xyz", "", None])
def test_different_models_are_not_guessed(pricing, model):
    assert pricing.lookup(model) is None


def test_cost_formula_counts_cache_at_cache_prices(pricing):
    price = pricing.table["claude-sonnet-4-5"]
    cost = pricing.cost("claude-sonnet-4-5", input_tokens=1000, output_tokens=100, cache_read=300, cache_write=200)
    expected = (500 * price.input + 300 * price.cache_read + 200 * price.cache_write + 100 * price.output) / 1e6
    assert cost == pytest.approx(expected)


def test_unknown_model_is_counted_not_priced():
    p = Pricing()
    assert p.cost("nope-1", 10, 10) is None
    assert p.cost("nope-1", 10, 10) is None
    assert p.unpriced["nope-1"] == 2


def test_override_by_dict_and_by_file(tmp_path, make_sdk):
    p = Pricing({"gpt-4o": {"input": 1, "output": 2}, "house-model": {"input": 3, "output": 4}})
    assert p.cost("gpt-4o-2024-08-06", 1_000_000, 0) == 1.0
    assert p.cost("house-model", 0, 1_000_000) == 4.0

    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"house-model": {"input": 10, "output": 20, "cache_read": 1}}}))
    sdk = make_sdk(pricing=str(path))
    agentkit.record_llm_call(provider="house", model="house-model", start_time=1.0, end_time=2.0,
                             input_tokens=100_000, output_tokens=0)
    assert sdk.spans()[0].attributes["agentkit.cost.usd"] == pytest.approx(1.0)


def test_yaml_pricing_file(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("house-model:\n  input: 1.5\n  output: 2\n")
    assert Pricing(path).table["house-model"].input == 1.5


@pytest.mark.parametrize("content, message", [
    ("{not json", "invalid pricing="),
    (json.dumps({"m": {"input": -1, "output": 1}}), "pricing['m'].input=-1"),
    (json.dumps({"m": {"input": "cheap", "output": 1}}), "pricing['m'].input='cheap'"),
    (json.dumps({"m": {"input": 1}}), "pricing['m'].output=None"),
    (json.dumps({"m": {"input": 1, "output": 1, "per_image": 2}}), "pricing['m'].per_image=2"),
    (json.dumps(["a"]), "pricing='list'"),
])
def test_bad_pricing_fails_init_naming_the_setting(tmp_path, content, message):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        agentkit.init(pricing=str(path), exporters="none", metric_exporters="none", home=tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not agentkit.is_active()


def test_missing_pricing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        agentkit.init(pricing=str(tmp_path / "absent.json"), exporters="none", home=tmp_path)
