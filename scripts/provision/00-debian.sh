#!/usr/bin/env bash
# Debian packages the tests run for real, installed in one apt transaction (one index update) when any
# is missing: redis-server (agent state), prometheus (scraping, promtool), chromium (the HTML report),
# tmux and openssl (the alert wizard's terminal, test TLS certificates). Idempotent: quick when done.
set -euo pipefail
declare -A need=([redis-server]=redis-server [prometheus]=prometheus [promtool]=prometheus
                 [chromium]="chromium fonts-dejavu-core" [tmux]=tmux [openssl]=openssl)
missing=()
for binary in "${!need[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=(${need[$binary]})
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
  # The packages may start system services; the tests start their own on free ports.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now redis-server prometheus >/dev/null 2>&1 || true
  fi
fi
