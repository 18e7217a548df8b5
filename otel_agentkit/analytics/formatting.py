"""How figures are written for people: one set of functions for the CLI tables and the HTML report, so the
same number reads the same in both."""

from __future__ import annotations

import re
from typing import Sequence

# C0 and C1 controls and DEL (a terminal acts on them: ESC starts colour, cursor and title sequences,
# CR/LF break a row), the Unicode line and paragraph separators, and the bidirectional overrides and
# isolates (they reorder what follows, so a cell can display as something else).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(s: str) -> str:
    """``s`` with every character a terminal would act on written as a visible escape (ESC as ``\\x1b``,
    a newline as ``\\n``, a bidi override as ``\\u202e``): for any text from the telemetry (model names,
    attributes, file names) printed to a terminal, so a value can neither break a table's rows nor send
    the terminal commands. Other text, backslashes included, is left as it is."""
    if type(s) is not str:
        s = str(s)
    return _UNSAFE.sub(_escape, s) if _UNSAFE.search(s) else s


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


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None,
          ruled: bool = True) -> str:
    """A plain text table; columns are right-aligned where ``right`` says (numbers), a line of dashes under
    the headers unless ``ruled`` is False. Every cell and header goes through :func:`safe_text`."""
    if right is None:
        right = [i > 0 for i in range(len(headers))]
    headers = [safe_text(h) for h in headers]
    rows = [[safe_text(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])] if ruled else [line(headers)]
    out.extend(line(row) for row in rows)
    return "\n".join(out)
