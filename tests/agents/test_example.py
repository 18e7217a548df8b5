"""examples/multi_agent.py end to end: three real processes, the CLI answering the gate, one trace."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.agents.conftest import ROOT


def test_multi_agent_example_puts_three_processes_in_one_trace(store_url, tmp_path):
    env = dict(os.environ)
    env.pop("AGENTKIT_AGENT_STORE", None)
    cmd = [sys.executable, str(ROOT / "examples" / "multi_agent.py"), "--auto-approve", "--home", str(tmp_path)]
    if store_url.startswith("redis"):
        cmd += ["--store", store_url]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    out = run.stdout
    assert "approved by editor (drafts look good)" in out
    assert "(6 spans, 3 processes)" in out
    assert "await_approval publish-report" in out and "outcome=approved" in out
    assert "2 gen_ai.evaluation.result log record(s) on this trace" in out
    assert "2 agentkit.agent.event log record(s) on this trace" in out
