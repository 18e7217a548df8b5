#!/usr/bin/env bash
# rotel, a real OTLP collector (a Rust binary shipped in the PyPI package `rotel`), for the export pipeline
# tests: installs it into the virtual environment $1 and puts rotel-agent beside that venv's python.
# Idempotent, and quick when already done.
set -euo pipefail
VENV="${1:?usage: rotel.sh VENV}"
PY="$VENV/bin/python"
ROTEL_VERSION="0.0.1a15"
if [ -x "$VENV/bin/rotel-agent" ] && "$VENV/bin/rotel-agent" --version >/dev/null 2>&1; then
  exit 0
fi
"$PY" -m pip install -q "rotel==$ROTEL_VERSION"
BIN="$("$PY" -c 'import pathlib, rotel; print(pathlib.Path(rotel.__file__).resolve().parent / "rotel-agent")')"
[ -x "$BIN" ] || chmod +x "$BIN"
ln -sf "$BIN" "$VENV/bin/rotel-agent"
"$VENV/bin/rotel-agent" --version
