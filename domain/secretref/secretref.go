// Package secretref is what the ledger records about secrets held by the
// secret provider: a name and an exact version, never a value. Signing
// keys carry their reference in the key ring's events; the operator
// changes to other secrets (a sealing-key rotation, a rollback to an
// earlier version) are events on the one "secrets" stream.
package secretref

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authledger/authledger/domain/event"
)

// Stream is the stream of operator changes to secrets.
const Stream = "secrets"

// Stored event types (part of the ledger format).
const (
	// TypeVersionAdded: an operator added a version (a rotation).
	TypeVersionAdded = "secrets.version_added.v1"
	// TypeVersionRestored: an operator rolled a secret back: the value of
	// RestoredVersion is now the newest version, NewVersion.
	TypeVersionRestored = "secrets.version_restored.v1"
)

// Types lists the stream's event types.
var Types = []string{TypeVersionAdded, TypeVersionRestored}

// Event is one secrets event.
type Event interface{ EventType() string }

// Ref names one version of a secret in the provider.
type Ref struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// VersionAdded records a new version written by an operator command.
type VersionAdded struct {
	Ref    Ref       `json:"ref"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func (VersionAdded) EventType() string { return TypeVersionAdded }

// VersionRestored records a rollback.
type VersionRestored struct {
	Name            string    `json:"name"`
	RestoredVersion string    `json:"restored_version"`
	PreviousVersion string    `json:"previous_version"`
	NewVersion      string    `json:"new_version"`
	At              time.Time `json:"at"`
}

func (VersionRestored) EventType() string { return TypeVersionRestored }

var codec = event.NewCodec[Event]("secretref", event.Lenient(),
	event.Register[VersionAdded](),
	event.Register[VersionRestored](),
)

// Decode reads a stored secrets event.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

var (
	// ErrPinnedSecret: the secret is read by an exact version the ledger
	// recorded (a signing key), so a rollback would change nothing that
	// is read, and is refused: rotate or revoke the key instead.
	ErrPinnedSecret = errors.New("secretref: this secret is read at the version the ledger pins; roll back is refused (rotate or revoke the key instead)")
	// ErrAlreadyCurrent: the version asked for is already the newest.
	ErrAlreadyCurrent = errors.New("secretref: that version is already the newest")
	// ErrBadVersion: the version is not one the provider gave.
	ErrBadVersion = errors.New("secretref: the version to restore must be an earlier version of the secret")
)

// PinnedPrefixes are the names read only at a recorded version.
var PinnedPrefixes = []string{"signing-key/"}

// DecideRestore says whether name may be rolled back from its newest
// version current to the earlier version.
func DecideRestore(name, version, current string) error {
	for _, p := range PinnedPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("%w: %s", ErrPinnedSecret, name)
		}
	}
	if version == current {
		return fmt.Errorf("%w: %s version %s", ErrAlreadyCurrent, name, version)
	}
	v, err1 := strconv.ParseUint(version, 10, 64)
	c, err2 := strconv.ParseUint(current, 10, 64)
	if err1 == nil && err2 == nil && v > c {
		return fmt.Errorf("%w: %s has no version %s yet (newest %s)", ErrBadVersion, name, version, current)
	}
	if err1 != nil || v == 0 {
		return fmt.Errorf("%w: %q", ErrBadVersion, version)
	}
	return nil
}
