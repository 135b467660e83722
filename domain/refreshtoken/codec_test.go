package refreshtoken_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	rt "github.com/authledger/authledger/domain/refreshtoken"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func key(b byte) []byte { return bytes.Repeat([]byte{b}, rt.KeyBytes) }

func codec(t testing.TB) *rt.Codec {
	t.Helper()
	c, err := rt.NewCodec("k2", map[string][]byte{"k1": key(1), "k2": key(2)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var claims = rt.Claims{Family: rt.FamilyID{9, 8}, Generation: 3, Token: rt.TokenID{7, 6}, ExpiresAt: t0.Add(14 * 24 * time.Hour)}

func TestCodecSealsDeterministicallyAndOpens(t *testing.T) {
	t.Parallel()
	c := codec(t)
	a, err := c.Seal(claims)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Seal(claims)
	if a != b {
		t.Fatal("the same claims sealed to two tokens, so a grace retry could not be re-derived")
	}
	other := claims
	other.Token[15] = 1
	if o, _ := c.Seal(other); o == a {
		t.Fatal("different claims sealed to the same token")
	}
	if !strings.HasPrefix(a, "rt1.k2.") {
		t.Fatalf("token %q does not name its key id", a)
	}
	got, err := c.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	want := claims
	want.KeyID = "k2"
	if got != want {
		t.Fatalf("opened %+v, want %+v", got, want)
	}
}

func TestCodecOpensTokensOfARetiredKey(t *testing.T) {
	t.Parallel()
	old, _ := rt.NewCodec("k1", map[string][]byte{"k1": key(1)})
	tok, _ := old.Seal(claims)
	got, err := codec(t).Open(tok)
	if err != nil || got.KeyID != "k1" {
		t.Fatalf("open after rotation: %+v %v", got, err)
	}
}

func TestCodecRefusesBadTokens(t *testing.T) {
	t.Parallel()
	c := codec(t)
	good, _ := c.Seal(claims)
	foreign, _ := rt.NewCodec("k2", map[string][]byte{"k2": key(3)})
	foreignTok, _ := foreign.Seal(claims)
	flipped := []byte(good)
	flipped[len(flipped)-5] ^= 0x01
	if flipped[len(flipped)-5] == '.' {
		flipped[len(flipped)-5] = 'A'
	}
	cases := map[string]string{
		"empty":                         "",
		"no prefix":                     strings.TrimPrefix(good, "rt1."),
		"truncated":                     good[:len(good)-3],
		"one character longer":          good + "A",
		"bit-flipped":                   string(flipped),
		"sealed with a foreign key":     foreignTok,
		"an unknown key id":             strings.Replace(good, "rt1.k2.", "rt1.k9.", 1),
		"moved to another known key id": strings.Replace(good, "rt1.k2.", "rt1.k1.", 1),
		"a key id with a dot":           "rt1.k.2." + good[7:],
		"padding characters":            good[:len(good)-2] + "==",
		"a JWT":                         "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln",
	}
	for name, raw := range cases {
		if _, err := c.Open(raw); !errors.Is(err, rt.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestNewCodecRefusesBadKeys(t *testing.T) {
	t.Parallel()
	if _, err := rt.NewCodec("k1", map[string][]byte{"k1": key(1)[:16]}); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	if _, err := rt.NewCodec("k1", map[string][]byte{"k2": key(1)}); err == nil {
		t.Error("an active key outside the set was accepted")
	}
	if _, err := rt.NewCodec("k.1", map[string][]byte{"k.1": key(1)}); err == nil {
		t.Error("a key id with a dot was accepted")
	}
}

func FuzzOpen(f *testing.F) {
	c := codec(f)
	good, _ := c.Seal(claims)
	f.Add(good)
	f.Add("rt1.k2.")
	f.Add("")
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, raw string) {
		cl, err := c.Open(raw)
		if err != nil {
			if !errors.Is(err, rt.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		// Anything that opens must be exactly what sealing its claims gives.
		again, err := c.Seal(cl)
		if err != nil || again != raw {
			t.Fatalf("opened a token that does not re-seal to itself: %q vs %q (%v)", raw, again, err)
		}
	})
}
