#!/usr/bin/env bash
# The main job: an offline example agent that writes local telemetry and shows the usage report.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AGENTKIT_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e .
export AGENTKIT_HOME="${AGENTKIT_HOME:-$PWD/.agentkit-example}"
"$VENV/bin/python" examples/support_agent.py "$@"
