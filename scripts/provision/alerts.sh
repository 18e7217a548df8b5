#!/usr/bin/env bash
# Alerts tests: promtool (Debian prometheus) checks the exported Prometheus rules, openssl makes test TLS
# certificates, tmux is there for driving terminal programs by hand; aiosmtpd (a real SMTP server run on
# loopback by the tests), pexpect (drives the rule wizard in a real pty) and pytest-httpserver go into the
# venv given as $1. Idempotent and quick when already done.
set -euo pipefail
VENV="${1:?usage: alerts.sh VENV}"
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # The prometheus package may start a system service; the tests only need promtool.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi
if ! "$VENV/bin/python" -c "import aiosmtpd, pexpect, pytest_httpserver, yaml, hypothesis" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "aiosmtpd>=1.4" "pexpect>=4.8" "pytest-httpserver>=1.0" "pyyaml>=6" \
    "hypothesis>=6.100"
fi
