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
	md, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	out := make([]eventstore.Event, 0, len(es))
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out = append(out, eventstore.Event{Type: e.EventType(), Data: b, Metadata: md})
	}
	return out, nil
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
