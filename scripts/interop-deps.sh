#!/usr/bin/env bash
# Installs the npm packages of the interoperability tests (tests/interop)
# when their node_modules is missing: `npm ci` from the committed
# package-lock.json, so every machine runs the same client versions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for dir in "$root"/tests/interop/*/; do
  [ -f "$dir/package-lock.json" ] || continue
  if [ ! -d "$dir/node_modules" ]; then
    echo "interop: npm ci in ${dir#"$root"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
