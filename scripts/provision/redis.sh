#!/usr/bin/env bash
# Redis for the multi-agent state store tests: the Debian redis-server binary (started by the tests
# themselves on 127.0.0.1, free port, no persistence) and redis-py in the venv given as $1.
# Idempotent: does nothing that is already done.
set -euo pipefail
VENV="${1:?usage: redis.sh VENV}"
command -v redis-server >/dev/null || { echo "redis.sh: redis-server missing (00-debian.sh installs it)" >&2; exit 1; }
if ! "$VENV/bin/python" -c "import redis" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "redis>=5"
fi
