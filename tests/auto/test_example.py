"""examples/openai_agent.py runs offline (its own local model server) and prints the trace it recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "openai_agent.py"


def test_openai_agent_example_prints_its_trace_tree(tmp_path):
    env = {**os.environ, "AGENTKIT_HOME": str(tmp_path / "home")}
    run = subprocess.run([sys.executable, str(EXAMPLE), "What should I wear in Lisbon?"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "A light jacket will do." in out
    tree = [line for line in out.split("trace:", 1)[1].splitlines() if line.strip()]
    names = [line.split()[0:2] for line in tree]
    assert names == [["invoke_agent", "travel-assistant"], ["chat", "gpt-4o-mini"], ["execute_tool", "get_weather"],
                     ["execute_tool", "get_local_time"], ["chat", "gpt-4o-mini"]]
    assert "asks for get_weather, get_local_time" in out and "first chunk" in out
    assert tree[1].startswith("    chat")  # the model calls sit under the agent
