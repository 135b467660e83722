package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/secretref"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

// SecretVersions runs the operator's changes to secrets other than signing
// keys: a rollback to an earlier version, a sealing-key rotation. Each is
// written to the provider first and then recorded on the "secrets" stream
// (name and versions only).
type SecretVersions struct {
	store   eventstore.Store
	secrets secrets.Provider
	now     func() time.Time
	rand    func([]byte) error
}

// NewSecretVersions builds the handler; now and fill may be nil (the clock,
// crypto/rand).
func NewSecretVersions(store eventstore.Store, sp secrets.Provider, now func() time.Time, fill func([]byte) error) (*SecretVersions, error) {
	if store == nil || sp == nil {
		return nil, errors.New("commands: secret versions need a store and a secret provider")
	}
	if now == nil {
		now = time.Now
	}
	if fill == nil {
		fill = randomFill
	}
	return &SecretVersions{store: store, secrets: sp, now: now, rand: fill}, nil
}

// Rollback makes the value of name at version the newest version, through
// the provider's own versions (nothing is deleted), and records it.
func (h *SecretVersions) Rollback(ctx context.Context, name, version string, meta Metadata) (secretref.VersionRestored, error) {
	cur, err := h.secrets.Get(ctx, name)
	if err != nil {
		return secretref.VersionRestored{}, fmt.Errorf("rollback %s: %w", name, err)
	}
	if err := secretref.DecideRestore(name, version, cur.Version); err != nil {
		return secretref.VersionRestored{}, err
	}
	old, err := h.secrets.GetVersion(ctx, name, version)
	if err != nil {
		return secretref.VersionRestored{}, fmt.Errorf("rollback %s to version %s: %w", name, version, err)
	}
	nv, err := h.secrets.Put(ctx, name, old.Value.Bytes())
	if err != nil {
		return secretref.VersionRestored{}, fmt.Errorf("rollback %s: write: %w", name, err)
	}
	ev := secretref.VersionRestored{Name: name, RestoredVersion: version, PreviousVersion: cur.Version, NewVersion: nv, At: h.now().UTC()}
	if err := h.record(ctx, meta, ev); err != nil {
		return ev, err
	}
	return ev, nil
}

// RotateSealingKey adds a new refresh-token sealing key. Tokens sealed
// under the earlier versions still open (LoadRefreshCodec loads them).
func (h *SecretVersions) RotateSealingKey(ctx context.Context, meta Metadata) (secretref.VersionAdded, error) {
	k := make([]byte, refreshtoken.KeyBytes)
	if err := h.rand(k); err != nil {
		return secretref.VersionAdded{}, err
	}
	v, err := h.secrets.Put(ctx, RefreshSealingSecret, k)
	clear(k)
	if err != nil {
		return secretref.VersionAdded{}, fmt.Errorf("rotate %s: %w", RefreshSealingSecret, err)
	}
	ev := secretref.VersionAdded{Ref: secretref.Ref{Name: RefreshSealingSecret, Version: v}, Reason: "rotation", At: h.now().UTC()}
	return ev, h.record(ctx, meta, ev)
}

// record appends ev on the secrets stream. The provider already holds the
// change: a failed append is reported so the operator records it again.
func (h *SecretVersions) record(ctx context.Context, meta Metadata, ev secretref.Event) error {
	_, err := AppendAll(ctx, h.store, meta, Changed{stream: secretref.Stream, expected: eventstore.Any(), events: []typedEvent{ev}})
	if err != nil {
		return fmt.Errorf("the provider holds the change but the ledger did not record it: %w", err)
	}
	return nil
}

func randomFill(b []byte) error {
	_, err := rand.Read(b)
	return err
}
