#!/usr/bin/env bash
# Moves the secrets of a local provider (the embedded profile's encrypted
# file) into Infisical, every version in order so that the versions the
# ledger records stay valid, then reads each one back and compares.
#
#   scripts/secret_migration.sh [--dry-run] LOCAL_SECRETS_DIR
#
# The target is the configured provider: AUTHLEDGER_SECRETS=infisical://…,
# AUTHLEDGER_INFISICAL_CLIENT_ID and _CLIENT_SECRET (docs/infisical/). The
# local master key comes from AUTHLEDGER_MASTER_KEY or the directory's
# master.key. No value is ever printed. AUTHLEDGER_BIN names the binary
# (default bin/authledger, built when missing).
#
# Verified against the in-process Infisical fake only (tests/infisicalfake,
# TestSecretMigrationScript); no real Infisical could be reached where it
# was written.
set -euo pipefail
dry=""
if [[ "${1:-}" == "--dry-run" ]]; then dry="--dry-run"; shift; fi
dir=${1:?usage: $0 [--dry-run] LOCAL_SECRETS_DIR}
[[ -d "$dir" ]] || { echo "secret_migration: $dir is not a directory" >&2; exit 2; }
[[ "${AUTHLEDGER_SECRETS:-}" == infisical://* ]] || { echo "secret_migration: AUTHLEDGER_SECRETS must name the Infisical target (infisical://…)" >&2; exit 2; }
bin=${AUTHLEDGER_BIN:-bin/authledger}
if [[ ! -x "$bin" ]]; then go build -o "$bin" ./cmd/authledger; fi
src="local://$(cd "$dir" && pwd)"

echo "== plan (dry run)"
"$bin" secrets migrate --from "$src" --dry-run
if [[ -n "$dry" ]]; then exit 0; fi
echo "== copy and verify"
"$bin" secrets migrate --from "$src"
echo "== check: everything is in the target and reads back the same"
out=$("$bin" secrets migrate --from "$src" --dry-run)
echo "$out"
if grep -q "would copy\|FAILED" <<<"$out"; then
  echo "secret_migration: the target does not hold every version" >&2
  exit 1
fi
