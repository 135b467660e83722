package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"authledger/eventstore"
	"authledger/eventstore/audit"
	"authledger/eventstore/memstore"
)

// The worked example of docs/ledger-format.md as an export line.
const exampleLine = `{"position":1,"stream":"family-01936b2a-4c1d-7e2f-8a3b-4c5d6e7f8a9b","version":1,"id":"0193a0b1-5e6f-7a8b-9c0d-1e2f3a4b5c6d","type":"refreshtoken.rotated.v1","recorded_at":"2026-01-02T03:04:05.000006Z","data":{"family":"01936b2a-4c1d-7e2f-8a3b-4c5d6e7f8a9b","generation":2,"from":"8f14e45f","to":"c9f0f895","at":"2026-01-02T03:04:05Z"},"metadata":{"request_id":"req-7","correlation_id":"0193a0b1-0000-7000-8000-00000000c0de","actor":"client:billing"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"d0012b13499a5064dabcb6c16a038231a762dfcd5197697d87bd6240aa153e47"}`

func ExampleVerifyExport() {
	head, err := audit.VerifyExport(strings.NewReader(exampleLine+"\n"), audit.Options{})
	fmt.Println(head.Position, head.Hash, err)

	// One changed digit in data breaks the chain at that event.
	tampered := strings.Replace(exampleLine, `"generation":2`, `"generation":3`, 1)
	_, err = audit.VerifyExport(strings.NewReader(tampered), audit.Options{})
	fmt.Println(err)
	// Output:
	// 1 d0012b13499a5064dabcb6c16a038231a762dfcd5197697d87bd6240aa153e47 <nil>
	// position 1: hash mismatch: stored d0012b13499a5064…, recomputed 458e09e8e19e19f2… (the event was altered)
}

func ExampleExport() {
	ctx := context.Background()
	store := memstore.New(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC) })
	_, _ = store.Append(ctx, eventstore.StreamAppend{Stream: "keyring", Events: []eventstore.Event{{
		ID: "0193a0b1-5e6f-7a8b-9c0d-1e2f3a4b5c6d", Type: "keyring.key_published.v1", Data: json.RawMessage(`{"kid":"k1"}`),
	}}})
	head, err := audit.Export(ctx, os.Stdout, store)
	fmt.Println(head.Position, err)
	// Output:
	// {"position":1,"stream":"keyring","version":1,"id":"0193a0b1-5e6f-7a8b-9c0d-1e2f3a4b5c6d","type":"keyring.key_published.v1","recorded_at":"2026-01-02T03:04:05.000006Z","data":{"kid":"k1"},"metadata":{},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"36a48560bdecee291d5165d3c6dcc887f38cfd4db3e8e7076bd83ed8a3d964c9"}
	// 1 <nil>
}
