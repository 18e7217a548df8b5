#!/usr/bin/env bash
# The google-genai client for the auto-instrumentation tests (tests/auto/test_google_genai.py), pinned, in
# the venv given as $1. Its tests also need what auto.sh installs (pytest-httpserver, the instrumentation
# base). Idempotent and quick: does nothing when the pinned version is already there.
set -euo pipefail
VENV="${1:?usage: google-genai.sh VENV}"
PIN="3.6.1"
if [ "$("$VENV/bin/python" -c "from importlib import metadata
try:
    print(metadata.version('google-genai'))
except metadata.PackageNotFoundError:
    pass" 2>/dev/null)" != "$PIN" ]; then
  "$VENV/bin/python" -m pip install -q "google-genai==$PIN"
fi
