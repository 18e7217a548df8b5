"""Reader, for figures that must balance: a span counted once however many files hold it (``unique``), a
span with an impossible time skipped and counted (never an error later), and windows that select spans by
their start time (a file's date never drops a span that is in the window)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from otel_agentkit.export import reader
from otel_agentkit.export.reader import ReadStats, iter_span_columns, iter_spans, list_files


@pytest.fixture(autouse=True, params=["typed", "careful"])
def decoder(request, monkeypatch):
    """Both decoders of trace lines (msgspec's, and the careful one used without msgspec) must agree."""
    if request.param == "careful":
        monkeypatch.setattr(reader, "_typed_spans", None)
    return request.param


T0 = int(dt.datetime(2024, 1, 5, 12, tzinfo=dt.timezone.utc).timestamp()) * 10**9


def span(trace: str, span_id: str, start: int | str = T0, end: int | str | None = None, name: str = "chat m"
         ) -> dict:
    end = (int(start) + 10**9 if isinstance(start, int) else str(T0)) if end is None else end
    return {"traceId": trace, "spanId": span_id, "name": name, "kind": 3, "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]}


def line(*spans: dict) -> bytes:
    request = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                               "value": {"stringValue": "svc"}}]},
                                  "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]}
    return json.dumps(request, separators=(",", ":")).encode() + b"\n"


TRACE_A = "5b8efff798038103d269b633813fc60c"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"


def test_unique_counts_a_span_once_across_files_sources_and_lines(tmp_path):
    ours = tmp_path / "telemetry"
    ours.mkdir()
    first = line(span(TRACE_A, "00f067aa0ba902b7"), span(TRACE_A, "00f067aa0ba902b8"))
    # The same span twice in one file (two exporters on one provider), then a byte copy of the file.
    (ours / "traces-2024-01-05.jsonl").write_bytes(first + line(span(TRACE_A, "00f067aa0ba902b7")))
    shutil.copy(ours / "traces-2024-01-05.jsonl", ours / "traces-2024-01-05.jsonl.bak.jsonl")
    # A Collector file exporter's folder read beside ours: the same spans, another file name.
    collector = tmp_path / "collector"
    collector.mkdir()
    (collector / "otel-traces.json").write_bytes(first)
    # The same span id in another trace is another span (some writers number span ids per trace).
    (collector / "other.json").write_bytes(line(span(TRACE_B, "00f067aa0ba902b7")))

    stats = ReadStats()
    got = [(s.trace_id, s.span_id) for s in iter_spans([ours, collector], stats=stats, unique=True)]
    assert got == [(TRACE_A, "00f067aa0ba902b7"), (TRACE_A, "00f067aa0ba902b8"), (TRACE_B, "00f067aa0ba902b7")]
    assert stats.duplicates == 6 and stats.records == 3
    columns = iter_span_columns([ours, collector], ["gen_ai.operation.name"], unique=True)
    assert len(list(columns)) == 3 and columns.stats.duplicates == 6
    # Without ``unique`` every copy on disk is read (what a check of the writing side wants).
    raw = iter_spans([ours, collector])
    assert len(list(raw)) == 9 and raw.stats.duplicates == 0


