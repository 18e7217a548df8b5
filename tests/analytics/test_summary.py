"""The incremental usage summary (analytics.summary): every answer it gives equals a cold read's, field for
field (ReadSummary included), after appends, rotation, truncation, a corrupt tail, a line being written,
copies of the same spans in two directories, and windows that cut hours.

The seed lines are written by the real SDK (telemetry.write_calls); the files of each test are those lines
as the SDK wrote them, copied with span ids of their own and start times moved by whole hours (and, where a
test needs them, spans edited into what another writer or a fault leaves: sampled calls, impossible token
counts or times, spans that are not llm calls).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import msgspec
import pytest

from otel_agentkit import analytics
from otel_agentkit import semconv as sc
from otel_agentkit.analytics import summary
from otel_agentkit.analytics.aggregate import EXACT_LIMIT
from otel_agentkit.analytics.usage import GROUP_FIELDS

from .telemetry import PRICES, Call, write_calls

UTC = dt.timezone.utc
HOUR_NS = 3600 * 10**9
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=UTC)
DAY = "2026-03-10"


@pytest.fixture(autouse=True)
def every_read_summarized(monkeypatch):
    """Summaries for reads of any size (the default leaves small reads cold)."""
    monkeypatch.setattr(summary, "MIN_BYTES", 0)


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> list[bytes]:
    """Lines written by the real SDK: 600 calls over 3 days, of every shape the figures distinguish."""
    rng = random.Random(7)
    models = ["big-model", "small-model", "other-model", "unpriced-model"]
    calls = []
    for i in range(600):
        model = rng.choice(models)
        calls.append(Call(
            -rng.uniform(0.5, 72), model, provider="other" if model == "other-model" else "acme",
            input_tokens=rng.randint(0, 5000), output_tokens=rng.randint(0, 900),
            cache_read=rng.choice((0, 0, 300)), cache_write=rng.choice((0, 0, 0, 200)),
            duration=rng.choice((0.0, rng.lognormvariate(0, 0.7))), error="Timeout" if rng.random() < 0.08 else None,
            workflow=rng.choice(("support", "billing", None)), agent=rng.choice(("resolver", None)),
            stage=rng.choice(("answer", "classify", None)), tier=rng.choice(("premium", "cheap", None))))
    home = tmp_path_factory.mktemp("seed")
    write_calls(home, calls, NOW)
    lines = [line for p in sorted((home / "telemetry").iterdir()) for line in p.read_bytes().splitlines(keepends=True)]
    assert sum(line.count(b'"spanId"') for line in lines) == 600
    return lines


@pytest.fixture
def pricing():
    return analytics.load_pricing(PRICES)


# --- making files ------------------------------------------------------------------------------------------

Edit = Callable[[int, dict[str, Any]], None]


def sampled(every: int = 5, ratio: float = 0.25) -> Edit:
    """Every ``every``-th span recorded under ratio sampling."""
    def edit(i: int, span: dict[str, Any]) -> None:
        if i % every == 0:
            span["attributes"].append({"key": sc.AGENTKIT_SAMPLING_RATIO, "value": {"doubleValue": ratio}})
    return edit


def faults(i: int, span: dict[str, Any]) -> None:
    """Spans no real call makes, and spans that are not llm calls, among the good ones."""
    if i % 41 == 3:  # a token count no call has: a bad span
        for a in span["attributes"]:
            if a["key"] == sc.GEN_AI_USAGE_INPUT_TOKENS:
                a["value"] = {"intValue": str(10**13)}
    elif i % 53 == 5:  # a start OTLP cannot carry
        span["startTimeUnixNano"] = "0"
    elif i % 29 == 7:  # not an llm call
        for a in span["attributes"]:
            if a["key"] == sc.GEN_AI_OPERATION_NAME:
                a["value"] = {"stringValue": "embeddings"}


def lines(seed: list[bytes], copy: int, hours: int = 0, edits: tuple[Edit, ...] = ()) -> bytes:
    """The seed's lines with span ids of copy ``copy`` (distinct spans) and starts ``hours`` later."""
    mask = (copy * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)
    out = []
    i = 0
    for line in seed:
        request = json.loads(line)
        for rs in request["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    span["spanId"] = f"{int(span['spanId'], 16) ^ mask:016x}"
                    for k in ("startTimeUnixNano", "endTimeUnixNano"):
                        span[k] = str(int(span[k]) + hours * HOUR_NS)
                    for edit in edits:
                        edit(i, span)
                    i += 1
        out.append(json.dumps(request, separators=(",", ":")).encode() + b"\n")
    return b"".join(out)


def telemetry(tmp_path: Path, name: str = "telemetry") -> Path:
    d = tmp_path / name
    d.mkdir()
    return d


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def same(source: Any, pricing: Any, window: Any = None, by: str | None = None, mode: str | None = None) -> Any:
    """The summarized answer, held equal to a cold read's (asserted to have come from the summaries)."""
    window = window or analytics.window()
    cold = analytics.usage_stats(source, window, by=by, pricing=pricing, cache=False)
    warm = analytics.usage_stats(source, window, by=by, pricing=pricing)
    info = summary.LAST
    assert info.error is None and info.mode in ("clean", "tracked"), info
    if mode is not None:
        assert info.mode == mode, info
    assert warm.read == cold.read
    assert warm.total == cold.total
    assert warm.groups == cold.groups
    return warm


def every_grouping(source: Any, pricing: Any, window: Any = None) -> None:
    for by in (None, *GROUP_FIELDS):
        same(source, pricing, window, by)


# --- appends, rotation, truncation, tails --------------------------------------------------------------------

def test_appends_are_summarized_and_merged(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    live = d / f"traces-{DAY}.jsonl"
    (d / f"traces-{DAY}.1.jsonl").write_bytes(lines(seed, 1, edits=(sampled(), faults)))
    live.write_bytes(lines(seed, 2, hours=-5, edits=(faults,)))
    first = same(d, pricing, by="model")
    assert summary.LAST.built == 2 and (d / summary.SUMMARY_DIR / summary.SUMMARY_FILE).is_file()
    assert first.read.bad_spans > 0 and first.read.sampled_calls > 0 and first.total.estimated
    assert first.read.spans > first.read.llm_calls + first.read.bad_spans  # spans that are not llm calls too
    for copy in (3, 4):
        append(live, lines(seed, copy, hours=copy, edits=(sampled(7, 0.5),)))
        got = same(d, pricing, by="model", mode="clean")
        assert summary.LAST.built == 1 and summary.LAST.reused == 2  # only the appended file was read
    assert got.read.sampling_ratios == [0.25, 0.5]
    assert got.read.llm_calls > first.read.llm_calls
    every_grouping(d, pricing)


def test_nothing_appended_reads_no_span(tmp_path, seed, pricing, monkeypatch):
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1))
    same(d, pricing)
    decoded = []
    real = summary._span_decoder

    def counting(keys):
        decode = real(keys)

        def counted(line, *a):
            decoded.append(line)
            return decode(line, *a)
        return counted

    monkeypatch.setattr(summary, "_span_decoder", counting)
    again = analytics.usage_stats(d, analytics.window(), pricing=pricing)
    assert summary.LAST.built == 0 and summary.LAST.reused == 1 and decoded == []
    assert again.total.calls == 600


