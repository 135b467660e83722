package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxEventBytes bounds data plus metadata of one event. Events hold ids,
// hashes and public keys, never documents; 64 KiB leaves room for a JWK set
// while keeping one append far below a transaction's comfortable size.
const MaxEventBytes = 64 << 10

// MaxNameBytes bounds a stream name or an event type.
const MaxNameBytes = 256

// Validate checks appends before anything touches storage: names, JSON
// objects, sizes and duplicate streams. It fills in missing IDs and
// metadata, so adapters call it once and then only store.
func Validate(appends []StreamAppend) error {
	_, err := validate(appends)
	return err
}

// digests are the JCS digests of one event's data and metadata.
type digests struct{ data, meta string }

func validate(appends []StreamAppend) ([][]digests, error) {
	if len(appends) == 0 {
		return nil, &InvalidEventError{Index: -1, Field: "appends", Reason: "are empty"}
	}
	seen := make(map[string]bool, len(appends))
	out := make([][]digests, len(appends))
	for ai := range appends {
		a := &appends[ai]
		if err := checkName(a.Stream, -1, "stream"); err != nil {
			return nil, err
		}
		if seen[a.Stream] {
			return nil, &InvalidEventError{Stream: a.Stream, Index: -1, Field: "stream", Reason: "appears twice in one append"}
		}
		seen[a.Stream] = true
		if len(a.Events) == 0 {
			return nil, &InvalidEventError{Stream: a.Stream, Index: -1, Field: "events", Reason: "is empty"}
		}
		out[ai] = make([]digests, len(a.Events))
		for i := range a.Events {
			e := &a.Events[i]
			if err := checkName(e.Type, i, "type"); err != nil {
				err.Stream = a.Stream
				return nil, err
			}
			if len(e.Metadata) == 0 {
				e.Metadata = json.RawMessage("{}")
			}
			// Size first: canonicalizing an oversized body is wasted work.
			if len(e.Data)+len(e.Metadata) > MaxEventBytes {
				return nil, &InvalidEventError{Stream: a.Stream, Index: i, Field: "data+metadata", Reason: "exceed 65536 bytes"}
			}
			if e.Canonical && canonicalObject(e.Data) && canonicalObject(e.Metadata) {
				out[ai][i] = digests{data: sha256Hex(e.Data), meta: sha256Hex(e.Metadata)}
			} else if err := e.digests(&out[ai][i]); err != nil {
				err.Stream, err.Index = a.Stream, i
				return nil, err
			}
			if e.ID == "" {
				e.ID = uuid.Must(uuid.NewV7()).String()
			} else if u, err := uuid.Parse(e.ID); err != nil || u.String() != e.ID {
				return nil, &InvalidEventError{Stream: a.Stream, Index: i, Field: "id", Reason: "is not a lower-case UUID"}
			}
		}
	}
	return out, nil
}

// digests validates e's data and metadata and computes their JCS digests
// with the library (the path of every event not marked Canonical).
func (e *Event) digests(d *digests) *InvalidEventError {
	var err *InvalidEventError
	if d.data, err = objectDigest(e.Data, "data"); err != nil {
		return err
	}
	if d.meta, err = objectDigest(e.Metadata, "metadata"); err != nil {
		return err
	}
	return nil
}

