// Package secrets is the secret-provider port: where private signing keys
// and the refresh-token sealing key live (DESIGN.md §2). The ledger only
// records a SecretRef-like name and version. Adapters: local/ (encrypted
// file, embedded profile); an Infisical adapter fits the same port.
// secretstest/ is the contract suite every adapter passes.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

var (
	// ErrNotFound: no secret (or no such version) under that name.
	ErrNotFound = errors.New("secrets: not found")
	// ErrInvalidName: the name does not match NamePattern.
	ErrInvalidName = errors.New("secrets: invalid name")
	// ErrCorrupt: stored material failed authentication or decoding (a wrong
	// master key, a tampered file). Never retried: fail closed.
	ErrCorrupt = errors.New("secrets: stored secret is corrupt or the master key is wrong")
	// ErrUnavailable: the backend cannot be reached now; callers may retry.
	ErrUnavailable = errors.New("secrets: provider unavailable")
	// ErrTooLarge: the value exceeds MaxValueBytes.
	ErrTooLarge = errors.New("secrets: value too large")
)

// MaxValueBytes bounds one secret value; keys and tokens are small.
const MaxValueBytes = 64 << 10

// namePattern allows path-like names ("signing-key/<kid>") that map onto
// Infisical secret paths and local file entries alike.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$`)

// ValidateName checks a secret name.
func ValidateName(name string) error {
	if len(name) > 200 || !namePattern.MatchString(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}

// Value is secret material. It never prints: fmt, slog and JSON all see
// "[REDACTED]". Use Bytes to get the material itself.
type Value struct{ b []byte }

// NewValue wraps b (not copied).
func NewValue(b []byte) Value { return Value{b: b} }

// Bytes returns the material.
func (v Value) Bytes() []byte { return v.b }

// Len is the material's length.
func (v Value) Len() int { return len(v.b) }

func (Value) String() string               { return "[REDACTED]" }
func (Value) GoString() string             { return "[REDACTED]" }
func (Value) LogValue() slog.Value         { return slog.StringValue("[REDACTED]") }
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }
func (Value) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[REDACTED]")) }

// Secret is one version of a named secret.
type Secret struct {
	Name      string
	Version   string // opaque to callers; local uses "1", "2", …
	Value     Value
	CreatedAt time.Time
}

// LogValue keeps the value out of logs even when a whole Secret is logged.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.String("version", s.Version), slog.String("value", "[REDACTED]"))
}

// Provider stores named, versioned secrets. Put never overwrites: it adds a
// version. Every method honours ctx and returns the sentinels above
// (wrapped), so callers never see a backend's native errors.
type Provider interface {
	// Put stores value as the newest version of name and returns its version.
	Put(ctx context.Context, name string, value []byte) (version string, err error)
	// Get returns the newest version of name.
	Get(ctx context.Context, name string) (Secret, error)
	// GetVersion returns one version of name.
	GetVersion(ctx context.Context, name, version string) (Secret, error)
	// Delete removes every version of name; deleting nothing is not an error.
	Delete(ctx context.Context, name string) error
	// List returns the names under prefix ("" for all), sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}
