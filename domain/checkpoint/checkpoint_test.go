package checkpoint_test

import (
	"testing"
	"time"

	"github.com/authledger/authledger/domain/checkpoint"
)

func TestWhenACheckpointIsDue(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		last time.Time
		now  time.Time
		want bool
	}{
		{"the first checkpoint is due at once", time.Time{}, t0, true},
		{"one signed a minute ago is not due", t0, t0.Add(time.Minute), false},
		{"one signed a period ago is due", t0, t0.Add(10 * time.Minute), true},
		{"a clock that went back is not due", t0, t0.Add(-time.Hour), false},
	} {
		if got := checkpoint.Due(c.last, 10*time.Minute, c.now); got != c.want {
			t.Errorf("%s: Due = %v", c.name, got)
		}
	}
	if checkpoint.Fresh(7, 7) || !checkpoint.Fresh(8, 7) {
		t.Error("a ledger that holds only the last checkpoint's event is not fresh; one that grew is")
	}
}

func TestASignedCheckpointDecodes(t *testing.T) {
	t.Parallel()
	e, err := checkpoint.Decode(checkpoint.TypeSigned, []byte(`{"position":3,"hash":"ab","jws":"x.y.z","at":"2026-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := e.(checkpoint.Signed); !ok || s.Position != 3 || s.JWS != "x.y.z" {
		t.Fatalf("%#v", e)
	}
}
