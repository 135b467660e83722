package secretref

import (
	"errors"
	"testing"
)

func TestDecideRestore(t *testing.T) {
	cases := []struct {
		name, version, current string
		want                   error
	}{
		{"refresh-sealing-key", "1", "3", nil},
		{"client-secret-pepper", "2", "3", nil},
		{"signing-key/abc", "1", "2", ErrPinnedSecret},
		{"refresh-sealing-key", "3", "3", ErrAlreadyCurrent},
		{"refresh-sealing-key", "4", "3", ErrBadVersion},
		{"refresh-sealing-key", "0", "3", ErrBadVersion},
		{"refresh-sealing-key", "x", "3", ErrBadVersion},
	}
	for _, c := range cases {
		err := DecideRestore(c.name, c.version, c.current)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s %s→%s: %v, want %v", c.name, c.current, c.version, err, c.want)
		}
	}
}

func TestTheEventsRoundTripThroughTheCodec(t *testing.T) {
	for _, typ := range Types {
		if _, err := Decode(typ, []byte(`{}`)); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}
