"""examples/langgraph_agent.py runs offline: a LangGraph team traced by auto-instrumentation alone, read back
from the local files as a trace tree, and the usage report by agent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tree(out: str) -> list[tuple[int, str, str]]:
    """(depth, span name, notes) for each line of the printed trace tree."""
    block = out[out.index("\ntrace:\n") + 8:out.index("\n$ agentkit usage stats")]
    rows = []
    for line in block.splitlines():
        match = re.match(r"^  ( *)(\S.*?)\s{2,}[\d.]+ ms  (.*)$", line)
        if match:
            rows.append((len(match.group(1)) // 2, match.group(2), match.group(3)))
    return rows


def _usage_calls(out: str) -> dict[str, int]:
    """agent -> calls, from the ``agentkit usage stats --by agent`` table."""
    table = out[out.index("$ agentkit usage stats --by agent"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+(\d+)\s+\d+\s+[\d.]+%", table, re.M)}


def test_langgraph_example_prints_agent_tree_and_usage_by_agent(tmp_path):
    env = {**os.environ, "AGENTKIT_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "langgraph_agent.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    tree = _tree(out)
    names = [(depth, name) for depth, name, _ in tree]
    notes = {name: note for _, name, note in tree}
    assert names == [
        (0, "invoke_agent research-team"),  # the team graph: the workflow span at the root
        (1, "invoke_agent researcher"),
        (2, "chat gpt-4o-mini"), (2, "execute_tool search_notes"), (2, "chat gpt-4o-mini"),
        (1, "invoke_agent writer"),
        (2, "chat gpt-4o-mini"),
    ], out
    # the agents' spans are agent spans (from lc_agent_name), not the workflow spans an unnamed subgraph makes
    assert "operation invoke_workflow" in notes["invoke_agent research-team"]
    assert "operation invoke_agent" in notes["invoke_agent researcher"]
    assert "operation invoke_agent" in notes["invoke_agent writer"]
    assert "call call_search_" in notes["execute_tool search_notes"]  # ToolNode passes the model's call id
    assert " 0 corrupt lines" in out
    calls = _usage_calls(out)
    assert calls.get("researcher") == 2 and calls.get("writer") == 1 and calls.get("all") == 3, out
    assert any(p.name.startswith("traces-") for p in (tmp_path / "telemetry").iterdir())
    assert proc.stderr.strip() == ""  # no warnings on a clean run
