#!/usr/bin/env bash
# boto3 (and the botocore it pins) for the AWS Bedrock auto-instrumentation tests (tests/auto/test_bedrock.py),
# pinned to the release those tests were run against, in the venv given as $1.
# Idempotent and quick: does nothing when boto3 is installed at the pinned version.
set -euo pipefail
VENV="${1:?usage: bedrock.sh VENV}"
BOTO3=1.44.8
if ! "$VENV/bin/python" - "$BOTO3" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = version("boto3") == sys.argv[1]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
then
  "$VENV/bin/python" -m pip install -q "boto3==$BOTO3"
fi
