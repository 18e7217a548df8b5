"""The one rule for time values in the public API, and its one converter.

A time handed to the SDK (``record_llm_call(start_time=...)``, ``iter_spans(since=..., until=...)``,
the analytics windows) is either

* a ``datetime``: aware, or naive meaning UTC (never the machine's local zone, which differs between the
  machine that wrote the telemetry and the one that reads it); or
* a number of seconds since the Unix epoch, int or float, as ``time.time()`` gives.

Nanoseconds are what OpenTelemetry and OTLP carry inside; they never cross the public API as plain
numbers. A number that cannot be seconds is refused rather than guessed at: above MAX_EPOCH_SECONDS (1e11
s, the year 5138) it is almost surely milliseconds or nanoseconds handed in by mistake, and reading it
as either seconds or "probably nanoseconds" would silently move a call by decades. Negative values, times
before 1970, NaN and infinities are refused too (OTLP times are unsigned nanoseconds).

Standard library only, at the lowest floor, so the recorder (instrument/) and the reader (export/) share it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Union

TimeValue = Union[dt.datetime, int, float]

MAX_EPOCH_SECONDS = 10**11
"""The largest number accepted as seconds since the epoch (the year 5138): past it a number is a unit
mistake (1.7e12 is milliseconds now, 1.7e18 nanoseconds)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_RULE = "expected a datetime (naive means UTC) or seconds since the epoch, as time.time() gives"


def to_ns(value: TimeValue, name: str) -> int:
    """``value`` as nanoseconds since the epoch, by the rule in the module docstring.

    TypeError for a value of another type, ValueError for a number or datetime out of range; both name
    ``name`` (the parameter) and the value.
    """
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        delta = aware - _EPOCH
        ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
        if ns < 0:
            raise ValueError(f"invalid {name}={value!r}: before 1970-01-01 UTC")
        return ns
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"invalid {name}={value!r}: {_RULE}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"invalid {name}={value!r}: {_RULE}")
    if value < 0:
        raise ValueError(f"invalid {name}={value!r}: negative; {_RULE}")
    if value > MAX_EPOCH_SECONDS:
        raise ValueError(f"invalid {name}={value!r}: above {MAX_EPOCH_SECONDS:.0e} seconds (after the year "
                         f"5138), so not seconds; milliseconds or nanoseconds? {_RULE}")
    if isinstance(value, int):
        return value * 10**9
    whole = math.floor(value)  # value * 1e9 would round to 256 ns; the whole seconds are exact apart
    return whole * 10**9 + round((value - whole) * 1e9)


__all__ = ["MAX_EPOCH_SECONDS", "TimeValue", "to_ns"]
