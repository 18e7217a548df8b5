"""How figures are written for people: one set of functions for the CLI tables and the HTML report, so the
same number reads the same in both."""

from __future__ import annotations

from typing import Sequence


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}${value:,.2f}" if value >= 1000 else f"{sign}${value:,.4f}"


def integer(value: float | None) -> str:
    return "-" if value is None else f"{int(round(value)):,}"


def decimal(value: float | None, places: int = 1) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def points(value: float | None) -> str:
    """A difference of two rates, in percentage points."""
    return "-" if value is None else f"{value * 100:+.1f} pp"


def change(value: float | None) -> str:
    """A relative change."""
    return "-" if value is None else f"{value * 100:+.1f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """A plain text table; columns are right-aligned where ``right`` says (numbers)."""
    if right is None:
        right = [i > 0 for i in range(len(headers))]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in rows)
    return "\n".join(out)
