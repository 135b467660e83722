package main

import "log/slog"

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
