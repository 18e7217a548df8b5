#!/usr/bin/env bash
# The main job: an offline example agent that writes local telemetry and shows the usage report.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh ""
export AGENTKIT_HOME="${AGENTKIT_HOME:-$PWD/.agentkit-example}"
"$VENV/bin/python" examples/support_agent.py "$@"
