#!/usr/bin/env bash
# Prometheus, the metrics backend of the end-to-end tests in tests/backends: Debian's prometheus package,
# for its server binary (the tests start their own servers on 127.0.0.1 with a config they write).
# The package may start a system service; the tests do not use it, so it is stopped where it can be.
# $1 (the test venv) is accepted for symmetry with the other provision scripts; nothing goes into it.
# Idempotent, and quick when already done.
set -euo pipefail
: "${1:?usage: prometheus.sh VENV}"
command -v prometheus >/dev/null || { echo "prometheus.sh: prometheus missing (00-debian.sh installs it)" >&2; exit 1; }
prometheus --version 2>&1 | head -1
