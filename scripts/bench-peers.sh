#!/usr/bin/env bash
# Benchmarks against the peer SDKs, each peer set in its own virtual environment under .bench-venvs/ (git-ignored).
#
#   bash scripts/bench-peers.sh [ARGS]        decorators: venv .bench-venvs/peers from bench/requirements-peers.txt
#                                             plus this package (editable), then bench/peers/driver.py, which
#                                             rewrites bench/results/peers-*.json and docs/benchmarks.md
#   bash scripts/bench-peers.sh auto [ARGS]   the openai auto-instrumentors: the venv above (openlit) and
#                                             .bench-venvs/auto-peers from bench/requirements-auto-peers.txt (the
#                                             rest); ours runs in the project's own venv (.venv, or the python
#                                             given by AGENTKIT_BENCH_OURS_PYTHON), so no peer's pins touch it.
#                                             bench/auto_peers.py rewrites bench/results/auto-peers-*.json and its
#                                             section of docs/benchmarks.md.
# ARGS go to the driver, e.g. --peers openlit --rounds 9, or --report-only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENVS="$ROOT/.bench-venvs"
mkdir -p "$VENVS"
[ -e "$VENVS/.gitignore" ] || printf '*\n' > "$VENVS/.gitignore"  # keep the venvs out of git without touching the root .gitignore

# make_venv NAME REQUIREMENTS [editable]: (re)install only when the requirements (or pyproject.toml) changed.
make_venv() {
  local venv="$VENVS/$1" reqs="$2" editable="${3:-}"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local stamp="$venv/.installed" want log="$VENVS/pip-$1.log"
  want="$(sha256sum "$reqs" pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    {
      "$venv/bin/python" -m pip install -q --upgrade pip &&
      "$venv/bin/python" -m pip install -q -r "$reqs" &&
      { [ -z "$editable" ] || "$venv/bin/python" -m pip install -q -e "$ROOT"; } &&
      "$venv/bin/python" -m pip check
    } >"$log" 2>&1 || { tail -40 "$log"; echo "bench-peers: installing $1 failed (log: $log)" >&2; exit 1; }
    echo "$want" > "$stamp"
  fi
}

# No proxy: nothing a runner does may reach the network (the drivers also scrub the runners' environment).
NOPROXY=(env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy)

if [ "${1:-}" = "auto" ]; then
  shift
  if [[ " $* " != *" --report-only "* ]]; then
    make_venv peers bench/requirements-peers.txt editable
    make_venv auto-peers bench/requirements-auto-peers.txt
  fi
  OURS="${AGENTKIT_BENCH_OURS_PYTHON:-$ROOT/.venv/bin/python}"
  [ -x "$OURS" ] || { echo "bench-peers: no project venv at $OURS (make it with scripts/venv.sh)" >&2; exit 1; }
  exec "${NOPROXY[@]}" "$OURS" bench/auto_peers.py --ours-python "$OURS" \
    --venv "openlit=$VENVS/peers/bin/python" --venv "default=$VENVS/auto-peers/bin/python" "$@"
fi

make_venv peers bench/requirements-peers.txt editable
exec "${NOPROXY[@]}" "$VENVS/peers/bin/python" bench/peers/driver.py "$@"
