package jwks

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

var _ projections.Resumable = (*Model)(nil)

// LoadForRunner builds the model from its own stream (the keyring, a few
// events whatever the ledger's length) and remembers the head taken first,
// so the runner feeds it from there instead of scanning the whole ledger:
// the keyring stream read afterwards holds every keyring event up to that
// head, and Apply drops what it already folded.
func (m *Model) LoadForRunner(ctx context.Context, store eventstore.Store) error {
	head, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("jwks: head: %w", err)
	}
	if err := m.Reload(ctx, store); err != nil {
		return err
	}
	m.resume.Store(head.Position)
	return nil
}

// ResumeAt is where the runner feeds the model from (0 before
// LoadForRunner: from the start).
func (m *Model) ResumeAt() uint64 { return m.resume.Load() }

// resumePosition is embedded in Model.
type resumePosition struct{ resume atomic.Uint64 }
