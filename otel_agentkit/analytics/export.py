"""Files: every call exported to CSV, JSON or JSON lines, and the local telemetry deleted on request."""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..export.reader import ReadStats, iter_spans, parse_file_name
from .output import safe_output_path, write_atomically
from .records import RECORD_FIELDS, Progress, ReadSummary, Source, UsageReader, is_llm_span
from .timeparse import Window

EXPORT_FORMATS = ("csv", "json", "jsonl")


# --- export ------------------------------------------------------------------------------------------------

@dataclass
class ExportResult:
    path: str
    format: str
    records: int
    read: ReadSummary


EXPORT_COLUMNS = ("time",) + RECORD_FIELDS


def export_records(source: Source, window: Window, output: str | os.PathLike[str], format: str = "csv", *,
                   force: bool = False, pricing: Any = None, progress: Progress | None = None) -> ExportResult:
    """Every call in the window to ``output`` as CSV, a JSON array or JSON lines, streaming.

    Refuses NUL bytes, system directories and (without ``force``) an existing file; see output.py.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"invalid format={format!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    target = safe_output_path(output, force)
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    tz = window.tz

    def write(f: IO[str]) -> int:
        n = 0
        if format == "csv":
            w = csv.writer(f)
            w.writerow(EXPORT_COLUMNS)
            for r in reader:
                d = r.as_dict(tz)
                w.writerow(["" if d[c] is None else d[c] for c in EXPORT_COLUMNS])
                n += 1
        elif format == "jsonl":
            for r in reader:
                f.write(json.dumps(r.as_dict(tz), ensure_ascii=False))
                f.write("\n")
                n += 1
        else:
            f.write("[")
            for r in reader:
                f.write(",\n" if n else "\n")
                f.write(json.dumps(r.as_dict(tz), ensure_ascii=False))
                n += 1
            f.write("\n]\n" if n else "]\n")
        return n

    count = write_atomically(target, write, force=force, newline="" if format == "csv" else None)
    return ExportResult(str(target), format, count, reader.summary)


# --- reset -------------------------------------------------------------------------------------------------

@dataclass
class ResetResult:
    directory: str
    files: int
    bytes: int
    spans: int
    llm_calls: int
    deleted: bool
    duplicate_spans: int = 0  # copies of a span already counted (each span is counted once)
    bad_spans: int = 0  # spans with an impossible time, not counted


class ResetRefused(ValueError):
    """``reset`` without confirmation; the message says what would go."""


def reset_telemetry(directory: str | os.PathLike[str], confirm: bool = False) -> ResetResult:
    """Delete the telemetry files the SDK wrote in ``directory`` (``{signal}-{date}[.N].jsonl[.gz]``;
    other files are left alone), after counting the spans and llm calls they hold."""
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"no telemetry directory at {d}")
    files = sorted(p for p in d.iterdir() if p.is_file() and parse_file_name(p.name) is not None)
    size = sum(_size(p) for p in files)
    traces = [p for p in files if parse_file_name(p.name).signal == "traces"]  # type: ignore[union-attr]
    stats = ReadStats()
    spans = calls = 0
    if traces:
        with iter_spans(traces, stats=stats, unique=True) as stream:  # each span once, as the reports count
            for span in stream:
                spans += 1
                calls += is_llm_span(span)
    result = ResetResult(str(d), len(files), size, spans, calls, False, stats.duplicates, stats.bad_spans)
    if not confirm:
        raise ResetRefused(f"not deleting {len(files)} telemetry files ({spans} spans, {calls} llm calls) in {d} "
                           "without --confirm")
    for p in files:
        try:
            p.unlink()
        except FileNotFoundError:  # rotated away or removed by retention meanwhile
            pass
    from .summary import SUMMARY_DIR

    shutil.rmtree(d / SUMMARY_DIR, ignore_errors=True)  # the incremental summary of the files just deleted
    result.deleted = True
    return result


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0
