"""Feedback loop: scores per workflow stage and model tier, their trend, and which tier to use next.

Scores live in one stream per (workflow, stage, tier), trimmed to the retention window (7 days by default)
on every write. A score linked to a trace becomes a ``gen_ai.evaluation.result`` log record on that trace
(its span ids may belong to another process or to a span that already ended), and every score lands in the
``agentkit.feedback.score`` histogram.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any
from urllib.parse import quote, unquote

from .. import semconv
from . import telemetry as tel
from .store import StateStore, check_name, check_seconds, check_unit, decode, encode, open_store

DEFAULT_TIERS = ("small", "medium", "large")  # lowest to highest capability (and cost)
DEFAULT_RETENTION = 7 * 24 * 3600.0
MIN_SAMPLES = 10  # recommend_tier keeps the tier until it has this many scores
TREND_MIN_SAMPLES = 4
UPGRADE_BELOW = 0.7
DOWNGRADE_ABOVE = 0.9
LOWER_TIER_GOOD = 0.85
TREND_STABLE_BAND = 0.05
_PREFIX = "fb:"


@dataclass(frozen=True)
class Quality:
    """Scores of one (workflow, stage, tier) in the retention window. ``trend``: mean of the recent half
    minus mean of the older half, once there are 4 samples (positive is better)."""

    count: int
    mean: float | None
    min: float | None
    max: float | None
    trend: float | None

    @property
    def trend_label(self) -> str | None:
        if self.trend is None:
            return None
        if self.trend > TREND_STABLE_BAND:
            return "improving"
        if self.trend < -TREND_STABLE_BAND:
            return "declining"
        return "stable"


@dataclass(frozen=True)
class Recommendation:
    workflow: str
    stage: str
    current_tier: str | None
    tier: str | None
    reason: str
    confidence: float  # min(samples / 20, 1)
    samples: int
    mean: float | None

    @property
    def changed(self) -> bool:
        return self.tier != self.current_tier


@dataclass(frozen=True)
class StageQuality:
    workflow: str
    stage: str
    tier: str
    quality: Quality


class Feedback:
    """Record scores (0..1) and read quality and tier recommendations back; store failures raise."""

    def __init__(self, store: StateStore | str | None = None, tiers: Sequence[str] = DEFAULT_TIERS,
                 retention: float = DEFAULT_RETENTION, max_samples: int = 10_000,
                 telemetry: tel.Telemetry | None = None) -> None:
        self.store = open_store(store)
        self.tiers = tuple(check_name("tiers", t) for t in tiers)
        if not self.tiers or len(set(self.tiers)) != len(self.tiers):
            raise ValueError(f"tiers={tiers!r}: expected distinct tier names, lowest to highest")
        self.retention = check_seconds("retention", retention)
        self.max_samples = max_samples
        self.telemetry = telemetry or tel.default()

    def _check_tier(self, tier: str) -> str:
        if tier not in self.tiers:
            raise ValueError(f"tier={tier!r}: expected one of {', '.join(self.tiers)}")
        return tier

    def record(self, workflow: str, stage: str, tier: str, score: float, trace_id: str | None = None,
               span_id: str | None = None, name: str = "quality", label: str | None = None,
               explanation: str | None = None) -> str:
        """Store one score; with ``trace_id`` (or inside a span) it is also an evaluation event on that trace."""
        check_name("workflow", workflow)
        check_name("stage", stage)
        self._check_tier(tier)
        score = check_unit("score", score)
        check_name("name", name)
        if span_id is not None and trace_id is None:
            raise ValueError(f"span_id={span_id!r}: give the trace_id it belongs to as well")
        ctx = tel.context_for(trace_id, span_id) if trace_id is not None else None  # validates the ids
        if trace_id is None:
            trace_id, span_id = tel.current_ids()
        now = time.time()
        record = {"workflow": workflow, "stage": stage, "tier": tier, "score": score, "ts": now,
                  "trace_id": trace_id, "span_id": span_id, "name": name, "label": label, "explanation": explanation}
        entry_id = self.store.append(_stream(workflow, stage, tier), encode("feedback", record),
                                     max_len=self.max_samples, min_ms=int((now - self.retention) * 1000))
        t = self.telemetry
        dims = {semconv.AGENTKIT_WORKFLOW_NAME: workflow, semconv.AGENTKIT_STAGE: stage, semconv.AGENTKIT_TIER: tier}
        t.record(t.feedback_score, score, dims)
        if trace_id is not None:
            attrs: dict[str, Any] = {semconv.GEN_AI_EVALUATION_NAME: name,
                                     semconv.GEN_AI_EVALUATION_SCORE_VALUE: score, **dims}
            if label is not None:
                attrs[semconv.GEN_AI_EVALUATION_SCORE_LABEL] = label
            if explanation is not None:
                attrs[semconv.GEN_AI_EVALUATION_EXPLANATION] = explanation
            t.log_event(semconv.EVENT_EVALUATION_RESULT, attrs, context=ctx)
        return entry_id

    def scores(self, workflow: str, stage: str, tier: str) -> list[float]:
        """Scores in the retention window, oldest first."""
        cutoff = time.time() - self.retention
        entries = self.store.range(_stream(check_name("workflow", workflow), check_name("stage", stage),
                                           self._check_tier(tier)), min_ms=int(cutoff * 1000))
        records = [decode(e.data) for e in entries]
        return [r["score"] for r in records if r["ts"] >= cutoff]

    def quality(self, workflow: str, stage: str, tier: str) -> Quality:
        return _quality(self.scores(workflow, stage, tier))

    def recommend_tier(self, workflow: str, stage: str, current_tier: str | None = None) -> Recommendation:
        """Keep, raise or lower the tier of a stage from its scores.

        The current tier is ``current_tier`` or the one scored most recently. With fewer than 10 scores the
        tier stays. A mean under 0.7 moves one tier up; over 0.9 one tier down, but only if the lower tier's
        own mean is over 0.85. Confidence is min(samples / 20, 1).
        """
        check_name("workflow", workflow)
        check_name("stage", stage)
        if current_tier is None:
            current_tier = self._latest_tier(workflow, stage)
            if current_tier is None:
                return Recommendation(workflow, stage, None, None, "no feedback recorded for this stage", 0.0, 0, None)
        q = self.quality(workflow, stage, self._check_tier(current_tier))
        confidence = min(q.count / 20, 1.0)

        def rec(tier: str, reason: str) -> Recommendation:
            return Recommendation(workflow, stage, current_tier, tier, reason, confidence, q.count, q.mean)

        if q.count < MIN_SAMPLES or q.mean is None:
            return rec(current_tier, f"{q.count} samples; at least {MIN_SAMPLES} are needed to change the tier")
        index = self.tiers.index(current_tier)
        if q.mean < UPGRADE_BELOW:
            if index + 1 < len(self.tiers):
                return rec(self.tiers[index + 1], f"mean {q.mean:.3f} is under {UPGRADE_BELOW}: one tier up")
            return rec(current_tier, f"mean {q.mean:.3f} is under {UPGRADE_BELOW} but this is the highest tier")
        if q.mean > DOWNGRADE_ABOVE:
            if index == 0:
                return rec(current_tier, f"mean {q.mean:.3f} is over {DOWNGRADE_ABOVE}; already the lowest tier")
            lower = self.tiers[index - 1]
            lq = self.quality(workflow, stage, lower)
            if lq.mean is not None and lq.mean > LOWER_TIER_GOOD:
                return rec(lower, f"mean {q.mean:.3f} is over {DOWNGRADE_ABOVE} and tier {lower} scores "
                                  f"{lq.mean:.3f} (over {LOWER_TIER_GOOD}): one tier down")
            shown = "no scores" if lq.mean is None else f"a mean of {lq.mean:.3f}"
            return rec(current_tier, f"mean {q.mean:.3f} is over {DOWNGRADE_ABOVE} but tier {lower} has {shown}"
                                     f" (needs over {LOWER_TIER_GOOD})")
        return rec(current_tier, f"mean {q.mean:.3f} is within {UPGRADE_BELOW}..{DOWNGRADE_ABOVE}")

    def _latest_tier(self, workflow: str, stage: str) -> str | None:
        best: tuple[float, str] | None = None
        for tier in self.tiers:
            info = self.store.info(_stream(workflow, stage, tier))
            if info is None or info.last_id is None:
                continue
            newest = self.store.tail(_stream(workflow, stage, tier), 1)
            ts = decode(newest[0].data)["ts"] if newest else 0.0
            if best is None or ts > best[0]:
                best = (ts, tier)
        return best[1] if best else None

    def stages(self) -> list[tuple[str, str, str]]:
        """Every (workflow, stage, tier) with a score stream."""
        found = []
        for name in self.store.streams(_PREFIX):
            parts = name[len(_PREFIX):].split(":")
            if len(parts) == 3:
                found.append(tuple(unquote(p) for p in parts))
        return found  # type: ignore[return-value]

    def underperforming(self, threshold: float = UPGRADE_BELOW, min_samples: int = 1) -> list[StageQuality]:
        """Stages whose mean score in the window is under ``threshold``, worst first."""
        threshold = check_unit("threshold", threshold)
        found = []
        for workflow, stage, tier in self.stages():
            if tier not in self.tiers:
                continue
            q = self.quality(workflow, stage, tier)
            if q.count >= min_samples and q.mean is not None and q.mean < threshold:
                found.append(StageQuality(workflow, stage, tier, q))
        return sorted(found, key=lambda s: (s.quality.mean, s.workflow, s.stage, s.tier))


def _stream(workflow: str, stage: str, tier: str) -> str:
    return _PREFIX + ":".join(quote(p, safe="") for p in (workflow, stage, tier))


def _quality(scores: Sequence[float]) -> Quality:
    if not scores:
        return Quality(0, None, None, None, None)
    trend = None
    n = len(scores)
    if n >= TREND_MIN_SAMPLES:
        half = n // 2
        trend = fmean(scores[n - half:]) - fmean(scores[:half])
    return Quality(n, fmean(scores), min(scores), max(scores), trend)
