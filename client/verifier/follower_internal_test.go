package verifier

import (
	"testing"
	"time"
)

// FuzzFollowerPage: whatever a feed answers, parsing and applying it never
// panics, an unparsable answer changes nothing, and the cursor never goes
// back.
func FuzzFollowerPage(f *testing.F) {
	f.Add([]byte(`{"entries":[{"position":3,"type":"jti","id":"a","until":"2999-01-01T00:00:00Z"}],"cursor":3}`))
	f.Add([]byte(`{"entries":[],"cursor":0}`))
	f.Add([]byte(`{"entries":[{"type":"client","id":"","until":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fol, err := NewFollower(FollowerConfig{URL: "https://auth.example/v1/revocations", Now: func() time.Time { return time.Unix(1e9, 0) }})
		if err != nil {
			t.Fatal(err)
		}
		fol.cursor = 5
		p, err := parseFeedPage(body)
		if err != nil {
			return
		}
		fol.apply(p)
		if fol.cursor < 5 {
			t.Fatalf("cursor went back to %d", fol.cursor)
		}
		for _, ids := range fol.byKind {
			for id := range ids {
				if id == "" || len(id) > 128 {
					t.Fatalf("kept an invalid id %q", id)
				}
			}
		}
	})
}
