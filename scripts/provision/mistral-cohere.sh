#!/usr/bin/env bash
# The mistralai and cohere client libraries for the auto-instrumentation tests (tests/auto/test_mistral.py,
# tests/auto/test_cohere.py), pinned to the releases those tests were run against, in the venv given as $1.
# Idempotent and quick: does nothing when both are installed at the pinned versions.
set -euo pipefail
VENV="${1:?usage: mistral-cohere.sh VENV}"
MISTRALAI=3.7.0
COHERE=7.3.1
if ! "$VENV/bin/python" - "$MISTRALAI" "$COHERE" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = version("mistralai") == sys.argv[1] and version("cohere") == sys.argv[2]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
then
  "$VENV/bin/python" -m pip install -q "mistralai==$MISTRALAI" "cohere==$COHERE"
fi
