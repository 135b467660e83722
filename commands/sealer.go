package commands

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
)

// RefreshSealer seals and opens refresh tokens with the sealing keys of the
// secret provider, reloading them once when a token names a key this
// instance has not loaded yet (another instance rotated it, or generated
// the first key at the same moment).
type RefreshSealer struct {
	codec    atomic.Pointer[refreshtoken.Codec]
	reload   func(ctx context.Context) (*refreshtoken.Codec, error)
	mu       sync.Mutex
	reloaded time.Time
}

// NewRefreshSealer starts with codec; reload (nil: never) fetches the keys
// again, at most once per codecReloadEvery.
func NewRefreshSealer(codec *refreshtoken.Codec, reload func(ctx context.Context) (*refreshtoken.Codec, error)) *RefreshSealer {
	s := &RefreshSealer{reload: reload}
	s.codec.Store(codec)
	return s
}

// codecReloadEvery bounds reloads, so a flood of tokens naming unknown
// key ids cannot hammer the secret provider.
const codecReloadEvery = 10 * time.Second

// ActiveKeyID is the key new tokens are sealed with.
func (s *RefreshSealer) ActiveKeyID() string { return s.codec.Load().ActiveKeyID() }

// Seal seals c.
func (s *RefreshSealer) Seal(c refreshtoken.Claims) (string, error) { return s.codec.Load().Seal(c) }

// Open opens raw.
func (s *RefreshSealer) Open(ctx context.Context, raw string) (refreshtoken.Claims, error) {
	c := s.codec.Load()
	cl, err := c.Open(raw)
	if err == nil || s.reload == nil {
		return cl, err
	}
	kid, ok := refreshtoken.KeyIDOf(raw)
	if !ok || c.Has(kid) {
		return cl, err
	}
	s.mu.Lock()
	if s.codec.Load() == c && time.Since(s.reloaded) >= codecReloadEvery {
		s.reloaded = time.Now()
		if fresh, rerr := s.reload(ctx); rerr == nil {
			s.codec.Store(fresh)
		}
	}
	s.mu.Unlock()
	return s.codec.Load().Open(raw)
}

// Reload fetches the sealing keys again now, so that after a sealing-key
// rotation (`authledger secrets rotate-sealing-key`, on any instance) new
// tokens are sealed with the newest key; tokens sealed before still open.
// On an error the keys in use stay.
func (s *RefreshSealer) Reload(ctx context.Context) error {
	if s.reload == nil {
		return nil
	}
	fresh, err := s.reload(ctx)
	if err != nil {
		return err
	}
	s.codec.Store(fresh)
	return nil
}
