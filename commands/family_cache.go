package commands

import (
	"sync"

	"github.com/authledger/authledger/domain/refreshtoken"
)

// FamilyCache holds refresh families as this instance last committed them,
// so a refresh reads nothing from the ledger. It is the families
// repository's Cache; entries are immutable and readers get clones.
type FamilyCache struct {
	mu sync.Mutex
	m  map[refreshtoken.FamilyID]*refreshtoken.Family
}

// familyCacheSize bounds the cache; a miss only costs a stream read.
const familyCacheSize = 1 << 16

// Get implements Cache: a clone the caller may decide on.
func (c *FamilyCache) Get(id refreshtoken.FamilyID) (*refreshtoken.Family, bool) {
	c.mu.Lock()
	f := c.m[id]
	c.mu.Unlock()
	if f == nil {
		return nil, false
	}
	return f.Clone(), true
}

// peek returns the cached family itself, for reading only.
func (c *FamilyCache) peek(id refreshtoken.FamilyID) *refreshtoken.Family {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

// Put implements Cache with f's committed state; a family that does not
// exist is not cached, and a cached family never moves backwards.
func (c *FamilyCache) Put(f *refreshtoken.Family) {
	if !f.Exists() {
		return
	}
	f = f.Committed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[refreshtoken.FamilyID]*refreshtoken.Family{}
	}
	if old, ok := c.m[f.ID()]; ok && old.Version() > f.Version() {
		return
	}
	if len(c.m) >= familyCacheSize {
		// Evict an arbitrary eighth: cheap, and any entry is re-read on demand.
		n := familyCacheSize / 8
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[f.ID()] = f
}

// Drop implements Cache.
func (c *FamilyCache) Drop(id refreshtoken.FamilyID) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
