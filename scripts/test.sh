#!/usr/bin/env bash
# The whole test suite on a fresh machine: provisions what the tests need (a virtual environment with the
# package and its test extras, and the real servers from scripts/provision/*.sh), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AGENTKIT_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e ".[test]"
for p in scripts/provision/*.sh; do
  [ -e "$p" ] || continue
  echo "provision: $p"
  bash "$p" "$VENV"
done
export PATH="$PWD/$VENV/bin:$PATH"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
