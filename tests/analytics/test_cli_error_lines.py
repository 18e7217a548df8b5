"""The CLI's one-line errors name the user's value; control characters in it are escaped, never printed raw
(a path with an escape sequence or a newline must neither drive the terminal nor split the line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_error_naming_a_hostile_path_is_one_escaped_line() -> None:
    hostile = "/nonexistent/tele\x1bcmetry\r\nFAKE: all ok"
    proc = subprocess.run([sys.executable, "-m", "otel_agentkit.cli.main", "usage", "stats", "--path", hostile],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "\x1b" not in proc.stderr and "\r" not in proc.stderr
    assert proc.stderr.startswith("agentkit: error: ") and "\\x1bcmetry\\r\\nFAKE: all ok" in proc.stderr
