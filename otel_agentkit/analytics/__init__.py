"""Usage, cost and prompt analytics from the local telemetry (or a Collector file exporter's output).

Every figure comes from llm spans read back through ``otel_agentkit.export.reader``; the functions return
plain dataclasses and the ``agentkit usage | prompts | report`` commands print them.

    from otel_agentkit import analytics
    w = analytics.window(days=7, tz="Europe/Paris")
    stats = analytics.usage_stats(analytics.default_source(), w, by="model")
"""

from __future__ import annotations

from .aggregate import GroupStats
from .output import OutputError
from .prompts import FormatComparison, FormatDifference, PromptStats, PromptSummary, compare_formats, prompt_summary
from .records import (BadSpan, NoTelemetry, ReadSummary, UsageReader, UsageRecord, default_source, from_span,
                      load_pricing)
from .report import ReportData, build_report, render_html, write_report
from .timeparse import TimeError, Window, parse_tz, window
from .costs import Baseline, CacheReport, CacheRow, Savings, SavingsRow, cache_report, savings
from .export import EXPORT_FORMATS, ExportResult, ResetRefused, ResetResult, export_records, reset_telemetry
from .usage import (
    GROUP_FIELDS, Change, Comparison, Period, PeriodFigures, RecentCalls, UsageStats, compare_periods, recent_calls,
    usage_stats,
)

__all__ = [
    "BadSpan", "Baseline", "CacheReport", "CacheRow", "Change", "Comparison", "EXPORT_FORMATS", "ExportResult",
    "FormatComparison", "FormatDifference", "GROUP_FIELDS", "GroupStats", "NoTelemetry", "OutputError", "Period",
    "PeriodFigures", "PromptStats", "PromptSummary", "ReadSummary", "RecentCalls", "ReportData", "ResetRefused",
    "ResetResult", "Savings", "SavingsRow", "TimeError", "UsageReader", "UsageRecord", "UsageStats", "Window",
    "build_report", "cache_report", "compare_formats", "compare_periods", "default_source", "export_records",
    "from_span", "load_pricing", "parse_tz", "prompt_summary", "recent_calls", "render_html", "reset_telemetry",
    "savings", "usage_stats", "window", "write_report",
]
