#!/usr/bin/env bash
# Runs every Fuzz target in the module briefly: $1 executions each (default
# 10000x; a count avoids Go 1.26's -fuzztime deadline race, golang/go#75804).
# Go runs one fuzz target per invocation, so targets are discovered here.
set -euo pipefail
t=${1:-10000x}
n=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg=./$(dirname "${file#./}")
  echo "fuzz: $pkg $name ($t)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg"
  n=$((n+1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | grep -v '/vendor/' | sort)
echo "fuzz: $n targets"
