"""Prompt analytics: how prompts do by workflow and by model, and XML-structured prompts against plain ones.

Built from what llm spans carry through the core API: ``agentkit.prompt.format``, ``agentkit.retries``,
``agentkit.parse.success`` and ``agentkit.validation.success`` (``agentkit.attributes(prompt_format="xml",
retries=1)`` or ``call.record(parse_success=False)``). A call counts as a success when it did not fail and
neither its parse nor its validation was recorded as failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .aggregate import Quantiles, ratio
from .records import Progress, ReadSummary, Source, UsageReader, UsageRecord
from .timeparse import Window
from .usage import NONE_KEY, Period

SMALL_SAMPLE = 30
"""Below this many calls in a group, differences are flagged as not reliable."""


@dataclass
class PromptStats:
    key: str
    prompts: int  # llm calls
    input_tokens: int
    output_tokens: int
    avg_input_tokens: float | None
    avg_output_tokens: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    retry_rate: float | None  # share of calls that were a retry (agentkit.retries > 0)
    avg_retries: float | None  # over calls that recorded agentkit.retries
    parse_checked: int
    parse_success_rate: float | None  # over calls that recorded agentkit.parse.success
    validation_checked: int
    validation_success_rate: float | None
    errors: int
    error_rate: float | None
    success_rate: float | None
    success_rate_low: float | None  # 95% Wilson interval of success_rate
    success_rate_high: float | None


class _PromptAcc:
    __slots__ = ("n", "inp", "out", "latency", "retried", "retries_n", "retries_sum", "parse_n", "parse_ok",
                 "valid_n", "valid_ok", "errors", "ok")

    def __init__(self) -> None:
        self.n = self.inp = self.out = self.retried = self.retries_n = self.retries_sum = 0
        self.parse_n = self.parse_ok = self.valid_n = self.valid_ok = self.errors = self.ok = 0
        self.latency = Quantiles()

    def add(self, r: UsageRecord) -> None:
        self.n += 1
        self.inp += r.input_tokens
        self.out += r.output_tokens
        self.latency.add(r.duration_s)
        if r.retries is not None:
            self.retries_n += 1
            self.retries_sum += max(r.retries, 0)
            if r.retries > 0:
                self.retried += 1
        if r.parse_success is not None:
            self.parse_n += 1
            self.parse_ok += r.parse_success
        if r.validation_success is not None:
            self.valid_n += 1
            self.valid_ok += r.validation_success
        if not r.ok:
            self.errors += 1
        elif r.parse_success is not False and r.validation_success is not False:
            self.ok += 1

    def result(self, key: str) -> PromptStats:
        low, high = wilson(self.ok, self.n)
        return PromptStats(
            key=key, prompts=self.n, input_tokens=self.inp, output_tokens=self.out,
            avg_input_tokens=ratio(self.inp, self.n), avg_output_tokens=ratio(self.out, self.n),
            latency_p50_s=self.latency.quantile(0.5), latency_p95_s=self.latency.quantile(0.95),
            retry_rate=ratio(self.retried, self.n), avg_retries=ratio(self.retries_sum, self.retries_n),
            parse_checked=self.parse_n, parse_success_rate=ratio(self.parse_ok, self.parse_n),
            validation_checked=self.valid_n, validation_success_rate=ratio(self.valid_ok, self.valid_n),
            errors=self.errors, error_rate=ratio(self.errors, self.n), success_rate=ratio(self.ok, self.n),
            success_rate_low=low, success_rate_high=high,
        )


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion: honest for small samples and for 0% or 100%."""
    if n == 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class PromptSummary:
    period: Period
    filters: dict[str, str]
    total: PromptStats
    by_workflow: list[PromptStats]
    by_model: list[PromptStats]
    read: ReadSummary


def _filter(workflow: str | None, model: str | None) -> Callable[[UsageRecord], bool] | None:
    if workflow is None and model is None:
        return None

    def keep(r: UsageRecord) -> bool:
        return (workflow is None or r.workflow == workflow) and (
            model is None or r.model == model or r.response_model == model)

    return keep


