#!/usr/bin/env bash
# Alerts tests: promtool (Debian prometheus) checks the exported Prometheus rules, openssl makes test TLS
# certificates, tmux is there for driving terminal programs by hand; aiosmtpd (a real SMTP server run on
# loopback by the tests), pexpect (drives the rule wizard in a real pty) and pytest-httpserver go into the
# venv given as $1. Idempotent and quick when already done.
set -euo pipefail
VENV="${1:?usage: alerts.sh VENV}"
for binary in promtool openssl tmux; do
  command -v "$binary" >/dev/null || { echo "alerts.sh: $binary missing (00-debian.sh installs it)" >&2; exit 1; }
done
if ! "$VENV/bin/python" -c "import aiosmtpd, pexpect, pytest_httpserver, yaml, hypothesis" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "aiosmtpd>=1.4" "pexpect>=4.8" "pytest-httpserver>=1.0" "pyyaml>=6" \
    "hypothesis>=6.100"
fi
