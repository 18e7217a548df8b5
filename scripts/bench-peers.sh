#!/usr/bin/env bash
# Benchmarks against the peer SDKs: makes their virtual environment under .bench-venvs/ (git-ignored), installs
# bench/requirements-peers.txt and this package (editable) into it, then runs bench/peers/driver.py, which
# measures every peer beside ours and rewrites bench/results/peers-*.json and docs/benchmarks.md.
# Arguments go to the driver, e.g. --peers openlit --rounds 9, or --report-only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENVS="$ROOT/.bench-venvs"
VENV="$VENVS/peers"
mkdir -p "$VENVS"
[ -e "$VENVS/.gitignore" ] || printf '*\n' > "$VENVS/.gitignore"  # keep the venvs out of git without touching the root .gitignore
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
STAMP="$VENV/.installed"
WANT="$(sha256sum bench/requirements-peers.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  LOG="$VENVS/pip.log"
  {
    "$VENV/bin/python" -m pip install -q --upgrade pip &&
    "$VENV/bin/python" -m pip install -q -r bench/requirements-peers.txt &&
    "$VENV/bin/python" -m pip install -q -e "$ROOT" &&
    "$VENV/bin/python" -m pip check
  } >"$LOG" 2>&1 || { tail -40 "$LOG"; echo "bench-peers: installing the peers failed (log: $LOG)" >&2; exit 1; }
  echo "$WANT" > "$STAMP"
fi
# No proxy: nothing a runner does may reach the network (the driver also scrubs the runners' environment).
exec env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy \
  "$VENV/bin/python" bench/peers/driver.py "$@"