def test_rotation_keeps_the_summary_by_identity(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    live = d / f"traces-{DAY}.jsonl"
    live.write_bytes(lines(seed, 1))
    same(d, pricing, by="workflow")
    append(live, lines(seed, 2, hours=1))
    live.rename(d / f"traces-{DAY}.1.jsonl")  # the writer's rotation: same inode, new name
    live.write_bytes(lines(seed, 3, hours=2))
    got = same(d, pricing, by="workflow", mode="clean")
    assert summary.LAST.built == 2 and summary.LAST.reused == 2  # the rotated file extended, the new one made
    assert got.read.files == 2 and got.read.llm_calls == 1800
    same(d, pricing, by="tier")
    assert summary.LAST.built == 0


def test_truncated_or_replaced_files_are_summarized_afresh(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    f = d / f"traces-{DAY}.jsonl"
    f.write_bytes(lines(seed, 1) + lines(seed, 2, hours=3))
    same(d, pricing, by="model")
    with open(f, "r+b") as out:  # truncated in place (same inode), then written again, less than before
        out.truncate(0)
    append(f, lines(seed, 5, hours=-2)[: len(lines(seed, 5)) // 2].rsplit(b"\n", 1)[0] + b"\n")
    got = same(d, pricing, by="model")
    assert summary.LAST.built == 1 and got.read.llm_calls < 600
    # the same size and inode, other content (a copy written over it): caught by the content checks
    data = f.read_bytes()
    f.write_bytes(lines(seed, 9)[: len(data)].rsplit(b"\n", 1)[0].ljust(len(data) - 1) + b"\n")
    assert f.stat().st_size == len(data)
    same(d, pricing, by="model")
    assert summary.LAST.built == 1


def test_a_line_being_written_is_read_then_summarized_when_whole(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    f = d / f"traces-{DAY}.jsonl"
    f.write_bytes(lines(seed, 1))
    same(d, pricing)
    more = lines(seed, 2, hours=1)
    append(f, more[:1000])  # a writer part-way through a line: no newline yet
    half = same(d, pricing, by="model")
    assert half.read.corrupt_lines == 1 and summary.LAST.built == 0  # read, counted as cold counts it
    append(f, more[1000:])
    whole = same(d, pricing, by="model")
    assert whole.read.corrupt_lines == 0 and whole.read.llm_calls > half.read.llm_calls
    assert summary.LAST.built == 1


def test_a_corrupt_tail_counts_as_a_cold_read_counts_it(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    f = d / f"traces-{DAY}.jsonl"
    f.write_bytes(lines(seed, 1))
    same(d, pricing)
    good = lines(seed, 2, hours=2)
    append(f, good[: len(good) // 3])  # a crash mid-line: the app starts again and appends whole lines
    append(f, b"\n" + b"\x00\xff garbage\n" + b'{"resourceSpans": 7}\n' + b"   \n")
    got = same(d, pricing, by="stage")
    assert got.read.corrupt_lines == 3 and summary.LAST.built == 1
    append(f, lines(seed, 3, hours=4) + b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": 1}]}]}]}\n')
    got = same(d, pricing, by="stage")  # whole, but a span with no time: counted bad, as cold counts it
    assert got.read.corrupt_lines == 3 and got.read.bad_spans == 1
    append(f, b'{"resourceSpans": [{"scopeSpans"')
    got = same(d, pricing, by="stage")  # a last line that is unfinished
    assert got.read.corrupt_lines == 4
    every_grouping(d, pricing)


def test_gzip_files_are_summarized_once(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    with gzip.open(d / f"traces-{DAY}.1.jsonl.gz", "wb") as out:
        out.write(lines(seed, 1) + lines(seed, 2, hours=5))
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 3))
    same(d, pricing, by="agent")
    assert summary.LAST.built == 2
    same(d, pricing, by="agent", window=analytics.window(since="2026-03-08T10:30"))
    assert summary.LAST.built == 0 and summary.LAST.reread_lines > 0  # the cut hour's lines, from the .gz
    raw = (d / f"traces-{DAY}.1.jsonl.gz").read_bytes()
    (d / f"traces-{DAY}.1.jsonl.gz").write_bytes(raw[: len(raw) - 30])  # a broken stream: read cold
    got = same(d, pricing, by="agent", mode="tracked")
    assert got.read.unreadable_files == 1 and summary.LAST.cold == 1


# --- duplicates ----------------------------------------------------------------------------------------------

def test_copies_in_two_directories_count_once(tmp_path, seed, pricing):
    a, b = telemetry(tmp_path, "a"), telemetry(tmp_path, "b")
    (a / f"traces-{DAY}.1.jsonl").write_bytes(lines(seed, 1, edits=(sampled(),)))
    (a / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 2, hours=1, edits=(faults,)))
    shutil.copy(a / f"traces-{DAY}.1.jsonl", b / "otel-traces.json")  # a Collector's copy of one of them
    append(b / "otel-traces.json", lines(seed, 3, hours=2))  # and spans of its own
    both = same([a, b], pricing, by="model", mode="tracked")
    assert both.read.duplicate_spans == 600 and summary.LAST.cold == 1  # the Collector's file, read cold
    shutil.copytree(a, tmp_path / "c")  # the whole directory copied: every span of it twice
    got = same([a, tmp_path / "c"], pricing, by="workflow", mode="tracked")
    assert got.read.duplicate_spans == got.read.spans
    same([b, a], pricing, window=analytics.window(since="2026-03-09T07:15", until="2026-03-10T04:45"), by="day")
    os.symlink(a, tmp_path / "link")  # one directory by two names: its files twice, one summary
    got = same([a, tmp_path / "link"], pricing, mode="tracked")
    assert got.read.duplicate_spans == got.read.spans and got.read.files == 4


def test_spans_written_twice_in_one_file(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    f = d / f"traces-{DAY}.jsonl"
    once = lines(seed, 1)
    f.write_bytes(once + lines(seed, 2) + once[: once.index(b"\n") + 1])  # a batch exported again
    got = same(d, pricing, by="model", mode="clean")
    assert got.read.duplicate_spans == once[: once.index(b"\n") + 1].count(b'"spanId"')
    append(f, once)  # appended copies of spans summarized before: the file is summarized afresh
    got = same(d, pricing, by="model")
    assert got.read.duplicate_spans == 600 + once[: once.index(b"\n") + 1].count(b'"spanId"')
    other = d / f"traces-{DAY}.1.jsonl"
    other.write_bytes(lines(seed, 2))  # another file holding copies: the directory is no longer clean
    same(d, pricing, by="model", mode="tracked")
    irregular = telemetry(tmp_path, "irregular")  # a span twice with two start hours: that file read cold
    (irregular / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1) + lines(seed, 1, hours=3))
    same(irregular, pricing, window=analytics.window(since="2026-03-08T06:00"), mode="tracked")
    assert summary.LAST.cold == 1


# --- windows -------------------------------------------------------------------------------------------------

def test_windows_that_cut_hours(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.1.jsonl").write_bytes(lines(seed, 1, edits=(sampled(3),)))
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 2, hours=-7, edits=(faults,)))
    windows = [
        analytics.window(since="2026-03-08T10:20", until="2026-03-09T17:40"),
        analytics.window(since="2026-03-09T03:10", until="2026-03-09T03:50"),  # both edges in one hour
        analytics.window(since="2026-03-08T10:00", until="2026-03-09T18:00"),  # whole hours only
        analytics.window(since="2026-03-09T12:30", tz="+05:30"),
        analytics.window(until="2026-03-08T22:15", tz="America/St_Johns"),
        analytics.window(since="2026-03-07", until="2026-03-09", tz="Asia/Kathmandu"),  # +05:45
    ]
    for w in windows:
        every_grouping(d, pricing, w)
    same(d, pricing, windows[0])
    assert summary.LAST.reread_lines > 0 and summary.LAST.built == 0
    same(d, pricing, windows[2], by="model")
    assert summary.LAST.reread_lines == 0
    days = same(d, pricing, analytics.window(tz="+05:30"), by="day")  # local midnight at :30 past UTC hours
    assert len(days.groups) >= 4 and summary.LAST.reread_lines > 0


def test_a_line_corrupt_in_one_span_is_read_under_a_window_that_leaves_it_out(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    f = d / f"traces-{DAY}.jsonl"
    request = json.loads(lines(seed, 1).splitlines()[0])
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.sort(key=lambda s: int(s["startTimeUnixNano"]))
    spans[0]["traceId"] = "not an id"  # the earliest span: the line is corrupt only when it is read
    f.write_bytes(json.dumps(request).encode() + b"\n" + lines(seed, 2))
    no_window = same(d, pricing)
    assert no_window.read.corrupt_lines == 1
    after = dt.datetime.fromtimestamp(int(spans[0]["startTimeUnixNano"]) / 1e9 + 60, UTC)
    got = same(d, pricing, analytics.window(since=after.isoformat()), by="model")
    assert got.read.corrupt_lines == 0 and summary.LAST.reread_lines >= 1


def test_percentiles_exact_up_to_the_limit_then_bucketed_as_cold(tmp_path, seed, pricing):
    """A group of more than EXACT_LIMIT calls from parts of fewer: bucketed as one read of them is, and
    exact again in a window that holds fewer."""
    d = telemetry(tmp_path)
    copies = EXACT_LIMIT // 600 + 3
    for part in range(3):
        (d / f"traces-{DAY}.{part + 1}.jsonl").write_bytes(
            b"".join(lines(seed, 10 * part + c, hours=c % 5) for c in range(copies // 3 + 1)))
    whole = same(d, pricing)
    assert whole.total.calls > EXACT_LIMIT
    narrow = same(d, pricing, analytics.window(since="2026-03-09T20:20"), by="model")
    assert 0 < narrow.total.calls < EXACT_LIMIT
    same(d, pricing, by="model")


# --- storage -------------------------------------------------------------------------------------------------

def test_a_directory_that_cannot_hold_a_summary_is_read_cold(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1))
    blocker = d / summary.SUMMARY_DIR
    blocker.write_bytes(b"mine")  # a file where the summary's folder would go (no write bit means nothing to root)
    blocker.chmod(0o444)
    cold = analytics.usage_stats(d, analytics.window(), pricing=pricing, cache=False)
    got = analytics.usage_stats(d, analytics.window(), pricing=pricing)
    assert got == cold and summary.LAST.mode == "" and blocker.read_bytes() == b"mine"


def test_a_summary_that_cannot_be_saved_still_answers(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1))
    (d / summary.SUMMARY_DIR / summary.SUMMARY_FILE).mkdir(parents=True)  # os.replace onto it fails
    same(d, pricing, by="model")
    assert summary.LAST.saved is False and not list((d / summary.SUMMARY_DIR).glob("*.tmp"))


def test_a_broken_or_older_summary_is_ignored_and_rebuilt(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1))
    same(d, pricing)
    stored = d / summary.SUMMARY_DIR / summary.SUMMARY_FILE
    older = msgspec.msgpack.decode(stored.read_bytes(), type=summary.DirSummary)
    older.format = summary.FORMAT - 1
    stored.write_bytes(msgspec.msgpack.encode(older))
    same(d, pricing)
    assert summary.LAST.built == 1
    stored.write_bytes(stored.read_bytes()[:5000])  # torn
    same(d, pricing)
    assert summary.LAST.built == 1 and msgspec.msgpack.decode(stored.read_bytes(), type=summary.DirSummary)
    same(d, pricing)
    assert summary.LAST.built == 0


def test_another_pricing_table_rebuilds(tmp_path, seed, pricing):
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1))
    before = same(d, pricing, by="model")
    dearer = analytics.load_pricing({**PRICES, "unpriced-model": {"provider": "acme", "input": 3, "output": 9}})
    after = same(d, dearer, by="model")
    assert summary.LAST.built == 1 and after.total.cost_usd > before.total.cost_usd
    assert after.total.unpriced_calls < before.total.unpriced_calls


def test_small_reads_stay_cold_and_leave_no_file(tmp_path, seed, pricing, monkeypatch):
    monkeypatch.setattr(summary, "MIN_BYTES", 8 << 20)
    d = telemetry(tmp_path)
    (d / f"traces-{DAY}.jsonl").write_bytes(lines(seed, 1))
    analytics.usage_stats(d, analytics.window(), pricing=pricing)
    assert summary.LAST.mode == "" and list(d.iterdir()) == [d / f"traces-{DAY}.jsonl"]


# --- the builder's own parts ---------------------------------------------------------------------------------

def test_a_cell_reads_of_a_span_what_its_usage_record_holds(seed, pricing):
    """summary._call_of_columns (the fields a cell holds, for most calls) against from_columns (the record a
    cold read makes) over spans of every shape, faults and sampled calls included."""
    from otel_agentkit.analytics.records import USAGE_KEYS, BadSpan, from_columns
    from otel_agentkit.export.reader import span_line_decoder

    decode = span_line_decoder(USAGE_KEYS)
    kinds = {"fast": 0, "whole": 0, "none": 0, "bad": 0}
    for line in lines(seed, 1, edits=(faults, sampled(7))).splitlines():
        for span in decode(line, None, None, [0]):
            try:
                record = from_columns(span, pricing)
            except BadSpan:
                with pytest.raises(BadSpan):
                    summary._call_of_columns(span, pricing)
                kinds["bad"] += 1
                continue
            call = summary._call_of_columns(span, pricing)
            if record is None:
                assert call is None
                kinds["none"] += 1
            elif call is summary._WHOLE:
                assert record.cost_source != "recorded" or not record.ok or record.sampling_ratio is not None
                kinds["whole"] += 1
            else:
                group = tuple(getattr(record, f) or summary.NONE_KEY for f in summary.DIMENSIONS)
                assert call == (group, record.input_tokens, record.output_tokens, record.cache_read_tokens,
                                record.cache_write_tokens, record.reasoning_tokens, record.cost_usd,
                                record.duration_s)
                assert record.ok and record.sampling_ratio is None and record.cost_source == "recorded"
                kinds["fast"] += 1
    assert all(kinds.values()), kinds  # every kind of span was seen


def test_keys_sort_as_ints_whatever_their_bits():
    rng = random.Random(3)
    edges = [0, 1, 2**52 - 1, 2**52, 2**53 + 1, 2**59, 2**60 - 1]
    for n in (0, 1, 2, 1000, 50_000):
        keys = summary.array("Q", edges[: min(n, len(edges))] + [rng.getrandbits(60) for _ in range(n)])
        assert list(summary.sorted_keys(keys)) == sorted(keys)


def test_batched_buckets_are_bucket_index_value_by_value():
    from otel_agentkit.analytics.aggregate import bucket_counts, bucket_index

    rng = random.Random(5)
    for values in ([], [0.0], [1e-12, 0.5, 0.5, 3.0], [rng.lognormvariate(0, 2) for _ in range(20_000)],
                   [1.02 ** i for i in range(-300, 300)]):
        each = [bucket_index(v) for v in values]
        assert bucket_counts(values) == (each.count(None), Counter(i for i in each if i is not None))
