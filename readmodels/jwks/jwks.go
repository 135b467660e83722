// Package jwks is the JWKS read model: the key ring folded from the ledger
// into pre-serialized JWK Set bytes and an ETag, held in memory on every
// instance. It is also the in-process verifier.KeySource (no HTTP when
// authledger verifies its own tokens) and the signer's view of the active
// key, so neither signing nor verification reads the ledger.
package jwks

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// Name is the projection name; a new suffix rebuilds it.
const Name = "jwks.v1"

// Model is the JWKS read model. Apply runs on one goroutine (the feed);
// readers on any goroutine see immutable snapshots.
type Model struct {
	mu   sync.Mutex // serializes Apply and Reload
	ring *keyring.Ring
	snap atomic.Pointer[snapshot]

	served, unready atomic.Int64
	changed         chan struct{} // closed and replaced on every change
	changedMu       sync.Mutex
	resumePosition  // resume.go
}

type snapshot struct {
	version uint64
	body    []byte
	etag    string
	keys    map[string]ed25519.PublicKey
	revoked map[string]bool
	active  keyring.Key
	hasAct  bool
}

var (
	_ verifier.KeySource = (*Model)(nil)
)

// New returns an empty model (not ready until the first keyring event).
func New() *Model {
	return &Model{ring: keyring.Load(nil), changed: make(chan struct{})}
}

// Name implements projections.Projection.
func (m *Model) Name() string { return Name }

// Handles implements projections.Projection.
func (m *Model) Handles() []string { return keyring.Types }

// Apply implements projections.MemoryProjection. Records at or below the
// folded version are skipped, so a Reload racing the feed is harmless.
func (m *Model) Apply(_ context.Context, r eventstore.Record) error {
	if r.Stream != keyring.Stream {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Version <= m.ring.Version() {
		return nil
	}
	e, err := keyring.Decode(r.Type, r.Data)
	if err != nil {
		return fmt.Errorf("jwks: position %d: %w", r.Position, err)
	}
	m.ring.Fold(e)
	return m.publishLocked()
}

// Reload rebuilds from the keyring stream directly: on start, and when a
// Redis invalidation says another instance changed the ring before this
// instance's feed delivered it.
func (m *Model) Reload(ctx context.Context, store eventstore.Store) error {
	recs, err := store.ReadStream(ctx, keyring.Stream)
	if err != nil {
		return fmt.Errorf("jwks: reload: %w", err)
	}
	es := make([]keyring.Event, 0, len(recs))
	for _, rec := range recs {
		e, err := keyring.Decode(rec.Type, rec.Data)
		if err != nil {
			return fmt.Errorf("jwks: reload at version %d: %w", rec.Version, err)
		}
		es = append(es, e)
	}
	r := keyring.Load(es)
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Version() <= m.ring.Version() {
		return nil
	}
	m.ring = r
	return m.publishLocked()
}

// Follow feeds the model from the ledger until ctx ends, for processes
// without the projection runner. It takes the head first, then reloads the
// keyring stream (which holds at least everything up to that head), then
// follows from the head: no keyring event is missed and the rest of a long
// ledger is never scanned. Apply drops what Reload already folded.
func (m *Model) Follow(ctx context.Context, store eventstore.Store) error {
	head, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	if err := m.Reload(ctx, store); err != nil {
		return err
	}
	return projections.Follow(ctx, store, m, head.Position)
}

type jwkSet struct {
	Keys []keyring.PublicJWK `json:"keys"`
}

func (m *Model) publishLocked() error {
	s := &snapshot{version: m.ring.Version(), keys: map[string]ed25519.PublicKey{}, revoked: map[string]bool{}}
	set := jwkSet{Keys: []keyring.PublicJWK{}}
	for _, k := range m.ring.Published() {
		x, err := base64.RawURLEncoding.DecodeString(k.JWK.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue // fail closed: an undecodable key is not published
		}
		set.Keys = append(set.Keys, k.JWK)
		s.keys[k.KID] = ed25519.PublicKey(x)
	}
	for _, k := range m.ring.Keys() {
		if k.State == keyring.StateRevoked {
			s.revoked[k.KID] = true
		}
	}
	s.active, s.hasAct = m.ring.Active()
	body, err := json.Marshal(set)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	s.body, s.etag = body, `"`+base64.RawURLEncoding.EncodeToString(sum[:18])+`"`
	m.snap.Store(s)
	m.changedMu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.changedMu.Unlock()
	return nil
}

// JWKS returns the serialized set and its strong ETag; ok is false until
// the first keyring event was folded.
func (m *Model) JWKS() (body []byte, etag string, ok bool) {
	s := m.snap.Load()
	if s == nil {
		m.unready.Add(1)
		return nil, "", false
	}
	m.served.Add(1)
	return s.body, s.etag, true
}

// Stats counts JWKS reads served from the in-memory bytes and reads that
// found the model not ready yet (the cache-hit rate of the endpoint).
func (m *Model) Stats() (served, unready int64) { return m.served.Load(), m.unready.Load() }

// Version is the keyring stream version folded so far.
func (m *Model) Version() uint64 {
	if s := m.snap.Load(); s != nil {
		return s.version
	}
	return 0
}

// Changed returns a channel closed at the next change (tests, waiters).
func (m *Model) Changed() <-chan struct{} {
	m.changedMu.Lock()
	defer m.changedMu.Unlock()
	return m.changed
}

// Key implements verifier.KeySource from memory.
func (m *Model) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	s := m.snap.Load()
	if s == nil {
		return nil, verifier.ErrUnknownKey
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if s.revoked[kid] {
		return nil, verifier.ErrKeyRevoked
	}
	return nil, verifier.ErrUnknownKey
}

// ActiveKey implements commands.ActiveKeys.
func (m *Model) ActiveKey() (keyring.Key, bool) {
	s := m.snap.Load()
	if s == nil {
		return keyring.Key{}, false
	}
	return s.active, s.hasAct
}

// Keys returns the ring's keys (for `keys list` and diagnostics).
func (m *Model) Keys() []keyring.Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ring.Keys()
}
