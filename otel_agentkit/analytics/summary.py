"""Incremental usage summaries, kept next to the trace files, so that a repeated read costs what was
appended since the last one, not the size of the files.

One file per telemetry directory, ``<dir>/.usage-summary/summary.msgpack`` (written atomically, never
required): for each trace file it knows, the file's identity (device and inode; size and mtime for a
``.gz``), how far it was summarized (up to its last newline: a line still being written is read next
time) and, per UTC hour of the spans' start times and per (model, provider, workflow, tier, agent, stage):
the sums of ``aggregate.Accumulator``, the latencies (each value, and the 2% buckets of ``Quantiles``), the
span keys (``export.reader.span_key``, 60 bits each), duplicates and bad spans. ``collect`` merges these
instead of reading the spans again; the figures are those of a cold read, to the last bit (aggregate.py
says why sums and percentiles do not depend on the order they are made in). Latency percentiles are the
same mergeable sketch in both: exact (nearest rank) while a group has at most 10,000 calls, past that the
midpoint of a 2%-wide log bucket, within 1% of the true value.

What is still read from the files at every run, the cold way and counted as a cold read counts it:

- what was appended (summarized, then merged) and a partial last line (read, never summarized);
- in a window (``--since``/``--until``, ``--days``), the spans of the hours the window cuts: whole hours
  inside the window come from the summary; a partial hour at either edge is read from the lines that
  hold its spans (the summary knows each line's first and last hour);
- with ``--by day`` in a zone whose local midnight or offset change falls inside a UTC hour (a +05:30
  zone, a daylight-saving change at a half hour), the spans of those hours, the same way;
- a line that was corrupt as a whole but whose fault is in a span a window leaves out (the reader then
  reads the rest of it), under a window;
- a file that cannot be summarized (unreadable part-way, a broken gzip stream) and, when a span is held by
  more than one file, every file past the first that holds a copy (each span counts once, the first copy
  in read order, as ``UsageReader`` counts it).

Duplicates: each directory keeps the keys of all the spans it summarized, sorted, with whether any span is
in two of its files. When none is and one directory is read, nothing more is checked; otherwise the keys of
the spans in the window are merged in read order (about 70 bytes per span while the command runs).

A directory that cannot be written (a read-only Collector folder) and has no summary is read cold, and so
is a read of less than ``MIN_BYTES`` (it takes well under a second anyway, and leaves no file behind). A
summary of another format, another pricing table or one that fails to load is ignored and rebuilt; nothing
here ever fails the command: on any fault the caller reads cold.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import hashlib
import os
import sys
import tempfile
import zlib
from array import array
from dataclasses import dataclass, field
from operator import eq
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import msgspec

from ..export.reader import DEFAULT_MAX_LINE_BYTES, ReadStats, list_files
# the reader's own opening and decoding, so that a summary reads each line exactly as a cold read does
from ..export.reader import open_telemetry_file as _open_file
from ..export.reader import span_line_decoder as _span_decoder
from ..timeunits import to_ns
from ..version import __version__
from .aggregate import COST_UNIT, EXACT_LIMIT, GAMMA, SUMS, Accumulator, add_sample, bucket_counts
from .records import (COLUMNS, MAX_COST_USD, MAX_TOKENS, USAGE_KEYS, BadSpan, Progress, ReadSummary, Source,
                      compile_columns, from_columns)

FORMAT = 1
"""Bumped whenever what a summary holds, or how a span becomes figures, changes: older summaries are rebuilt."""
SUMMARY_DIR = ".usage-summary"
SUMMARY_FILE = "summary.msgpack"
MIN_BYTES = 8 << 20
"""Reads of fewer bytes of trace files than this are cold and cache nothing (about 0.1 s of reading)."""
HOUR_NS = 3600 * 10**9
DIMENSIONS = ("model", "provider", "workflow", "tier", "agent", "stage")
"""What a cell is keyed by (with its UTC hour): every ``--by`` field but ``day``, which comes from the hour."""
NONE_KEY = "(none)"  # usage.NONE_KEY (usage.py imports this module)
_KEY_MASK = (1 << 60) - 1  # export.reader.span_key's
_CHECK_BYTES = 4096
_NOTHING = ()


# --- what is stored ----------------------------------------------------------------------------------------

class Sample(msgspec.Struct, array_like=True, gc=False):
    """The sums of the sampled calls of one ratio (aggregate.Accumulator.samples)."""

    ratio: float
    sums: list[int]
    cost_hi: int
    cost_lo: int


class Cell(msgspec.Struct, array_like=True, gc=False):
    """The calls of one group (an index into FileEntry.groups) in one UTC hour (-1: all of a file's hours)."""

    hour: int
    group: int
    sums: list[int]  # SUMS in order
    cost_hi: int  # the cost in 1/COST_UNIT USD, as hi << 63 | lo (msgpack ints stop at 64 bits)
    cost_lo: int
    zeros: int
    buckets: dict[int, int]
    voff: int  # where its latencies start in FileEntry.durations (sums[0] of them)
    samples: Optional[list[Sample]] = None


class Hour(msgspec.Struct, array_like=True, gc=False):
    """One UTC hour of a file: its span keys are FileEntry.keys[koff:koff + spans]."""

    hour: int
    koff: int
    spans: int  # spans counted (each key once)
    dups: int  # copies of a span already counted from this file
    bad: int  # llm spans with a value no real call has (records.BadSpan)


class FileEntry(msgspec.Struct, gc=False):
    dev: int
    ino: int
    gz: bool
    size: int  # the file's size when summarized (a .gz: the summary holds while size and mtime do)
    mtime_ns: int
    end: int  # bytes summarized (decompressed, for a .gz): up to just past the last newline
    head: int  # crc32 of the first bytes up to end, and of the last ones before it: a replaced file
    tail: int  # (same inode, other content) is caught by these
    lines: int
    corrupt: int  # lines corrupt under any window
    time_bad: int  # spans with a time OTLP cannot carry, in lines that decode
    soft: list[int]  # lines corrupt with no window whose fault is in a span: re-read under a window
    irregular: bool  # a span twice with two start hours: the file is read cold when anything is checked
    groups: list[list[str]]
    cells: msgspec.Raw  # list[Cell], by (group, hour), decoded only when a window or days need it
    rollups: list[Cell]  # one per group, all hours
    hours: list[Hour]
    keys: bytes  # array("Q"), by hour as in ``hours``
    durations: bytes  # array("d"), cell by cell
    line_offsets: bytes  # array("Q"): where each summarized line starts, then ``end``
    line_hours: bytes  # array("q"): the first and last hour of each line's spans (-1, -1: none)


class DirSummary(msgspec.Struct, gc=False):
    format: int
    fingerprint: str
    files: list[FileEntry]
    index: bytes  # array("Q"): the keys of every file's counted spans, sorted
    clean: bool  # no key in two files


_encode = msgspec.msgpack.Encoder().encode
_decode_summary = msgspec.msgpack.Decoder(DirSummary).decode
_decode_cells = msgspec.msgpack.Decoder(list[Cell]).decode


def fingerprint(pricing: Any) -> str | None:
    """What the figures depend on besides the spans: the format, the reading rules, the pricing table.
    None when the pricing has no table to fingerprint (then nothing is cached)."""
    table = getattr(pricing, "table", None)
    if not isinstance(table, dict):
        return None
    rules = [(c.field, c.keys, c.convert.inline) for c in COLUMNS]
    text = repr((FORMAT, __version__, rules, MAX_TOKENS, MAX_COST_USD, EXACT_LIMIT, GAMMA, _KEY_MASK,
                 sorted(table.items())))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# --- reading lines as the reader does ----------------------------------------------------------------------

def _each_line(f: Any, start: int, end: int | None, limit: int = DEFAULT_MAX_LINE_BYTES
               ) -> Iterator[tuple[int, bytes | None]]:
    """(offset, line) from ``start`` up to ``end`` (None: the end of the file), as export.reader reads
    lines: one longer than ``limit`` comes as None (corrupt), its rest skipped unheld. An ``end`` is just
    past a newline, so no line read runs over it."""
    pos = start
    readline = f.readline
    while end is None or pos < end:
        line = readline(limit)
        if not line:
            return
        here = pos
        pos += len(line)
        if line[-1:] != b"\n" and len(line) >= limit:
            while True:
                rest = readline(limit)
                pos += len(rest)
                if not rest or rest[-1:] == b"\n":
                    break
            yield here, None
            continue
        yield here, line


def _last_newline(path: Path, start: int, size: int) -> int:
    """Just past the last newline in [start, size) of a plain file; ``start`` when there is none."""
    with open(path, "rb") as f:
        pos = size
        while pos > start:
            step = min(1 << 16, pos - start)
            f.seek(pos - step)
            chunk = f.read(step)
            i = chunk.rfind(b"\n")
            if i >= 0:
                return pos - step + i + 1
            pos -= step
    return start


def _crc_range(path: Path, lo: int, hi: int) -> int:
    with open(path, "rb") as f:
        f.seek(lo)
        return zlib.crc32(f.read(hi - lo))


def _checks(path: Path, end: int) -> tuple[int, int]:
    return _crc_range(path, 0, min(end, _CHECK_BYTES)), _crc_range(path, max(0, end - _CHECK_BYTES), end)


# --- building a file's summary -----------------------------------------------------------------------------

class _Cell:
    """A cell being built: sums, latencies (all of them; buckets when stored) and per-ratio sums."""

    __slots__ = ("sums", "cost", "values", "samples", "old")

    def __init__(self) -> None:
        self.sums = [0] * len(SUMS)
        self.cost = 0
        self.values = array("d")  # the latencies, unboxed: a first build holds one per span read
        self.samples: dict[float, list[int]] | None = None
        self.old: Cell | None = None  # the stored cell this one extends

    def add_call(self, call: tuple[Any, ...]) -> None:
        """A call of _call_of_columns: it succeeded, has a cost and was not sampled."""
        _, input_tokens, output_tokens, cache_read, cache_write, reasoning, cost, duration = call
        s = self.sums
        s[0] += 1
        s[2] += input_tokens
        s[3] += output_tokens
        s[4] += cache_read
        s[5] += cache_write
        s[6] += reasoning
        self.cost += int(cost * COST_UNIT)
        self.values.append(duration)

    def add(self, r: Any) -> None:
        s = self.sums
        s[0] += 1
        if not r.ok:
            s[1] += 1
        s[2] += r.input_tokens
        s[3] += r.output_tokens
        s[4] += r.cache_read_tokens
        s[5] += r.cache_write_tokens
        s[6] += r.reasoning_tokens
        cost = r.cost_usd
        if cost is None:
            s[7] += 1
        else:
            self.cost += int(cost * COST_UNIT)
        self.values.append(r.duration_s)
        if r.sampling_ratio is not None:
            samples = self.samples
            if samples is None:
                samples = self.samples = {}
            one = samples.get(r.sampling_ratio)
            if one is None:
                one = samples[r.sampling_ratio] = [0] * (len(SUMS) + 1)
            add_sample(one, r)


_WHOLE = object()
_CALL_OF_COLUMNS = '''\
def call_of_columns(span, pricing=None):
    {slots}, = span.values
    if type(operation) is not str or operation not in _INFERENCE:
        return None
{columns}
    if cost_usd is None or error_type is not None or sampling_ratio is not None or span.status == "ERROR":
        return WHOLE
    if not model:
        model = response_model
    start_ns, end_ns = span.start_ns, span.end_ns
    return (({group},), input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
            cost_usd, (end_ns - start_ns) / 1e9 if end_ns > start_ns else 0.0)
'''
_call_of_columns = compile_columns(
    _CALL_OF_COLUMNS.replace("{group}", ", ".join(f"{d} or NONE_KEY" for d in DIMENSIONS)), "call_of_columns",
    fields=("provider", "model", "response_model", "workflow", "agent", "stage", "tier", "input_tokens",
            "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd",
            "error_type", "sampling_ratio"),
    names={"WHOLE": _WHOLE, "NONE_KEY": NONE_KEY})
"""What a cell needs of an llm span, read with from_columns' own statements for those fields only: (group,
tokens, cost, duration) for a call that succeeded, was priced on the span and not sampled (most calls);
_WHOLE for any other (its record is made by from_columns, which settles cost and outcome); None for a span
that is not an llm call; BadSpan where from_columns raises it (only token counts and costs raise, and
both are read here). Without the record and the fields no cell holds, this costs about a third of what
from_columns costs a call (0.18-0.33 against 0.56-0.65 s over 100k calls), and a first build's per-span work 21%
less (instructions)."""


def _split_cost(cost: int) -> tuple[int, int]:
    return cost >> 63, cost & ((1 << 63) - 1)


def _join_cost(hi: int, lo: int) -> int:
    return (hi << 63) | lo


def _samples_of(stored: list[Sample] | None) -> dict[float, list[int]] | None:
    if not stored:
        return None
    return {s.ratio: [*s.sums, _join_cost(s.cost_hi, s.cost_lo)] for s in stored}


def _stored_samples(samples: dict[float, list[int]] | None) -> list[Sample] | None:
    if not samples:
        return None
    return [Sample(r, s[:-1], *_split_cost(s[-1])) for r, s in sorted(samples.items())]


@dataclass
class _Built:
    entry: FileEntry
    new_keys: array  # "Q"
    old_keys: bytes  # the entry's keys before (extension) or b"" (fresh)


class _FileBuilder:
    """Summarizes a file from ``start`` to ``end``, extending ``old`` (the summary up to ``start``)."""

    def __init__(self, path: Path, old: FileEntry | None, pricing: Any) -> None:
        self.path = path
        self.old = old
        self.pricing = pricing
        self.groups: list[list[str]] = [list(g) for g in old.groups] if old else []
        self.group_ids: dict[tuple[str, ...], int] = {tuple(g): i for i, g in enumerate(self.groups)}
        self.cells: dict[tuple[int, int], _Cell] = {}  # by (group id, hour)
        self.by_hour: dict[int, dict[tuple[str, ...], _Cell]] = {}  # the same cells, by hour and group
        self.hour_keys: dict[int, array] = {}  # "Q" arrays: a first build holds one key per span read
        self.hour_dups: dict[int, int] = {}
        self.hour_bad: dict[int, int] = {}
        self.first: dict[int, int] = {}  # key -> hour, of the spans read now
        self.lines = old.lines if old else 0
        self.corrupt = old.corrupt if old else 0
        self.time_bad = old.time_bad if old else 0
        self.soft = list(old.soft) if old else []
        self.irregular = old.irregular if old else False
        self.offsets = array("Q")
        self.line_hours = array("q")
        if old:
            self.offsets.frombytes(old.line_offsets)
            self.offsets.pop()  # the old end: the next line starts there
            self.line_hours.frombytes(old.line_hours)

    def read(self, f: Any, start: int, end: int | None) -> None:
        """Summarize the lines of ``f`` (positioned at ``start``) up to ``end`` (None: all of it)."""
        decode = _span_decoder(USAGE_KEYS)
        convert, brief = from_columns, _call_of_columns
        pricing = self.pricing
        first = self.first
        hour_keys, by_hour = self.hour_keys, self.by_hour
        bad = [0]
        for pos, line in _each_line(f, start, end):
            self.lines += 1
            self.offsets.append(pos)
            lo_hour = hi_hour = -1
            if line is None:
                self.corrupt += 1
                self.line_hours.extend((-1, -1))
                continue
            if line.isspace():
                self.line_hours.extend((-1, -1))
                continue
            try:
                spans = decode(line, None, None, bad)
            except Exception:
                self.line_hours.extend((-1, -1))
                if _corrupt_under_any_window(decode, line):
                    self.corrupt += 1
                else:
                    self.soft.append(len(self.offsets) - 1)
                continue
            self.time_bad += bad[0]
            bad[0] = 0
            for span in spans:
                key = hash((span[0], span[1])) & _KEY_MASK
                hour = span[2] // HOUR_NS
                if lo_hour < 0 or hour < lo_hour:
                    lo_hour = hour
                if hour > hi_hour:
                    hi_hour = hour
                seen = first.get(key)
                if seen is not None:
                    if seen != hour:
                        self.irregular = True
                    self.hour_dups[hour] = self.hour_dups.get(hour, 0) + 1
                    continue
                first[key] = hour
                keys = hour_keys.get(hour)
                if keys is None:
                    keys = hour_keys[hour] = array("Q")
                keys.append(key)
                try:
                    call = brief(span, pricing)
                except BadSpan:
                    self.hour_bad[hour] = self.hour_bad.get(hour, 0) + 1
                    continue
                if call is None:
                    continue
                if call is _WHOLE:  # failed, unpriced or sampled: the whole record, as a cold read makes it
                    r = convert(span, pricing)
                    self._cell(hour, tuple(getattr(r, d) or NONE_KEY for d in DIMENSIONS)).add(r)
                    continue
                cells = by_hour.get(hour)
                cell = cells.get(call[0]) if cells is not None else None
                if cell is None:
                    cell = self._cell(hour, call[0])
                cell.add_call(call)
            self.line_hours.extend((lo_hour, hi_hour))

    def _cell(self, hour: int, g: tuple[str, ...]) -> _Cell:
        cells = self.by_hour.get(hour)
        if cells is None:
            cells = self.by_hour[hour] = {}
        cell = cells.get(g)
        if cell is None:
            gid = self.group_ids.get(g)
            if gid is None:
                gid = self.group_ids[g] = len(self.groups)
                self.groups.append(list(g))
            cell = cells[g] = self.cells[(gid, hour)] = _Cell()
        return cell

    def finish(self, st: os.stat_result, end: int, gz: bool) -> _Built:
        old = self.old
        old_keys = array("Q")
        old_hours: dict[int, Hour] = {}
        if old is not None:
            old_keys.frombytes(old.keys)
            old_hours = {h.hour: h for h in old.hours}
        # hours: old keys of each hour, then the new ones
        hours: list[Hour] = []
        keys = array("Q")
        new_keys = array("Q")
        for hour in sorted(set(old_hours) | set(self.hour_keys) | set(self.hour_dups) | set(self.hour_bad)):
            h = old_hours.get(hour)
            koff = len(keys)
            spans = dups = bad = 0
            if h is not None:
                keys.extend(old_keys[h.koff:h.koff + h.spans])
                spans, dups, bad = h.spans, h.dups, h.bad
            fresh = self.hour_keys.get(hour, _NOTHING)
            keys.extend(fresh)
            new_keys.extend(fresh)
            hours.append(Hour(hour, koff, spans + len(fresh), dups + self.hour_dups.get(hour, 0),
                              bad + self.hour_bad.get(hour, 0)))
        cells, durations = self._cells()
        self.offsets.append(end)
        entry = FileEntry(
            dev=st.st_dev, ino=st.st_ino, gz=gz, size=st.st_size, mtime_ns=st.st_mtime_ns, end=end,
            head=0, tail=0, lines=self.lines, corrupt=self.corrupt, time_bad=self.time_bad, soft=self.soft,
            irregular=self.irregular, groups=self.groups, cells=msgspec.Raw(_encode(cells)),
            rollups=_rollups(cells, durations), hours=hours, keys=keys.tobytes(), durations=durations.tobytes(),
            line_offsets=self.offsets.tobytes(), line_hours=self.line_hours.tobytes())
        if not gz:
            entry.head, entry.tail = _checks(self.path, end)
        return _Built(entry, new_keys, old.keys if old is not None else b"")

    def _cells(self) -> tuple[list[Cell], array]:
        """The stored cells, old ones extended by the new calls, by (group, hour), with their latencies."""
        old = self.old
        old_durations = array("d")
        merged: dict[tuple[int, int], tuple[Cell | None, _Cell | None]] = {}
        if old is not None:
            old_durations.frombytes(old.durations)
            for c in _decode_cells(old.cells):
                merged[(c.group, c.hour)] = (c, None)
        for k, c in self.cells.items():
            merged[k] = (merged.get(k, (None, None))[0], c)
        out: list[Cell] = []
        durations = array("d")
        for (gid, hour) in sorted(merged):
            stored, fresh = merged[(gid, hour)]
            voff = len(durations)
            if fresh is None:
                assert stored is not None
                durations.extend(old_durations[stored.voff:stored.voff + stored.sums[0]])
                stored.voff = voff
                out.append(stored)
                continue
            sums, cost, samples = fresh.sums, fresh.cost, fresh.samples
            if stored is not None:
                durations.extend(old_durations[stored.voff:stored.voff + stored.sums[0]])
                sums = [a + b for a, b in zip(stored.sums, sums)]
                cost += _join_cost(stored.cost_hi, stored.cost_lo)
                acc = Accumulator()
                acc.merge_sums([0] * len(SUMS), 0, _samples_of(stored.samples))
                acc.merge_sums([0] * len(SUMS), 0, samples)
                samples = acc.samples
            durations.extend(fresh.values)
            zeros, buckets = bucket_counts(durations[voff:])  # the stored latencies and the new, contiguous
            out.append(Cell(hour, gid, sums, *_split_cost(cost), zeros, dict(buckets), voff,
                            _stored_samples(samples)))
        return out, durations


def _corrupt_under_any_window(decode: Callable[..., Any], line: bytes) -> bool:
    """Whether a line that failed with no window fails under every window: it does when it fails with an
    empty one (no span is then looked into, so what fails is the line's shape, not a span's content)."""
    try:
        decode(line, 1, 1, None)
    except Exception:
        return True
    return False


def _rollups(cells: list[Cell], durations: array) -> list[Cell]:
    """Per group, its cells over all hours. Cells are by group, then hour, so a group's latencies are
    contiguous in ``durations``: its buckets are counted from them in one pass."""
    out: list[Cell] = []
    for c in cells:
        if out and out[-1].group == c.group:
            r = out[-1]
            r.sums = [a + b for a, b in zip(r.sums, c.sums)]
            r.cost_hi, r.cost_lo = _split_cost(_join_cost(r.cost_hi, r.cost_lo) + _join_cost(c.cost_hi, c.cost_lo))
            if c.samples:
                acc = Accumulator()
                acc.merge_sums([0] * len(SUMS), 0, _samples_of(r.samples))
                acc.merge_sums([0] * len(SUMS), 0, _samples_of(c.samples))
                r.samples = _stored_samples(acc.samples)
        else:
            out.append(Cell(-1, c.group, list(c.sums), c.cost_hi, c.cost_lo, 0, {}, c.voff,
                            list(c.samples) if c.samples else None))
    for r in out:
        r.zeros, buckets = bucket_counts(durations[r.voff:r.voff + r.sums[0]])
        r.buckets = dict(buckets)
    return out


def summarize_file(path: Path, st: os.stat_result, old: FileEntry | None, pricing: Any) -> _Built | None:
    """A file's summary: ``old`` extended by what follows it, or made afresh (old None). None when the
    file cannot be summarized now (unreadable, or a broken gzip stream): it is then read cold."""
    gz = path.name.endswith(".gz")
    builder = _FileBuilder(path, old, pricing)
    start = old.end if old is not None else 0
    try:
        if gz:
            with _open_file(path) as f:
                builder.read(f, 0, None)
                end = f.tell()
        else:
            end = _last_newline(path, start, st.st_size)
            if old is not None and end <= start:
                return None  # nothing new that is whole
            with open(path, "rb", buffering=4 << 20) as f:
                f.seek(start)
                builder.read(f, start, end)
    except Exception:  # unreadable part-way, a broken gzip stream: the cold read reports it
        return None
    return builder.finish(st, end, gz)


def still_holds(entry: FileEntry, path: Path, st: os.stat_result) -> bool:
    """Whether ``entry`` still describes the start of the file at ``path`` (stat ``st``)."""
    if entry.gz or path.name.endswith(".gz"):
        return entry.gz and st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns
    if st.st_size < entry.end:
        return False  # truncated: summarized afresh
    try:
        return _checks(path, entry.end) == (entry.head, entry.tail)
    except OSError:
        return False


# --- the keys of a directory ---------------------------------------------------------------------------------

class KeyIndex:
    """The sorted keys of every span a directory's summary counted, in 4,096 parts by their top bits, so
    that a key is found by bisection and a new one goes in by moving a few hundred others."""

    SHIFT = 48  # 60-bit keys: the top 12 bits pick the part

    def __init__(self, blob: bytes = b"") -> None:
        keys = array("Q")
        keys.frombytes(blob)
        self.parts = self._split(keys)

    @classmethod
    def _split(cls, keys: array) -> list[array]:
        parts, lo = [], 0
        for p in range(1 << (60 - cls.SHIFT)):
            hi = bisect.bisect_left(keys, (p + 1) << cls.SHIFT, lo)
            parts.append(keys[lo:hi])
            lo = hi
        return parts

    def __len__(self) -> int:
        return sum(map(len, self.parts))

    def __contains__(self, key: int) -> bool:
        part = self.parts[key >> self.SHIFT]
        i = bisect.bisect_left(part, key)
        return i < len(part) and part[i] == key

    def merges_whole(self, n: int) -> bool:
        """Whether adding ``n`` keys re-sorts every key (cheaper than that many insertions)."""
        return n * 8 > len(self) + 4096

    def add(self, keys: Sequence[int]) -> list[int]:
        """Add keys (distinct among themselves); returns those that were already in."""
        if self.merges_whole(len(keys)):
            merged = self.dump_array()
            merged.extend(keys)
            merged = sorted_keys(merged)
            self.parts = self._split(merged)
            return [a for a, b in zip(merged, islice(merged, 1, None)) if a == b]
        found = []
        parts, shift = self.parts, self.SHIFT
        for key in keys:
            part = parts[key >> shift]
            i = bisect.bisect_left(part, key)
            if i < len(part) and part[i] == key:
                found.append(key)
            else:
                part.insert(i, key)
        return found

    def dump_array(self) -> array:
        out = array("Q")
        for p in self.parts:
            out.extend(p)
        return out

    @classmethod
    def of(cls, entries: Sequence[FileEntry]) -> tuple[KeyIndex, bool]:
        """The index of ``entries``' keys, and whether no key is in two of them."""
        keys = array("Q")
        for e in entries:
            keys.frombytes(e.keys)
        merged = sorted_keys(keys)
        clean = not any(map(eq, merged, islice(merged, 1, None)))
        index = cls()
        index.parts = cls._split(merged)
        return index, clean


_SET_62 = bytes(b | 0x40 for b in range(256))  # of the top byte of a word: bit 62
_CLEAR_62 = bytes(b & 0xBF for b in range(256))
_LITTLE = sys.byteorder == "little"


def sorted_keys(keys: array) -> array:
    """Span keys (an array "Q" of 60-bit ints) sorted, as the doubles with the same bits.

    Python sorts floats about 1.7 times faster than ints above 2^30 (0.39 against 0.65 s for the million
    keys of a first summary over 1M spans). With bit 62 set (the top byte of each little- or big-endian
    word, b < 16, becomes b | 0x40) every key is a positive, finite, normal double (its exponent field
    is 0x400 to 0x4FF), so the doubles' order is the keys' order, equal bits are equal doubles, and no
    flush-to-zero mode of the CPU can make two keys compare equal."""
    raw = bytearray(keys.tobytes())
    top = slice(7, None, 8) if _LITTLE else slice(0, None, 8)
    raw[top] = raw[top].translate(_SET_62)
    as_float = array("d")
    as_float.frombytes(raw)
    raw = bytearray(array("d", sorted(as_float)).tobytes())
    raw[top] = raw[top].translate(_CLEAR_62)
    out = array("Q")
    out.frombytes(raw)
    return out


# --- a directory's summary -----------------------------------------------------------------------------------

class Directory:
    """The summary of one directory: loaded (or empty), brought up to date for the files read, saved."""

    def __init__(self, path: Path, fp: str) -> None:
        self.path = path
        self.fingerprint = fp
        self.entries: dict[tuple[int, int], FileEntry] = {}
        self.index = KeyIndex()
        self.clean = True
        self.changed = False
        self.loaded = False
        self._rebuild_index = False
        self._load()

    @property
    def file(self) -> Path:
        return self.path / SUMMARY_DIR / SUMMARY_FILE

    def _load(self) -> None:
        try:
            raw = self.file.read_bytes()
        except OSError:
            return
        try:
            s = _decode_summary(raw)
        except Exception:  # another format, torn, garbage: rebuilt
            self.changed = True
            return
        if s.format != FORMAT or s.fingerprint != self.fingerprint:
            self.changed = True
            return
        self.entries = {(e.dev, e.ino): e for e in s.files}
        self.index = KeyIndex(s.index)
        self.clean = s.clean
        self.loaded = True

    def writable(self) -> bool:
        """Whether a summary can be written here, tried (a read-only mount, a folder of someone else's, a
        file where the summary's folder goes): building one that cannot be kept would only cost time."""
        folder = self.path / SUMMARY_DIR
        try:
            folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=folder)
            os.close(fd)
            os.unlink(tmp)
        except OSError:
            return False
        return True

    def forget_missing(self) -> None:
        """Drop the entries of files no longer in the directory (deleted by retention or by hand)."""
        present = set()
        try:
            with os.scandir(self.path) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=True)
                    except OSError:
                        continue
                    present.add((st.st_dev, st.st_ino))
        except OSError:
            return
        gone = [k for k in self.entries if k not in present]
        for k in gone:
            del self.entries[k]
        if gone:
            self._rebuild_index = True
            self.changed = True

    def entry_for(self, path: Path, st: os.stat_result, pricing: Any) -> FileEntry | None:
        """The file's summary, brought up to date (None: read it cold)."""
        ident = (st.st_dev, st.st_ino)
        old = self.entries.get(ident)
        if old is not None and not still_holds(old, path, st):
            del self.entries[ident]
            self._rebuild_index = True
            self.changed = True
            old = None
        if old is not None and (old.gz or _last_newline(path, old.end, st.st_size) <= old.end):
            return old  # nothing new that is whole
        built = summarize_file(path, st, old, pricing)
        if built is None:
            return old if old is not None and not old.gz else None
        LAST.built += 1
        self.entries[ident] = built.entry
        self.changed = True
        if old is None and not self._rebuild_index and self.index.merges_whole(len(built.new_keys)):
            # A new file as big as what the index holds would re-sort every key: sort them once in finish()
            # instead (a first run over ten files sorted 4.5M keys in eight merges, for 1M spans).
            self._rebuild_index = True
        found: list[int] = [] if self._rebuild_index else self.index.add(built.new_keys)
        if old is not None and (found or self._rebuild_index):
            if _any_in(found or built.new_keys, built.old_keys):
                # the new part holds a copy of a span of the old part: summarize the file whole
                del self.entries[ident]
                self._rebuild_index = True
                fresh = summarize_file(path, st, None, pricing)
                if fresh is None:
                    return None
                self.entries[ident] = fresh.entry
                return fresh.entry
        if found:
            self.clean = False
        return built.entry

    def finish(self) -> None:
        if self._rebuild_index:
            self.index, self.clean = KeyIndex.of(list(self.entries.values()))
            self._rebuild_index = False

    def save(self) -> bool:
        """Write the summary atomically; False (and nothing written) when the directory refuses it."""
        if not self.changed:
            return True
        self.finish()
        body = _encode(DirSummary(FORMAT, self.fingerprint, list(self.entries.values()),
                                  self.index.dump_array().tobytes(), self.clean))
        folder = self.path / SUMMARY_DIR
        try:
            folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".summary-", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                os.replace(tmp, folder / SUMMARY_FILE)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return False
        self.changed = False
        return True


