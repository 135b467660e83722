package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongExpectedVersion is matched (errors.Is) by every
	// *VersionConflictError, whatever the adapter.
	ErrWrongExpectedVersion = errors.New("eventstore: wrong expected version")
	// ErrInvalidEvent is matched by every *InvalidEventError.
	ErrInvalidEvent = errors.New("eventstore: invalid event")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("eventstore: store closed")
	// ErrUnsafeInteger is matched by the *InvalidEventError of an event
	// whose data or metadata holds a number beyond ±2^53 (DESIGN.md §3):
	// JCS reads numbers as IEEE 754 doubles, so such integers would hash
	// like their neighbours (9007199254740993 like 9007199254740992) and
	// the chain could not tell them apart. Its Path names the number.
	ErrUnsafeInteger = errors.New("eventstore: number beyond ±2^53")
)

// VersionConflictError says which stream's precondition failed. Nothing of
// the append was written.
type VersionConflictError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   uint64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("eventstore: stream %q: expected version %s, actual %d", e.Stream, e.Expected, e.Actual)
}

func (e *VersionConflictError) Is(target error) bool { return target == ErrWrongExpectedVersion }

// InvalidEventError names the field of an append that was rejected before
// anything was written.
type InvalidEventError struct {
	Stream string
	Index  int // index of the event inside its StreamAppend, -1 for the stream itself
	Field  string
	Reason string
	// Path is the JSON path of the offending value inside data or
	// metadata (e.g. data.items[2].n), when the problem is one value.
	Path string
	// Err is the specific sentinel matched besides ErrInvalidEvent (e.g.
	// ErrUnsafeInteger), or nil.
	Err error
}

func (e *InvalidEventError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("eventstore: stream %q: %s %s", e.Stream, e.Field, e.Reason)
	}
	return fmt.Sprintf("eventstore: stream %q event %d: %s %s", e.Stream, e.Index, e.Field, e.Reason)
}

func (e *InvalidEventError) Is(target error) bool { return target == ErrInvalidEvent }

func (e *InvalidEventError) Unwrap() error { return e.Err }

// ErrUnavailable is matched by every *UnavailableError: the ledger cannot
// be reached or written now (connection lost, timeout, disk full, read-only
// file or server, lock held too long). Nothing is known to be wrong with the
// request; the same call may succeed later, so the API answers 503 with
// Retry-After rather than 500. Adapters classify their engine's errors with
// Unavailable; a version conflict, an invalid event or a context the caller
// ended is never an outage.
var ErrUnavailable = errors.New("eventstore: ledger unavailable")

// UnavailableError wraps the engine error behind an outage.
type UnavailableError struct {
	Err error
}

func (e *UnavailableError) Error() string {
	return "eventstore: ledger unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable marks err as an outage (nil stays nil, an error already
// marked is returned as is).
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return &UnavailableError{Err: err}
}
