package ratelimit

// Internals the external tests inspect.

var (
	AddrKey = addrKey
	IDKey   = idKey
)

// FailClientAddrKeys is how many keys the in-process table of the
// (client id, address) failure budget holds.
func FailClientAddrKeys(r *Limiter) int { return r.store.(*memBackend).size(r.failClientAddr) }
