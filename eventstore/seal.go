package eventstore

import (
	"bytes"
	"encoding/json"
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
	if len(appends) == 0 {
		return &InvalidEventError{Index: -1, Field: "appends", Reason: "are empty"}
	}
	seen := make(map[string]bool, len(appends))
	for ai := range appends {
		a := &appends[ai]
		if err := checkName(a.Stream, -1, "stream"); err != nil {
			return err
		}
		if seen[a.Stream] {
			return &InvalidEventError{Stream: a.Stream, Index: -1, Field: "stream", Reason: "appears twice in one append"}
		}
		seen[a.Stream] = true
		if len(a.Events) == 0 {
			return &InvalidEventError{Stream: a.Stream, Index: -1, Field: "events", Reason: "is empty"}
		}
		for i := range a.Events {
			e := &a.Events[i]
			if err := checkName(e.Type, i, "type"); err != nil {
				err.Stream = a.Stream
				return err
			}
			if len(e.Metadata) == 0 {
				e.Metadata = json.RawMessage("{}")
			}
			if !isObject(e.Data) {
				return &InvalidEventError{Stream: a.Stream, Index: i, Field: "data", Reason: "is not a JSON object"}
			}
			if !isObject(e.Metadata) {
				return &InvalidEventError{Stream: a.Stream, Index: i, Field: "metadata", Reason: "is not a JSON object"}
			}
			if len(e.Data)+len(e.Metadata) > MaxEventBytes {
				return &InvalidEventError{Stream: a.Stream, Index: i, Field: "data+metadata", Reason: "exceed 65536 bytes"}
			}
			if e.ID == "" {
				e.ID = uuid.Must(uuid.NewV7()).String()
			} else if u, err := uuid.Parse(e.ID); err != nil || u.String() != e.ID {
				return &InvalidEventError{Stream: a.Stream, Index: i, Field: "id", Reason: "is not a lower-case UUID"}
			}
		}
	}
	return nil
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

func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	// Invalid UTF-8 would be stored by one adapter and refused by another.
	if len(b) < 2 || !utf8.Valid(b) || b[0] != '{' || !json.Valid(b) {
		return false
	}
	// JCS needs I-JSON: reject duplicate member names and bad numbers early
	// rather than failing half-way through sealing.
	_, err := CanonicalDigest(b)
	return err == nil
}

// Seal turns validated appends into records chained onto head. versions
// holds each stream's current version; the caller checks expected versions
// first (CheckVersions). now is truncated to microseconds in UTC.
func Seal(head Head, now time.Time, versions map[string]uint64, appends []StreamAppend) ([]Record, error) {
	now = now.UTC().Truncate(time.Microsecond)
	var out []Record
	pos, prev := head.Position, head.Hash
	if prev == "" {
		prev = GenesisHash
	}
	for _, a := range appends {
		v := versions[a.Stream]
		for _, e := range a.Events {
			pos++
			v++
			r := Record{
				Position: pos, Stream: a.Stream, Version: v, ID: e.ID, Type: e.Type,
				RecordedAt: now, Data: e.Data, Metadata: e.Metadata, PrevHash: prev,
			}
			h, err := ComputeHash(r)
			if err != nil {
				return nil, err
			}
			r.Hash = h
			prev = h
			out = append(out, r)
		}
	}
	return out, nil
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
