#!/usr/bin/env bash
# Analytics tests: Debian's chromium (the HTML report is opened headless and checked for console errors and
# its totals) and websocket-client in the venv given as $1 (the test talks to chromium over the DevTools
# protocol on a loopback port). Idempotent, and quick when already done.
set -euo pipefail
VENV="${1:?usage: chromium.sh VENV}"
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
if ! "$VENV/bin/python" -c "import websocket" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "websocket-client>=1.6"
fi
