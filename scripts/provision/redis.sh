#!/usr/bin/env bash
# Redis for the multi-agent state store tests: the Debian redis-server binary (started by the tests
# themselves on 127.0.0.1, free port, no persistence) and redis-py in the venv given as $1.
# Idempotent: does nothing that is already done.
set -euo pipefail
VENV="${1:?usage: redis.sh VENV}"
if ! command -v redis-server >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends redis-server >/dev/null
  # The package starts a system service; the tests start their own servers, so stop it when possible.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
fi
if ! "$VENV/bin/python" -c "import redis" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "redis>=5"
fi
