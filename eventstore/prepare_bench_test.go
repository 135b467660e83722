package eventstore_test

import (
	"encoding/json"
	"testing"

	"github.com/authledger/authledger/eventstore"
)

// BenchmarkPrepare is the CPU part of an append that runs outside the
// chain-head lock: validation and the JCS digests of data and metadata.
// go test -run '^$' -bench Prepare ./eventstore/
func BenchmarkPrepare(b *testing.B) {
	for _, c := range []struct{ name, data string }{
		// The shape of storetest.BenchAppend's events.
		{"refresh_rotated", `{"family":"0193b1a2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","generation":7,"client_id":"svc-billing"}`},
		// Escapes, a fraction and a non-ASCII name: JCS's general path.
		{"general_path", `{"reason":"line\nbreak","ratio":0.25,"é":"x","at":"2026-01-02T03:04:05Z","n":[1,2,3]}`},
	} {
		data := json.RawMessage(c.data)
		meta := json.RawMessage(`{"correlation_id":"c-1","actor":"client:svc-billing"}`)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eventstore.Prepare([]eventstore.StreamAppend{{Stream: "family-1", Expected: eventstore.Exact(6),
					Events: []eventstore.Event{{ID: "0193b1a2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", Type: "refreshtoken.rotated.v1", Data: data, Metadata: meta}}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