def _any_in(keys: Sequence[int], blob: bytes) -> bool:
    old = array("Q")
    old.frombytes(blob)
    return not set(keys).isdisjoint(old)


# --- answering from the summaries --------------------------------------------------------------------------

class _NeedsTracking(Exception):
    """Something may be a copy of a span of another file: answer again, merging keys in read order."""


@dataclass
class RunInfo:
    """How the last summarized read went (for tests and the benchmark)."""

    mode: str = ""  # "clean": no keys merged | "tracked": keys merged in read order | "" (cold)
    built: int = 0  # files summarized afresh or extended
    reused: int = 0  # files answered from their summary
    cold: int = 0  # files read whole, cold
    reread_lines: int = 0  # lines read again for partial hours, soft-corrupt lines
    saved: bool = False
    error: str | None = None


LAST = RunInfo()


@dataclass
class _Plan:
    path: Path
    entry: FileEntry | None
    directory: Directory | None
    st: os.stat_result | None


@dataclass
class Answer:
    total: Accumulator
    groups: dict[str, dict[str, Accumulator]]
    read: ReadSummary


def _window_ns(when: dt.datetime | None, what: str) -> int | None:
    """A window bound as the reader takes it (export.reader._to_ns for a datetime)."""
    if when is None:
        return None
    aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)
    if aware < dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc):
        return 0
    return to_ns(when, what)


