// Package chaos drives the real authledger binary through faults and
// checks that nothing acknowledged is lost. Each test starts what it
// breaks (its own redis-server, its own initdb'd PostgreSQL on a free
// port, its own data dir) and never touches the shared services; each
// prints requests served, errors by code, events lost (must be 0) and,
// where there is one, the recovery time.
//
// Scenarios: a frozen Redis; SIGTERM under keep-alive load; a read-only
// ledger; a restart under client load; the read-model PostgreSQL stopped
// mid-feed; PostgreSQL restarted under load (pg_restart_test.go); SIGKILL
// mid-appends on SQLite and PostgreSQL (sigkill_test.go); the secret
// provider failing (secret_provider_test.go); a scheduled key rotation
// failing (key_rotation_failing_test.go); two instances with one killed
// mid-load (instance_killed_test.go).
//
// `make test` runs the short mode; `make chaos` sets AUTHLEDGER_CHAOS=long
// (phase(d) is then 10×d) and writes chaos.log.
package chaos