def prompt_summary(source: Source, window: Window, workflow: str | None = None, model: str | None = None, *,
                   pricing: Any = None, progress: Progress | None = None) -> PromptSummary:
    """Prompts, tokens, latency, retry rate, parse/validation success and errors, by workflow and by model."""
    keep = _filter(workflow, model)
    total = _PromptAcc()
    by_wf: dict[str, _PromptAcc] = {}
    by_model: dict[str, _PromptAcc] = {}
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    for r in reader:
        if keep is not None and not keep(r):
            continue
        total.add(r)
        for groups, k in ((by_wf, r.workflow or NONE_KEY), (by_model, r.model or NONE_KEY)):
            acc = groups.get(k)
            if acc is None:
                acc = groups[k] = _PromptAcc()
            acc.add(r)

    def ordered(groups: dict[str, _PromptAcc]) -> list[PromptStats]:
        return sorted((acc.result(k) for k, acc in groups.items()), key=lambda s: (-s.prompts, s.key))

    filters = {k: v for k, v in (("workflow", workflow), ("model", model)) if v is not None}
    return PromptSummary(Period.of(window), filters, total.result("all"), ordered(by_wf), ordered(by_model),
                         reader.summary)


@dataclass
class FormatDifference:
    """``candidate`` against ``reference`` (xml against plain): relative for tokens and latency, in rate
    points (0..1) for rates."""

    candidate: str
    reference: str
    avg_input_tokens_change: float | None
    avg_output_tokens_change: float | None
    latency_p50_change: float | None
    success_rate_points: float | None
    retry_rate_points: float | None
    reliable: bool  # both samples have at least SMALL_SAMPLE calls
    note: str


@dataclass
class FormatComparison:
    period: Period
    formats: list[PromptStats]  # one per prompt format seen, "(none)" for calls that recorded none
    difference: FormatDifference | None  # xml against plain, when both were seen
    read: ReadSummary


def _relative(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else (a - b) / b


def _points(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def compare_formats(source: Source, window: Window, candidate: str = "xml", reference: str = "plain", *,
                    workflow: str | None = None, model: str | None = None, pricing: Any = None,
                    progress: Progress | None = None) -> FormatComparison:
    """Per prompt format: sample size, tokens, latency, success and retry rates; then ``candidate`` (xml)
    against ``reference`` (plain), so a team can see whether structure pays."""
    keep = _filter(workflow, model)
    groups: dict[str, _PromptAcc] = {}
    reader = UsageReader(source, window, pricing=pricing, progress=progress)
    for r in reader:
        if keep is not None and not keep(r):
            continue
        k = r.prompt_format or NONE_KEY
        acc = groups.get(k)
        if acc is None:
            acc = groups[k] = _PromptAcc()
        acc.add(r)
    formats = sorted((acc.result(k) for k, acc in groups.items()), key=lambda s: (s.key == NONE_KEY, -s.prompts, s.key))
    by_key = {s.key: s for s in formats}
    diff = None
    cand, ref = by_key.get(candidate.lower()), by_key.get(reference.lower())
    if cand is not None and ref is not None:
        reliable = cand.prompts >= SMALL_SAMPLE and ref.prompts >= SMALL_SAMPLE
        overlap = (cand.success_rate_low is not None and ref.success_rate_low is not None
                   and cand.success_rate_low <= ref.success_rate_high  # type: ignore[operator]
                   and ref.success_rate_low <= cand.success_rate_high)  # type: ignore[operator]
        if not reliable:
            note = (f"small samples ({cand.prompts} {cand.key}, {ref.prompts} {ref.key} calls; "
                    f"{SMALL_SAMPLE}+ each needed): differences are not reliable")
        elif overlap:
            note = "success rates within each other's 95% interval: no clear difference in success"
        else:
            better = cand.key if (cand.success_rate or 0) > (ref.success_rate or 0) else ref.key
            note = f"{better} prompts succeed more often (95% intervals do not overlap)"
        diff = FormatDifference(
            cand.key, ref.key,
            _relative(cand.avg_input_tokens, ref.avg_input_tokens),
            _relative(cand.avg_output_tokens, ref.avg_output_tokens),
            _relative(cand.latency_p50_s, ref.latency_p50_s),
            _points(cand.success_rate, ref.success_rate), _points(cand.retry_rate, ref.retry_rate),
            reliable, note)
    return FormatComparison(Period.of(window), formats, diff, reader.summary)
