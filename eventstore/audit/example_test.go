package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/memstore"
)

// The worked example of docs/ledger-format.md as an export line.
const exampleLine = `{"position":1,"stream":"family-0193a0b14c1d7e2f8a3b4c5d6e7f8a9b","version":1,"id":"0193a0b1-5e6f-7a8b-9c0d-1e2f3a4b5c6d","type":"refreshtoken.family_started.v1","recorded_at":"2026-01-02T03:04:05.000006Z","data":{"family":"0193a0b14c1d7e2f8a3b4c5d6e7f8a9b","client_id":"login","subject":"user-7f3a","session_id":"5b2e8c1d-3f4a-4b6c-9d7e-8f9a0b1c2d3e","acr":"aal1","amr":["pwd"],"auth_time":"2026-01-02T03:04:05Z","token":"8f14e45fceea167a5a36dedd4bea2543","key_id":"rt-2026-01","expires_at":"2026-01-02T15:04:05Z","at":"2026-01-02T03:04:05.000006Z","not_after":"2026-01-02T15:04:05Z"},"metadata":{"correlation_id":"0193a0b1-0000-7000-8000-00000000c0de","actor":"client:login","request_id":"req-7"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"953172d9772ee7e6372ef9e6c92785e37c9e8e8b9901dd63540a9ea699ec9b5e"}`

func ExampleVerifyExport() {
	head, err := audit.VerifyExport(strings.NewReader(exampleLine+"\n"), audit.Options{})
	fmt.Println(head.Position, head.Hash, err)

	// One changed value in data (a forged step-up) breaks the chain at that
	// event.
	tampered := strings.Replace(exampleLine, `"acr":"aal1"`, `"acr":"aal2"`, 1)
	_, err = audit.VerifyExport(strings.NewReader(tampered), audit.Options{})
	fmt.Println(err)
	// Output:
	// 1 953172d9772ee7e6372ef9e6c92785e37c9e8e8b9901dd63540a9ea699ec9b5e <nil>
	// position 1: hash mismatch: stored 953172d9772ee7e6…, recomputed 701cf0972b79024b… (the event was altered)
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
