package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/secrets"
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
	// live, when set, reports whether the ledger sealed an unexpired
	// token with a key id (families.SealingKeys).
	live func(kid string) bool
}

// ErrSealingKeyMissing is matched by every *SealingKeyMissingError.
var ErrSealingKeyMissing = errors.New("commands: refresh sealing key missing from the secret provider")

// SealingKeyMissingError: a refresh token names a sealing key that the
// ledger used for unexpired tokens but this instance's secret provider does
// not hold. The token may well be valid, so this is a server fault (503),
// never invalid_grant, which would tell the client to throw it away. It
// also matches secrets.ErrUnavailable, so the API answers it as an outage of
// the secret provider.
type SealingKeyMissingError struct{ KeyID string }

func (e *SealingKeyMissingError) Error() string {
	return fmt.Sprintf("refresh sealing key %q, used by the ledger for unexpired tokens, is missing from the secret provider", e.KeyID)
}

// ServerFault marks the error for readers that cannot import this package
// (queries): the request failed through no fault of the client.
func (e *SealingKeyMissingError) ServerFault() bool { return true }

func (e *SealingKeyMissingError) Is(target error) bool {
	return target == ErrSealingKeyMissing || target == secrets.ErrUnavailable
}

// KnowLedgerKeys makes Open tell a token sealed with a key the ledger used
// but this instance lacks (*SealingKeyMissingError) from a forged or
// foreign one (refreshtoken.ErrMalformed): live reports whether the ledger
// sealed an unexpired token with a key id. Call it before use.
func (s *RefreshSealer) KnowLedgerKeys(live func(kid string) bool) { s.live = live }

// MissingKeys lists, of the key ids needed, those this instance cannot
// open tokens with (a readiness check), after reloading the provider's
// keys once if any is missing.
func (s *RefreshSealer) MissingKeys(ctx context.Context, needed []string) []string {
	missing := func() []string {
		c := s.codec.Load()
		var out []string
		for _, kid := range needed {
			if !c.Has(kid) {
				out = append(out, kid)
			}
		}
		return out
	}
	if m := missing(); len(m) == 0 || s.reload == nil {
		return m
	}
	s.reloadOnce(ctx, s.codec.Load())
	return missing()
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
	if err == nil {
		return cl, nil
	}
	kid, ok := refreshtoken.KeyIDOf(raw)
	if !ok || c.Has(kid) {
		return cl, err
	}
	if s.reload != nil {
		s.reloadOnce(ctx, c)
		c = s.codec.Load()
		cl, err = c.Open(raw)
	}
	if err != nil && !c.Has(kid) && s.live != nil && s.live(kid) {
		return cl, &SealingKeyMissingError{KeyID: kid}
	}
	return cl, err
}

// reloadOnce fetches the keys again unless another call already replaced
// seen, at most once per codecReloadEvery.
func (s *RefreshSealer) reloadOnce(ctx context.Context, seen *refreshtoken.Codec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.codec.Load() == seen && time.Since(s.reloaded) >= codecReloadEvery {
		s.reloaded = time.Now()
		if fresh, rerr := s.reload(ctx); rerr == nil {
			s.codec.Store(fresh)
		}
	}
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
