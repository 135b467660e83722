package audit_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

// docBlocks returns the fenced blocks of docs/ledger-format.md keyed by the
// second word of their info string (```json jcs-data → "jcs-data").
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../docs/ledger-format.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string]string{}
	var name string
	var body []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in = true
			name, body = "", nil
			if words := strings.Fields(strings.TrimPrefix(line, "```")); len(words) == 2 {
				name = words[1]
			}
		case in && line == "```":
			in = false
			if name != "" {
				if _, dup := blocks[name]; dup {
					t.Fatalf("block %q appears twice", name)
				}
				blocks[name] = strings.Join(body, "\n")
			}
		case in:
			body = append(body, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The worked example in docs/ledger-format.md is recomputed from its own
// export line, so the page cannot drift from the code.
func TestTheWorkedExampleInTheDocsIsRight(t *testing.T) {
	t.Parallel()
	b := docBlocks(t)
	for _, name := range []string{"export-line", "jcs-data", "data-digest", "jcs-metadata", "metadata-digest", "hash-input", "hash"} {
		if b[name] == "" {
			t.Fatalf("docs/ledger-format.md has no %q block", name)
		}
	}
	rec, err := audit.ParseLine([]byte(b["export-line"]))
	if err != nil {
		t.Fatalf("the example's export line: %v", err)
	}

	for _, c := range []struct{ doc, canonical, digest string }{
		{string(rec.Data), "jcs-data", "data-digest"},
		{string(rec.Metadata), "jcs-metadata", "metadata-digest"},
	} {
		got, err := jcs.Transform([]byte(c.doc))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != b[c.canonical] {
			t.Errorf("%s block:\n got %s\nwant %s", c.canonical, b[c.canonical], got)
		}
		if d := sha256Hex(got); d != b[c.digest] {
			t.Errorf("%s block says %s, SHA-256 is %s", c.digest, b[c.digest], d)
		}
		if d, _ := eventstore.CanonicalDigest([]byte(c.doc)); d != b[c.digest] {
			t.Errorf("%s block says %s, eventstore.CanonicalDigest %s", c.digest, b[c.digest], d)
		}
	}

	input, err := eventstore.HashInput(rec)
	if err != nil {
		t.Fatal(err)
	}
	if input != b["hash-input"] {
		t.Errorf("hash-input block:\n%s\nwant\n%s", b["hash-input"], input)
	}
	if n := strings.Count(b["hash-input"], "\n") + 1; n != 10 {
		t.Errorf("hash-input block has %d lines, want 10", n)
	}
	if h := sha256Hex([]byte(b["hash-input"])); h != b["hash"] {
		t.Errorf("hash block says %s, SHA-256 of the hash-input block is %s", b["hash"], h)
	}
	if h, _ := eventstore.ComputeHash(rec); h != b["hash"] || rec.Hash != b["hash"] {
		t.Errorf("hash block %s, export line %s, eventstore.ComputeHash %s", b["hash"], rec.Hash, h)
	}
	if _, err := audit.VerifyExport(bytes.NewReader([]byte(b["export-line"]+"\n")), audit.Options{}); err != nil {
		t.Errorf("the example does not verify as a one-event ledger: %v", err)
	}
}

// The worked example is an event the service really writes: the domain
// codec decodes its data (with no upcaster changing it), encoding the
// decoded event gives back the documented bytes exactly, and the hash
// recomputed over those bytes is the documented one.
func TestTheWorkedExampleIsAnEventTheDomainWritesAndReads(t *testing.T) {
	t.Parallel()
	b := docBlocks(t)
	rec, err := audit.ParseLine([]byte(b["export-line"]))
	if err != nil {
		t.Fatalf("the example's export line: %v", err)
	}
	e, err := refreshtoken.Decode(rec.Type, rec.Data)
	if err != nil {
		t.Fatalf("refreshtoken.Decode: %v", err)
	}
	s, ok := e.(refreshtoken.Started)
	if !ok {
		t.Fatalf("refreshtoken.Decode gave %T for %s, want a refreshtoken.Started", e, rec.Type)
	}
	if s.EventType() != rec.Type || s.Family.Stream() != rec.Stream {
		t.Errorf("decoded a %s of %s, the line says %s in %s", s.EventType(), s.Family.Stream(), rec.Type, rec.Stream)
	}
	if s.NotAfter.IsZero() {
		t.Error("the example is a legacy start without not_after; document the newest shape")
	}
	if err := refreshtoken.Load(s.Family, nil).Start(s); err != nil {
		t.Errorf("the family aggregate would not have recorded the example: %v", err)
	}
	again, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, rec.Data) {
		t.Fatalf("the domain encodes the example's data as\n%s\nthe doc says\n%s", again, rec.Data)
	}
	rec.Data = again
	if h, err := eventstore.ComputeHash(rec); err != nil || h != b["hash"] {
		t.Fatalf("hash over the re-encoded data %s (%v), the doc says %s", h, err, b["hash"])
	}
}
