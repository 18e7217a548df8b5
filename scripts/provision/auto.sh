#!/usr/bin/env bash
# Auto-instrumentation tests (tests/auto): the OpenTelemetry instrumentation base (BaseInstrumentor and the
# opentelemetry-instrument command), the distro that configures the SDK under opentelemetry-instrument, and
# the real openai and anthropic clients with pytest-httpserver, in the venv given as $1.
# Idempotent and quick: does nothing when all of them are installed.
set -euo pipefail
VENV="${1:?usage: auto.sh VENV}"
if ! "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in (
    'opentelemetry.instrumentation', 'opentelemetry.distro', 'openai', 'anthropic', 'pytest_httpserver')))" \
    >/dev/null 2>&1 || [ ! -x "$VENV/bin/opentelemetry-instrument" ]; then
  "$VENV/bin/python" -m pip install -q "opentelemetry-instrumentation>=0.50b0" "opentelemetry-distro>=0.50b0" \
    "openai>=1.40,<4" "anthropic>=1.0,<3" "pytest-httpserver>=1.0"
fi
