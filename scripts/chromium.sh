#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the real-browser tests
# (tests/browser), so a fresh machine runs them instead of skipping.
# Idempotent: does nothing when chromium is on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
echo "chromium: installing Debian's chromium for tests/browser" >&2
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "chromium: installation failed" >&2; exit 1; }
