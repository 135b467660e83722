package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/authledger/authledger/eventstore"
)

type typedEvent interface{ EventType() string }

// encodeTyped turns a command's pending domain events into ledger events,
// each under its stored type name and with the command's metadata. Every
// command appends through it.
func encodeTyped[E typedEvent](es []E, meta Metadata) ([]eventstore.Event, error) {
	md, mdCanonical, err := encodeEvent(meta)
	if err != nil {
		return nil, err
	}
	out := make([]eventstore.Event, 0, len(es))
	for _, e := range es {
		b, canonical, err := encodeEvent(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out = append(out, eventstore.Event{Type: e.EventType(), Data: b, Metadata: md, Canonical: canonical && mdCanonical})
	}
	return out, nil
}

// encodeEvent writes v in its canonical form directly, so the append
// hashes it without parsing it again; a value that has none (a float, an
// integer beyond ±2^53) goes through encoding/json and the store's JCS
// library, which refuses or canonicalizes it as it always did.
func encodeEvent(v any) ([]byte, bool, error) {
	if b, err := eventstore.MarshalCanonical(v); err == nil {
		return b, true, nil
	}
	b, err := json.Marshal(v)
	return b, false, err
}

// readEvents loads a stream and decodes every record with decode: the
// smallest write model a command needs, before its aggregate folds it.
func readEvents[E any](ctx context.Context, store eventstore.Store, stream string, decode func(typ string, data []byte) (E, error)) ([]E, error) {
	recs, err := store.ReadStream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	es := make([]E, 0, len(recs))
	for _, r := range recs {
		e, err := decode(r.Type, r.Data)
		if err != nil {
			return nil, fmt.Errorf("read %s at version %d: %w", stream, r.Version, err)
		}
		es = append(es, e)
	}
	return es, nil
}
