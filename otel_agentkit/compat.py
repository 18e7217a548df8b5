"""Deprecated entry points kept so old callers keep working while they move to the new APIs.

``MetricsCollector`` was the usage collector with its own log. Usage is now read from the spans themselves
(:mod:`otel_agentkit.analytics`) and recorded by the SDK (``agentkit.record_llm_call`` or the decorators);
the class warns once per instance with DeprecationWarning and delegates to those.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import warnings
from typing import Any

_MESSAGE = ("otel_agentkit.compat.MetricsCollector is deprecated: read usage with otel_agentkit.analytics "
            "(usage_stats, recent_calls, savings, cache_report, compare_periods, export_records) or the "
            "`agentkit usage` command, and record calls with agentkit.record_llm_call or the decorators")


class MetricsCollector:
    """Deprecated facade over :mod:`otel_agentkit.analytics`; results are plain dicts as before."""

    def __init__(self, home: str | os.PathLike[str] | None = None, path: Any = None, tz: str | None = None) -> None:
        warnings.warn(_MESSAGE, DeprecationWarning, stacklevel=2)
        self._home = home
        self._path = path
        self._tz = tz

    def _source(self) -> Any:
        from .analytics import default_source

        return self._path if self._path is not None else default_source(self._home)

    def _window(self, days: int | None) -> Any:
        from .analytics import window

        return window(days=days, tz=self._tz)

    @staticmethod
    def _plain(obj: Any) -> Any:
        from .analytics.output import to_jsonable

        return to_jsonable(obj)

    def record_call(self, *, provider: str, model: str, input_tokens: int | None = None,
                    output_tokens: int | None = None, duration_s: float = 0.0, error: Any = None,
                    **attributes: Any) -> None:
        """Record a finished call (now, lasting ``duration_s``) through the SDK; a no-op without init()."""
        from .instrument.record import record_llm_call

        end = time.time()
        record_llm_call(provider=provider, model=model, start_time=end - max(duration_s, 0.0), end_time=end,
                        input_tokens=input_tokens, output_tokens=output_tokens, error=error, **attributes)

    def get_recent_calls(self, limit: int = 20, days: int | None = None) -> list[dict[str, Any]]:
        from .analytics import recent_calls

        win = self._window(days)
        return [r.as_dict(win.tz) for r in recent_calls(self._source(), win, limit).calls]

    def get_stats(self, days: int | None = 7, group_by: str | None = None) -> dict[str, Any]:
        from .analytics import usage_stats

        return self._plain(usage_stats(self._source(), self._window(days), by=group_by))

    def get_cost_savings(self, days: int | None = 7, baseline_model: str | None = None) -> dict[str, Any]:
        from .analytics import savings

        return self._plain(savings(self._source(), self._window(days), baseline_model))

    def get_cache_stats(self, days: int | None = 7) -> dict[str, Any]:
        from .analytics import cache_report

        return self._plain(cache_report(self._source(), self._window(days)))

    def compare_periods(self, period1: int = 7, period2: int = 30) -> dict[str, Any]:
        from .analytics import compare_periods, parse_tz

        return self._plain(compare_periods(self._source(), period1, period2, tz=parse_tz(self._tz),
                                           now=dt.datetime.now(dt.timezone.utc)))

    def export(self, path: str | os.PathLike[str], format: str = "csv", days: int | None = None,
               force: bool = False) -> int:
        """Write the calls to ``path``; returns how many were written."""
        from .analytics import export_records

        return export_records(self._source(), self._window(days), path, format, force=force).records