def test_a_span_with_an_impossible_time_is_skipped_and_counted_whatever_the_window(tmp_path):
    f = tmp_path / "traces.jsonl"
    f.write_bytes(line(
        span(TRACE_A, "0000000000000001"),
        span(TRACE_A, "0000000000000002", start="31708430000000000000000"),  # 23 digits: the year 3170843
        span(TRACE_A, "0000000000000003", start=0),
        span(TRACE_A, "0000000000000004", start=-5, end=T0),
        span(TRACE_A, "0000000000000005", start=T0, end="99999999999999999999999"),
        span(TRACE_A, "0000000000000006", start=T0, end=-1),
        span(TRACE_A, "0000000000000007", start=2**64 - 1, end=2**64 - 1),  # the last time OTLP can carry
    ))
    for since, until in [(None, None), (T0 // 10**9, None), (None, T0 // 10**9 + 60),
                         (dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 6))]:
        stats = ReadStats()
        names = [s.span_id[-1] for s in iter_spans(f, since, until, stats)]
        assert stats.bad_spans == 5 and stats.corrupt == 0, (since, until)
        assert names == (["1", "7"] if (since, until) in [(None, None), (T0 // 10**9, None)] else ["1"])
    stream = iter_span_columns(f, ["gen_ai.operation.name"])
    assert len(list(stream)) == 2 and stream.stats.bad_spans == 5


def test_a_bad_line_after_bad_spans_does_not_count_them(tmp_path):
    """The typed decoder may give up half-way through a line and hand it to the careful one: the spans
    skipped for their time are counted once, and not at all when the line turns out corrupt."""
    good = line(span(TRACE_A, "0000000000000001", start=0), span(TRACE_A, "0000000000000002"))
    odd = line(span(TRACE_A, "0000000000000003", start=0), span(TRACE_A, "0000000000000004", end=1.5))
    f = tmp_path / "traces.jsonl"
    f.write_bytes(good + odd.replace(b'"endTimeUnixNano":"1.5"', b'"endTimeUnixNano":1.5'))
    stats = ReadStats()
    assert [s.span_id[-1] for s in iter_spans(f, stats=stats)] == ["2"]
    assert (stats.bad_spans, stats.corrupt) == (1, 1)


def test_until_never_rules_out_a_file_and_since_only_files_a_day_behind(tmp_path):
    day = dt.date(2024, 1, 10)
    midnight = int(dt.datetime(2024, 1, 10, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    # Exported on the 10th: a call backfilled from the 2nd, and one that started just before midnight.
    (tmp_path / "traces-2024-01-10.jsonl").write_bytes(line(
        span(TRACE_A, "0000000000000001", start=midnight - 8 * 86_400 * 10**9, name="backfilled"),
        span(TRACE_A, "0000000000000002", start=midnight - 10**9, name="before-midnight"),
        span(TRACE_A, "0000000000000003", start=midnight + 3600 * 10**9, name="on-the-10th")))
    (tmp_path / "traces-2024-01-03.jsonl").write_bytes(line(
        span(TRACE_B, "0000000000000004", start=midnight - 7 * 86_400 * 10**9, name="on-the-3rd")))
    stream = iter_spans(tmp_path, until=dt.datetime(2024, 1, 10))
    assert sorted(s.name for s in stream) == ["backfilled", "before-midnight", "on-the-3rd"]
    assert stream.stats.skipped_files == 0
    stream = iter_spans(tmp_path, until=dt.date(2024, 1, 3))  # the day the backfilled call started
    assert [s.name for s in stream] == ["backfilled"] and stream.stats.files == 2
    # ``since`` may skip a file dated D only when D ended more than a day before it.
    assert list_files(tmp_path, "traces", since=dt.datetime(2024, 1, 5)) == [tmp_path / "traces-2024-01-10.jsonl"]
    assert len(list_files(tmp_path, "traces", since=dt.datetime(2024, 1, 4, 23))) == 2
    assert [s.name for s in iter_spans(tmp_path, since=day)] == ["on-the-10th"]


def test_window_bounds_follow_the_time_rule(tmp_path):
    f = tmp_path / "traces.jsonl"
    f.write_bytes(line(span(TRACE_A, "0000000000000001", start=1_700_000_000 * 10**9),
                       span(TRACE_A, "0000000000000002", start=1_700_000_100 * 10**9)))
    # Numbers are seconds, as time.time() gives (they used to be read as nanoseconds here).
    assert [s.span_id[-1] for s in iter_spans(f, since=1_700_000_050)] == ["2"]
    assert [s.span_id[-1] for s in iter_spans(f, until=1_700_000_050.5)] == ["1"]
    assert [s.span_id[-1] for s in iter_spans(f, since=dt.datetime(1969, 7, 20))] == ["1", "2"]
    with pytest.raises(ValueError, match=r"invalid since=1700000050000000000: .*not seconds"):
        iter_spans(f, since=1_700_000_050 * 10**9)
    with pytest.raises(ValueError, match=r"invalid until=-1: negative"):
        iter_spans(f, until=-1)
    with pytest.raises(TypeError, match=r"invalid since='2024-01-01'"):
        iter_spans(f, since="2024-01-01")
