// Package session is the browser-session aggregate (DESIGN.md §4): the
// ledger events of a session's life (started, elevated, ended), the pure
// expiry rule (idle and absolute, time passed in) and the access-token
// revocation event that shares the revocation fan-out. The session token
// itself never appears here or in the ledger; the session store keeps only
// its SHA-256.
package session
