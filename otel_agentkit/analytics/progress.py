"""A one-line progress bar on stderr, for reads of many files at a terminal (stdlib only: no extra
dependency for a few characters of output)."""

from __future__ import annotations

import sys
from typing import TextIO

MIN_FILES = 8
"""Fewer files than this read too quickly for a bar to help."""


class FileProgress:
    """``progress(done, total)`` callback drawing ``[#####.....] 12/40 files``; silent unless ``stream`` is
    a TTY and there are at least MIN_FILES files. ``close()`` clears the line."""

    def __init__(self, stream: TextIO | None = None, min_files: int = MIN_FILES, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.min_files = min_files
        self.width = width
        self._shown = False
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.min_files:
            return
        filled = self.width * min(done, total) // total
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} files")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * (self.width + 30) + "\r")
            self.stream.flush()
            self._shown = False

    def __enter__(self) -> FileProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