def collect(source: Source, window: Any, by: Sequence[str], pricing: Any,
            progress: Progress | None = None, day_key: Any = None) -> Answer | None:
    """The figures ``usage.collect`` makes, from the summaries (brought up to date and saved on the way);
    None when this read is better done cold (small, nothing writable, no pricing table to fingerprint).
    ``day_key``: a ``usage.DayKey`` (its ``of_ns`` and ``tz``), needed when ``by`` holds "day"."""
    global LAST
    LAST = RunInfo()
    fp = fingerprint(pricing)
    if fp is None:
        return None
    stats = ReadStats()
    try:
        files = list_files(source, "traces", window.since, window.until, stats)
    except (FileNotFoundError, ValueError, TypeError):
        return None  # the cold read raises what the user should see
    plans = _plan(files, fp)
    if plans is None:
        return None
    info = LAST
    for i, plan in enumerate(plans):
        if progress is not None:
            progress(i, len(plans))
        if plan.directory is not None and plan.st is not None:
            plan.entry = plan.directory.entry_for(plan.path, plan.st, pricing)
    directories = {id(p.directory): p.directory for p in plans if p.directory is not None}
    for d in directories.values():
        d.finish()
        info.saved = d.save() or info.saved
    lo, hi = _window_ns(window.since, "since"), _window_ns(window.until, "until")
    clean = (len(directories) == 1 and all(d.clean for d in directories.values())
             and all(p.entry is not None and not p.entry.irregular for p in plans)
             and len({id(p.entry) for p in plans}) == len(plans))
    query = _Query(plans, lo, hi, by, pricing, day_key, stats)
    try:
        answer = query.run(track=not clean)
    except _NeedsTracking:
        query = _Query(plans, lo, hi, by, pricing, day_key, stats)
        answer = query.run(track=True)
    info.mode = query.mode
    if progress is not None:
        progress(len(plans), len(plans))
    return answer


