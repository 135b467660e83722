package commands

import (
	"sync"

	"github.com/authledger/authledger/domain/passkey"
)

// PasskeyCache holds subjects' credentials as this instance last
// committed them, so a sign-in does not re-read a stream that grows with
// every sign-in. The repository trusts an entry only for a decision whose
// append wins (the expected version proves it was the ledger's state), so
// a stale entry costs a reload, never a wrong decision.
type PasskeyCache struct {
	mu sync.Mutex
	m  map[string]*passkey.Credentials
}

const passkeyCacheSize = 1 << 15

// Get implements Cache: a clone the caller may decide on.
func (c *PasskeyCache) Get(subject string) (*passkey.Credentials, bool) {
	c.mu.Lock()
	cs := c.m[subject]
	c.mu.Unlock()
	if cs == nil {
		return nil, false
	}
	return cs.Clone(), true
}

// Put implements Cache with the committed state; it never moves back.
func (c *PasskeyCache) Put(cs *passkey.Credentials) {
	cs = cs.Committed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*passkey.Credentials{}
	}
	if old, ok := c.m[cs.Subject()]; ok && old.Version() > cs.Version() {
		return
	}
	if len(c.m) >= passkeyCacheSize {
		n := passkeyCacheSize / 8
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[cs.Subject()] = cs
}

// Drop implements Cache.
func (c *PasskeyCache) Drop(subject string) {
	c.mu.Lock()
	delete(c.m, subject)
	c.mu.Unlock()
}
