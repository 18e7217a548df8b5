"""The disk spool: written once, fsync'd, owner-only, bounded; replayed oldest first to a real OTLP/HTTP
receiver; a full spool, an unwritable spool and a corrupt file are logged and counted, never raised."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agentkit import diagnostics
from otel_agentkit.config import ConfigError, Settings
from otel_agentkit.export.otlp import (
    SpoolingSpanExporter,
    encode_spans,
    otlp_span_exporter,
    resolve_protocol,
    resolve_target,
)
from otel_agentkit.export.spool import SendResult, Spool, replay, spool_dir
from tests.support.procs import free_port, wait_until


def _spans(n: int, prefix: str = "s") -> list[Any]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tp.get_tracer("test")
    for i in range(n):
        with tracer.start_as_current_span(f"{prefix}{i}"):
            pass
    return list(exporter.get_finished_spans())


def _ids(spans: Sequence[Any]) -> list[str]:
    return [s.context.span_id.to_bytes(8, "big").hex() for s in spans]


def _refused_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint where nothing listens: connection refused, as when the collector is down."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")


# --- the spool itself -----------------------------------------------------------------------------------------
def test_put_and_read_back_in_order_owner_only(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "traces", "traces")
    for i in range(3):
        assert spool.put(f"batch-{i}".encode(), items=i + 1)
    files = spool.pending()
    assert [spool.read(p).payload for p in files] == [b"batch-0", b"batch-1", b"batch-2"]  # type: ignore[union-attr]
    assert [spool.read(p).items for p in files] == [1, 2, 3]  # type: ignore[union-attr]
    assert stat.S_IMODE(spool.dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert not list(spool.dir.glob(".tmp-*"))


def test_full_spool_drops_the_newest_counts_and_logs_once(tmp_path: Path, caplog: Any) -> None:
    spool = Spool(tmp_path / "s", "traces", max_bytes=3 * (17 + 100))
    caplog.set_level(logging.WARNING, logger="otel_agentkit")
    results = [spool.put(bytes([i]) * 100, items=10) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert [spool.read(p).payload[0] for p in spool.pending()] == [0, 1, 2]  # type: ignore[union-attr]
    assert diagnostics.drop_counts() == {"spool.traces.full": 20}
    full_lines = [r.getMessage() for r in caplog.records if "is full" in r.getMessage()]
    assert len(full_lines) == 1 and "dropping new traces batches" in full_lines[0]


def test_unwritable_spool_is_logged_counted_and_the_app_keeps_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    # Tests run as root, which ignores permission bits; a regular file where the spool directory should be
    # makes every write fail the same way a read-only or foreign-owned directory would.
    _refused_endpoint(monkeypatch)
    home = tmp_path / "home"
    (home).mkdir()
    (home / "spool").write_text("not a directory")
    caplog.set_level(logging.WARNING, logger="otel_agentkit")
    exporter = otlp_span_exporter(Settings(home=home))
    try:
        for _ in range(3):
            assert exporter.export(_spans(4)) is SpanExportResult.FAILURE  # failed, and could not spool
    finally:
        exporter.shutdown()
    assert diagnostics.drop_counts() == {"spool.traces.unwritable": 12}
    lines = [r.getMessage() for r in caplog.records if "spool.write" in r.getMessage()]
    assert len(lines) == 1 and str(home / "spool") in lines[0]


def test_corrupt_file_is_moved_aside_counted_and_the_rest_replayed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otlp_sink: Any, caplog: Any) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.endpoint)
    spool = Spool(spool_dir(tmp_path, "traces"), "traces")
    first, last = _spans(2, "first"), _spans(3, "last")
    spool.put(encode_spans(first), len(first))
    spool.put(encode_spans(last), len(last))
    good = spool.pending()
    bad = spool.dir / f"{good[0].name[:20]}-0-99999999.spool"  # sorts between the two good ones
    bad.write_bytes(b"AKSP\x01garbage that is not what the header promises")
    torn = spool.dir / ".tmp-00000000000000000001-1-00000000.spool"  # a writer that died mid-write
    torn.write_bytes(b"AKSP")
    caplog.set_level(logging.WARNING, logger="otel_agentkit")

    result = replay(tmp_path, signals=["traces"])

    assert result.sent_batches == 2 and result.sent_items == 5 and result.corrupt == 1
    assert result.remaining_batches == 0
    assert otlp_sink.spans() == _ids(first) + _ids(last)
    assert (spool.dir / "corrupt" / bad.name).exists()
    assert spool.pending() == [] and torn.exists()  # a fresh temp file may still be being written
    assert diagnostics.drop_counts() == {"spool.traces.corrupt": 1}
    assert any("corrupt" in r.getMessage() and bad.name in r.getMessage() for r in caplog.records)


def test_stale_temp_files_from_a_crashed_writer_are_swept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", "traces")
    spool.put(b"x", 1)
    torn = spool.dir / ".tmp-00000000000000000001-1-00000000.spool"
    torn.write_bytes(b"AK")
    old = time.time() - 3600
    os.utime(torn, (old, old))
    assert len(spool.pending()) == 1
    assert not torn.exists()


# --- replay ---------------------------------------------------------------------------------------------------
def test_failed_exports_are_spooled_then_replayed_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otlp_sink: Any) -> None:
    _refused_endpoint(monkeypatch)
    exporter = otlp_span_exporter(Settings(home=tmp_path))
    batches = [_spans(3, f"b{i}-") for i in range(4)]
    try:
        for batch in batches:
            assert exporter.export(batch) is SpanExportResult.FAILURE
    finally:
        exporter.shutdown()
    assert len(Spool(spool_dir(tmp_path, "traces"), "traces").pending()) == 4

    down = replay(tmp_path)  # still refused: nothing lost, nothing reordered
    assert down.sent_batches == 0 and down.remaining_batches == 4 and down.errors

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.endpoint)
    first = replay(tmp_path, max_batches=1)
    assert first.sent_batches == 1 and first.remaining_batches == 3
    rest = replay(tmp_path)
    assert rest.sent_batches == 3 and rest.sent_items == 9 and rest.remaining_batches == 0
    assert otlp_sink.spans() == [i for b in batches for i in _ids(b)]
    assert diagnostics.drop_counts() == {}


def test_a_batch_the_endpoint_refuses_for_good_is_set_aside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otlp_sink: Any) -> None:
    spool = Spool(spool_dir(tmp_path, "traces"), "traces")
    spool.put(encode_spans(_spans(2)), 2)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp_sink.endpoint}/v1/unknown")  # answers 400
    result = replay(tmp_path, signals=["traces"])
    assert result.rejected == 1 and result.sent_batches == 0 and spool.pending() == []
    assert len(list((spool.dir / "rejected").iterdir())) == 1
    assert diagnostics.drop_counts() == {"spool.traces.rejected": 2}


def test_only_one_replayer_at_a_time(tmp_path: Path) -> None:
    spool = Spool(spool_dir(tmp_path, "traces"), "traces")
    spool.put(b"x", 1)
    sent: list[bytes] = []
    with spool.replay_lock() as mine:
        assert mine
        result = replay(tmp_path, send=lambda signal: lambda b: sent.append(b) or SendResult.ACCEPTED)
    assert result.skipped_locked == 1 and sent == [] and len(spool.pending()) == 1
    result = replay(tmp_path, send=lambda signal: lambda b: sent.append(b) or SendResult.ACCEPTED)
    assert result.sent_batches == 1 and sent == [b"x"]


def test_background_replay_sends_the_backlog_once_the_endpoint_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otlp_sink: Any) -> None:
    """A spool left by an earlier process is sent by the next exporter without anyone calling replay()."""
    spool = Spool(spool_dir(tmp_path, "traces"), "traces")
    left_over = _spans(5, "earlier")
    spool.put(encode_spans(left_over), 5)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.endpoint)
    exporter = otlp_span_exporter(Settings(home=tmp_path))
    try:
        live = _spans(2, "live")
        assert exporter.export(live) is SpanExportResult.SUCCESS
        wait_until(lambda: set(_ids(left_over)) <= set(otlp_sink.spans()), 20, "the backlog to be replayed")
        wait_until(lambda: spool.pending() == [], 10, "the spool to be emptied")
    finally:
        exporter.shutdown()
    assert sorted(otlp_sink.spans()) == sorted(_ids(left_over) + _ids(live))


def test_a_batch_diverted_while_its_call_is_in_flight_is_spooled_once(tmp_path: Path) -> None:
    class SlowFailure(SpanExporter):
        def __init__(self) -> None:
            self.entered, self.release = threading.Event(), threading.Event()

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            self.entered.set()
            self.release.wait(10)
            return SpanExportResult.FAILURE

        def shutdown(self) -> None:
            pass

    inner = SlowFailure()
    spool = Spool(tmp_path / "s", "traces")
    exporter = SpoolingSpanExporter(inner, spool, send=None)
    batch = _spans(3)
    t = threading.Thread(target=exporter.export, args=(batch,))
    t.start()
    assert inner.entered.wait(10)
    exporter.divert(batch)  # what a fan-out does when the call passes its timeout
    inner.release.set()
    t.join(10)
    assert len(spool.pending()) == 1


# --- settings from the standard variables -----------------------------------------------------------------------
def test_targets_follow_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_protocol("traces") == "http/protobuf"
    assert resolve_target("traces").endpoint == "http://localhost:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Api-Key=abc%20def,x-team=llm")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://metrics.example/otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2.5")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    traces = resolve_target("traces")
    assert traces.endpoint == "http://collector:4318/v1/traces"
    assert traces.headers == {"api-key": "abc def", "x-team": "llm"}
    assert traces.timeout_s == 2.5 and traces.compression == "gzip"
    assert resolve_target("metrics").endpoint == "https://metrics.example/otlp"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    logs = resolve_target("logs")
    assert (logs.protocol, logs.endpoint, logs.insecure) == ("grpc", "collector:4317", True)
    assert resolve_protocol("traces") == "http/protobuf"


@pytest.mark.parametrize("name,value,used", [
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", ("protocol", "http/protobuf")),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp", ("protocol", "http/protobuf")),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", ("timeout_s", 10.0)),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1", ("timeout_s", 10.0)),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", ("compression", "none")),
    ("AGENTKIT_SPOOL_MAX_BYTES", "-1", None),
])
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_bad_variables_warn_once_and_use_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, value: str,
        used: Any, protocol: str) -> None:
    """As the OTel SDK does: a typo in the environment is one warning naming the variable and the value, and
    the exporter is built with the default (the official exporter is not handed the bad value either)."""
    from otel_agentkit import diagnostics

    diagnostics.reset()
    if "PROTOCOL" not in name:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv(name, value)
    caplog.set_level("WARNING", logger="otel_agentkit")
    exporter = otlp_span_exporter(Settings(home=tmp_path))
    assert exporter is not None
    exporter.shutdown()
    if used is not None:
        assert getattr(resolve_target("traces"), used[0]) == used[1]
    lines = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(lines) == 1 and repr(value) in lines[0] and "\n" not in lines[0], lines


def test_two_processes_spool_into_one_directory_and_every_batch_replays_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otlp_sink: Any) -> None:
    import subprocess
    import sys

    writer = (
        "import sys\n"
        "from otel_agentkit.export.spool import Spool\n"
        "from otel_agentkit.export.otlp import encode_spans\n"
        "from tests.export_pipeline.test_spool import _spans\n"
        "spool = Spool(sys.argv[1], 'traces')\n"
        "for i in range(20):\n"
        "    assert spool.put(encode_spans(_spans(5, sys.argv[2] + str(i) + '-')), 5)\n"
    )
    directory = spool_dir(tmp_path, "traces")
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(directory), tag], cwd=Path(__file__).parents[2])
             for tag in ("a", "b")]
    assert [p.wait(60) for p in procs] == [0, 0]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.endpoint)
    result = replay(tmp_path, signals=["traces"])
    assert (result.sent_batches, result.sent_items, result.corrupt) == (40, 200, 0)
    names = otlp_sink.span_names
    assert len(names) == len(set(names)) == 200
    for tag in ("a", "b"):  # each process's batches arrive in the order it wrote them
        mine = [n for n in names if n.startswith(tag)]
        assert [int(n[1:].split("-")[0]) for n in mine][::5] == list(range(20))
