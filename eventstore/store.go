package eventstore

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one event a command wants to append. The store assigns its
// position, version, recorded time and chain hashes; ID is generated (UUIDv7)
// when empty.
type Event struct {
	ID       string
	Type     string
	Data     json.RawMessage // a JSON object
	Metadata json.RawMessage // a JSON object; nil means {}
	// Canonical says Data and Metadata are already in JCS form, as
	// MarshalCanonical writes them: the append hashes them as they are
	// instead of validating and canonicalizing them (the lean append of
	// events the service encodes itself). Set it only on MarshalCanonical
	// output: audit verify canonicalizes with the JCS library, so bytes
	// that are not canonical would show as a broken chain.
	Canonical bool
}

// Record is one stored event with its envelope (DESIGN.md §3).
type Record struct {
	Position   uint64
	Stream     string
	Version    uint64
	ID         string
	Type       string
	RecordedAt time.Time // UTC, microsecond precision
	Data       json.RawMessage
	Metadata   json.RawMessage
	PrevHash   string
	Hash       string
}

// Head is the end of the chain: the last position and its hash. An empty
// ledger has Position 0 and the genesis hash.
type Head struct {
	Position   uint64
	Hash       string
	RecordedAt time.Time
}

// StreamAppend is the part of one atomic append that targets one stream.
type StreamAppend struct {
	Stream   string
	Expected ExpectedVersion
	Events   []Event
}

// Handler receives records from a feed in position order. Returning an error
// stops the feed and Subscribe returns that error.
type Handler func(ctx context.Context, r Record) error

// Store is the ledger port. Every adapter passes eventstore/storetest.
type Store interface {
	// Append commits all appends atomically: every stream's expected version
	// must hold or nothing is written (*VersionConflictError). Records are
	// returned in position order.
	Append(ctx context.Context, appends ...StreamAppend) ([]Record, error)
	// ReadStream returns the stream's records in version order; an unknown
	// stream yields no records and no error.
	ReadStream(ctx context.Context, stream string) ([]Record, error)
	// ReadAll returns up to limit records with Position > after, in order.
	ReadAll(ctx context.Context, after uint64, limit int) ([]Record, error)
	// Head returns the last position and hash.
	Head(ctx context.Context) (Head, error)
	// Subscribe delivers every record with Position > after, in order: first
	// the stored ones, then live appends as they commit, learned by
	// notification. It blocks until ctx ends (returning ctx.Err()) or the
	// handler fails (returning its error).
	Subscribe(ctx context.Context, after uint64, h Handler) error
	// Close drains pending appends and releases resources.
	Close() error
}

// Importer is implemented by the durable adapters: Import stores records
// exactly as another ledger holds them, positions, times and hashes
// included, so a copy verifies against the same checkpoints. The records
// must continue the target's chain.
type Importer interface {
	Import(ctx context.Context, recs []Record) error
}
