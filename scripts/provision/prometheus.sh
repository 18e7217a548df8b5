#!/usr/bin/env bash
# Prometheus, the metrics backend of the end-to-end tests in tests/backends: Debian's prometheus package,
# for its server binary (the tests start their own servers on 127.0.0.1 with a config they write).
# The package may start a system service; the tests do not use it, so it is stopped where it can be.
# $1 (the test venv) is accepted for symmetry with the other provision scripts; nothing goes into it.
# Idempotent, and quick when already done.
set -euo pipefail
: "${1:?usage: prometheus.sh VENV}"
if ! command -v prometheus >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends prometheus >/dev/null
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi
prometheus --version 2>&1 | head -1
