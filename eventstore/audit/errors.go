package audit

import (
	"errors"
	"fmt"
)

// ErrChainBroken is matched (errors.Is) by every *Error.
var ErrChainBroken = errors.New("audit: chain broken")

// Error names the first position at which the ledger is not what format v1
// says it must be. Position is the place in the chain where the break was
// found (the n-th event read is position n), so a deleted event is named by
// its own, now missing, position.
type Error struct {
	Position uint64
	Reason   string
	// Cause is the underlying error when the break was found by something
	// other than the chain rules, e.g. a malformed export line (*DecodeError).
	Cause error
}

func (e *Error) Error() string { return fmt.Sprintf("position %d: %s", e.Position, e.Reason) }

// Is makes every *Error match ErrChainBroken.
func (e *Error) Is(target error) bool { return target == ErrChainBroken }

func (e *Error) Unwrap() error { return e.Cause }

// ErrMalformedExport is matched by every *DecodeError.
var ErrMalformedExport = errors.New("audit: malformed export")

// DecodeError names the export line (1-based) that is not a well-formed
// envelope, before any chain check runs.
type DecodeError struct {
	Line   int
	Reason string
}

func (e *DecodeError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Is makes every *DecodeError match ErrMalformedExport.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformedExport }
