#!/usr/bin/env bash
# Arize Phoenix, the tracing backend of the end-to-end tests in tests/backends: a pinned arize-phoenix in a
# virtual environment of its own (it is large and pins many packages the SDK must not be tested against),
# at .venvs/phoenix in the repository, or $AGENTKIT_PHOENIX_VENV. The tests run its `phoenix serve`.
# $1 (the test venv) is accepted for symmetry with the other provision scripts; nothing goes into it.
# Idempotent, and quick when already done.
set -euo pipefail
: "${1:?usage: phoenix.sh VENV}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PHOENIX_VENV="${AGENTKIT_PHOENIX_VENV:-$ROOT/.venvs/phoenix}"
PHOENIX_VERSION="20.26.1"
installed() {
  [ -x "$PHOENIX_VENV/bin/phoenix" ] && "$PHOENIX_VENV/bin/python" -c \
    "import importlib.metadata as m, sys; sys.exit(m.version('arize-phoenix') != '$PHOENIX_VERSION')" >/dev/null 2>&1
}
if ! installed; then
  python3 -m venv "$PHOENIX_VENV"
  "$PHOENIX_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$PHOENIX_VENV/bin/python" -m pip install -q "arize-phoenix==$PHOENIX_VERSION"
  installed || { echo "phoenix.sh: arize-phoenix $PHOENIX_VERSION did not install into $PHOENIX_VENV" >&2; exit 1; }
fi
echo "arize-phoenix $PHOENIX_VERSION in $PHOENIX_VENV"
