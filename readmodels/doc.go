// Package readmodels opens the read-model database (SQLite for the embedded
// profile, PostgreSQL in production) and migrates the projection engine's
// own tables. Each feature's read model lives in its own subpackage
// readmodels/<name>: its projection (see package projections) and the
// queries the API needs.
package readmodels
