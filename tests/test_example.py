"""The README's main job: the offline example agent writes local telemetry and prints the usage summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_agent_runs_offline_and_reports(tmp_path):
    env = {**os.environ, "AGENTKIT_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "support_agent.py"), "--tickets", "4"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Trace of the first ticket:" in out
    assert "invoke_agent support-ticket" in out and "chat claude-sonnet-4-5" in out
    assert "agentkit usage stats --by model" in out and "by model" in out
    table = out[out.index("$ agentkit usage stats"):]
    assert "claude-sonnet-4-5" in table and "gpt-4o-mini" in table and "text-embedding-3-small" not in table
    assert " 0 corrupt lines" in out
    files = sorted(p.name for p in (tmp_path / "telemetry").iterdir())
    assert any(name.startswith("traces-") for name in files) and any(name.startswith("metrics-") for name in files)
    assert proc.stderr.strip() == ""  # no warnings from the SDK on a clean run
