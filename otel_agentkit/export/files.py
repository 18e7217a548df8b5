"""The local files' names, written by the JSONL writer (jsonl.py) and read by the reader (reader.py):
``{signal}-{date}[.{index}].jsonl[.gz]``, one place for both."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

SIGNALS = ("traces", "metrics", "logs")
_FILE_RE = re.compile(r"^(traces|metrics|logs)-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl(\.gz)?$")


@dataclass(frozen=True)
class FileName:
    """A file name the JSONL writer makes: ``{signal}-{date}[.{index}].jsonl[.gz]``."""

    signal: str
    date: dt.date
    index: int  # 0 for the file being written; 1, 2, ... for rotated ones, oldest first
    compressed: bool = False

    @property
    def order(self) -> tuple[dt.date, float]:
        """Sort key: by date, then rotated parts in order, then the live file (the newest)."""
        return self.date, (self.index or math.inf)


def file_name(signal: str, date: dt.date, index: int = 0) -> str:
    return f"{signal}-{date.isoformat()}{f'.{index}' if index else ''}.jsonl"


def parse_file_name(name: str) -> FileName | None:
    """The parts of one of our file names, or None for any other name."""
    m = _FILE_RE.match(name)
    if not m:
        return None
    try:
        date = dt.date.fromisoformat(m.group(2))
    except ValueError:
        return None
    return FileName(m.group(1), date, int(m.group(3) or 0), bool(m.group(4)))
