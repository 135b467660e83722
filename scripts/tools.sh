#!/usr/bin/env bash
# Installs the command-line tools the tests run when they are missing, so a
# test never skips on a fresh machine: promtool (Debian's prometheus
# package) for tests/ops. Idempotent: does nothing when they are present.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  echo "tools: installing promtool (Debian package prometheus)" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # The package's service must not start here: policy-rc.d 101 forbids it
  # for the duration of the install.
  restore=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    restore=1
  fi
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  [ -n "$restore" ] && $sudo rm -f /usr/sbin/policy-rc.d
fi
command -v promtool >/dev/null 2>&1 || { echo "tools: promtool is still missing" >&2; exit 1; }
echo "tools: $(promtool --version 2>&1 | head -1)" >&2
