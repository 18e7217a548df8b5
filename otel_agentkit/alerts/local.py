"""Rule evaluation over the local JSONL telemetry (``agentkit alerts watch`` and ``metrics``).

Each pass starts from scratch over the files: spans written late by a batch exporter are never missed, and
the cooldown in the store keeps a breach from firing twice. Metric points are read too, for metric rules:
cumulative streams are turned into deltas per series (name, attributes, resource, start time), since the
JSONL metric exporter writes cumulative temporality by default.

Windows go by each span's own end time and each point's own time (the engine's slots), never by the date in
a file's name: the reader is only asked for what started after the longest window (less ``START_SLACK``),
so a span backfilled into a later-dated file still counts in its window and an old span in today's file
does not. A pass also says what it read (``LocalPass``), so that no data is never reported as all clear.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .engine import Evaluation, Evaluator, Stats, fact_from_record, metric_dims, point_targets, wanted_with_aliases
from .rules import Rule

TELEMETRY_DIR = "telemetry"
START_SLACK = 3600.0  # spans that started up to an hour before a window may still end inside it


def telemetry_path(home: Path) -> Path:
    return Path(home) / TELEMETRY_DIR


def _hashable(mapping: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in mapping.items()))


def _delta(prev: Any, point: Any) -> Stats | None:
    """The delta of a cumulative point over the previous one of its series (None on a counter reset)."""
    t = point.time_ns / 1e9
    stats = Stats()
    if point.kind == "histogram":
        count = (point.count or 0) - (prev.count or 0)
        total = (point.sum or 0.0) - (prev.sum or 0.0)
        if count < 0 or len(point.bucket_counts) != len(prev.bucket_counts) \
                or point.explicit_bounds != prev.explicit_bounds:
            return None
        counts = [a - b for a, b in zip(point.bucket_counts, prev.bucket_counts)]
        if any(c < 0 for c in counts):
            return None
        stats.add_histogram(count, total, None, None, point.explicit_bounds, counts, t)
        return stats
    value = (point.value or 0) - (prev.value or 0)
    if value < 0:
        return None
    stats.add(float(value), t)
    return stats


def _whole(point: Any) -> Stats:
    t = point.time_ns / 1e9
    stats = Stats()
    if point.kind == "histogram":
        stats.add_histogram(point.count or 0, point.sum or 0.0, point.min, point.max, point.explicit_bounds,
                            point.bucket_counts, t)
    elif point.kind == "exponential_histogram":
        stats.count, stats.total = point.count or 0, point.sum or 0.0
    else:
        stats.add(float(point.value or 0), t)
    return stats


def feed_metric_points(evaluator: Evaluator, points: Iterable[Any], read_since_ns: int) -> int:
    """Metric points (``export.reader.MetricPoint``) into ``evaluator``, cumulative ones as deltas.

    A point read twice (a copied file, a Collector's output read beside ours: same series, same time) counts
    once; returns how many such copies were skipped. Files written with the pre-release names and with the
    v0.1.0 ones are both read: a rule on one name of an aliased pair (engine.METRIC_ALIASES) also counts the
    other's points, except where one export (same resource, same time) carried both."""
    series: dict[tuple, list[Any]] = {}
    seen: set[tuple] = set()
    copies = 0
    wanted = evaluator.point_names
    readable = wanted_with_aliases(wanted)
    kept = []
    present: set[tuple] = set()
    for p in points:
        if p.name not in readable:
            continue
        key = (p.name, _hashable(p.attributes), _hashable(p.resource), p.start_ns)
        if (key, p.time_ns, p.kind) in seen:
            copies += 1
            continue
        seen.add((key, p.time_ns, p.kind))
        present.add((p.name, (key[2], p.time_ns)))
        kept.append((key, p))
    for key, p in kept:
        for name in point_targets(p.name, wanted, present, (key[2], p.time_ns)):
            cumulative = p.temporality == "CUMULATIVE" and p.kind in ("histogram", "sum") and (
                p.kind == "histogram" or p.is_monotonic)
            if not cumulative:
                evaluator.add_point(p.time_ns / 1e9, name, metric_dims(p.attributes), _whole(p))
                continue
            series.setdefault((name, *key), []).append(p)
    for skey, items in series.items():
        name = skey[0]
        items.sort(key=lambda p: p.time_ns)
        first = items[0]
        if first.start_ns >= read_since_ns:  # the stream began inside what was read: all of it counts
            evaluator.add_point(first.time_ns / 1e9, name, metric_dims(first.attributes), _whole(first))
        for prev, point in zip(items, items[1:]):
            stats = _delta(prev, point)
            if stats is None:  # a reset: the new cumulative value is the delta
                stats = _whole(point)
            evaluator.add_point(point.time_ns / 1e9, name, metric_dims(point.attributes), stats)
    return copies


def read_since(rules: list[Rule], now: float) -> float | None:
    """From when spans and points must be read to evaluate ``rules`` at ``now`` (None: no enabled rule)."""
    windows = [float(r.window) for r in rules if r.enabled]  # type: ignore[arg-type]
    return now - max(windows) - START_SLACK if windows else None


def wants_metric_points(rules: list[Rule]) -> bool:
    return any(r.enabled and r.source == "metrics" and not r.builtin for r in rules)


def evaluate_records(rules: list[Rule], now: float, spans: Iterable[Any], points: Iterable[Any] = (),
                     since: float | None = None, copies: list[int] | None = None) -> list[Evaluation]:
    """Every enabled rule evaluated at ``now`` over span records and metric points read back from files
    (``export.reader.SpanRecord`` / ``MetricPoint``; the caller reads, so this floor imports no exporter).
    ``copies``, when given, gets the number of duplicate metric points skipped added to its one cell."""
    evaluator = Evaluator(rules)
    if not evaluator.windows:
        return []
    for record in spans:
        evaluator.add(fact_from_record(record))
    if evaluator.point_names:
        start = since if since is not None else read_since(rules, now)
        skipped = feed_metric_points(evaluator, points, int((start or 0) * 1e9))
        if copies is not None:
            copies[0] += skipped
    return evaluator.evaluate(now)


@dataclass
class LocalPass:
    """One evaluation of the enabled rules over local files, and what was read for it (the CLI reads, with
    ``export.reader``, and fills this in)."""

    evaluations: list[Evaluation]
    source: str  # what was read, for messages
    since: float | None = None  # read from (epoch seconds); None when no rule is enabled
    records: int = 0  # spans and metric points read from ``since`` on
    corrupt: int = 0  # lines skipped as unreadable
    bad_spans: int = 0  # spans skipped for a time OTLP cannot carry
    duplicates: int = 0  # spans and points read more than once (copies, several sources): counted once
    unreadable_files: int = 0
    missing: bool = False  # the telemetry directory does not exist
    errors: list[str] = field(default_factory=list)

    @property
    def without_data(self) -> list[Evaluation]:
        """Rules with no sample in their window that did not breach (a rule such as ``token_usage < 100``
        may breach on no data, on purpose)."""
        return [e for e in self.evaluations if e.samples == 0 and not e.breached]

    @property
    def no_data(self) -> bool:
        """Whether no enabled rule had anything to judge: reporting them ``ok`` would be a false all-clear."""
        return bool(self.evaluations) and len(self.without_data) == len(self.evaluations)

    def why_no_data(self) -> str:
        """One line naming what was read and why no rule had data."""
        if self.missing:
            return (f"no telemetry directory at {self.source} (run the app with agentkit.init(), or read other "
                    "files with --path)")
        if not self.records:
            return f"no spans or metric points in {self.source} since {_utc(self.since)}"
        return f"nothing in {self.source} matched the enabled rules' windows and filters"


def _utc(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
