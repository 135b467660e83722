package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/authledger/authledger/eventstore"
)

// line is one export envelope (DESIGN.md §5). Field order is the order of
// the format's hash input, which makes exports easy to read beside it.
type line struct {
	Position   uint64          `json:"position"`
	Stream     string          `json:"stream"`
	Version    uint64          `json:"version"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	RecordedAt string          `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// fields are the envelope's members; an export line has exactly these.
var fields = []string{"position", "stream", "version", "id", "type", "recorded_at", "data", "metadata", "prev_hash", "hash"}

// AppendLine appends r as one export line (JSON, no inner newline, ending in
// "\n") to dst. data and metadata are compacted, which keeps their JCS form
// and so their digests. It refuses what JSON cannot carry faithfully (names
// that are not UTF-8) instead of silently writing an export that no longer
// verifies.
func AppendLine(dst []byte, r eventstore.Record) ([]byte, error) {
	for _, f := range []struct{ name, v string }{{"stream", r.Stream}, {"type", r.Type}, {"id", r.ID}, {"prev_hash", r.PrevHash}, {"hash", r.Hash}} {
		if !utf8.ValidString(f.v) {
			return dst, fmt.Errorf("audit: export position %d: %s is not valid UTF-8", r.Position, f.name)
		}
	}
	meta := r.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// HTML escaping is harmless for verifiers but makes exports needlessly
	// hard to read.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(line{
		Position: r.Position, Stream: r.Stream, Version: r.Version, ID: r.ID, Type: r.Type,
		RecordedAt: eventstore.FormatTime(r.RecordedAt), Data: r.Data, Metadata: meta,
		PrevHash: r.PrevHash, Hash: r.Hash,
	}); err != nil {
		return dst, fmt.Errorf("audit: export position %d: %w", r.Position, err)
	}
	return append(dst, buf.Bytes()...), nil
}

// Export writes the whole ledger as JSON lines, one envelope per line in
// position order, streaming ReadAll pages so memory stays flat. It returns
// the last record written (Position 0 for an empty ledger).
func Export(ctx context.Context, w io.Writer, store eventstore.Store) (eventstore.Head, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	head := eventstore.Head{Hash: eventstore.GenesisHash}
	var buf []byte
	for {
		recs, err := store.ReadAll(ctx, head.Position, DefaultPageSize)
		if err != nil {
			return head, fmt.Errorf("audit: read ledger after position %d: %w", head.Position, err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if buf, err = AppendLine(buf[:0], r); err != nil {
				return head, err
			}
			if _, err := bw.Write(buf); err != nil {
				return head, fmt.Errorf("audit: write export: %w", err)
			}
			head = eventstore.Head{Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt}
		}
	}
	if err := bw.Flush(); err != nil {
		return head, fmt.Errorf("audit: write export: %w", err)
	}
	return head, nil
}
