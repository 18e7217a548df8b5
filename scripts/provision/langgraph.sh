#!/usr/bin/env bash
# LangGraph for the LangChain / LangGraph step tests (tests/frameworks/test_langchain_steps.py), pinned to the
# releases those tests were run against, in the venv given as $1. langgraph-prebuilt (ToolNode) and
# langgraph-checkpoint are pinned too: langgraph takes them at any version in a range, and a fresh machine
# must resolve what was tested. They leave the venv's langchain-core as it is (frameworks.sh pins it through
# langchain-openai). Idempotent and quick: does nothing when all three are installed at the pinned versions.
set -euo pipefail
VENV="${1:?usage: langgraph.sh VENV}"
PINS=("langgraph==1.2.24" "langgraph-prebuilt==1.1.3" "langgraph-checkpoint==4.3.2")
if ! "$VENV/bin/python" - "${PINS[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = all(version(name) == wanted for name, _, wanted in (pin.partition("==") for pin in sys.argv[1:]))
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
then
  "$VENV/bin/python" -m pip install -q "${PINS[@]}"
fi
