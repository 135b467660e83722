// Package checkpoint holds the periodic signed checkpoints of the ledger
// (DESIGN.md §3, "What the chain proves"): the head position and hash,
// signed as a JWS, recorded in the ledger's own "checkpoints" stream so
// auditors can collect every one and exactly one instance signs each
// period (the stream's expected version decides).
package checkpoint

import (
	"time"

	"github.com/authledger/authledger/domain/event"
)

// Stream holds every checkpoint.
const Stream = "checkpoints"

// TypeSigned is a stored event name; part of the ledger format.
const TypeSigned = "checkpoint.signed.v1"

// Event is one checkpoint event.
type Event interface{ EventType() string }

// Signed records a checkpoint: the head it signed (Position, Hash) and the
// compact JWS an auditor keeps. The JWS is public (it verifies with the
// JWKS); it proves nothing about events after Position.
type Signed struct {
	Position uint64    `json:"position"`
	Hash     string    `json:"hash"`
	JWS      string    `json:"jws"`
	At       time.Time `json:"at"`
}

// EventType implements Event.
func (Signed) EventType() string { return TypeSigned }

var codec = event.NewCodec[Event]("checkpoint", event.Lenient(), event.Register[Signed]())

// Decode turns a stored event into its newest shape; an unknown type
// yields (nil, nil).
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// Due reports whether the next periodic checkpoint is due at now: none was
// signed yet, or the last one (at last) is every old.
func Due(last time.Time, every time.Duration, now time.Time) bool {
	return last.IsZero() || !now.Before(last.Add(every))
}

// Fresh reports whether a checkpoint would say something new: the ledger
// grew past the last checkpoint's own event (lastEvent, its position), not
// only by that event.
func Fresh(head, lastEvent uint64) bool { return head > lastEvent }
