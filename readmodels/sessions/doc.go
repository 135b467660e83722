// Package sessions holds the session store: live browser sessions keyed by
// the SHA-256 of their token, in Redis (production) or in process (embedded
// profile), behind one contract both adapters pass. The ledger records a
// session's start, step-up and end; idle touches live only here.
package sessions
