package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/checkpoint"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets/local"
)

// checkpointStack is a ledger with an active signing key, its JWKS and
// the signer the service uses.
type checkpointStack struct {
	store  eventstore.Store
	signer *commands.JWTSigner
	keys   jose.JSONWebKeySet
}

func newCheckpointStack(t *testing.T) *checkpointStack {
	t.Helper()
	ctx := context.Background()
	store := memstore.New(nil)
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, commands.Metadata{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	model := jwks.New()
	if err := model.Reload(ctx, store); err != nil {
		t.Fatal(err)
	}
	signer, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: "https://issuer.test", Store: store, Secrets: sp, Keys: model})
	if err != nil {
		t.Fatal(err)
	}
	body, _, ok := model.JWKS()
	if !ok {
		t.Fatal("no JWKS")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	return &checkpointStack{store: store, signer: signer, keys: set}
}

func (s *checkpointStack) grow(t *testing.T, n int) {
	t.Helper()
	for range n {
		if _, err := s.store.Append(context.Background(), eventstore.StreamAppend{Stream: "test-stream", Expected: eventstore.Any(),
			Events: []eventstore.Event{{Type: "test.happened.v1", Data: []byte(`{"n":1}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *checkpointStack) recorded(t *testing.T) []checkpoint.Signed {
	t.Helper()
	recs, err := s.store.ReadStream(context.Background(), checkpoint.Stream)
	if err != nil {
		t.Fatal(err)
	}
	var out []checkpoint.Signed
	for _, r := range recs {
		e, err := checkpoint.Decode(r.Type, r.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.(checkpoint.Signed))
	}
	return out
}

func (s *checkpointStack) export(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := audit.Export(context.Background(), &buf, s.store); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPeriodicCheckpointsOneSignerPerPeriodAcrossInstances(t *testing.T) {
	t.Parallel()
	s := newCheckpointStack(t)
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	instances := make([]*commands.SignCheckpointHandler, 4)
	for i := range instances {
		h, err := commands.NewSignCheckpointHandler(s.store, s.signer, 10*time.Minute, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		instances[i] = h
	}
	tickAll := func() int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		recorded := 0
		for _, h := range instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := h.Handle(context.Background(), commands.SignCheckpoint{}, commands.Metadata{})
				if err != nil {
					t.Error(err)
				}
				if out.Recorded {
					mu.Lock()
					recorded++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return recorded
	}
	s.grow(t, 3)
	if n := tickAll(); n != 1 {
		t.Fatalf("first period: %d instances recorded a checkpoint, want exactly 1", n)
	}
	s.grow(t, 2)
	clk.Add(time.Minute)
	if n := tickAll(); n != 0 {
		t.Fatalf("a minute later: %d recorded, want 0 (not due)", n)
	}
	clk.Add(10 * time.Minute)
	if n := tickAll(); n != 1 {
		t.Fatalf("next period: %d recorded, want 1", n)
	}
	clk.Add(10 * time.Minute)
	if n := tickAll(); n != 0 {
		t.Fatalf("a quiet ledger: %d recorded, want 0 (nothing new since the last checkpoint)", n)
	}
	if got := len(s.recorded(t)); got != 2 {
		t.Fatalf("%d checkpoints in the ledger, want 2", got)
	}
}

func TestARecordedCheckpointVerifiesAndCatchesTruncationAndARewrittenTail(t *testing.T) {
	t.Parallel()
	s := newCheckpointStack(t)
	s.grow(t, 5)
	h, err := commands.NewSignCheckpointHandler(s.store, s.signer, 10*time.Minute, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(context.Background(), commands.SignCheckpoint{Force: true}, commands.Metadata{Actor: "test"})
	if err != nil || !out.Recorded {
		t.Fatalf("%+v %v", out, err)
	}
	s.grow(t, 4)
	stored := s.recorded(t)
	if len(stored) != 1 || stored[0].JWS != out.JWS || stored[0].Position != out.Position {
		t.Fatalf("recorded %+v, signed %+v", stored, out)
	}

	// go-jose verifies it with the published keys, EdDSA only.
	jws, err := jose.ParseSignedCompact(out.JWS, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(s.keys)
	if err != nil {
		t.Fatalf("the checkpoint does not verify with the JWKS: %v", err)
	}
	var claims struct {
		Position uint64
		Hash     string
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Position != out.Position || claims.Hash != out.Hash {
		t.Fatalf("payload %s: %v", payload, err)
	}
	cp, err := audit.ParseCheckpoint([]byte(out.JWS), s.keys)
	if err != nil {
		t.Fatal(err)
	}

	// Any change to the JWS breaks it.
	parts := strings.Split(out.JWS, ".")
	for i := range parts {
		bad := append([]string(nil), parts...)
		b := []byte(bad[i])
		b[len(b)/2] ^= 0x01
		if b[len(b)/2] == '.' {
			b[len(b)/2] = 'A'
		}
		bad[i] = string(b)
		if _, err := audit.ParseCheckpoint([]byte(strings.Join(bad, ".")), s.keys); err == nil {
			t.Errorf("a JWS changed in part %d still verifies", i)
		}
	}

	full := s.export(t)
	if _, err := audit.VerifyExport(bytes.NewReader(full), audit.Options{Checkpoint: &cp}); err != nil {
		t.Fatalf("the untouched ledger: %v", err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(full, []byte("\n")), []byte("\n"))

	// Truncated after... and before the checkpoint: a chain check alone
	// passes both, the checkpoint catches the one that lost its prefix.
	short := bytes.Join(lines[:cp.Position-1], nil)
	if _, err := audit.VerifyExport(bytes.NewReader(short), audit.Options{}); err != nil {
		t.Fatalf("the chain alone should pass a truncated ledger: %v", err)
	}
	if _, err := audit.VerifyExport(bytes.NewReader(short), audit.Options{Checkpoint: &cp}); err == nil {
		t.Fatal("a ledger truncated before the checkpoint passed")
	}

	// A tail rewritten from position 3 on and rehashed into a valid chain.
	recs, err := s.store.ReadAll(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rewritten := memstore.New(nil)
	for i, r := range recs {
		data := r.Data
		if i >= 2 && r.Stream == "test-stream" {
			data = []byte(`{"n":2}`)
		}
		if _, err := rewritten.Append(context.Background(), eventstore.StreamAppend{Stream: r.Stream, Expected: eventstore.Any(),
			Events: []eventstore.Event{{ID: r.ID, Type: r.Type, Data: data, Metadata: r.Metadata}}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := audit.Export(context.Background(), &buf, rewritten); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.VerifyExport(bytes.NewReader(buf.Bytes()), audit.Options{}); err != nil {
		t.Fatalf("the rewritten chain should verify on its own: %v", err)
	}
	if _, err := audit.VerifyExport(bytes.NewReader(buf.Bytes()), audit.Options{Checkpoint: &cp}); err == nil {
		t.Fatal("a rewritten tail passed the checkpoint")
	}
}
