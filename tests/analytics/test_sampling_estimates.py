"""Ratio sampling: the usage report scales what was sampled and says its totals are estimates.

A real application process runs with the standard OTEL_TRACES_SAMPLER=traceidratio and a ratio of 0.1;
the CLI, run as a subprocess over the files it wrote, must not report a tenth of the cost as if it were
all of it. Without a sampler nothing is labelled and the totals are exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace import sampling

from otel_agentkit.instrument.sampling import sampling_ratio

ROOT = Path(__file__).resolve().parents[2]
CALLS = 2000
APP = """
import otel_agentkit as agentkit
agentkit.init(service_name="sampled", exporters=["jsonl"])
for i in range(%d):
    with agentkit.llm(provider="openai", model="gpt-4o-mini") as call:
        call.record(input_tokens=100, output_tokens=10)
assert agentkit.flush(10)
""" % CALLS


def _run_app(home: Path, **env: str) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full.update(AGENTKIT_HOME=str(home), **env)
    proc = subprocess.run([sys.executable, "-c", APP], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "otel_agentkit.cli.main", "usage", *args, "--home", str(home)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("sampler, expected", [
    (sampling.ALWAYS_ON, None), (sampling.DEFAULT_ON, None), (sampling.TraceIdRatioBased(0.1), 0.1),
    (sampling.ParentBasedTraceIdRatio(0.25), 0.25), (sampling.TraceIdRatioBased(1.0), None)])
def test_the_ratio_is_read_from_the_sdk_samplers(sampler: sampling.Sampler, expected: float | None) -> None:
    assert sampling_ratio(TracerProvider(sampler=sampler).get_tracer("t")) == expected


def test_an_unknown_sampler_is_reported_once_and_not_scaled(caplog: pytest.LogCaptureFixture) -> None:
    class Mine(sampling.Sampler):
        def should_sample(self, *args, **kwargs):  # pragma: no cover - never called here
            return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE)

        def get_description(self) -> str:
            return "MySampler"

    assert sampling_ratio(TracerProvider(sampler=Mine())) is None
    assert "MySampler keeps an unknown share of calls" in caplog.text


def test_sampled_totals_are_scaled_and_labelled_as_estimates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _run_app(home, OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")
    report = json.loads(_cli(home, "stats", "--json").stdout)
    total, read = report["total"], report["read"]
    sampled = read["sampled_calls"]
    assert 0 < sampled < CALLS * 0.3 and read["llm_calls"] == sampled and read["sampling_ratios"] == [0.1]
    assert total["estimated"] is True and total["sampled_calls"] == sampled
    assert total["calls"] == sampled * 10  # each sampled call stands for 1 / 0.1 calls
    assert total["input_tokens"] == sampled * 1000 and total["output_tokens"] == sampled * 100
    assert total["cost_usd"] == pytest.approx(sampled * 10 * (100 * 0.15 + 10 * 0.6) / 1e6)
    assert abs(total["calls"] - CALLS) < CALLS * 0.3  # an estimate of what the app did, not a tenth of it
    text = _cli(home, "stats").stdout
    assert "ESTIMATED" in text and f"ESTIMATES: {sampled} of {sampled} calls were recorded under ratio sampling" in text


def test_without_sampling_totals_are_exact_and_unlabelled(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _run_app(home)
    report = json.loads(_cli(home, "stats", "--json").stdout)
    assert report["total"]["calls"] == CALLS and report["total"]["estimated"] is False
    assert report["read"]["sampled_calls"] == 0
    assert "ESTIMATE" not in _cli(home, "stats").stdout
