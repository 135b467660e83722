#!/usr/bin/env bash
# Runs every Fuzz target in the module for a short time each ($1, default 5s).
# Go runs one fuzz target per invocation, so targets are discovered here.
set -euo pipefail
t=${1:-5s}
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
