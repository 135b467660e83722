#!/usr/bin/env bash
# Makes sure the local PostgreSQL and Redis answer, starting them if not.
# Tests use the real servers (never mocks); CI and developer machines run
# them locally. Idempotent: does nothing when both already answer.
set -euo pipefail

# The Infisical scripts' tests (tests/infisicalfake) run them with curl and jq.
for tool in curl jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "services: installing $tool" >&2
    (apt-get update -qq && apt-get install -y -qq "$tool") >/dev/null || { echo "services: could not install $tool" >&2; exit 1; }
  fi
done

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "services: starting PostgreSQL" >&2
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
fi
if ! redis_up; then
  echo "services: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 60); do redis_up && break; sleep 0.5; done
fi
pg_up || { echo "services: PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "services: Redis does not answer on 127.0.0.1:6379" >&2; exit 1; }
echo "services: PostgreSQL and Redis answer" >&2