def _plan(files: list[Path], fp: str) -> list[_Plan] | None:
    """Which files come from which directory's summary; None when the read is small or nothing can be
    summarized."""
    plans: list[_Plan] = []
    sizes = 0
    by_dir: dict[str, Directory | None] = {}
    for p in files:
        try:
            st = os.stat(p)
        except OSError:
            plans.append(_Plan(p, None, None, None))
            continue
        sizes += st.st_size
        key = os.path.realpath(p.parent)
        if key not in by_dir:
            by_dir[key] = None
        plans.append(_Plan(p, None, None, st))
    if sizes < MIN_BYTES:
        return None
    for key in by_dir:
        d = Directory(Path(key), fp)
        if d.loaded or d.writable():
            d.forget_missing()
            by_dir[key] = d
    if not any(by_dir.values()):
        return None
    for plan in plans:
        if plan.st is not None:
            plan.directory = by_dir[os.path.realpath(plan.path.parent)]
    return plans


class _Query:
    """One answer from the plans: cells for whole hours, the rest of each file read as a cold read would."""

    def __init__(self, plans: list[_Plan], lo: int | None, hi: int | None, by: Sequence[str], pricing: Any,
                 day_key: Any, stats: ReadStats) -> None:
        self.plans = plans
        self.lo, self.hi = lo, hi
        self.by = list(by)
        self.pricing = pricing
        self.day_key = day_key
        self.key_of_day: Callable[[int], str] | None = day_key.of_ns if day_key is not None else None
        self.total = Accumulator()
        self.groups: dict[str, dict[str, Accumulator]] = {b: {} for b in self.by}
        self.fields = [DIMENSIONS.index(b) if b != "day" else -1 for b in self.by]
        s = self.read = ReadSummary()
        s.skipped_files = stats.skipped_files
        self.ratios: set[float] = set()
        self.seen: set[int] | None = None
        self.extra_seen: set[int] = set()
        self.mode = ""
        self._split: dict[int, bool] = {}
        self._decode = _span_decoder(USAGE_KEYS)

    # -- hours

    def _whole(self, hour: int) -> bool:
        start = hour * HOUR_NS
        return (self.lo is None or self.lo <= start) and (self.hi is None or start + HOUR_NS <= self.hi)

    def _touches(self, hour: int) -> bool:
        start = hour * HOUR_NS
        return (self.lo is None or start + HOUR_NS > self.lo) and (self.hi is None or start < self.hi)

    def _split_day(self, hour: int) -> bool:
        """With --by day: whether the hour's minutes fall on two local days (read such hours' spans)."""
        got = self._split.get(hour)
        if got is None:
            day, tz = self.key_of_day, self.day_key.tz
            assert day is not None
            start = hour * HOUR_NS
            a = dt.datetime.fromtimestamp(hour * 3600, dt.timezone.utc).astimezone(tz).utcoffset()
            b = dt.datetime.fromtimestamp(hour * 3600 + 3540, dt.timezone.utc).astimezone(tz).utcoffset()
            if a == b and a is not None and a.total_seconds() % 3600 == 0:
                got = False  # one whole-hour offset all through: the hour is within one local day
            else:
                first = day(start)
                got = any(day(start + m * 60 * 10**9) != first for m in range(59, 0, -1))
            self._split[hour] = got
        return got

    # -- the run

    def run(self, track: bool) -> Answer:
        self.mode = "tracked" if track else "clean"
        self.seen = set() if track else None
        for plan in self.plans:
            entry = plan.entry
            if entry is None or (track and entry.irregular):
                self._cold(plan.path)
                continue
            self._summarized(plan, entry)
        return self._answer()

    def _answer(self) -> Answer:
        s = self.read
        s.sampling_ratios = sorted(self.ratios)
        if self.by:
            for acc in self.groups[self.by[0]].values():
                self.total.merge(acc)
        return Answer(self.total, self.groups, s)

    def _summarized(self, plan: _Plan, e: FileEntry) -> None:
        hours = [h for h in e.hours if self._touches(h.hour)]
        day = "day" in self.by
        special = {h.hour for h in hours if not self._whole(h.hour) or (day and self._split_day(h.hour))}
        used = [h for h in hours if h.hour not in special]
        keys = self._keys_of(e, used, len(hours) == len(e.hours))
        if self.seen is not None and not self.seen.isdisjoint(keys):
            self._cold(plan.path)  # a copy of an earlier file's span: this file the cold way
            return
        extras = self._extras(plan, e, special, plan.directory)
        if extras is None:
            self._cold(plan.path)
            return
        if self.seen is not None:
            self.seen.update(keys)
        LAST.reused += 1
        s = self.read
        s.files += 1
        s.lines += e.lines + extras.lines
        s.corrupt_lines += e.corrupt + extras.corrupt
        s.bad_spans += e.time_bad + extras.time_bad
        for h in used:
            s.spans += h.spans
            s.duplicate_spans += h.dups
            s.bad_spans += h.bad
        self._merge_cells(e, used, special, len(hours) == len(e.hours))
        for span in extras.spans:
            self._take(span)

    def _keys_of(self, e: FileEntry, used: list[Hour], all_hours: bool) -> Sequence[int]:
        if self.seen is None:
            return _NOTHING
        keys = array("Q")
        keys.frombytes(e.keys)
        if all_hours and len(used) == len(e.hours):
            return keys
        out = array("Q")
        for h in used:
            out.extend(keys[h.koff:h.koff + h.spans])
        return out

    def _merge_cells(self, e: FileEntry, used: list[Hour], special: set[int], all_hours: bool) -> None:
        durations = array("d")
        durations.frombytes(e.durations)
        day = self.key_of_day if "day" in self.by else None
        if all_hours and not special and (day is None or len({day(h.hour * HOUR_NS) for h in used}) <= 1):
            cells = e.rollups
            hour_of_all = used[0].hour if used else 0
        else:
            wanted = {h.hour for h in used}
            cells = [c for c in _decode_cells(e.cells) if c.hour in wanted]
            hour_of_all = 0
        groups, fields, by = self.groups, self.fields, self.by
        s = self.read
        for c in cells:
            n = c.sums[0]
            s.llm_calls += n
            samples = _samples_of(c.samples)
            if samples:
                self.ratios.update(samples)
                s.sampled_calls += sum(x[0] for x in samples.values())
            cost = _join_cost(c.cost_hi, c.cost_lo)
            values = _slice(durations, c.voff, n)
            targets: list[Accumulator] = []
            if not by:
                targets.append(self.total)
            else:
                g = e.groups[c.group]
                for b, f in zip(by, fields):
                    if f >= 0:
                        k = g[f]
                    else:
                        assert day is not None
                        k = day((c.hour if c.hour >= 0 else hour_of_all) * HOUR_NS)
                    acc = groups[b].get(k)
                    if acc is None:
                        acc = groups[b][k] = Accumulator()
                    targets.append(acc)
            for acc in targets:
                acc.merge_sums(c.sums, cost, samples)
                acc.latency.merge_parts(n, c.zeros, c.buckets, values)

    # -- what is read the cold way

    def _extras(self, plan: _Plan, e: FileEntry, special: set[int], directory: Directory | None
                ) -> _Extras | None:
        """The spans of the partial (and split) hours, of the soft-corrupt lines under a window and of
        the tail past the summary, in read order; None when they might repeat a span of this file."""
        out = _Extras()
        windowed = self.lo is not None or self.hi is not None
        lines: list[int] = []
        if special:
            hours = array("q")
            hours.frombytes(e.line_hours)
            lo_h, hi_h = min(special), max(special)
            for i in range(len(hours) // 2):
                a, b = hours[2 * i], hours[2 * i + 1]
                if a >= 0 and a <= hi_h and b >= lo_h and any(a <= h <= b for h in special):
                    lines.append(i)
        soft = set(e.soft) if windowed else set()
        if not windowed:
            out.corrupt += len(e.soft)
        wanted = sorted(set(lines) | soft)
        offsets = array("Q")
        if wanted:
            offsets.frombytes(e.line_offsets)
            LAST.reread_lines += len(wanted)
        bad = [0]
        decode = self._decode
        for i, line in _read_lines(plan.path, e.gz, offsets, wanted):
            if i in soft:
                try:
                    spans = decode(line, self.lo, self.hi, bad)
                except Exception:
                    out.corrupt += 1
                    continue
                out.time_bad += bad[0]
                bad[0] = 0
                if not self._fresh(spans, out, directory):
                    return None
            else:
                spans = decode(line, self.lo, self.hi, None)  # decoded when summarized: it decodes again
                out.spans.extend(sp for sp in spans if sp[2] // HOUR_NS in special)
        if not e.gz:
            with open(plan.path, "rb", buffering=1 << 16) as f:
                f.seek(e.end)
                for _, line in _each_line(f, e.end, None):
                    out.lines += 1
                    if line is None:
                        out.corrupt += 1
                        continue
                    if line.isspace():
                        continue
                    try:
                        spans = decode(line, self.lo, self.hi, bad)
                    except Exception:
                        out.corrupt += 1
                        continue
                    out.time_bad += bad[0]
                    bad[0] = 0
                    if not self._fresh(spans, out, directory):
                        return None
        return out

    def _fresh(self, spans: Sequence[Any], out: _Extras, directory: Directory | None) -> bool:
        """Add spans that no summary holds (a tail, a soft line) unless one may be a copy of a summarized
        span: then the file is read cold (tracked), or the whole answer is tracked."""
        for sp in spans:
            key = hash((sp[0], sp[1])) & _KEY_MASK
            if directory is not None and key in directory.index:
                if self.seen is None:
                    raise _NeedsTracking
                return False
            out.spans.append(sp)
        return True

    def _take(self, span: Any) -> None:
        """One span read the cold way: counted once, converted, added (UsageReader and collect, as one)."""
        key = hash((span[0], span[1])) & _KEY_MASK
        seen = self.seen if self.seen is not None else self.extra_seen
        s = self.read
        if key in seen:
            s.duplicate_spans += 1
            return
        seen.add(key)
        s.spans += 1
        try:
            r = from_columns(span, self.pricing)
        except BadSpan:
            s.bad_spans += 1
            return
        if r is None:
            return
        s.llm_calls += 1
        if r.sampling_ratio is not None:
            s.sampled_calls += 1
            self.ratios.add(r.sampling_ratio)
        if not self.by:
            self.total.add(r)
            return
        for b, f in zip(self.by, self.fields):
            if f >= 0:
                k = getattr(r, b) or NONE_KEY
            else:
                assert self.key_of_day is not None
                k = self.key_of_day(r.start_ns)
            acc = self.groups[b].get(k)
            if acc is None:
                acc = self.groups[b][k] = Accumulator()
            acc.add(r)

    def _cold(self, path: Path) -> None:
        """A whole file read as export.reader reads it, its spans counted once against what came before."""
        if self.seen is None:
            raise _NeedsTracking
        LAST.cold += 1
        s = self.read
        try:
            f = _open_file(path)
        except OSError as exc:
            s.unreadable_files += 1
            s.errors.append(f"{path}: {exc}")
            return
        s.files += 1
        bad = [0]
        decode = self._decode
        try:
            for _, line in _each_line(f, 0, None):
                s.lines += 1
                if line is None:
                    s.corrupt_lines += 1
                    continue
                if line.isspace():
                    continue
                try:
                    spans = decode(line, self.lo, self.hi, bad)
                except Exception:
                    s.corrupt_lines += 1
                    continue
                s.bad_spans += bad[0]
                bad[0] = 0
                for span in spans:
                    self._take(span)
        except Exception as exc:
            s.unreadable_files += 1
            s.corrupt_lines += 1
            s.errors.append(f"{path}: {exc}")
        finally:
            f.close()


@dataclass
class _Extras:
    spans: list[Any] = field(default_factory=list)
    lines: int = 0
    corrupt: int = 0
    time_bad: int = 0


def _slice(durations: array, off: int, n: int) -> Callable[[], Sequence[float]]:
    return lambda: durations[off:off + n]


def _read_lines(path: Path, gz: bool, offsets: array, wanted: list[int]) -> Iterator[tuple[int, bytes]]:
    """The summarized lines numbered ``wanted`` (ascending), read again."""
    if not wanted:
        return
    if gz:
        want = set(wanted)
        with _open_file(path) as f:
            for i, (_, line) in enumerate(_each_line(f, 0, None)):
                if i in want and line is not None:
                    yield i, line
                if i >= wanted[-1]:
                    return
        return
    with open(path, "rb") as f:
        for i in wanted:
            f.seek(offsets[i])
            yield i, f.read(offsets[i + 1] - offsets[i])


__all__ = ["DIMENSIONS", "FORMAT", "LAST", "MIN_BYTES", "SUMMARY_DIR", "SUMMARY_FILE", "Answer", "Directory",
           "FileEntry", "KeyIndex", "RunInfo", "collect", "fingerprint", "summarize_file"]
