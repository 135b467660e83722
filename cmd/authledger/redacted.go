package main

import (
	"fmt"
	"log/slog"
)

// redacted is a configuration secret: it prints and logs as a placeholder,
// so a Config dumped by mistake does not carry it.
type redacted string

func (r redacted) String() string {
	if r == "" {
		return ""
	}
	return "[redacted]"
}
func (r redacted) GoString() string             { return r.String() }
func (r redacted) LogValue() slog.Value         { return slog.StringValue(r.String()) }
func (r redacted) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
func (r redacted) MarshalJSON() ([]byte, error) { return []byte(`"` + r.String() + `"`), nil }

// Format covers every verb (%x, %q, %d …), not only those that call String.
func (r redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }
