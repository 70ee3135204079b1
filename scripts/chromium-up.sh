#!/usr/bin/env bash
# Install Debian's chromium for the page's browser tests
# (cmd/signindiag/page_e2e_test.go, webui/webui_test.go), unless a
# Chromium or Chrome is already on PATH. Idempotent; `make test` runs it.
set -euo pipefail
log() { printf '[chromium-up] %s\n' "$*" >&2; }
for b in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$b" >/dev/null 2>&1; then
    log "found $(command -v "$b")"
    exit 0
  fi
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
aptlog="$(mktemp -t apt-chromium.XXXXXX.log)"
log "installing Debian package chromium (log: $aptlog)"
if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >"$aptlog" 2>&1; then
  tail -n 30 "$aptlog" >&2
  log "ERROR: apt-get install chromium failed"
  exit 1
fi
command -v chromium >/dev/null || { log "ERROR: chromium still missing after apt-get install"; exit 1; }
log "installed $(chromium --version 2>/dev/null || echo chromium)"
