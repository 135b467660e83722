package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/checkpoint"
	"github.com/authledger/authledger/eventstore"
)

// CheckpointSigner signs a ledger head as a compact JWS (JWTSigner).
type CheckpointSigner interface {
	SignCheckpoint(ctx context.Context, head eventstore.Head) (string, error)
}

// SignCheckpoint asks for a checkpoint of the current head. Periodic
// checkpoints (Force false) are signed only when one is due and the ledger
// grew; Force signs and records one now (`authledger audit checkpoint`).
type SignCheckpoint struct {
	Force bool
}

// SignedCheckpoint is the outcome. Recorded is false when nothing was due,
// or another instance recorded this period's checkpoint first.
type SignedCheckpoint struct {
	JWS      string
	Position uint64
	Hash     string
	Recorded bool
}

// SignCheckpointHandler signs the head and records it in the checkpoints
// stream with its expected version, so with several instances exactly one
// records each period's checkpoint.
type SignCheckpointHandler struct {
	store  eventstore.Store
	signer CheckpointSigner
	every  time.Duration
	now    func() time.Time
}

// NewSignCheckpointHandler builds the handler; every is the period
// (AUTHLEDGER_CHECKPOINT_EVERY), now the clock.
func NewSignCheckpointHandler(store eventstore.Store, signer CheckpointSigner, every time.Duration, now func() time.Time) (*SignCheckpointHandler, error) {
	if store == nil || signer == nil || now == nil || every <= 0 {
		return nil, errors.New("commands: sign checkpoint: store, signer, clock and a positive period are required")
	}
	return &SignCheckpointHandler{store: store, signer: signer, every: every, now: now}, nil
}

// forcedAttempts bounds how often a forced checkpoint re-reads the stream
// after losing a race with another instance's checkpoint.
const forcedAttempts = 5

// Handle implements the command.
func (h *SignCheckpointHandler) Handle(ctx context.Context, cmd SignCheckpoint, meta Metadata) (SignedCheckpoint, error) {
	if meta.Actor == "" {
		meta = meta.as("scheduler")
	}
	for attempt := 1; ; attempt++ {
		recs, err := h.store.ReadStream(ctx, checkpoint.Stream)
		if err != nil {
			return SignedCheckpoint{}, fmt.Errorf("sign checkpoint: %w", err)
		}
		expected := eventstore.NoStream()
		var last checkpoint.Signed
		var lastPos uint64
		if n := len(recs); n > 0 {
			r := recs[n-1]
			expected, lastPos = eventstore.Exact(r.Version), r.Position
			e, err := checkpoint.Decode(r.Type, r.Data)
			if err != nil {
				return SignedCheckpoint{}, fmt.Errorf("sign checkpoint: %w", err)
			}
			last, _ = e.(checkpoint.Signed)
		}
		now := h.now().UTC()
		if !cmd.Force && !checkpoint.Due(last.At, h.every, now) {
			return SignedCheckpoint{}, nil
		}
		head, err := h.store.Head(ctx)
		if err != nil {
			return SignedCheckpoint{}, fmt.Errorf("sign checkpoint: %w", err)
		}
		if !cmd.Force && !checkpoint.Fresh(head.Position, lastPos) {
			return SignedCheckpoint{}, nil // a quiet ledger needs no new checkpoint
		}
		jws, err := h.signer.SignCheckpoint(ctx, head)
		if err != nil {
			return SignedCheckpoint{}, err
		}
		hash := head.Hash
		if hash == "" {
			hash = eventstore.GenesisHash
		}
		out := SignedCheckpoint{JWS: jws, Position: head.Position, Hash: hash}
		evs, err := encodeTyped([]checkpoint.Event{checkpoint.Signed{Position: head.Position, Hash: hash, JWS: jws, At: now}}, meta)
		if err != nil {
			return SignedCheckpoint{}, err
		}
		_, err = h.store.Append(ctx, eventstore.StreamAppend{Stream: checkpoint.Stream, Expected: expected, Events: evs})
		switch {
		case err == nil:
			out.Recorded = true
			return out, nil
		case !errors.Is(err, eventstore.ErrWrongExpectedVersion):
			return SignedCheckpoint{}, fmt.Errorf("sign checkpoint: %w", err)
		case !cmd.Force:
			return SignedCheckpoint{}, nil // another instance recorded this period's
		case attempt >= forcedAttempts:
			return SignedCheckpoint{}, fmt.Errorf("sign checkpoint: %w", ErrKeptConflicting)
		}
	}
}

// RunCheckpoints signs periodic checkpoints until ctx ends, checking every
// tick (a tenth of the period, at most a minute) whether one is due; the
// ledger, not the timer, decides, so restarts and several instances keep
// one checkpoint per period.
func (h *SignCheckpointHandler) RunCheckpoints(ctx context.Context, onErr func(error)) error {
	tick := min(h.every/10, time.Minute)
	if tick <= 0 {
		tick = h.every
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := h.Handle(ctx, SignCheckpoint{}, Metadata{Actor: "scheduler"}); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
