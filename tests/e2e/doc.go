// Package e2e tests the real authledger binary end to end: built once,
// started as a process on a free port with a fresh data dir, driven over
// HTTP and through its CLI, stopped with SIGTERM. Helpers live in
// tests/e2e/harness for other end-to-end suites.
package e2e
