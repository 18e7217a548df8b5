#!/usr/bin/env bash
# The whole test suite on a fresh machine: provisions what the tests need (a virtual environment with the
# package and its test extras, and the real servers from scripts/provision/*.sh), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh "test"
for p in scripts/provision/*.sh; do
  [ -e "$p" ] || continue
  echo "provision: $p"
  bash "$p" "$VENV"
done
export PATH="$VENV/bin:$PATH"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
