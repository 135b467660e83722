// Package sessionstore holds the live browser sessions, keyed by the
// SHA-256 of their token, in Redis (production) or in process (embedded
// profile). It is write-side state, not a read model: the ledger records a
// session's start, step-up and end, but idle touches live only here, so it
// cannot be rebuilt from the ledger. (The ledger's view of sessions, without
// idle timeouts, is the readmodels/sessions projection.)
//
// Both adapters implement commands.SessionStore and pass one contract
// (store_test.go):
//   - every method returns session.ErrNotFound for a missing session and
//     wraps session.ErrUnavailable when the backend cannot answer;
//   - ttl is how long the backend may keep the entry (the smaller of the
//     idle and the remaining absolute timeout); callers still apply
//     session.CheckExpiry with their own clock;
//   - Save replaces the record (touch, step-up), and when the token hash
//     changed the old hash stops resolving at once;
//   - Touch records a use and extends the ttl for the token hash it was
//     looked up by only: a touch racing a rotation never brings the old
//     token back;
//   - Delete of a missing session is not an error.
package sessionstore
