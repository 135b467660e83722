package commands

import (
	"encoding/json"
	"fmt"

	"authledger/eventstore"
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
