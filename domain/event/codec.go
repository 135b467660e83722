// Package event holds what every aggregate's events share: a codec from the
// stored type name to the Go value of the newest shape, listed once per
// package instead of one switch each.
//
// Stored names are part of the ledger format. Each event type writes its
// name once, in its EventType method (usually returning a package
// constant); Register reads it from there, so a table can neither misspell
// a name nor derive one from a Go type name, which a rename would silently
// change.
//
// Schema evolution (docs/ledger-format.md, "Schema evolution"): an optional
// new field is not a new version; a breaking change is a new versioned name
// (".v2") plus an Upcast from the old one. Upcasters run inside Decode, so
// aggregates and read models only ever see the newest shape, while the
// ledger keeps, and its hash covers, the bytes as they were stored.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Event is what every stored event is: a value that names its stored type.
type Event interface{ EventType() string }

// ErrUnknownType is matched by the error a Strict codec returns for a stored
// type it does not list (an *UnknownTypeError).
var ErrUnknownType = errors.New("event: unknown event type")

// UnknownTypeError is a Strict codec's refusal of a stored type it does not
// list. It matches ErrUnknownType and the policy's sentinel, if any.
type UnknownTypeError struct {
	Package  string // the codec's package, e.g. "keyring"
	Type     string // the stored type name
	sentinel error
}

func (e *UnknownTypeError) Error() string {
	if e.sentinel != nil {
		return fmt.Sprintf("%v: %q", e.sentinel, e.Type)
	}
	return fmt.Sprintf("%s: unknown event type %q", e.Package, e.Type)
}

// Unwrap yields ErrUnknownType and the package's sentinel.
func (e *UnknownTypeError) Unwrap() []error {
	if e.sentinel != nil {
		return []error{ErrUnknownType, e.sentinel}
	}
	return []error{ErrUnknownType}
}

// Policy is what a codec does with a stored type it does not list, chosen
// once per package when its codec is built.
type Policy struct {
	strict   bool
	sentinel error
}

// Lenient readers skip what they do not know: Decode returns a nil event
// and no error, so a stream may carry events a newer version added. It is
// also the zero Policy.
func Lenient() Policy { return Policy{} }

// Strict readers refuse what they do not know: Decode fails with an
// *UnknownTypeError, which matches ErrUnknownType and, when sentinel is not
// nil, sentinel (the package's own error, for callers that already match
// it; the message is then the sentinel's, followed by the type). Use it where
// skipping an event could turn a state it changed into a wrong answer.
func Strict(sentinel error) Policy { return Policy{strict: true, sentinel: sentinel} }

// IsStrict reports whether the policy refuses unknown types.
func (p Policy) IsStrict() bool { return p.strict }

// Entry is one stored type name and how to decode it to the newest shape.
// Build it with Register or Upcast.
type Entry struct {
	typ    string
	goType reflect.Type
	// to is the stored name of the newest shape an upcaster produces;
	// empty for a registered type.
	to     string
	toType reflect.Type
	decode func(data []byte) (Event, error)
}

// Register lists T under the stored name T{}.EventType(). T must be an
// event: the constraint checks it when the package compiles.
func Register[T Event]() Entry {
	var zero T
	return Entry{typ: zero.EventType(), goType: reflect.TypeFor[T](), decode: func(data []byte) (Event, error) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v, nil
	}}
}

// Upcast maps the events stored under the name from, read as From, to the
// newest shape To with fn. To must be registered in the same codec.
//
// from is usually an older versioned name ("x.started.v1" read into a
// startedV1 struct, mapped to Started, whose EventType is "x.started.v2").
// It may also be To's own name, for an old shape under the same name (a
// field every new event carries but old ones lack and whose value can be
// derived): then the upcaster replaces To's plain decoding, runs on every
// event of that name and must return the newest shape unchanged.
func Upcast[From any, To Event](from string, fn func(From) To) Entry {
	var to To
	return Entry{typ: from, goType: reflect.TypeFor[From](), to: to.EventType(), toType: reflect.TypeFor[To](), decode: func(data []byte) (Event, error) {
		var v From
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return fn(v), nil
	}}
}

// Codec decodes the stored events of one aggregate into E, the package's
// event interface, always in their newest shape.
type Codec[E Event] struct {
	pkg    string
	policy Policy
	types  map[string]func(data []byte) (Event, error)
}

// NewCodec builds the codec of package pkg (named in errors) with its policy
// for unknown types. Listing a stored name twice (two Registers, or two
// Upcasts, of one name), an upcaster whose result is not registered, or a
// type that does not implement E is a mistake in the package's table, not a
// run-time condition: NewCodec panics, so the package's first test fails.
func NewCodec[E Event](pkg string, policy Policy, entries ...Entry) Codec[E] {
	c := Codec[E]{pkg: pkg, policy: policy, types: make(map[string]func([]byte) (Event, error), len(entries))}
	registered := map[string]reflect.Type{}
	upcast := map[string]bool{}
	iface := reflect.TypeFor[E]()
	for _, en := range entries {
		if en.typ == "" {
			panic(fmt.Sprintf("event: %s: %s has an empty stored type name", pkg, en.goType))
		}
		if en.to == "" {
			if registered[en.typ] != nil {
				panic(fmt.Sprintf("event: %s: %s is registered twice", pkg, en.typ))
			}
			if !en.goType.Implements(iface) {
				panic(fmt.Sprintf("event: %s: %s does not implement %s", pkg, en.goType, iface))
			}
			registered[en.typ] = en.goType
			if upcast[en.typ] {
				continue // the upcaster of the same name decodes it
			}
		} else {
			if upcast[en.typ] {
				panic(fmt.Sprintf("event: %s: %s has two upcasters", pkg, en.typ))
			}
			upcast[en.typ] = true
		}
		c.types[en.typ] = en.decode
	}
	for _, en := range entries {
		if en.to != "" && registered[en.to] != en.toType {
			panic(fmt.Sprintf("event: %s: the upcaster of %s yields %s (%s), which is not registered as that type", pkg, en.typ, en.toType, en.to))
		}
	}
	return c
}

// Decode returns the event stored as typ with data, in its newest shape.
// For a type the codec does not list, a Lenient codec returns the zero E
// (nil) and no error, a Strict one an *UnknownTypeError.
func (c Codec[E]) Decode(typ string, data []byte) (E, error) {
	var zero E
	dec, ok := c.types[typ]
	if !ok {
		if !c.policy.strict {
			return zero, nil
		}
		return zero, &UnknownTypeError{Package: c.pkg, Type: typ, sentinel: c.policy.sentinel}
	}
	v, err := dec(data)
	if err != nil {
		return zero, fmt.Errorf("%s: decode %s: %w", c.pkg, typ, err)
	}
	// NewCodec checked that every registered type implements E and that
	// an upcaster yields a registered type.
	return v.(E), nil
}

// Knows reports whether typ is a stored type name the codec decodes (a
// registered type or an old name with an upcaster).
func (c Codec[E]) Knows(typ string) bool { _, ok := c.types[typ]; return ok }

// Policy is the codec's policy for unknown types.
func (c Codec[E]) Policy() Policy { return c.policy }

// Types lists the stored type names the codec decodes.
func (c Codec[E]) Types() []string {
	out := make([]string, 0, len(c.types))
	for t := range c.types {
		out = append(out, t)
	}
	return out
}
