#!/usr/bin/env bash
# Analytics tests: Debian's chromium (the HTML report is opened headless and checked for console errors and
# its totals) and websocket-client in the venv given as $1 (the test talks to chromium over the DevTools
# protocol on a loopback port). Idempotent, and quick when already done.
set -euo pipefail
VENV="${1:?usage: chromium.sh VENV}"
command -v chromium >/dev/null || { echo "chromium.sh: chromium missing (00-debian.sh installs it)" >&2; exit 1; }
if ! "$VENV/bin/python" -c "import websocket" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "websocket-client>=1.6"
fi
