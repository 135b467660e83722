package projections

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateCutsOnARuneBoundary(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"a short string is kept whole", "stopped", 10, "stopped"},
		{"a string of exactly n bytes is kept whole", "abc", 3, "abc"},
		{"ASCII is cut at n bytes", "abcdef", 4, "abcd"},
		{"a cut inside a two-byte rune drops the whole rune", "ab" + "é" + "cd", 3, "ab"},
		{"a cut inside a four-byte rune drops the whole rune", "a" + "😀" + "b", 3, "a"},
		{"a cut after a complete multibyte rune keeps it", "é" + "é", 2, "é"},
		{"n of zero gives the empty string", "é", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := truncate(tc.in, tc.n)
			if got != tc.want {
				t.Fatalf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestTruncateKeepsLongErrorTextValidUTF8(t *testing.T) {
	// 'é' is two bytes, so an odd limit lands inside a rune.
	in := "x" + strings.Repeat("é", maxErrorText)
	got := truncate(in, maxErrorText)
	if !utf8.ValidString(got) || len(got) > maxErrorText || len(got) < maxErrorText-utf8.UTFMax {
		t.Fatalf("truncated to %d bytes (valid UTF-8: %v), want valid and just under %d", len(got), utf8.ValidString(got), maxErrorText)
	}
}
