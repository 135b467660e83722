package ratelimit

import "context"

// Internals the external tests inspect.

var (
	AddrKey = addrKey
	IDKey   = idKey
)

// FailClientAddrKeys is how many keys the in-process table of the
// (client id, address) failure budget holds.
func FailClientAddrKeys(r *Limiter) int { return r.store.(*memBackend).size(r.failClientAddr) }

// Sync runs a local-first limiter's reconciliation with Redis now.
func Sync(ctx context.Context, r *Limiter) error { return r.requests.(*localFirst).sync(ctx) }
