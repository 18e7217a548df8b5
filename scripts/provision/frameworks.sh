#!/usr/bin/env bash
# LLM frameworks the tests in tests/frameworks drive against the local stub server, at the exact versions
# tested (so a fresh machine resolves what was tested).
# - FRAMEWORKS_IN_TEST_VENV go into the test venv given as $1, beside its openai and anthropic clients.
# - FRAMEWORK_VENVS are frameworks whose pins cannot resolve with the test venv's clients (instructor
#   1.17.0 caps jiter below 0.15, openai >= 3.4 needs 0.16, so it would downgrade the openai every other test
#   runs against): each gets a venv of its own at .venvs/frameworks-<name> with the package, its test extras and
#   the pins listed; scripts/test.sh runs tests/frameworks/test_<name>.py there.
# To add a framework, add its pins to one of the two lists (`pip install --dry-run` with the pins tells which;
# a FRAMEWORK_VENVS name goes into OWN_VENVS in tests/frameworks/conftest.py too: test_provisioning checks).
# Idempotent, and quick when everything listed is installed at its version.
set -euo pipefail
VENV="${1:?usage: frameworks.sh VENV}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

FRAMEWORKS_IN_TEST_VENV=(
  "langchain-openai==1.8.1"
  "langchain-anthropic==1.7.10"
  "litellm==1.110.2"
  "openai-agents==0.24.0"
  "mcp==2.3.0"  # tests/frameworks/test_mcp.py (openai-agents requires mcp; pinned so the test meets the tested version)
  "pydantic-ai-slim[openai,anthropic]==2.68.0"
)
declare -A FRAMEWORK_VENVS=(
  [instructor]="instructor==1.17.0 openai==3.3.0"
  [mcp1]="mcp==1.30.0"  # the MCP SDK's 1.x line (tests/frameworks/test_mcp1.py); the test venv has mcp 2.x
)

# True when every "name==version" given is installed at that version in the venv whose python is $1.
pinned() {
  local py="$1"; shift
  "$py" - "$@" <<'EOF' >/dev/null 2>&1
import importlib.metadata as m, sys
for pin in sys.argv[1:]:
    name, _, version = pin.partition("==")
    if m.version(name.split("[")[0]) != version:  # "pkg[extra]==v": the distribution is "pkg"
        sys.exit(1)
EOF
}

if ! pinned "$VENV/bin/python" "${FRAMEWORKS_IN_TEST_VENV[@]}"; then
  echo "installing into $VENV: ${FRAMEWORKS_IN_TEST_VENV[*]}"
  "$VENV/bin/python" -m pip install -q "${FRAMEWORKS_IN_TEST_VENV[@]}"
  pinned "$VENV/bin/python" "${FRAMEWORKS_IN_TEST_VENV[@]}" || {
    echo "frameworks.sh: ${FRAMEWORKS_IN_TEST_VENV[*]} did not install into $VENV" >&2; exit 1; }
fi

for name in "${!FRAMEWORK_VENVS[@]}"; do
  own="$ROOT/.venvs/frameworks-$name"
  read -r -a pins <<<"${FRAMEWORK_VENVS[$name]}"
  # The package itself is checked too: an editable install from another checkout would test other code.
  if ! pinned "$own/bin/python" "${pins[@]}" || ! "$own/bin/python" -c \
      "import otel_agentkit, sys; sys.exit(not otel_agentkit.__file__.startswith('$ROOT/'))" >/dev/null 2>&1; then
    echo "building $own: ${pins[*]}"
    [ -x "$own/bin/python" ] || python3 -m venv "$own"
    "$own/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$own/bin/python" -m pip install -q -e "$ROOT[test]" "${pins[@]}"
    pinned "$own/bin/python" "${pins[@]}" || { echo "frameworks.sh: ${pins[*]} did not install into $own" >&2; exit 1; }
  fi
done
