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
}

func (e *InvalidEventError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("eventstore: stream %q: %s %s", e.Stream, e.Field, e.Reason)
	}
	return fmt.Sprintf("eventstore: stream %q event %d: %s %s", e.Stream, e.Index, e.Field, e.Reason)
}

func (e *InvalidEventError) Is(target error) bool { return target == ErrInvalidEvent }
