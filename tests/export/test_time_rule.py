"""One rule for time values across the public API (otel_agentkit.timeunits): a datetime (naive means UTC)
or seconds since the epoch. ``record_llm_call`` and the reader read the same number the same way, and a
number that cannot be seconds is refused with its parameter named, never read in another unit."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import otel_agentkit as agentkit
from otel_agentkit import diagnostics
from otel_agentkit.export.jsonl import JsonlSpanExporter
from otel_agentkit.export.reader import iter_spans
from otel_agentkit.timeunits import MAX_EPOCH_SECONDS, to_ns

T = 1_700_000_000  # 2023-11-14T22:13:20Z


def test_the_rule():
    assert to_ns(T, "t") == T * 10**9
    assert to_ns(T + 0.25, "t") == T * 10**9 + 250_000_000
    assert to_ns(dt.datetime(2023, 11, 14, 22, 13, 20, 5), "t") == T * 10**9 + 5000  # naive means UTC
    paris = dt.timezone(dt.timedelta(hours=1))
    assert to_ns(dt.datetime(2023, 11, 14, 23, 13, 20, tzinfo=paris), "t") == T * 10**9
    assert to_ns(0, "t") == 0 and to_ns(MAX_EPOCH_SECONDS, "t") == MAX_EPOCH_SECONDS * 10**9
    for bad, error, message in [
        (T * 10**9, ValueError, r"invalid start_time=1700000000000000000: above 1e\+11 seconds .*nanoseconds"),
        (T * 1000, ValueError, r"invalid start_time=1700000000000: above 1e\+11 seconds .*milliseconds"),
        (-1, ValueError, r"invalid start_time=-1: negative"),
        (math.nan, ValueError, r"invalid start_time=nan"),
        (math.inf, ValueError, r"invalid start_time=inf"),
        (dt.datetime(1969, 12, 31), ValueError, r"invalid start_time=datetime.datetime\(1969.*before 1970"),
        (True, TypeError, r"invalid start_time=True"),
        ("1700000000", TypeError, r"invalid start_time='1700000000': expected a datetime"),
        (None, TypeError, r"invalid start_time=None"),
    ]:
        with pytest.raises(error, match=message):
            to_ns(bad, "start_time")


@pytest.fixture
def jsonl_sdk(tmp_path):
    """The real SDK writing the real JSONL files."""
    diagnostics.reset()
    tp = TracerProvider()
    assert agentkit.init(exporters=[JsonlSpanExporter(tmp_path / "telemetry")], metric_exporters="none",
                         home=tmp_path, tracer_provider=tp, meter_provider=MeterProvider())
    yield tmp_path / "telemetry"
    agentkit.shutdown()
    tp.shutdown()


def test_record_llm_call_and_the_reader_read_a_number_the_same_way(jsonl_sdk):
    agentkit.record_llm_call(provider="openai", model="in-seconds", start_time=T, end_time=T + 1.5)
    agentkit.record_llm_call(provider="openai", model="as-datetime", start_time=dt.datetime(2023, 11, 14, 22, 15),
                             end_time=dt.datetime(2023, 11, 14, 22, 15, 2))
    agentkit.record_llm_call(provider="openai", model="in-nanoseconds", start_time=(T + 60) * 10**9,
                             end_time=(T + 61) * 10**9)
    agentkit.record_llm_call(provider="openai", model="negative", start_time=-5.0, end_time=T)
    assert agentkit.flush()
    spans = {s.attributes["gen_ai.request.model"]: s for s in iter_spans(jsonl_sdk)}
    # Nanoseconds used to be guessed as such (above 1e14); now they are refused, never recorded in
    # another unit, and the error (counted, logged once) names the parameter and the value.
    assert sorted(spans) == ["as-datetime", "in-seconds"]
    assert (spans["in-seconds"].start_ns, spans["in-seconds"].end_ns) == (T * 10**9, T * 10**9 + 1_500_000_000)
    assert spans["as-datetime"].start_ns == (T + 100) * 10**9
    assert diagnostics.error_counts()[("record_llm_call", "ValueError")] == 2
    # The same number means the same instant to the reader: seconds.
    assert [s.attributes["gen_ai.request.model"] for s in iter_spans(jsonl_sdk, since=T + 1)] == ["as-datetime"]
    assert [s.attributes["gen_ai.request.model"] for s in iter_spans(jsonl_sdk, until=T + 1)] == ["in-seconds"]


def test_the_refusal_is_reported_with_the_parameter_and_value(jsonl_sdk, caplog):
    with caplog.at_level("WARNING", logger="otel_agentkit"):
        agentkit.record_llm_call(provider="openai", model="m", start_time=T, end_time=(T + 1) * 1000)
    assert "invalid end_time=1700000001000: above 1e+11 seconds" in caplog.text
