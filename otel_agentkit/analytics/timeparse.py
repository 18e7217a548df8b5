"""Time zones, dates and the window a report covers: explicit, UTC unless told otherwise.

Spans carry UTC nanoseconds. A time zone only changes how dates are read (``--since 2026-05-01`` is
midnight in that zone) and how calls fall into days; ``--days D`` is the last D x 24 hours whatever the zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

UTC = dt.timezone.utc
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


class TimeError(ValueError):
    """A date, time zone or window that cannot be used; the message names the option and the value."""

    def __init__(self, option: str, value: object, why: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"invalid {option}={value!r}: {why}")


def parse_tz(value: str | dt.tzinfo | None, option: str = "--tz") -> dt.tzinfo:
    """``UTC`` (default), an IANA name (``Europe/Paris``) or a fixed offset (``+05:30``)."""
    if value is None:
        return UTC
    if isinstance(value, dt.tzinfo):
        return value
    text = value.strip()
    if text.upper() in ("UTC", "Z", "GMT", ""):
        return UTC
    m = _OFFSET.match(text)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 23 or minutes > 59:
            raise TimeError(option, value, "offset out of range (at most +-23:59)")
        sign = -1 if m.group(1) == "-" else 1
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(option, value, "unknown time zone; use UTC, an IANA name like Europe/Paris, "
                                       "or an offset like +05:30") from None


def tz_name(tz: dt.tzinfo) -> str:
    """A name to print and to put in JSON: the IANA key, ``UTC`` or ``UTC+05:30``."""
    key = getattr(tz, "key", None)
    if key:
        return str(key)
    offset = tz.utcoffset(None)
    if not offset:
        return "UTC"
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    return f"UTC{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def parse_when(value: str | dt.datetime | dt.date, tz: dt.tzinfo, option: str, end_of_day: bool = False
               ) -> dt.datetime:
    """A date (``2026-05-01``: midnight in ``tz``; the following midnight when ``end_of_day``, so an
    ``--until`` date includes that day) or an ISO date-time (naive means ``tz``)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        day = value
    else:
        text = value.strip()
        day = None
        if len(text) == 10:
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                raise TimeError(option, value, "not a valid date; expected YYYY-MM-DD") from None
        else:
            try:
                when = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
            except ValueError:
                raise TimeError(option, value, "expected YYYY-MM-DD or an ISO date-time "
                                               "like 2026-05-01T14:30 or 2026-05-01T14:30+02:00") from None
            return when if when.tzinfo is not None else when.replace(tzinfo=tz)
    try:
        if end_of_day:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)
    except OverflowError:
        raise TimeError(option, value, "out of range") from None


@dataclass(frozen=True)
class Window:
    """Calls that started in [since, until); None is open-ended. ``tz`` is for dates and days."""

    since: dt.datetime | None
    until: dt.datetime | None
    tz: dt.tzinfo = UTC

    @property
    def tz_name(self) -> str:
        return tz_name(self.tz)

    def describe(self) -> str:
        def show(when: dt.datetime) -> str:
            return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

        if self.since is None and self.until is None:
            return f"all time ({self.tz_name})"
        if self.until is None:
            return f"since {show(self.since)} {self.tz_name}"  # type: ignore[arg-type]
        if self.since is None:
            return f"until {show(self.until)} {self.tz_name}"
        return f"{show(self.since)} to {show(self.until)} {self.tz_name}"


def positive_days(value: object, option: str = "--days") -> int:
    if isinstance(value, bool):
        raise TimeError(option, value, "expected a whole number of days above 0")
    try:
        days = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise TimeError(option, value, "expected a whole number of days above 0") from None
    if days <= 0:
        raise TimeError(option, value, "expected a whole number of days above 0")
    if days > 36500:
        raise TimeError(option, value, "at most 36500 days")
    return days


def window(days: int | None = None, since: str | dt.datetime | dt.date | None = None,
           until: str | dt.datetime | dt.date | None = None, tz: str | dt.tzinfo | None = None,
           now: dt.datetime | None = None) -> Window:
    """The window from ``--days`` (the last D x 24 h up to now) or ``--since``/``--until`` (not both)."""
    zone = parse_tz(tz)
    if days is not None and (since is not None or until is not None):
        raise TimeError("--days", days, "give either --days or --since/--until, not both")
    if days is not None:
        d = positive_days(days)
        end = now or dt.datetime.now(UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return Window(end - dt.timedelta(days=d), None, zone)
    start = parse_when(since, zone, "--since") if since is not None else None
    stop = parse_when(until, zone, "--until", end_of_day=True) if until is not None else None
    if start is not None and stop is not None and stop <= start:
        raise TimeError("--until", until, f"is not after --since={since!r}")
    return Window(start, stop, zone)
