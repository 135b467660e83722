#!/usr/bin/env bash
# make bench: runs the Go benchmarks and the mixed-load driver
# (tests/perf/load, closed and open loop, on SQLite and on PostgreSQL) and
# writes docs/benchmarks.md with the machine, the commands and the output.
#   BENCH_PKGS   packages to benchmark (default ./...)
#   BENCHTIME    go test -benchtime (default 2s)
#   LOAD_D       duration of each driver run (default 20s)
#   LOAD_RATE    open-loop rate in operations per second (default 300)
#   OUT          the report (default docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCH_PKGS=${BENCH_PKGS:-./...}
BENCHTIME=${BENCHTIME:-2s}
LOAD_D=${LOAD_D:-20s}
LOAD_RATE=${LOAD_RATE:-300}
OUT=${OUT:-docs/benchmarks.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$GO build -o bin/authledger ./cmd/authledger
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%FT%TZ)

echo "bench: go test -bench ($BENCH_PKGS)" >&2
# shellcheck disable=SC2086
$GO test -run '^$' -bench . -benchtime "$BENCHTIME" $BENCH_PKGS 2>&1 | tee "$tmp/bench.txt" >&2

drive() { # name, args...
  local name=$1; shift
  echo "bench: load driver, $name" >&2
  $GO run ./tests/perf/load -bin bin/authledger -d "$LOAD_D" "$@" 2>&1 | tee "$tmp/$name.txt" >&2
}
drive sqlite-closed -c 16
drive sqlite-open -rate "$LOAD_RATE" -c 64
pgdbs=""
pgrun() { # name, args...: each run gets a fresh database (its own ledger
  # and keys: the driver's server keeps its secrets in a temp data dir)
  local name=$1; shift
  local db="authledger_bench_${$}_${name//-/_}"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
  pgdbs="$pgdbs $db"
  drive "$name" "$@" -store "postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
}
cleanup() {
  for db in $pgdbs; do psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
havepg=""
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  havepg=1
  pgrun postgres-closed -c 16
  pgrun postgres-open -rate "$LOAD_RATE" -c 64
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench.sh); do not edit by hand. One run"
  echo "on a shared machine: compare runs on the same machine, not across."
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| started | $started |"
  echo "| machine | $(uname -srm), $(nproc) CPUs |"
  echo "| Go | $($GO env GOVERSION) |"
  echo "| load average (1, 5, 15 min) | before $load_before, after $load_after |"
  echo "| Go benchmarks | \`go test -run '^\$' -bench . -benchtime $BENCHTIME $BENCH_PKGS\` |"
  echo "| mixed load | \`go run ./tests/perf/load -bin bin/authledger -d $LOAD_D …\` (flags per run below) |"
  echo
  echo "The bars these figures answer to are DESIGN.md §6 and the README's"
  echo "\"Performance\" table. The mixed-load driver's operations: JWKS fetch,"
  echo "client_credentials grant, refresh grant, introspection, session start"
  echo "(\`POST /v1/sessions\`) and in-process verification (\`client/verifier\`"
  echo "against the served JWKS, in the driver). Open loop measures each latency"
  echo "from the request's scheduled start (no coordinated omission). The"
  echo "driver and the server share the machine's CPUs."
  for run in sqlite-closed sqlite-open postgres-closed postgres-open; do
    [ -f "$tmp/$run.txt" ] || continue
    echo
    echo "## Mixed load: $run"
    echo
    echo '```'
    cat "$tmp/$run.txt"
    echo '```'
  done
  if [ -z "$havepg" ]; then
    echo
    echo "PostgreSQL on 127.0.0.1:5432 did not answer: no PostgreSQL runs."
  fi
  echo
  echo "## Go benchmarks"
  echo
  echo '```'
  grep -E '^(goos|goarch|cpu|pkg|Benchmark|ok|FAIL|PASS)' "$tmp/bench.txt" || true
  echo '```'
} > "$OUT"
echo "bench: wrote $OUT" >&2
