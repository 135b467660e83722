// Package event holds what every aggregate's events share: a codec from the
// stored type name (a string constant, never derived from the Go type name)
// to the Go value, listed once per package instead of one switch each.
package event

import (
	"encoding/json"
	"fmt"
)

// Codec decodes the stored events of one aggregate into E, the package's
// event interface.
type Codec[E any] struct {
	pkg   string
	types map[string]func(data []byte) (E, error)
}

// Entry is one stored type name and how to decode it.
type Entry[E any] struct {
	typ    string
	decode func(data []byte) (E, error)
}

// Of decodes the stored type typ as a T, which must implement E (Check
// says which entries do not, so a package test catches a wrong table).
func Of[T, E any](typ string) Entry[E] {
	return Entry[E]{typ: typ, decode: func(data []byte) (E, error) {
		var v T
		var zero E
		if err := json.Unmarshal(data, &v); err != nil {
			return zero, err
		}
		e, ok := any(v).(E)
		if !ok {
			return zero, fmt.Errorf("%T does not implement the event interface", v)
		}
		return e, nil
	}}
}

// NewCodec builds the codec of package pkg (named in errors) from its entries.
func NewCodec[E any](pkg string, entries ...Entry[E]) Codec[E] {
	c := Codec[E]{pkg: pkg, types: make(map[string]func([]byte) (E, error), len(entries))}
	for _, en := range entries {
		c.types[en.typ] = en.decode
	}
	return c
}

// Decode returns the event stored as typ with data. known is false, with
// no error, for a type this version does not list: the caller decides
// whether a stream may carry events it does not understand.
func (c Codec[E]) Decode(typ string, data []byte) (e E, known bool, err error) {
	dec, ok := c.types[typ]
	if !ok {
		return e, false, nil
	}
	if e, err = dec(data); err != nil {
		return e, true, fmt.Errorf("%s: decode %s: %w", c.pkg, typ, err)
	}
	return e, true, nil
}

// Types lists the stored type names the codec knows.
func (c Codec[E]) Types() []string {
	out := make([]string, 0, len(c.types))
	for t := range c.types {
		out = append(out, t)
	}
	return out
}