// canonicalObject is the cheap shape check of a Canonical body: JCS
// writes an object as {…} with no white space around it.
func canonicalObject(b []byte) bool {
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func checkName(s string, idx int, field string) *InvalidEventError {
	switch {
	case s == "":
		return &InvalidEventError{Index: idx, Field: field, Reason: "is empty"}
	case len(s) > MaxNameBytes:
		return &InvalidEventError{Index: idx, Field: field, Reason: "is longer than 256 bytes"}
	case strings.ContainsAny(s, "\n\r"):
		return &InvalidEventError{Index: idx, Field: field, Reason: "contains a line break"}
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		// The hash input is UTF-8 text and PostgreSQL text cannot hold NUL.
		return &InvalidEventError{Index: idx, Field: field, Reason: "is not valid UTF-8 text"}
	}
	return nil
}

// objectDigest returns the JCS digest of b if b is a JSON object that JCS
// accepts (I-JSON: no duplicate member names, representable numbers) and
// whose numbers all stay within ±2^53, so a bad body is refused here
// rather than half-way through sealing. field (data or metadata) roots the
// path of an unsafe number; the caller fills in the stream and index.
func objectDigest(b json.RawMessage, field string) (string, *InvalidEventError) {
	notObject := func() *InvalidEventError { return &InvalidEventError{Field: field, Reason: "is not a JSON object"} }
	t := bytes.TrimSpace(b)
	// Invalid UTF-8 would be stored by one adapter and refused by another.
	if len(t) < 2 || t[0] != '{' || !utf8.Valid(t) {
		return "", notObject()
	}
	// One scan validates the JSON (where json.Valid ran before) and finds
	// unsafe numbers; JCS itself cannot, as it parses them into doubles.
	unsafe, valid := scanJSON(t, field)
	switch {
	case !valid:
		return "", notObject()
	case unsafe != "":
		return "", &InvalidEventError{Field: field, Path: unsafe, Err: ErrUnsafeInteger,
			Reason: "holds a number beyond ±2^53 at " + unsafe + ", which JCS would hash like its neighbours"}
	}
	d, err := CanonicalDigest(b)
	if err != nil {
		return "", notObject()
	}
	return d, nil
}

// Prepared is an append that passed Validate, with the JCS digests of its
// events already computed. Adapters prepare in the caller's goroutine so
// that the serialized part of an append (sealing under the chain-head lock)
// only hashes the short envelopes.
type Prepared struct {
	Appends []StreamAppend
	digests [][]digests
}

// Prepare validates appends (as Validate) and computes their digests.
func Prepare(appends []StreamAppend) (*Prepared, error) {
	d, err := validate(appends)
	if err != nil {
		return nil, err
	}
	return &Prepared{Appends: appends, digests: d}, nil
}

// Seal is eventstore.Seal for a prepared append.
func (p *Prepared) Seal(head Head, now time.Time, versions map[string]uint64) []Record {
	now = now.UTC().Truncate(time.Microsecond)
	var out []Record
	pos, prev := head.Position, head.Hash
	if prev == "" {
		prev = GenesisHash
	}
	for ai, a := range p.Appends {
		v := versions[a.Stream]
		for i, e := range a.Events {
			pos++
			v++
			r := Record{
				Position: pos, Stream: a.Stream, Version: v, ID: e.ID, Type: e.Type,
				RecordedAt: now, Data: e.Data, Metadata: e.Metadata, PrevHash: prev,
			}
			r.Hash = hashWithDigests(r, p.digests[ai][i].data, p.digests[ai][i].meta)
			prev = r.Hash
			out = append(out, r)
		}
	}
	return out
}

// Seal turns validated appends into records chained onto head. versions
// holds each stream's current version; the caller checks expected versions
// first (CheckVersions). now is truncated to microseconds in UTC.
func Seal(head Head, now time.Time, versions map[string]uint64, appends []StreamAppend) ([]Record, error) {
	d := make([][]digests, len(appends))
	for ai, a := range appends {
		d[ai] = make([]digests, len(a.Events))
		for i, e := range a.Events {
			var err error
			if d[ai][i].data, err = CanonicalDigest(orEmptyObject(e.Data)); err != nil {
				return nil, fmt.Errorf("data: %w", err)
			}
			if d[ai][i].meta, err = CanonicalDigest(orEmptyObject(e.Metadata)); err != nil {
				return nil, fmt.Errorf("metadata: %w", err)
			}
		}
	}
	p := Prepared{Appends: appends, digests: d}
	return p.Seal(head, now, versions), nil
}

// CheckVersions returns a *VersionConflictError for the first append whose
// expectation does not hold against versions.
func CheckVersions(versions map[string]uint64, appends []StreamAppend) error {
	for _, a := range appends {
		if actual := versions[a.Stream]; !a.Expected.Check(actual) {
			return &VersionConflictError{Stream: a.Stream, Expected: a.Expected, Actual: actual}
		}
	}
	return nil
}
