// Package opsmetrics holds the operational Prometheus series that are not
// owned by one package: the ledger's append latency, group-commit batch
// size and head, the domain facts the ledger records (refreshes, reuse
// detections, key lifecycle, tokens issued, sessions), rate-limit
// refusals, secret-provider errors and build info.
//
// They are decorators of ports (eventstore.Store, secrets.Provider, the
// rate limiter), so no command or adapter learns about Prometheus, and
// every count is of what this instance did: summing a series over
// instances gives the fleet's total. Label values come from bounded sets
// (event types, token classes, key events, budgets), never from a client
// id, subject or jti. docs/operations.md lists every series.
package opsmetrics
