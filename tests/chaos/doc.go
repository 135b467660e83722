// Package chaos drives the real authledger binary through faults — a
// frozen Redis, SIGTERM under keep-alive load — and checks that nothing
// acknowledged is lost. Each test starts what it breaks (its own
// redis-server, its own data dir) and never touches the shared services;
// each prints requests acknowledged, lost (must be 0) and errors by code.
package chaos
